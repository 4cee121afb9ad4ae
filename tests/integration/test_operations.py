"""Operator tools on the embedded AWS: redrive a DLQ, query the event store, replay to one queue."""

import json
from datetime import date

import boto3
import pytest
from support import Pipeline, agreement_event


def test_redrive_dry_run_counts_then_moves_filtered_messages_back(pipeline: Pipeline) -> None:
    event = agreement_event("agreement.created", "agr-rd", 1, start_date="2026-03-01")
    pipeline.cloud.send("AgreementDLQ", json.dumps(event), {"type": "agreement.created"})
    pipeline.cloud.send("AgreementDLQ", "junk", {"type": "junk"})

    dry = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement", "dry_run": True})
    assert (dry["examined"], dry["matched"], dry["moved"]) == (2, 2, 0)
    assert pipeline.left_in_queues() == {"AgreementDLQ": 2}

    moved = pipeline.cloud.invoke(
        "DlqRedriveFunction", {"queue": "agreement", "types": ["agreement.created"]}
    )
    assert (moved["matched"], moved["moved"]) == (1, 1)
    pipeline.cloud.drain()
    pipeline.run_day(date(2026, 3, 1))
    assert len(pipeline.documents("agr-rd")) == 1
    [left] = pipeline.messages("AgreementDLQ")
    assert left["Body"] == "junk"


def test_redrive_respects_max_messages(pipeline: Pipeline) -> None:
    for n in range(5):
        pipeline.cloud.send("PaymentDLQ", json.dumps({"type": "x", "n": n}))
    report = pipeline.cloud.invoke(
        "DlqRedriveFunction", {"queue": "payment", "max_messages": 2, "dry_run": True}
    )
    assert report["matched"] == 2


def test_query_and_replay_to_one_subscriber_only(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-rp", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))
    assert pipeline.left_in_queues() == {}

    found = pipeline.cloud.invoke(
        "EventReplayFunction", {"action": "query", "from": "2026-03-01", "agreement_id": "agr-rp"}
    )
    assert [e["type"] for e in found["events"]] == ["billing.invoice.issued", "billing.payment.succeeded"]

    replayed = pipeline.cloud.invoke(
        "EventReplayFunction",
        {
            "action": "replay",
            "from": "2026-03-01",
            "types": ["billing.invoice.issued"],
            "target": "accounting",
        },
    )
    assert replayed["sent"] == 1
    assert pipeline.left_in_queues() == {"AccountingQueue": 1}  # the payment queue saw nothing
    [message] = pipeline.messages("AccountingQueue")
    assert json.loads(message["Body"])["id"] == found["events"][0]["id"]  # same id: consumers deduplicate


def test_redrive_leaves_parked_bad_input_unless_asked(pipeline: Pipeline) -> None:
    bad = agreement_event("agreement.created", "agr-xyz", 1, start_date="2026-03-01")
    bad["data"]["plan"]["currency"] = "XYZ"
    pipeline.publish(bad)
    assert pipeline.left_in_queues() == {"AgreementDLQ": 1}

    skipped = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement"})
    assert (skipped["examined"], skipped["moved"]) == (1, 0)

    forced = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement", "include_rejected": True})
    assert forced["moved"] == 1
    pipeline.cloud.drain()
    [parked] = pipeline.messages("AgreementDLQ")  # still bad input: parked again, with its reason
    assert parked["MessageAttributes"]["rejection_code"]["StringValue"] == "unknown_currency"


@pytest.mark.parametrize(
    ("queue", "body", "code"),
    [
        ("PaymentQueue", "not json", "invalid_json"),
        ("PaymentQueue", json.dumps({"id": "x", "type": "billing.something"}), "unknown_type"),
        ("PaymentQueue", json.dumps(["a list"]), "not_cloudevent"),
        ("InvoiceJobQueue", json.dumps({"agreement_ids": ["a"]}), "invalid_job"),
        (
            "InvoiceJobQueue",
            json.dumps({"run_at": "2026-03-01T00:05:00", "agreement_ids": []}),
            "invalid_job",
        ),
    ],
)
def test_bad_messages_on_internal_queues_are_parked_at_once(
    pipeline: Pipeline, queue: str, body: str, code: str
) -> None:
    pipeline.cloud.send(queue, body)
    pipeline.cloud.drain()
    dlq = queue.replace("Queue", "DLQ")
    [parked] = pipeline.messages(dlq)
    assert parked["MessageAttributes"]["rejection_code"]["StringValue"] == code
    assert parked["Attributes"]["ApproximateReceiveCount"] == "1"
    assert pipeline.left_in_queues() == {dlq: 1}


def test_the_accounting_export_parks_what_is_not_an_event_and_exports_the_rest(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-acc", 1, start_date="2026-03-01"))
    pipeline.cloud.send("AccountingQueue", "junk", {"type": "junk"})
    pipeline.run_day(date(2026, 3, 1))  # runs the export too

    [parked] = pipeline.messages("AccountingDLQ")
    assert parked["Body"] == "junk"
    assert parked["MessageAttributes"]["rejection_code"]["StringValue"] == "invalid_json"
    assert pipeline.left_in_queues() == {"AccountingDLQ": 1}


def test_a_retried_export_batch_overwrites_its_object(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-acc2", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))
    s3 = boto3.client("s3")
    bucket = pipeline.cloud.physical_id("AccountingBucket")
    [first] = s3.list_objects_v2(Bucket=bucket)["Contents"]
    lines = s3.get_object(Bucket=bucket, Key=first["Key"])["Body"].read().decode().splitlines()
    for line in lines:  # the same events again, as if the delete after the write had been lost
        pipeline.cloud.send("AccountingQueue", line)
    pipeline.export_accounting()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [first["Key"]]


def test_a_redrive_that_fails_part_way_leaves_every_unmoved_message_visible(pipeline: Pipeline) -> None:
    """Issue 15 item 9, on the embedded SQS: a deeply nested parked body is no RecursionError, and
    after a failure an immediate rerun examines the messages again (they were released, batched)."""
    from billing.service.redrive import RedriveInterrupted
    from billing_local.emulator.instrumentation import client_error

    deep = "[" * 10_000 + "]" * 10_000
    parked = {"rejection_code": "invalid_json", "rejection_reason": "nested too deeply"}
    for _ in range(12):
        pipeline.cloud.send("PaymentDLQ", deep, parked)
    sends = 0

    def third_send_fails(service: str, operation: str) -> None:
        nonlocal sends
        if (service, operation) == ("sqs", "SendMessage"):
            sends += 1
            if sends == 3:
                raise client_error("InternalError", operation, status=500)

    pipeline.cloud.faults.before_aws_call = third_send_fails
    pipeline.cloud.reset_request_counts()
    with pytest.raises(RedriveInterrupted, match="moved 2 of 3 examined"):
        pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "payment", "include_rejected": True})
    pipeline.cloud.faults.reset()
    counts = pipeline.cloud.request_counts()
    assert (
        counts[("sqs", "ChangeMessageVisibilityBatch")] == 1
        and not counts[("sqs", "ChangeMessageVisibility")]
    )
    assert pipeline.cloud.queue_depths()["PaymentDLQ"] == {"visible": 10, "in_flight": 0, "delayed": 0}

    again = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "payment", "include_rejected": True})
    assert (again["examined"], again["moved"], again["rejected"]) == (10, 10, {"invalid_json": 10})
    assert again["by_type"] == {"unparseable": 10}
