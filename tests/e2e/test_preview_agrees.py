"""`billing simulate` parks exactly what `billing preview` rejects, with the same codes (issue 15,
item 4): events at the size limit (measured on the body as published) and lone surrogates in every
form, an extension attribute whose name holds a NUL (item 6), on the embedded AWS."""

import json
from typing import Any

from support import ROOT, agreement_event

from billing.domain.agreements import MAX_EVENT_BYTES, message_body
from billing_local.preview import parse_scenario, preview
from billing_local.sim.simulate import Simulation


def created(agreement_id: str, **data: Any) -> dict[str, Any]:
    return agreement_event("agreement.created", agreement_id, 1, start_date="2026-03-01", **data)


def padded(agreement_id: str, extra_bytes: int) -> dict[str, Any]:
    event = created(agreement_id, note="")
    room = MAX_EVENT_BYTES + extra_bytes - len(message_body(event).encode())
    event["data"]["note"] = "é" * (room // 2) + "x" * (room % 2)  # 2 bytes each, 6 as \u00e9
    return event


def test_simulate_parks_what_preview_rejects_with_the_same_codes() -> None:
    events: list[Any] = [
        created("agr-ok"),
        padded("agr-at-limit", 0),
        padded("agr-over-limit", 1),
        dict(created("agr-s1"), id="evt-\ud800"),
        json.dumps(created("agr-\udc00")),
        json.dumps(created("agr-s3", customer_email="\ud800@example.com"), ensure_ascii=False),
        dict(created("agr-nul"), **{"bad\u0000name": "v"}),  # its reason quotes the name, escaped
    ]
    scenario = parse_scenario(
        {
            "runs": {"from": "2026-03-01", "through": "2026-03-02"},
            "deliveries": [{"on": "2026-03-01", "event": event} for event in events],
        }
    )
    expected = preview(scenario)
    assert sorted(r["reason"].split(":")[0] for r in expected["rejected"]) == [
        "invalid_field",
        "invalid_field",
        "invalid_field",
        "invalid_field",
        "too_large",
    ]
    result = Simulation(scenario, template=ROOT / "template.yaml").run()
    assert result["invariants"]["only_bad_input_parked"], (result["parked"], expected["rejected"])
    assert result["invariants"]["all_hold"], result["invariants"]
    assert sorted(d["agreement_id"] for d in result["documents"]) == ["agr-at-limit", "agr-ok"]
