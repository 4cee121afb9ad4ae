"""The `billing` command: self-explaining help, one-line errors with exit code 2, preview output."""

import json

import pytest
from support import ROOT

from billing_local.cli import main

SUBCOMMANDS = [
    ["preview"],
    ["simulate"],
    ["invoke"],
    ["redrive"],
    ["replay"],
    ["events"],
    ["events", "query"],
    ["up"],
    ["clock"],
    ["clock", "now"],
    ["clock", "advance"],
]


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_explains_itself_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "billing " in out and ("example" in out or "ACTION" in out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["preview", "missing.json"], "missing.json: no such file"),
        (["simulate", "--scenario", "missing.json"], "missing.json: no such file"),
        (
            ["invoke", "nope", "--event", "events/invoice_scheduler/scheduled-run.json"],
            "unknown function 'nope'",
        ),
        (["invoke", "invoice_scheduler", "--event", "missing.json"], "missing.json: no such file"),
        (["simulate", "--agreements", "0"], "must be at least 1"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_malformed_scenario_is_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.json"
    bad.write_text('{"runs": {"from": "2026-13-01"}}')
    assert main(["preview", str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_preview_prints_the_contract_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", str(ROOT / "tests/fixtures/scenarios/worked_example.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    totals = [d["total_minor"] for d in out["documents"]]
    assert totals == [1000, -677]


class _FakeClients:
    """boto3.client stand-in: a deployed stack whose redrive function has a 300 s timeout."""

    def __init__(self) -> None:
        self.invokes: list[tuple[object, dict[str, object]]] = []

    def __call__(self, service: str, region_name: str | None = None, config: object = None) -> object:
        import io
        from types import SimpleNamespace

        def describe_stack_resource(**_: object) -> dict[str, object]:
            return {"StackResourceDetail": {"PhysicalResourceId": "recurring-billing-dev-DlqRedrive"}}

        def invoke(**kwargs: object) -> dict[str, object]:
            self.invokes.append((config, kwargs))
            return {"Payload": io.BytesIO(b'{"moved": 0}')}

        return SimpleNamespace(
            describe_stack_resource=describe_stack_resource,
            get_function_configuration=lambda **_: {"Timeout": 300},
            invoke=invoke,
        )


def test_operator_commands_wait_for_the_function_and_never_retry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    clients = _FakeClients()
    monkeypatch.setattr(boto3, "client", clients)
    code = main(["redrive", "--stack", "recurring-billing-dev", "--queue", "payment", "--max", "100"])
    assert code == 0 and json.loads(capsys.readouterr().out) == {"moved": 0}
    [(config, kwargs)] = clients.invokes
    assert kwargs["FunctionName"] == "recurring-billing-dev-DlqRedrive"
    assert json.loads(kwargs["Payload"])["max_messages"] == 100  # type: ignore[arg-type]
    assert config.read_timeout > 300  # type: ignore[attr-defined]
    assert config.retries == {"total_max_attempts": 1}  # type: ignore[attr-defined]
