"""The event store on the fakes: query, replay to the topic or one queue, and the outbox relay."""

import json
from datetime import date
from typing import Any

import pytest
from fakes import FakeBillingTable, FakeQueue, FakeTopic, sandbox_gateway
from service_builders import at, created, send

from billing.service.invoicing import bill_agreement
from billing.service.outbox import outbox_message, publish_records
from billing.service.payments import charge_new_invoice
from billing.service.replay import EventQuery, query, replay


@pytest.fixture
def billed(table: FakeBillingTable) -> FakeBillingTable:
    for agreement_id in ("agr-a", "agr-b"):
        send(table, created(agreement_id))
        bill_agreement(table, agreement_id, at("2026-03-01"))
        [item] = table.events_of(agreement_id)
        charge_new_invoice(json.loads(item["body"]), table, sandbox_gateway(), (1,), at("2026-03-02"))
    return table


def test_query_by_days_types_agreement_and_limit(billed: FakeBillingTable) -> None:
    march = EventQuery(date(2026, 3, 1), date(2026, 3, 31))
    assert [e.type for e in query(billed, march)] == ["billing.invoice.issued"] * 2 + [
        "billing.payment.succeeded"
    ] * 2
    first_day = EventQuery(date(2026, 3, 1), date(2026, 3, 1))
    assert {e.agreement_id for e in query(billed, first_day)} == {"agr-a", "agr-b"}
    only_b = EventQuery(date(2026, 3, 1), date(2026, 3, 31), agreement_id="agr-b")
    assert [(e.agreement_id, e.type) for e in query(billed, only_b)] == [
        ("agr-b", "billing.invoice.issued"),
        ("agr-b", "billing.payment.succeeded"),
    ]
    paid = EventQuery(
        date(2026, 3, 1), date(2026, 3, 31), types=frozenset({"billing.payment.succeeded"}), limit=1
    )
    [one] = query(billed, paid)
    assert one.type == "billing.payment.succeeded"
    assert one.cloudevent()["id"] == one.id


def test_replay_to_the_topic_or_to_one_queue_keeps_ids(billed: FakeBillingTable) -> None:
    events = list(query(billed, EventQuery(date(2026, 3, 1), date(2026, 3, 1))))
    topic, queue = FakeTopic(), FakeQueue()
    assert replay(events, topic) == 2
    assert [m[0] for m in topic.published] == [e.id for e in events]
    assert replay(events, queue) == 2
    assert [json.loads(b)["id"] for b in queue.bodies()] == [e.id for e in events]
    with pytest.raises(RuntimeError):
        replay(events, FakeTopic(failing=[events[0].id]))


def stream_record(seq: str, event_id: str) -> dict[str, Any]:
    return {
        "dynamodb": {
            "SequenceNumber": seq,
            "NewImage": {
                "body": {"S": json.dumps({"id": event_id})},
                "attributes": {"M": {"type": {"S": "billing.invoice.issued"}}},
            },
        }
    }


def test_the_outbox_relay_publishes_and_retries_from_the_first_failure() -> None:
    records = [stream_record(str(n), f"e{n}") for n in range(4)]
    assert outbox_message(records[0]) == ("0", '{"id": "e0"}', {"type": "billing.invoice.issued"})
    topic = FakeTopic()
    assert publish_records(records, topic) == []
    assert len(topic.published) == 4
    failing = FakeTopic(failing=["2"])
    assert publish_records(records, failing) == ["2", "3"]
