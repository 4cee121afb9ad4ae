"""SNS -> SQS -> Lambda: raw delivery, filter policies, partial failures, DLQ, delays."""

import hashlib
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from billing_local.emulator import LocalCloud

from .conftest import START


def _items(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(cloud.physical_id("ItemsTable"))
    return {item["sk"]: item for item in table.scan()["Items"]}


def test_raw_delivery_and_filter_policy(cloud: LocalCloud) -> None:
    cloud.publish("InboxTopic", "hello", {"kind": "order"})
    cloud.publish("InboxTopic", "ignored", {"kind": "other"})
    assert cloud.queue_depths()["InboxQueue"]["visible"] == 1  # filter policy kept "other" out
    assert cloud.drain() == 1
    items = _items(cloud)
    assert set(items) == {"hello"}  # raw delivery: the body is the message itself
    assert items["hello"]["kinds"] == ["kind"]  # message attributes reach the record
    assert cloud.queue_depths()["InboxQueue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    # The audit subscription has neither raw delivery nor a filter: SNS envelopes, both messages.
    audit = cloud.receive_all("AuditQueue")
    assert sorted(json.loads(m["Body"])["Message"] for m in audit) == ["hello", "ignored"]


def test_partial_batch_failure_sends_the_failing_message_to_the_dlq(cloud: LocalCloud) -> None:
    seen: list[list[str]] = []
    cloud.faults.before_invoke = lambda fn, event: seen.append([r["body"] for r in event["Records"]])
    for body in ("one", "FAIL-1", "two"):
        cloud.publish("InboxTopic", body, {"kind": "order"})
    cloud.drain()
    worker_batches = [b for b in seen if "FAIL-1" in b or "one" in b]
    assert worker_batches == [["one", "FAIL-1", "two"], ["FAIL-1"]]  # maxReceiveCount 2
    assert {k: int(v["seen"]) for k, v in _items(cloud).items()} == {"one": 1, "two": 1}
    depths = cloud.queue_depths()
    assert depths["InboxQueue"]["visible"] == 0
    assert depths["InboxDLQ"]["visible"] == 1
    [dead] = cloud.receive_all("InboxDLQ")
    assert dead["Body"] == "FAIL-1"


def test_an_exception_fails_the_whole_batch(cloud: LocalCloud) -> None:
    cloud.publish("InboxTopic", "innocent", {"kind": "order"})
    cloud.publish("InboxTopic", "CRASH", {"kind": "order"})
    assert cloud.drain() == 2
    # The handler wrote "innocent" before crashing, twice: at-least-once, as on AWS.
    assert {k: int(v["seen"]) for k, v in _items(cloud).items()} == {"innocent": 2}
    assert sorted(m["Body"] for m in cloud.receive_all("InboxDLQ")) == ["CRASH", "innocent"]
    assert cloud.invocation_counts()["WorkerFunction"] == (2, 2)


def test_lambda_sqs_event_shape(cloud: LocalCloud) -> None:
    events: list[dict[str, Any]] = []
    cloud.faults.before_invoke = lambda fn, event: events.append(event)
    message_id = cloud.send("InboxQueue", "shape", {"kind": "order"})
    cloud.drain()
    [record] = events[0]["Records"]
    assert record["messageId"] == message_id
    assert record["body"] == "shape"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == cloud.attr("InboxQueue", "Arn")
    assert record["awsRegion"] == "us-east-1"
    assert record["receiptHandle"]
    assert record["md5OfBody"] == hashlib.md5(b"shape").hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SentTimestamp"] == str(int(cloud.clock.now().timestamp() * 1000))
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }


def test_delayed_messages_arrive_on_the_next_poll_and_event_filters_apply(cloud: LocalCloud) -> None:
    cloud.send("DelayedQueue", json.dumps({"kind": "order", "n": 1}))
    cloud.send("DelayedQueue", json.dumps({"kind": "refund", "n": 2}))
    cloud.send("DelayedQueue", "not json")
    assert cloud.queue_depths()["DelayedQueue"]["delayed"] == 3  # queue DelaySeconds 30
    assert cloud.drain() == 1
    assert list(_items(cloud)) == [json.dumps({"kind": "order", "n": 1})]
    # Lambda deletes what the FilterCriteria reject.
    assert cloud.queue_depths()["DelayedQueue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    [poller] = [p for p in cloud.pollers() if p.function == "DelayedFunction"]
    assert poller.filtered_out == 2


def test_drain_keeps_queues_shallow_by_round_robin(cloud: LocalCloud) -> None:
    for n in range(23):
        cloud.send("InboxQueue", f"m{n}")
    assert cloud.drain() == 5  # BatchSize 5
    assert len(_items(cloud)) == 23


def test_code_reading_a_queue_sees_virtual_sent_timestamps(cloud: LocalCloud) -> None:
    cloud.clock.advance(timedelta(days=30))
    cloud.send("InboxDLQ", "parked")
    cloud.clock.advance(timedelta(hours=1))
    [message] = boto3.client("sqs").receive_message(
        QueueUrl=cloud.physical_id("InboxDLQ"), MessageSystemAttributeNames=["All"]
    )["Messages"]
    sent = int(message["Attributes"]["SentTimestamp"])
    assert sent == int((START + timedelta(days=30)).timestamp() * 1000)
    first_receive = int(message["Attributes"]["ApproximateFirstReceiveTimestamp"])
    assert first_receive - sent == 3_600_000


def test_sqs_refuses_characters_real_sqs_refuses(cloud: LocalCloud) -> None:
    """Like AWS (and unlike plain moto): a NUL or another character outside SQS's set in a body or a
    string attribute value is refused, so code that would send one fails here as it would there."""
    sqs = boto3.client("sqs")
    url = cloud.physical_id("InboxQueue")
    refused = [
        {"MessageBody": "bad\x00body"},
        {
            "MessageBody": "ok",
            "MessageAttributes": {"reason": {"DataType": "String", "StringValue": "a\x00b"}},
        },
        {
            "MessageBody": "ok",
            "MessageAttributes": {"reason": {"DataType": "String", "StringValue": "\x1b["}},
        },
    ]
    for message in refused:
        with pytest.raises(ClientError) as info:
            sqs.send_message(QueueUrl=url, **message)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert "Invalid binary character '#x" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "\x00"}])
    fine = "tab\t line\n é € 😀 \ufffd"
    sqs.send_message(
        QueueUrl=url, MessageBody=fine, MessageAttributes={"r": {"DataType": "String", "StringValue": fine}}
    )
    assert [m["Body"] for m in cloud.receive_all("InboxQueue")] == [fine]
