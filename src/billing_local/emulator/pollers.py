"""Lambda's event source pollers, for SQS queues and DynamoDB streams.

Each poller is built with what it uses: its service client, the invoker, the fault callbacks,
the counter of the requests Lambda's pollers would make, and (streams) the destination sender.
"""

import base64
import collections
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .filters import matches_any, parse_filters, sqs_filter_view
from .instrumentation import Faults, RequestKey
from .timestamps import VirtualTimestamps

MAX_RECEIVE = 10
FETCH_LIMIT = 1000
UNLIMITED_RETRY_CAP = 100  # MaximumRetryAttempts -1 ("until the record expires") in virtual time


@dataclass
class Outcome:
    """How an invocation went, as Lambda's poller sees it."""

    failed: bool
    failed_ids: set[str] | None  # None: the whole batch failed (or none, if failed is False)
    error: BaseException | None = None


@dataclass(frozen=True)
class PollerWiring:
    """What every poller hands batches to and reports through."""

    invoke: Callable[[str, Any], Any]  #: (function logical id, event) -> result; raises on error
    faults: Faults
    counts: collections.Counter[RequestKey]  #: the requests Lambda's pollers would make
    timestamps: VirtualTimestamps  #: the pollers' client is the emulator's own (unhooked) one
    region: str


def batch_outcome(invoke: Callable[[], Any], report_item_failures: bool, batch_ids: list[str]) -> Outcome:
    try:
        result = invoke()
    except Exception as error:
        return Outcome(True, None, error)
    if not report_item_failures or result is None:
        return Outcome(False, None)
    if not isinstance(result, dict):
        return Outcome(True, None)
    failures = result.get("batchItemFailures")
    if not failures:
        return Outcome(False, None)
    ids: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return Outcome(True, None)  # Lambda treats a malformed response as a failed batch
        ids.add(str(identifier))
    return Outcome(True, ids)


class SqsPoller:
    """AWS::Lambda::EventSourceMapping on an SQS queue."""

    def __init__(
        self,
        logical_id: str,
        props: dict[str, Any],
        *,
        function: str,
        queue: str,
        queue_url: str,
        client: Any,
        release_delayed: Callable[[], None],
        wiring: PollerWiring,
    ) -> None:
        self.logical_id = logical_id
        self.queue_logical_id = queue
        self.function = function
        self.queue_url = queue_url
        self.client = client
        self.release_delayed = release_delayed
        self.wiring = wiring
        self.queue_arn = str(props["EventSourceArn"])
        self.batch_size = int(props.get("BatchSize", 10))
        self.window = int(props.get("MaximumBatchingWindowInSeconds", 0))
        self.report_item_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.max_concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        self.filters = parse_filters(props.get("FilterCriteria"))
        self.enabled = props.get("Enabled", True) not in (False, "false", "False")
        self.batches = 0
        self.filtered_out = 0

    def poll(self) -> bool:
        """Receive one batch, invoke, settle it. True when a batch was taken off the queue."""
        if not self.enabled:
            return False
        self.release_delayed()
        sqs = self.client
        messages: list[dict[str, Any]] = []
        while len(messages) < self.batch_size:
            response = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, self.batch_size - len(messages)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = self.wiring.timestamps.sqs_messages(response).get("Messages", [])
            if not received:
                break
            self.wiring.counts[("sqs", "ReceiveMessage")] += 1
            messages.extend(received)
            if self.batch_size <= MAX_RECEIVE and self.window == 0:
                break
        if not messages:
            return False

        records = [self._record(m) for m in messages]
        kept = [r for r in records if matches_any(self.filters, sqs_filter_view(r))]
        dropped = [r for r in records if r not in kept]
        if dropped:
            self.filtered_out += len(dropped)
            self._delete(dropped)  # Lambda deletes messages its filters reject
        if not kept:
            return True

        faults = self.wiring.faults
        batch: list[dict[str, Any]] = []
        for record in kept:
            batch.append(record)
            if faults.duplicate_record(self.function, record):
                batch.append(dict(record))
        batch = faults.reorder_batch(self.function, batch)
        self.batches += 1
        event = {"Records": batch}
        ids = [r["messageId"] for r in batch]
        outcome = batch_outcome(
            lambda: self.wiring.invoke(self.function, event), self.report_item_failures, ids
        )
        unique = list({r["messageId"]: r for r in kept}.values())
        if not outcome.failed:
            failed_records: list[dict[str, Any]] = []
        elif outcome.failed_ids is None:
            failed_records = unique
        else:
            failed_records = [r for r in unique if r["messageId"] in outcome.failed_ids]
        failed_ids = {r["messageId"] for r in failed_records}
        succeeded = [r for r in unique if r["messageId"] not in failed_ids]
        again = [r for r in succeeded if faults.redeliver_record(self.function, r)]
        again_ids = {r["messageId"] for r in again}
        self._delete([r for r in succeeded if r["messageId"] not in again_ids])
        # Virtual time: the visibility timeout of a failed message elapses at once.
        self._make_visible(failed_records + again)
        return True

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),  # timestamps already virtual
            "messageAttributes": {
                name: _lambda_message_attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.wiring.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), MAX_RECEIVE):
            chunk = records[start : start + MAX_RECEIVE]
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
            self.wiring.counts[("sqs", "DeleteMessageBatch")] += 1

    def _make_visible(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), MAX_RECEIVE):
            chunk = records[start : start + MAX_RECEIVE]
            self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
                    for i, r in enumerate(chunk)
                ],
            )


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])]
    out["dataType"] = value.get("DataType", "String")
    return out


