"""What handlers do on a LocalCloud, metered: DynamoDB request units (from the items each write
touches, before and after, GSI updates included), SQS/SNS billed chunks and payloads, the items
each query returns, every invocation's duration, and the handlers' log bytes.

The meter observes AWS calls through one seam, `Meter.before_call(service, operation, params)`
and `Meter.after_call(service, operation, params, result)` (`result`: the parsed response, or
an `AwsError` when AWS answered with an error), fed by `observing_api_calls` as a subscriber of
the emulator's API-call hook.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from billing_local.bench.costs import (
    DYNAMODB_READS,
    DYNAMODB_WRITES,
    IndexSpec,
    billed_chunks,
    index_write_units,
    item_size,
    read_units,
    write_units,
)
from billing_local.emulator.hooks import ApiCall

#: (table, typed key, transactional, attempted item size) of one item a write touches
WriteTarget = tuple[str, dict[str, Any], bool, int]
TableSpec = tuple[tuple[str, ...], tuple[IndexSpec, ...]]


@dataclass
class _PendingWrite:
    """A DynamoDB write between `before_call` and `after_call`: what it touches, as it was."""

    function: str
    targets: list[WriteTarget]
    before: list[dict[str, Any] | None]


@dataclass
class Meter:
    """Measures what handlers do on a LocalCloud: DynamoDB units, SQS/SNS payloads, durations, logs."""

    cloud: Any
    write_units: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    read_units: defaultdict[tuple[str, str, str], float] = field(default_factory=lambda: defaultdict(float))
    billed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    largest_payload: int = 0
    durations: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    log_bytes: Counter[str] = field(default_factory=Counter)
    #: items and bytes each function's queries returned, by (function, table, index or "-")
    items_read: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    bytes_read: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: one entry per invocation: function, seconds, SQS/stream records, agreements in jobs, items read
    samples: list[dict[str, Any]] = field(default_factory=list)
    _pending: dict[int, _PendingWrite] = field(default_factory=dict, init=False, repr=False)
    _specs: dict[str, TableSpec] = field(default_factory=dict, init=False, repr=False)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        """Meter AWS calls, invocations and log output while the block runs."""
        with observing_api_calls(self), timing_invocations(self), counting_log_bytes(self):
            yield self

    # -- the seam: one AWS call of a handler -----------------------------------------------
    def before_call(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Before a call: a DynamoDB write remembers the items it touches, as they are."""
        function = self.cloud.current_function
        if function is None or service != "dynamodb" or operation not in DYNAMODB_WRITES:
            return
        targets = list(self._write_targets(operation, params))
        before = [self._stored(table, key) for table, key, _, _ in targets]
        self._pending[id(params)] = _PendingWrite(function, targets, before)

    def after_call(self, service: str, operation: str, params: Mapping[str, Any], result: Any) -> None:
        """After a call (`result`: the response, or the exception raised): units, payloads, items read."""
        pending = self._pending.pop(id(params), None)
        if pending is not None:
            self._count_write(pending, operation, failed=isinstance(result, BaseException))
            return
        function = self.cloud.current_function
        if function is None or isinstance(result, BaseException):
            return
        if service == "dynamodb" and operation in DYNAMODB_READS:
            self._read(operation, params, result, function)
        elif service in ("sqs", "sns"):
            size = payload_bytes(operation, params, result)
            self.largest_payload = max(self.largest_payload, size)
            self.billed[(function, service, operation)] += billed_chunks(size)

    # -- invocations ------------------------------------------------------------------------
    def items_read_by(self, function: str) -> int:
        """Items every query of `function` returned so far."""
        return sum(n for (f, _, _), n in self.items_read.items() if f == function)

    def record_invocation(self, function: str, seconds: float, event: Any, items_before: int) -> None:
        """One invocation: its duration, and a sample of what it was given and read."""
        self.durations[function].append(seconds)
        self.samples.append(
            {
                "function": function,
                "seconds": seconds,
                "items_read": self.items_read_by(function) - items_before,
            }
            | event_units(event)
        )

    # -- DynamoDB writes --------------------------------------------------------------------
    def _count_write(self, pending: _PendingWrite, operation: str, *, failed: bool) -> None:
        function = pending.function
        for (table, key, transactional, attempted), old in zip(pending.targets, pending.before, strict=True):
            new = None if failed else self._stored(table, key)
            size = max(item_size(old), item_size(new), attempted)
            self.write_units[(function, table, operation, "table")] += write_units(
                size, transactional=transactional
            )
            if failed:
                continue
            keys, indexes = self._table_spec(table)
            for index in indexes:
                units = index_write_units(old, new, index, keys)
                if units:
                    self.write_units[(function, table, operation, index.name)] += units

    def _write_targets(self, operation: str, params: Mapping[str, Any]) -> Iterator[WriteTarget]:
        """(table, typed key, transactional, attempted item size) of every item a write touches."""
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, op),) = entry.items()
                yield from self._target(op["TableName"], kind, op, transactional=True)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        yield from self._target(table, "Put", request["PutRequest"], transactional=False)
                    else:
                        yield from self._target(
                            table, "Delete", request["DeleteRequest"], transactional=False
                        )
        else:
            kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]
            yield from self._target(params["TableName"], kind, params, transactional=False)

    def _target(
        self, table: str, kind: str, op: Mapping[str, Any], *, transactional: bool
    ) -> Iterator[WriteTarget]:
        keys = self._table_spec(table)[0]
        if kind == "Put":
            item = op["Item"]
            yield table, {k: item[k] for k in keys if k in item}, transactional, item_size(item)
        else:
            yield table, dict(op["Key"]), transactional, 0

    def _table_spec(self, table: str) -> TableSpec:
        spec = self._specs.get(table)
        if spec is None:
            spec = self._specs[table] = table_spec(self.cloud, table)
        return spec

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            item = dynamodb_backend(self.cloud).get_item(table, key)
        except Exception:  # a malformed key: the request itself will fail and say why
            return None
        return item.to_json()["Attributes"] if item is not None else None

    # -- DynamoDB reads ---------------------------------------------------------------------
    def _read(
        self, operation: str, params: Mapping[str, Any], response: dict[str, Any], function: str
    ) -> None:
        if operation == "GetItem":
            units = read_units(item_size(response.get("Item")), consistent=bool(params.get("ConsistentRead")))
            self.read_units[(function, params["TableName"], operation)] += units
        elif operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            size = sum(item_size(i) for i in response.get("Items", []))
            self.read_units[(function, params["TableName"], operation)] += read_units(
                size, consistent=consistent
            )
            where = (function, params["TableName"], params.get("IndexName", "-"))
            self.items_read[where] += len(response.get("Items", []))
            self.bytes_read[where] += size
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                consistent = bool(params["RequestItems"].get(table, {}).get("ConsistentRead"))
                for item in items:
                    self.read_units[(function, table, operation)] += read_units(
                        item_size(item), consistent=consistent
                    )
        elif operation == "TransactGetItems":
            for entry, got in zip(params["TransactItems"], response.get("Responses", []), strict=False):
                table = entry["Get"]["TableName"]
                self.read_units[(function, table, operation)] += 2 * read_units(
                    item_size(got.get("Item")), consistent=True
                )


