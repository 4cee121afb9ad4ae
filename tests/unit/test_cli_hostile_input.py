"""Hostile input to the `billing` CLI (issue 15 item 5): one line on stderr, exit 2 for the user's
mistake and 1 for a function that failed, never a traceback."""

import json
from pathlib import Path

import pytest
from support import ROOT

from billing_local.cli import main

DEEP = "[" * 10_000 + "]" * 10_000
RUNS = '"runs": {"from": "2026-03-01", "through": "2026-03-01"}'


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("billing: error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{" + RUNS + ', "deliveries": [{"on": "2026-03-01", "event": ' + DEEP + "}]}", "nested too deeply"),
        (
            "{" + RUNS + ', "deliveries": [{"on": "2026-03-01", "event": {"id": ' + "9" * 5000 + "}}]}",
            "a number of more than 4300 digits",
        ),
    ],
    ids=["10000-deep event", "5000-digit integer"],
)
@pytest.mark.parametrize("command", [["preview"], ["simulate", "--scenario"]], ids=" ".join)
def test_a_scenario_the_json_parser_cannot_read_is_one_line_and_exit_2(
    command: list[str],
    text: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # simulate's template.yaml
    scenario = tmp_path / "hostile.json"
    scenario.write_text(text)
    assert main([*command, str(scenario)]) == 2
    assert message in one_line_error(capsys)


def test_preview_rejects_a_10000_deep_body_as_invalid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "deep_body.json"
    scenario.write_text(
        json.dumps(
            {
                "runs": {"from": "2026-03-01", "through": "2026-03-01"},
                "deliveries": [{"on": "2026-03-01", "event": DEEP}],
            }
        )
    )
    assert main(["preview", str(scenario)]) == 0
    [rejected] = json.loads(capsys.readouterr().out)["rejected"]
    assert rejected["event_id"] is None and rejected["reason"].startswith("invalid_json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, "nested too deeply"),
        ('{"a": ' + "9" * 5000 + "}", "more than 4300 digits"),
        ('{"queue": ', "not valid JSON"),
    ],
    ids=["deep", "long integer", "truncated"],
)
def test_invoke_with_an_event_file_that_is_not_json_is_one_line_and_exit_2(
    text: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    event = tmp_path / "event.json"
    event.write_text(text)
    assert main(["invoke", "dlq_redrive", "--event", str(event)]) == 2
    assert message in one_line_error(capsys)


def test_invoke_of_a_function_that_fails_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    event = tmp_path / "event.json"
    event.write_text("[]")  # an SQS-triggered handler given a list: it raises
    assert main(["invoke", "agreement_projector", "--event", str(event)]) == 1
    assert "AgreementProjectorFunction failed: " in one_line_error(capsys)


class _Stack:
    """boto3.client stand-in for a deployed stack whose operator function answers `answer`."""

    def __init__(self, answer: bytes = b'{"moved": 0}', function_error: str | None = None) -> None:
        self.answer, self.function_error = answer, function_error
        self.invokes: list[dict[str, object]] = []

    def __call__(self, service: str, region_name: str | None = None, config: object = None) -> object:
        import io
        from types import SimpleNamespace

        def invoke(**kwargs: object) -> dict[str, object]:
            self.invokes.append(kwargs)
            response: dict[str, object] = {"Payload": io.BytesIO(self.answer)}
            if self.function_error:
                response["FunctionError"] = self.function_error
            return response

        return SimpleNamespace(
            describe_stack_resource=lambda **_: {"StackResourceDetail": {"PhysicalResourceId": "fn"}},
            get_function_configuration=lambda **_: {"Timeout": 300},
            invoke=invoke,
        )


STACK = ["--stack", "recurring-billing-dev"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["redrive", *STACK, "--queue", "payment", "--max", "0"], "max_messages: expected an integer from 1"),
        (["redrive", *STACK, "--queue", "payment", "--max", "-5"], "max_messages"),
        (["redrive", *STACK, "--queue", "payment", "--min-age", "-1"], "min_age_seconds"),
        (["redrive", *STACK, "--queue", "outbox"], "queue: expected one of accounting, agreement"),
        (["replay", *STACK, "--from", "2026-03-05", "--to", "2026-03-01"], "is before from"),
        (["replay", *STACK, "--from", "2026-01-01", "--to", "2026-12-31"], "at most 31 per request"),
        (["replay", *STACK, "--from", "2026-02-30"], "from: expected a date"),
        (["replay", *STACK, "--from", "2026-03-01", "--target", "purge"], "target: expected one of"),
        (["replay", *STACK, "--from", "2026-03-01", "--limit", "0"], "limit: expected an integer"),
        (["events", "query", *STACK, "--from", "2026-03-01", "--limit", "-1"], "limit"),
    ],
)
def test_an_operator_command_with_a_bad_request_never_calls_the_stack(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    stack = _Stack()
    monkeypatch.setattr(boto3, "client", stack)
    assert main(argv) == 2
    assert message in one_line_error(capsys)
    assert stack.invokes == []


def test_a_request_the_function_refuses_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    answer = {"error": {"code": "unknown_value", "field": "queue", "reason": "queue: expected one of a, b"}}
    monkeypatch.setattr(boto3, "client", _Stack(json.dumps(answer).encode()))
    assert main(["redrive", *STACK, "--queue", "payment"]) == 2
    assert "request refused (unknown_value): queue: expected one of a, b" in one_line_error(capsys)


def test_a_function_error_of_the_stack_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    failure = {
        "errorType": "RuntimeError",
        "errorMessage": "3 events were not accepted",
        "stackTrace": ["..."],
    }
    monkeypatch.setattr(boto3, "client", _Stack(json.dumps(failure).encode(), "Unhandled"))
    assert main(["replay", *STACK, "--from", "2026-03-01"]) == 1
    assert "EventReplayFunction failed: RuntimeError: 3 events were not accepted" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["redrive", "--max", "abc"], "billing redrive: error: argument --max: invalid int value: 'abc'"),
        (["nosuch"], "billing: error: argument COMMAND: invalid choice: 'nosuch'"),
        (["preview"], "billing preview: error: the following arguments are required"),
    ],
    ids=["not a number", "unknown command", "missing argument"],
)
def test_a_usage_error_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1 and err.startswith(message) and "usage:" not in err
