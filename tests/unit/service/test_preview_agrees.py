"""Preview and the pipeline give the same verdict (issue 15, item 4): one parser, one size rule (the
UTF-8 bytes of the body as published, `message_body`), the same codes for lone surrogates.

The pipeline's side is what `billing simulate` publishes, delivered to the agreement projector's
handler on the fakes; preview's side is `billing preview` of the same scenario.
"""

import json
from typing import Any

import pytest
from fakes import FakeBillingTable, FakeQueue
from service_builders import created, project

from billing.domain.agreements import MAX_EVENT_BYTES, message_body
from billing_local.preview import parse_scenario, preview
from billing_local.sim.simulate import publish


class CapturingCloud:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, topic_logical_id: str, message: str) -> str:
        self.published.append((topic_logical_id, message))
        return f"msg-{len(self.published)}"


def preview_verdict(event: Any) -> str:
    scenario = {
        "runs": {"from": "2026-03-01", "through": "2026-03-01"},
        "deliveries": [{"on": "2026-03-01", "event": event}],
    }
    result = preview(parse_scenario(scenario))
    rejected = result.get("rejected", [])
    assert len(rejected) + len(result["documents"]) == 1
    return str(rejected[0]["reason"]).split(":")[0] if rejected else "billed"


def pipeline_verdict(event: Any) -> str:
    cloud = CapturingCloud()
    publish(cloud, event)
    [(topic, body)] = cloud.published
    assert topic == "AgreementTopic"
    table, dlq = FakeBillingTable(), FakeQueue()
    assert project(table, dlq, body) == {"batchItemFailures": []}
    assert len(dlq.parked) + len(table.agreements) == 1
    return dlq.parked[0][2] if dlq.parked else "billed"


def padded(extra_bytes: int) -> dict[str, Any]:
    """An agreement.created whose compact UTF-8 body is MAX_EVENT_BYTES + extra_bytes long, padded
    with non-ASCII text (two bytes each in UTF-8, six as a \\u escape)."""
    event = created("agr-big", start="2026-03-01", note="")
    room = MAX_EVENT_BYTES + extra_bytes - len(message_body(event).encode())
    event["data"]["note"] = "é" * (room // 2) + "x" * (room % 2)
    assert len(message_body(event).encode()) == MAX_EVENT_BYTES + extra_bytes
    return event


@pytest.mark.parametrize(("extra", "verdict"), [(-1, "billed"), (0, "billed"), (1, "too_large")])
def test_an_event_at_the_size_limit_gets_the_same_verdict_in_preview_and_pipeline(
    extra: int, verdict: str
) -> None:
    event = padded(extra)
    assert len(json.dumps(event).encode()) > 2 * MAX_EVENT_BYTES  # json.dumps' default: \u escapes
    assert preview_verdict(event) == pipeline_verdict(event) == verdict
    as_text = message_body(event)  # the same event given as its body: the same verdict
    assert preview_verdict(as_text) == pipeline_verdict(as_text) == verdict


SURROGATES = {
    "id": dict(created("agr-s1"), id="evt-\ud800"),
    "agreement_id": created("agr-\udc00"),
    "customer_email": created("agr-s3", customer_email="\ud800@example.com"),
}


@pytest.mark.parametrize("field", sorted(SURROGATES))
@pytest.mark.parametrize("form", ["object", "json escapes", "raw text"])
def test_a_lone_surrogate_gets_the_same_code_in_preview_and_pipeline(field: str, form: str) -> None:
    event: Any = SURROGATES[field]
    if form == "json escapes":
        event = json.dumps(event)
    elif form == "raw text":
        event = json.dumps(event, ensure_ascii=False)  # a str holding the surrogate code point
    assert preview_verdict(event) == pipeline_verdict(event) == "invalid_field"