# =============================================================================== feeding the meter


class AwsError(Exception):
    """What the meter is told when AWS (moto) answered a call with an error."""


@contextlib.contextmanager
def observing_api_calls(meter: Meter) -> Iterator[None]:
    """Feed `meter` every AWS call through the emulator's API-call hook (its own calls unseen)."""

    def before(call: ApiCall, _: dict[str, Any] | None) -> None:
        meter.before_call(call.service, call.operation, call.params)

    def after(call: ApiCall, response: dict[str, Any] | None) -> None:
        result = response if response is not None else AwsError(call.operation)
        meter.after_call(call.service, call.operation, call.params, result)

    unsubscribe = meter.cloud.api_hook.subscribe(after, before=before)
    try:
        yield
    finally:
        unsubscribe()


@contextlib.contextmanager
def timing_invocations(meter: Meter) -> Iterator[None]:
    """Time every handler invocation of the emulator's Lambda functions."""
    from billing_local.emulator.handlers import LambdaFunction

    call = LambdaFunction.__call__

    def timed_call(function: Any, event: Any) -> Any:
        lid = function.logical_id
        items_before = meter.items_read_by(lid)
        started = time.perf_counter()
        try:
            return call(function, event)
        finally:
            meter.record_invocation(lid, time.perf_counter() - started, event, items_before)

    LambdaFunction.__call__ = timed_call  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LambdaFunction.__call__ = call  # type: ignore[method-assign]