def _plain_attribute_values(value: Any) -> Any:
    """boto3 returns B/BS as bytes; Lambda's JSON event carries them base64-encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _plain_attribute_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_attribute_values(v) for v in value]
    if isinstance(value, set):
        return [_plain_attribute_values(v) for v in sorted(value)]
    return value


class StreamPoller:
    """AWS::Lambda::EventSourceMapping on a DynamoDB stream (one per shard, moto has one)."""

    def __init__(
        self,
        logical_id: str,
        props: dict[str, Any],
        *,
        function: str,
        function_arn: str,
        client: Any,
        forget_iterator: Callable[[str], None],
        send: Callable[[str, str], None],
        now: Callable[[], datetime],
        wiring: PollerWiring,
    ) -> None:
        self.logical_id = logical_id
        self.function = function
        self.function_arn = function_arn
        self.client = client
        self.forget_iterator = forget_iterator
        self.send = send  #: (destination ARN, body): the OnFailure destination
        self.now = now
        self.wiring = wiring
        self.stream_arn = str(props["EventSourceArn"])
        self.batch_size = int(props.get("BatchSize", 100))
        self.report_item_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.max_retries = int(props.get("MaximumRetryAttempts", -1))
        if self.max_retries < 0:
            self.max_retries = UNLIMITED_RETRY_CAP
        self.bisect = props.get("BisectBatchOnFunctionError") in (True, "true", "True")
        self.on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.filters = parse_filters(props.get("FilterCriteria"))
        self.enabled = props.get("Enabled", True) not in (False, "false", "False")
        self.starting_position = str(props.get("StartingPosition", "TRIM_HORIZON"))
        self.batches = 0
        self.filtered_out = 0
        self.failures_sent = 0
        self._iterators: dict[str, str] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._attempts: dict[str, int] = {}
        self._limits: dict[str, int] = {}
        self._open_shards()

    def _open_shards(self) -> None:
        streams = self.client
        description = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            iterator_type = "LATEST" if self.starting_position == "LATEST" else "TRIM_HORIZON"
            self._iterators[shard_id] = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=iterator_type
            )["ShardIterator"]
            self._buffers[shard_id] = []
            self._attempts[shard_id] = 0
            self._limits[shard_id] = self.batch_size

    def poll(self) -> bool:
        if not self.enabled:
            return False
        delivered = False
        for shard_id in list(self._iterators):
            delivered = self._poll_shard(shard_id) or delivered
        return delivered

    def _fetch(self, shard_id: str) -> None:
        streams = self.client
        used = self._iterators[shard_id]
        response = streams.get_records(ShardIterator=used, Limit=FETCH_LIMIT)
        self._iterators[shard_id] = response["NextShardIterator"]
        self.forget_iterator(used)
        records = self.wiring.timestamps.stream_records(response).get("Records", [])
        if not records:
            return
        self.wiring.counts[("dynamodbstreams", "GetRecords")] += 1
        if len(records) == FETCH_LIMIT and records[-1].get("eventName") == "INSERT":
            # Keep a trailing INSERT for the next fetch, so _without_moto_artifacts sees its successor.
            last = records.pop()
            self._iterators[shard_id] = streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=last["dynamodb"]["SequenceNumber"],
            )["ShardIterator"]
        for raw in _without_moto_artifacts(records):
            record = self._record(raw)
            if matches_any(self.filters, record):
                self._buffers[shard_id].append(record)
            else:
                self.filtered_out += 1

    def _poll_shard(self, shard_id: str) -> bool:
        buffer = self._buffers[shard_id]
        if not buffer:
            self._fetch(shard_id)
        if not buffer:
            return False
        batch = buffer[: self._limits[shard_id]]
        self.batches += 1
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        event = {"Records": batch}
        outcome = batch_outcome(
            lambda: self.wiring.invoke(self.function, event), self.report_item_failures, sequence_numbers
        )
        if not outcome.failed:
            del buffer[: len(batch)]
            self._attempts[shard_id] = 0
            self._limits[shard_id] = self.batch_size
            return True
        if outcome.failed_ids is not None:
            # Checkpoint before the lowest failed record; retry from there.
            first = min(sequence_numbers.index(s) for s in outcome.failed_ids)
            del buffer[:first]
            batch = batch[first:]
        elif self.bisect and len(batch) > 1:
            self._limits[shard_id] = math.ceil(len(batch) / 2)
            return True
        self._attempts[shard_id] += 1
        if self._attempts[shard_id] > self.max_retries:
            self._send_failure(shard_id, batch, outcome)
            del buffer[: len(batch)]
            self._attempts[shard_id] = 0
            self._limits[shard_id] = self.batch_size
        return True

    def _record(self, raw: dict[str, Any]) -> dict[str, Any]:
        record = _plain_attribute_values(raw)
        dynamodb = dict(record.get("dynamodb", {}))
        created = raw.get("dynamodb", {}).get("ApproximateCreationDateTime")
        if isinstance(created, datetime):  # already virtual (rewritten in _fetch)
            dynamodb["ApproximateCreationDateTime"] = float(int(created.timestamp()))
        record["dynamodb"] = dynamodb
        record["eventVersion"] = "1.1"
        record["awsRegion"] = self.wiring.region
        record["eventSourceARN"] = self.stream_arn
        return dict(record)

    def _send_failure(self, shard_id: str, batch: list[dict[str, Any]], outcome: Outcome) -> None:
        if not self.on_failure:
            return
        created = [r["dynamodb"].get("ApproximateCreationDateTime", 0) for r in batch]
        payload = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self._attempts[shard_id],
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if outcome.error is not None else "",
            },
            "version": "1.0",
            "timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(min(created)),
                "approximateArrivalOfLastRecord": _iso(max(created)),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.send(str(self.on_failure), json.dumps(payload))
        self.failures_sent += 1


def _without_moto_artifacts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the extra keys-only INSERT moto 5.2 writes to the stream when UpdateItem creates an item.

    moto's update_item first puts a keys-only item (one INSERT record), then applies the update
    and records a second INSERT. DynamoDB writes one INSERT. Two INSERTs for the same key with
    nothing between them cannot happen on AWS (the second write would be a MODIFY).
    """
    kept: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        following = records[index + 1] if index + 1 < len(records) else None
        if (
            following is not None
            and record.get("eventName") == "INSERT"
            and following.get("eventName") == "INSERT"
            and record["dynamodb"].get("Keys") == following["dynamodb"].get("Keys")
        ):
            continue
        kept.append(record)
    return kept


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
