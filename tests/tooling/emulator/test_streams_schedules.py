"""DynamoDB stream -> Lambda (filters, partial failures, on-failure destination); schedules."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from billing_local.emulator import LocalCloud, client_error
from billing_local.stack import local_cloud

from .conftest import FIXTURE_TEMPLATE, START


def _keys(cloud: LocalCloud, prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=cloud.physical_id("ObservationBucket"), Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def _put(cloud: LocalCloud, sk: str) -> None:
    boto3.resource("dynamodb").Table(cloud.physical_id("ItemsTable")).put_item(Item={"pk": "P", "sk": sk})


def test_stream_filter_criteria_and_event_shape(cloud: LocalCloud) -> None:
    events: list[dict[str, Any]] = []
    cloud.faults.before_invoke = lambda fn, event: events.append(event)
    _put(cloud, "OUT#1")
    _put(cloud, "IN#1")  # filtered out: not an OUT# item
    _put(cloud, "OUT#1")  # a MODIFY: filtered out (INSERT only)
    assert cloud.drain() == 1
    assert _keys(cloud, "stream/") == ["stream/OUT#1"]
    [record] = events[0]["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == cloud.attr("ItemsTable", "StreamArn")
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "P"}, "sk": {"S": "OUT#1"}}
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "P"}, "sk": {"S": "OUT#1"}}
    assert record["dynamodb"]["StreamViewType"] == "NEW_IMAGE"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == START.timestamp()
    assert record["dynamodb"]["SequenceNumber"]


def test_update_item_creating_an_item_streams_one_insert(cloud: LocalCloud) -> None:
    cloud.publish("InboxTopic", "OUT#via-sqs", {"kind": "order"})  # worker UpdateItem creates it
    cloud.drain()
    assert _keys(cloud, "stream/") == ["stream/OUT#via-sqs"]
    body = json.loads(
        boto3.client("s3")
        .get_object(Bucket=cloud.physical_id("ObservationBucket"), Key="stream/OUT#via-sqs")["Body"]
        .read()
    )
    assert body["dynamodb"]["NewImage"]["seen"] == {"N": "1"}


def test_stream_failures_are_retried_then_sent_to_the_on_failure_queue(cloud: LocalCloud) -> None:
    batches: list[list[str]] = []
    cloud.faults.before_invoke = lambda fn, event: batches.append(
        [r["dynamodb"]["NewImage"]["sk"]["S"] for r in event["Records"]]
    )
    for sk in ("OUT#a", "OUT#POISON", "OUT#b"):
        _put(cloud, sk)
    cloud.drain()
    # Item failure at POISON: checkpoint before it, retry once from it (MaximumRetryAttempts 1), give up.
    assert batches == [["OUT#a", "OUT#POISON", "OUT#b"], ["OUT#POISON", "OUT#b"]]
    # OUT#b is reported failed nowhere but sits after POISON in the failed batch (as on AWS).
    assert _keys(cloud, "stream/") == ["stream/OUT#a", "stream/OUT#b"]
    [failure] = cloud.receive_all("StreamFailureQueue")
    info = json.loads(failure["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 2
    assert info["DDBStreamBatchInfo"]["streamArn"] == cloud.attr("ItemsTable", "StreamArn")


def test_stream_batches_are_bisected_around_a_crashing_record(cloud: LocalCloud) -> None:
    batches: list[list[str]] = []
    cloud.faults.before_invoke = lambda fn, event: batches.append(
        [r["dynamodb"]["NewImage"]["sk"]["S"] for r in event["Records"]]
    )
    for sk in ("OUT#1", "OUT#CRASH", "OUT#2", "OUT#3"):
        _put(cloud, sk)
    cloud.drain()
    assert batches == [
        ["OUT#1", "OUT#CRASH", "OUT#2", "OUT#3"],
        ["OUT#1", "OUT#CRASH"],
        ["OUT#1"],
        ["OUT#CRASH", "OUT#2", "OUT#3"],
        ["OUT#CRASH", "OUT#2"],
        ["OUT#CRASH"],
        ["OUT#CRASH"],  # the one retry (MaximumRetryAttempts 1)
        ["OUT#2", "OUT#3"],
    ]
    assert _keys(cloud, "stream/") == ["stream/OUT#1", "stream/OUT#2", "stream/OUT#3"]
    [failure] = cloud.receive_all("StreamFailureQueue")
    info = json.loads(failure["Body"])
    assert info["responseContext"]["functionError"] == "Unhandled"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1


def test_schedule_fires_from_the_virtual_clock(cloud: LocalCloud) -> None:
    assert cloud.fire_due_schedules() == []
    cloud.clock.advance_to(START + timedelta(minutes=5))
    assert cloud.fire_due_schedules() == ["TickerFunctionDaily"]
    assert cloud.fire_due_schedules() == []  # nothing new since the last check
    cloud.clock.advance(timedelta(days=3))
    assert cloud.fire_due_schedules() == ["TickerFunctionDaily"] * 3
    assert _keys(cloud, "ticks/") == [
        "ticks/2026-03-01T00:05:00Z",
        "ticks/2026-03-02T00:05:00Z",
        "ticks/2026-03-03T00:05:00Z",
        "ticks/2026-03-04T00:05:00Z",
    ]
    first = json.loads(
        boto3.client("s3")
        .get_object(Bucket=cloud.physical_id("ObservationBucket"), Key="ticks/2026-03-01T00:05:00Z")["Body"]
        .read()
    )
    assert first["event"] == {"run_at": "2026-03-01T00:05:00Z", "source": "daily"}
    assert first["now"] == (START + timedelta(minutes=5)).isoformat()  # billing.clock is virtual


def test_schedule_in_a_time_zone() -> None:
    params = {"RunTimezone": "Europe/Berlin", "RunCron": "cron(30 1 ? * MON-FRI *)"}
    start = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)  # a Friday; DST starts on Sunday Mar 29
    with local_cloud(FIXTURE_TEMPLATE, parameters=params, start=start) as cloud:
        cloud.clock.advance(timedelta(days=4))
        assert len(cloud.fire_due_schedules()) == 3
        assert _keys(cloud, "ticks/") == [
            "ticks/2026-03-27T00:30:00Z",  # Fri 01:30 CET
            "ticks/2026-03-29T23:30:00Z",  # Mon 01:30 CEST
            "ticks/2026-03-30T23:30:00Z",  # Tue 01:30 CEST
        ]


def test_fire_schedule_retries_and_dead_letters(cloud: LocalCloud) -> None:
    def throttled(function: str, event: dict[str, Any]) -> None:
        raise client_error("TooManyRequestsException", "Invoke", "Rate exceeded", 429)

    cloud.faults.before_invoke = throttled
    assert cloud.fire_schedule("TickerFunctionDaily", START) is None
    [dead] = cloud.receive_all("ScheduleDLQ")
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "TooManyRequestsException"
    assert dead["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "2"

    # A function error is not the scheduler's: Lambda retries the async event (EventInvokeConfig
    # MaximumRetryAttempts 1), then sends it to the function's on-failure destination.
    cloud.faults.reset()
    cloud.faults.before_invoke = lambda function, event: event.update(source="crash")
    assert cloud.fire_schedule("TickerFunctionDaily", START) is None
    assert cloud.invocation_counts()["TickerFunction"] == (2, 2)
    assert cloud.receive_all("ScheduleDLQ") == []
    [failure] = cloud.receive_all("AsyncFailureQueue")
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"run_at": "2026-03-01T00:00:00Z", "source": "daily"}
    assert record["responsePayload"]["errorMessage"] == "crash requested"


def test_fire_schedule_returns_the_result(cloud: LocalCloud) -> None:
    result = cloud.fire_schedule("TickerFunctionDaily", datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
    assert result["event"]["run_at"] == "2026-04-01T00:05:00Z"


def test_clock_cannot_go_back(cloud: LocalCloud) -> None:
    with pytest.raises(ValueError, match="back"):
        cloud.clock.advance_to(START - timedelta(seconds=1))