@contextlib.contextmanager
def counting_log_bytes(meter: Meter) -> Iterator[None]:
    """Count the bytes each function writes to its captured stdout."""
    capture = meter.cloud.log_capture
    write = capture.write

    def counted_write(text: str) -> int:
        meter.log_bytes[capture.current] += len(text.encode())
        return int(write(text))

    capture.write = counted_write
    try:
        yield
    finally:
        del capture.write


# =============================================================================== helpers


def event_units(event: Any) -> dict[str, int]:
    """What an invocation was given: its records and, for invoice jobs, the agreements they name."""
    records = event.get("Records", []) if isinstance(event, dict) else []
    agreements = 0
    for record in records:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            agreements += len(json.loads(record.get("body", "")).get("agreement_ids", []))
    return {"records": len(records), "agreements": agreements}


def payload_bytes(operation: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> int:
    """Bytes SQS/SNS bill for a request: message bodies plus message attributes."""

    def attrs(attributes: Mapping[str, Any] | None) -> int:
        return sum(
            len(name) + len(str(v.get("DataType", ""))) + len(str(v.get("StringValue", "")))
            for name, v in (attributes or {}).items()
        )

    if operation in ("SendMessage", "Publish"):
        body = params.get("MessageBody", params.get("Message", ""))
        return len(str(body).encode()) + attrs(params.get("MessageAttributes"))
    if operation == "SendMessageBatch":
        return sum(
            len(e["MessageBody"].encode()) + attrs(e.get("MessageAttributes")) for e in params["Entries"]
        )
    if operation == "PublishBatch":
        return sum(
            len(e["Message"].encode()) + attrs(e.get("MessageAttributes"))
            for e in params["PublishBatchRequestEntries"]
        )
    if operation == "ReceiveMessage":
        return sum(
            len(m.get("Body", "").encode()) + attrs(m.get("MessageAttributes"))
            for m in response.get("Messages", [])
        )
    return 0


def dynamodb_backend(cloud: Any) -> Any:
    """The emulator's DynamoDB (moto's backend of the cloud's account and region)."""
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[cloud.account_id][cloud.region]


def table_spec(cloud: Any, table: str) -> TableSpec:
    """A table's key attributes and its GSIs, read from the emulator."""
    moto_table = dynamodb_backend(cloud).get_table(table)
    keys = tuple(k for k in (moto_table.hash_key_attr, moto_table.range_key_attr) if k)
    indexes = tuple(
        IndexSpec(
            name=index.name,
            keys=tuple(part["AttributeName"] for part in index.schema),
            projection=str((index.projection or {}).get("ProjectionType", "ALL")),
            included=tuple((index.projection or {}).get("NonKeyAttributes", ())),
        )
        for index in moto_table.global_indexes
    )
    return keys, indexes


def table_items(cloud: Any, logical_id: str) -> list[dict[str, Any]]:
    """A table's items read from the emulator directly (a Scan through moto serializes everything)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    table = dynamodb_backend(cloud).get_table(cloud.physical_id(logical_id))
    return [
        {k: deserialize(v) for k, v in item.to_json()["Attributes"].items()} for item in table.all_items()
    ]
