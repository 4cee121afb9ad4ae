"""Request counting and fault injection hooks."""

import collections
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from billing_local.emulator import LocalCloud, client_error


def _seen(cloud: LocalCloud) -> dict[str, tuple[int, str]]:
    table = boto3.resource("dynamodb").Table(cloud.physical_id("ItemsTable"))
    return {i["sk"]: (int(i["seen"]), i["receive_count"]) for i in table.scan()["Items"]}


def test_request_counts_separate_handlers_pollers_and_the_runtime(cloud: LocalCloud) -> None:
    cloud.publish("InboxTopic", "hello", {"kind": "order"})  # an outside producer: not counted
    cloud.publish("InboxTopic", "OUT#x", {"kind": "order"})
    cloud.drain()
    cloud.queue_depths()  # the runtime's own calls: not counted
    boto3.client("sqs").list_queues()  # test code outside any handler: not counted
    assert cloud.request_counts() == collections.Counter(
        {("dynamodb", "UpdateItem"): 2, ("s3", "PutObject"): 1}
    )
    assert cloud.request_counts_by_function() == collections.Counter(
        {
            ("WorkerFunction", "dynamodb", "UpdateItem"): 2,
            ("StreamSinkFunction", "s3", "PutObject"): 1,
        }
    )
    assert cloud.poller_request_counts() == collections.Counter(
        {
            ("sqs", "ReceiveMessage"): 1,
            ("sqs", "DeleteMessageBatch"): 1,
            ("dynamodbstreams", "GetRecords"): 1,
        }
    )
    cloud.reset_request_counts()
    assert cloud.request_counts() == collections.Counter()
    assert cloud.poller_request_counts() == collections.Counter()


def test_injected_throttling_fails_the_batch_and_the_retry_succeeds(cloud: LocalCloud) -> None:
    injected: list[tuple[str, str, str | None]] = []

    def throttle_once(service: str, operation: str) -> None:
        if not injected and operation == "UpdateItem":
            injected.append((service, operation, cloud.current_function))
            raise client_error("ProvisionedThroughputExceededException", operation)

    cloud.faults.before_aws_call = throttle_once
    cloud.publish("InboxTopic", "flaky", {"kind": "order"})
    cloud.drain()
    assert injected == [("dynamodb", "UpdateItem", "WorkerFunction")]
    assert _seen(cloud) == {"flaky": (1, "2")}  # processed on the second receive
    assert cloud.request_counts()[("dynamodb", "UpdateItem")] == 2  # the throttled call counts


def test_client_error_looks_like_aws() -> None:
    error = client_error("ThrottlingException", "Publish", "Rate exceeded", 400)
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.operation_name == "Publish"


def test_duplicate_record_in_the_same_batch(cloud: LocalCloud) -> None:
    cloud.faults.duplicate_record = lambda function, record: record["body"] == "twice"
    batches: list[list[str]] = []
    cloud.faults.before_invoke = lambda function, event: batches.append([r["body"] for r in event["Records"]])
    cloud.publish("InboxTopic", "twice", {"kind": "order"})
    cloud.drain()
    assert batches[0] == ["twice", "twice"]
    assert _seen(cloud) == {"twice": (2, "1")}
    assert cloud.queue_depths()["InboxQueue"]["visible"] == 0


def test_redeliver_a_processed_record_later(cloud: LocalCloud) -> None:
    redelivered: list[str] = []

    def once(function: str, record: dict[str, Any]) -> bool:
        if redelivered:
            return False
        redelivered.append(record["messageId"])
        return True

    cloud.faults.redeliver_record = once
    cloud.faults.reorder_batch = lambda function, records: list(reversed(records))
    cloud.publish("InboxTopic", "again", {"kind": "order"})
    cloud.drain()
    assert _seen(cloud) == {"again": (2, "2")}


def test_a_crash_before_invoke_counts_as_a_failed_batch(cloud: LocalCloud) -> None:
    def crash(function: str, event: dict[str, Any]) -> None:
        if function == "WorkerFunction":
            raise RuntimeError("injected crash")

    cloud.faults.before_invoke = crash
    cloud.publish("InboxTopic", "doomed", {"kind": "order"})
    cloud.drain()
    assert [m["Body"] for m in cloud.receive_all("InboxDLQ")] == ["doomed"]
    cloud.faults.reset()
    with pytest.raises(RuntimeError, match="crash requested"):
        cloud.invoke("WorkerFunction", {"Records": [{"body": "CRASH", "messageId": "m"}]})


def test_handler_output_is_captured(cloud: LocalCloud) -> None:
    cloud.publish("InboxTopic", "logged", {"kind": "order"})
    cloud.drain()
    assert cloud.logs("worker") == ["worker handled 1 records in local-WorkerFunction"]
