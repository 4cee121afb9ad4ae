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
