"""The projector on the embedded AWS: bad input parked at once with its reason, duplicates and conflicts."""

import json
from datetime import date

import boto3
import pytest
from support import Pipeline, agreement_event

from billing.adapters.dynamo import BillingTable, agreement_pk
from billing.ports import EventIdTaken, StoredInbound, VersionTaken
from billing.service.rejections import rejection_key
from billing_local.preview import parse_scenario, preview


def stored_versions(pipeline: Pipeline, agreement_id: str) -> list[int]:
    table = pipeline.cloud.physical_id("BillingTable")
    items = boto3.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :evt)",
        ExpressionAttributeValues={":pk": {"S": agreement_pk(agreement_id)}, ":evt": {"S": "EVT#"}},
    )["Items"]
    return [int(i["version"]["N"]) for i in items]


def test_bad_input_is_parked_on_the_dlq_at_once_with_a_one_line_reason(pipeline: Pipeline) -> None:
    bad = agreement_event("agreement.created", "agr-bad", 1, start_date="2026-03-01")
    bad["data"]["plan"]["currency"] = "XYZ"
    pipeline.publish(bad)
    pipeline.publish("not json at all")

    parked = pipeline.messages("AgreementDLQ")
    reasons = sorted(m["MessageAttributes"]["rejection_code"]["StringValue"] for m in parked)
    assert reasons == ["invalid_json", "unknown_currency"]
    for message in parked:
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # no retries burnt
        reason = message["MessageAttributes"]["rejection_reason"]["StringValue"]
        assert "\n" not in reason and reason.startswith(
            message["MessageAttributes"]["rejection_code"]["StringValue"]
        )
    currency = next(m for m in parked if m["Body"].startswith("{"))
    assert "data.plan.currency" in currency["MessageAttributes"]["rejection_reason"]["StringValue"]
    assert json.loads(currency["Body"]) == bad  # the original body, to fix and resend
    assert stored_versions(pipeline, "agr-bad") == []
    assert pipeline.left_in_queues() == {"AgreementDLQ": 2}


def test_duplicates_change_nothing(pipeline: Pipeline) -> None:
    created = agreement_event("agreement.created", "agr-dup", 1, start_date="2026-03-01")
    for _ in range(3):
        pipeline.publish(created)
    renamed = dict(created, id="another-id-same-content")
    pipeline.publish(renamed)
    pipeline.run_day(date(2026, 3, 1))
    assert stored_versions(pipeline, "agr-dup") == [1]
    assert len(pipeline.documents("agr-dup")) == 1
    assert pipeline.left_in_queues() == {}


