"""`billing simulate` publishes as upstream does: what SNS refuses is recorded, never a crash (issue 15
item 5)."""

import json
from pathlib import Path

import pytest
from support import ROOT

from billing_local.cli import main


def test_a_body_sns_refuses_is_recorded_and_the_run_carries_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    huge = {
        "specversion": "1.0",
        "id": "evt-huge",
        "type": "agreement.created",
        "data": {"pad": "x" * 300_000},
    }
    deep = "[" * 10_000 + "]" * 10_000  # the embedded Lambda poller's filter must not choke on it
    scenario = tmp_path / "refused.json"
    scenario.write_text(
        json.dumps(
            {
                "runs": {"from": "2026-03-01", "through": "2026-03-01"},
                "deliveries": [{"on": "2026-03-01", "event": huge}, {"on": "2026-03-01", "event": deep}],
            }
        )
    )
    assert main(["simulate", "--scenario", str(scenario)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["refused"] == [
        {
            "event_id": "evt-huge",
            "on": "2026-03-01",
            "code": "InvalidParameter",
            "reason": "Invalid parameter: Message too long",
        }
    ]
    assert [(p["event_id"], p["code"]) for p in result["parked"]] == [(None, "invalid_json")]  # the deep body
    assert result["invariants"]["all_hold"]
