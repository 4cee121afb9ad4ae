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