def test_a_conflicting_version_is_reported_and_not_applied(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-cf", 1, start_date="2026-03-01"))
    first = agreement_event(
        "agreement.cancelled", "agr-cf", 2, event_id="cancel-a", effective_date="2026-03-10"
    )
    other = agreement_event(
        "agreement.cancelled", "agr-cf", 2, event_id="cancel-b", effective_date="2026-03-20"
    )
    pipeline.publish(first)
    pipeline.publish(other)
    [parked] = pipeline.messages("AgreementDLQ")
    assert parked["MessageAttributes"]["rejection_code"]["StringValue"] == "conflict"
    assert json.loads(parked["Body"])["id"] == "cancel-b"
    pipeline.run_day(date(2026, 3, 1))
    [invoice] = pipeline.documents("agr-cf")
    assert invoice["total_minor"] == round(1000 * 9 / 31)  # cancelled on Mar 10 (the first version 2 wins)


def test_events_out_of_order_bill_like_in_order(pipeline: Pipeline) -> None:
    cancel = agreement_event("agreement.cancelled", "agr-ooo", 3, effective_date="2026-03-11")
    amend = agreement_event(
        "agreement.amended",
        "agr-ooo",
        2,
        effective_date="2026-03-01",
        plan={"amount_minor": 1000, "currency": "JPY", "interval": "month", "interval_count": 1},
    )
    created = agreement_event(
        "agreement.created",
        "agr-ooo",
        1,
        start_date="2026-03-01",
        plan={"amount_minor": 500, "currency": "JPY", "interval": "month", "interval_count": 1},
    )
    for event in (cancel, amend, created):
        pipeline.publish(event)
    pipeline.run_day(date(2026, 3, 1))
    [invoice] = pipeline.documents("agr-ooo")
    assert invoice["total_minor"] == 323  # CONTRACT §2's worked example: round_half_up(1000 × 10 / 31)


def test_an_amendment_held_before_its_creation_is_rejected_when_the_creation_arrives(
    pipeline: Pipeline,
) -> None:
    """Issue 15 item 2: the amendment that changes the currency is parked with preview's code."""
    usd = {"amount_minor": 2000, "currency": "USD", "interval": "month", "interval_count": 1}
    amend = agreement_event("agreement.amended", "agr-held", 2, effective_date="2026-03-10", plan=usd)
    created = agreement_event("agreement.created", "agr-held", 1, start_date="2026-03-01")
    pipeline.publish(amend)
    assert pipeline.messages("AgreementDLQ") == []  # held: nothing to check it against yet
    pipeline.publish(created)
    [parked] = pipeline.messages("AgreementDLQ")
    assert json.loads(parked["Body"]) == amend
    code = parked["MessageAttributes"]["rejection_code"]["StringValue"]
    reason = parked["MessageAttributes"]["rejection_reason"]["StringValue"]
    scenario = parse_scenario(
        {
            "runs": {"from": "2026-03-01", "through": "2026-03-01"},
            "deliveries": [{"on": "2026-02-27", "event": amend}, {"on": "2026-02-27", "event": created}],
        }
    )
    [rejected] = preview(scenario)["rejected"]
    assert (code, reason) == ("plan_change_not_allowed", rejected["reason"])
    pipeline.run_day(date(2026, 3, 1))
    [invoice] = pipeline.documents("agr-held")
    assert (invoice["currency"], invoice["total_minor"]) == ("EUR", 1000)  # the amendment is not applied


def test_an_event_id_reused_by_another_agreement_is_parked_as_a_conflict(pipeline: Pipeline) -> None:
    """Issue 15 item 3: `agr-000-v1` with another agreement_id is not stored nor invoiced."""
    first = agreement_event("agreement.created", "agr-000", 1, "agr-000-v1", start_date="2026-03-01")
    reused = agreement_event("agreement.created", "agr-001", 1, "agr-000-v1", start_date="2026-03-01")
    pipeline.publish(first)
    pipeline.publish(reused)
    pipeline.publish(first)  # still a plain duplicate
    [parked] = pipeline.messages("AgreementDLQ")
    assert json.loads(parked["Body"]) == reused
    reason = parked["MessageAttributes"]["rejection_reason"]["StringValue"]
    assert reason == "conflict: id: this event id was already received with different content"
    assert stored_versions(pipeline, "agr-001") == []
    pipeline.run_day(date(2026, 3, 1))
    assert [d["agreement_id"] for d in pipeline.documents()] == ["agr-000"]


def test_the_table_claims_an_event_id_once_system_wide(pipeline: Pipeline) -> None:
    """The adapter's conditions, as the fake has them: the version first, then the id's claim,
    which accepts its own fingerprint again (two concurrent copies of one event)."""
    table = BillingTable(pipeline.cloud.physical_id("BillingTable"), shards=32)
    table.record_inbound("a", StoredInbound(1, "e", "f1", "{}"), "t", "t")
    with pytest.raises(EventIdTaken):
        table.record_inbound("b", StoredInbound(1, "e", "f2", "{}"), "t", "t")
    with pytest.raises(VersionTaken):
        table.record_inbound("a", StoredInbound(1, "e", "f2", "{}"), "t", "t")
    table.record_inbound("c", StoredInbound(1, "e", "f1", "{}"), "t", "t")
    assert [s.event_id for s in table.inbound_events("b")] == []
    assert [s.event_id for s in table.inbound_events("c")] == ["e"]


def test_copies_of_one_bad_event_are_parked_once_and_counted(pipeline: Pipeline) -> None:
    """Issue 15 item 7: the DLQ shows each bad event once; its record counts the copies."""
    bad = agreement_event("agreement.created", "agr-bad", 1, start_date="2026-03-01")
    bad["data"]["plan"]["currency"] = "XYZ"
    for _ in range(3):
        pipeline.publish(bad)
    pipeline.publish("not json at all")
    parked = pipeline.messages("AgreementDLQ")
    assert sorted(json.loads(m["Body"])["id"] for m in parked if m["Body"].startswith("{")) == [bad["id"]]
    assert len(parked) == 2
    table = BillingTable(pipeline.cloud.physical_id("BillingTable"), shards=32)
    [currency] = [m for m in parked if m["Body"].startswith("{")]
    key = currency["MessageAttributes"]["rejection_key"]["StringValue"]
    assert key == rejection_key(currency["Body"])
    record = table.rejection(key)
    assert record is not None
    assert (record.event_id, record.code, record.seen) == (bad["id"], "unknown_currency", 3)
    assert record.parked_at is not None and record.first_seen <= record.last_seen

    # Sent back by a redrive and still refused, it is parked again: never lost, still once.
    report = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement", "include_rejected": True})
    assert report["moved"] == 2
    pipeline.cloud.drain()
    assert len(pipeline.messages("AgreementDLQ")) == 2
    again = table.rejection(key)
    assert again is not None and again.seen == 4
