"""`make bench` (`python -m billing_local.bench`): cost and throughput, measured.

Prints a table and writes `.bench/results.json`. docs/PERFORMANCE.md explains every figure;
in short:

- A `billing simulate` workload (generated agreements, monthly and daily plans among the
  others, amendments and cancellations, every payment method `pm_ok`) runs through the whole
  pipeline on the embedded AWS. Every AWS request a handler makes is counted by service and
  operation (the runtime's botocore hook), plus what Lambda's pollers would make; DynamoDB
  request units are computed from the items each request reads or writes (sizes taken from
  the emulated tables before and after each write, GSI updates included); every handler
  invocation is timed. Divided by the invoices that were paid.
- Cold imports: each handler module imported in a fresh interpreter, alternating with a
  fresh `import boto3`; the ratio of the medians.
- The built shared layer's unzipped size, and the pure engine's throughput.

Nothing here asserts anything about time: the bench reports, tests/unit/test_bench.py checks
the arithmetic.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import statistics

# subprocess: this interpreter, make and git, on fixed argument lists, never through a shell.
import subprocess  # nosec B404
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_local import prices

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / ".bench"

#: figure -> the most it may be (every goal is an upper bound).
GOALS: dict[str, float] = {
    "aws_requests_per_paid_invoice": 3.5,
    "lambda_invocations_per_invoice": 0.35,
    "cold_import_ratio_max": 1.3,
    "layer_unzipped_bytes": 5_000_000,
    "cost_usd_per_million_paid_invoices": 5.0,
}

#: Lambda's JSON platform records per invocation (platform.start and platform.report), bytes:
#: an estimate (docs/PERFORMANCE.md), added to the handlers' own log bytes.
PLATFORM_LOG_BYTES_PER_INVOCATION = 600

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
FREE_REQUESTS = frozenset({("dynamodbstreams", "GetRecords")})  # Lambda trigger reads are free


# =============================================================================== pure arithmetic


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one typed attribute value ({"S": ...}, {"N": ...}, {"M": ...}...).

    Strings and binaries: their UTF-8/byte length. Numbers: about one byte per two significant
    digits, plus one. Booleans and null: one byte. Lists and maps: 3 bytes, plus one byte per
    element, plus the elements (and, for maps, the names).
    """
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(raw) if isinstance(raw, (bytes, bytearray)) else len(str(raw).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in raw)
    if kind == "NS":
        return sum(_number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(b) if isinstance(b, (bytes, bytearray)) else len(str(b).encode()) for b in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + attribute_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _number_size(raw: Any) -> int:
    digits = str(raw).lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes of a typed DynamoDB item: attribute names plus values."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool = False) -> int:
    """WRU of one item write: 1 per KB (rounded up, at least 1); twice that inside a transaction."""
    units = max(1, math.ceil(size / prices.DYNAMODB_WRITE_UNIT_BYTES))
    return 2 * units if transactional else units


def read_units(size: int, *, consistent: bool) -> float:
    """RRU of one read request: 1 per 4 KB read (rounded up, at least 1) if strongly consistent,
    half that if eventually consistent. A Query sums its items' sizes before rounding."""
    units = max(1, math.ceil(size / prices.DYNAMODB_READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class IndexSpec:
    """A GSI: its key attributes and projection (ALL, KEYS_ONLY or INCLUDE with attributes)."""

    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"
    included: tuple[str, ...] = ()


def index_entry(
    item: Mapping[str, Any] | None, index: IndexSpec, table_keys: tuple[str, ...]
) -> Mapping[str, Any] | None:
    """What the index holds for `item` (None when the item lacks a key attribute: sparse)."""
    if not item or any(k not in item for k in index.keys):
        return None
    if index.projection == "ALL":
        return item
    wanted = (
        set(index.keys) | set(table_keys) | (set(index.included) if index.projection == "INCLUDE" else set())
    )
    return {k: v for k, v in item.items() if k in wanted}


def index_write_units(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    index: IndexSpec,
    table_keys: tuple[str, ...],
) -> int:
    """WRU a GSI consumes for one base-table write (GSI writes are never doubled by transactions).

    Key unchanged: one update of the entry, if anything projected changed. Key changed: a
    delete of the old entry and a put of the new one. Entering or leaving a sparse index: one.
    """
    before, after = index_entry(old, index, table_keys), index_entry(new, index, table_keys)
    if before is None and after is None:
        return 0
    if before is None:
        return write_units(item_size(after))
    if after is None:
        return write_units(item_size(before))
    if all(before.get(k) == after.get(k) for k in index.keys):
        return 0 if before == after else write_units(max(item_size(before), item_size(after)))
    return write_units(item_size(before)) + write_units(item_size(after))


def billed_chunks(payload_bytes: int) -> int:
    """SQS and SNS bill each 64 KB chunk of a request's payload as one request."""
    return max(1, math.ceil(payload_bytes / prices.SQS_SNS_CHUNK_BYTES))


def per_invoice(counts: Mapping[Any, float], paid: int) -> dict[Any, float]:
    """Every count divided by the paid invoices (rounded to 4 places; empty when nothing was paid)."""
    if paid <= 0:
        return {}
    return {key: round(value / paid, 4) for key, value in counts.items()}


def ratio_of_medians(samples: Iterable[float], baseline: Iterable[float]) -> float:
    """median(samples) / median(baseline): noisy machines shift both alike, the ratio holds."""
    base = statistics.median(list(baseline))
    if base <= 0:
        raise ValueError("baseline median must be positive")
    return statistics.median(list(samples)) / base


def lambda_gb_seconds(durations_s: Iterable[float], memory_mb: int) -> float:
    """GB-seconds Lambda bills for these invocations: each rounded up to the next millisecond."""
    billed_ms = sum(math.ceil(d * 1000) for d in durations_s)
    return memory_mb / 1024 * billed_ms / 1000


@dataclass
class Usage:
    """Billable quantities of a run (or per invoice: whatever unit the caller picks)."""

    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    dynamodb_wru: float = 0.0
    dynamodb_rru: float = 0.0
    sqs_requests: float = 0.0
    sns_publish_requests: float = 0.0
    sns_sqs_deliveries: float = 0.0
    sns_email_deliveries: float = 0.0
    s3_put_requests: float = 0.0
    scheduler_invocations: float = 0.0
    log_gb: float = 0.0


_PRICE_OF = {
    "lambda_requests": "lambda_request",
    "lambda_gb_seconds": "lambda_gb_second_arm64",
    "dynamodb_wru": "dynamodb_write_request_unit",
    "dynamodb_rru": "dynamodb_read_request_unit",
    "sqs_requests": "sqs_request",
    "sns_publish_requests": "sns_publish_request",
    "sns_sqs_deliveries": "sns_sqs_delivery",
    "sns_email_deliveries": "sns_email_delivery",
    "s3_put_requests": "s3_put_request",
    "scheduler_invocations": "scheduler_invocation",
    "log_gb": "cloudwatch_logs_ingested_gb",
}


def cost_usd(usage: Usage, table: Mapping[str, float] = prices.PRICES) -> dict[str, float]:
    """Dollars per line of `usage`, and their `total`."""
    lines = {name: getattr(usage, name) * table[price] for name, price in _PRICE_OF.items()}
    lines["total"] = sum(lines.values())
    return lines


def scale_usage(usage: Usage, factor: float) -> Usage:
    return Usage(**{name: getattr(usage, name) * factor for name in _PRICE_OF})


# ----------------------------------------------------------------------------- the floor


@dataclass(frozen=True)
class Design:
    """The batching constants the floor depends on (read from the code and template at run time)."""

    agreements_per_job: int = 25  # billing.service.invoicing.AGREEMENTS_PER_JOB
    due_page: int = 500  # billing.service.invoicing.DUE_PAGE: due-index items per shard-job page
    job_batch: int = 10  # InvoiceGenerator SQS BatchSize
    payment_batch: int = 10  # PaymentProcessor SQS BatchSize
    stream_batch: int = 100  # OutboxPublisher stream BatchSize
    sns_batch: int = 10  # PublishBatch entries (AWS maximum)
    sqs_batch: int = 10  # SendMessageBatch / ReceiveMessage / DeleteMessageBatch entries (AWS maximum)
    export_object_messages: int = 1000  # billing.service.accounting.MESSAGES_PER_OBJECT
    billing_events_per_invoice: int = 2  # billing.invoice.issued + billing.payment.succeeded
    payment_reads_before_charge: int = 0  # GetItem of the payment item before the first attempt
    gateway_reads_per_charge: int = 0  # sandbox ledger GetItem: only when its conditional put fails


def floor_lines(d: Design) -> dict[tuple[str, str, str], float]:
    """Requests per paid invoice the current design cannot avoid, with every batch full.

    Per-run costs (the scheduler's shard jobs, one due-index Query per shard even when it is empty,
    the export schedule) tend to zero per invoice at scale and are left out; docs/PERFORMANCE.md
    derives each line.
    """
    jobs_per_invoice = 1 / d.agreements_per_job
    pages_per_invoice = 1 / d.due_page
    job_messages = jobs_per_invoice + pages_per_invoice  # agreement jobs and shard-page jobs
    events = d.billing_events_per_invoice
    return {
        ("InvoiceGeneratorFunction", "sqs", "SendMessageBatch"): jobs_per_invoice / d.sqs_batch,
        ("(poller) InvoiceJobQueue", "sqs", "ReceiveMessage"): job_messages / d.job_batch,
        ("(poller) InvoiceJobQueue", "sqs", "DeleteMessageBatch"): job_messages / d.job_batch,
        ("InvoiceGeneratorFunction", "dynamodb", "Query"): 1.0 + pages_per_invoice,  # agreement + due page
        ("InvoiceGeneratorFunction", "dynamodb", "TransactWriteItems"): 1.0,
        ("OutboxPublisherFunction", "sns", "PublishBatch"): events / d.sns_batch,
        ("(poller) PaymentQueue", "sqs", "ReceiveMessage"): 1 / d.payment_batch,
        ("(poller) PaymentQueue", "sqs", "DeleteMessageBatch"): 1 / d.payment_batch,
        ("PaymentProcessorFunction", "dynamodb", "PutItem"): 2.0,  # idempotency record, ledger entry
        ("PaymentProcessorFunction", "dynamodb", "UpdateItem"): 1.0,  # idempotency record completed
        ("PaymentProcessorFunction", "dynamodb", "GetItem"): float(
            d.payment_reads_before_charge + d.gateway_reads_per_charge
        ),
        ("PaymentProcessorFunction", "dynamodb", "TransactWriteItems"): 1.0,  # payment + outcome event
        ("AccountingExporterFunction", "sqs", "ReceiveMessage"): events / d.sqs_batch,
        ("AccountingExporterFunction", "sqs", "DeleteMessageBatch"): events / d.sqs_batch,
        ("AccountingExporterFunction", "s3", "PutObject"): events / d.export_object_messages,
    }


def floor_invocations(d: Design) -> dict[str, float]:
    """Lambda invocations per paid invoice with every batch full (ingestion and schedules aside)."""
    return {
        "InvoiceGeneratorFunction": (1 / d.agreements_per_job + 1 / d.due_page) / d.job_batch,
        "OutboxPublisherFunction": d.billing_events_per_invoice / d.stream_batch,
        "PaymentProcessorFunction": 1 / d.payment_batch,
    }


# =============================================================================== measuring a run


def bench_scenario(agreements: int, days: int, seed: int = 7) -> dict[str, Any]:
    """The `billing simulate --agreements N --days D` workload with every payment method pm_ok."""
    from billing_local.sim.workload import generate

    scenario = generate(agreements, days, seed=seed)
    for delivery in scenario["deliveries"]:
        data = delivery["event"].get("data", {})
        if "payment_method" in data:
            data["payment_method"] = "pm_ok"
    return scenario


@dataclass
class Meter:
    """Measures what handlers do on a LocalCloud: DynamoDB units, SQS/SNS payloads, durations, logs."""

    cloud: Any
    write_units: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    read_units: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    billed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    largest_payload: int = 0
    durations: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    log_bytes: Counter[str] = field(default_factory=Counter)
    #: items and bytes each function's queries returned, by (function, table, index or "-")
    items_read: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    bytes_read: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: one entry per invocation: function, seconds, SQS/stream records, agreements in jobs, items read
    samples: list[dict[str, Any]] = field(default_factory=list)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        from botocore.client import BaseClient

        from billing_local.runtime.lambdas import LambdaFunction

        api, call = BaseClient._make_api_call, LambdaFunction.__call__
        capture = self.cloud.log_capture
        write = capture.write
        meter = self

        def metered_api(client: Any, operation: str, params: dict[str, Any]) -> Any:
            return meter._api(api, client, operation, params)

        def timed_call(function: Any, event: Any) -> Any:
            lid = function.logical_id
            read_before = meter._items_of(lid)
            started = time.perf_counter()
            try:
                return call(function, event)
            finally:
                seconds = time.perf_counter() - started
                meter.durations[lid].append(seconds)
                meter.samples.append(
                    {"function": lid, "seconds": seconds, "items_read": meter._items_of(lid) - read_before}
                    | _event_units(event)
                )

        def counted_write(text: str) -> int:
            meter.log_bytes[capture.current] += len(text.encode())
            return int(write(text))

        BaseClient._make_api_call = metered_api  # type: ignore[method-assign]
        LambdaFunction.__call__ = timed_call  # type: ignore[method-assign]
        capture.write = counted_write
        try:
            yield self
        finally:
            BaseClient._make_api_call = api  # type: ignore[method-assign]
            LambdaFunction.__call__ = call  # type: ignore[method-assign]
            del capture.write

    # -- AWS calls ------------------------------------------------------------------------
    def _api(self, api: Callable[..., Any], client: Any, operation: str, params: dict[str, Any]) -> Any:
        from billing_local.runtime.instrumentation import INTERNAL_ATTRIBUTE

        function = self.cloud.current_function
        if function is None or getattr(client, INTERNAL_ATTRIBUTE, False):
            return api(client, operation, params)
        service = client.meta.service_model.service_name
        if service == "dynamodb" and operation in DYNAMODB_WRITES:
            return self._write(api, client, operation, params, function)
        response = api(client, operation, params)
        if service == "dynamodb" and operation in DYNAMODB_READS:
            self._read(operation, params, response, function)
        elif service in ("sqs", "sns"):
            size = _payload_bytes(operation, params, response)
            self.largest_payload = max(self.largest_payload, size)
            self.billed[(function, service, operation)] += billed_chunks(size)
        return response

    def _items_of(self, function: str) -> int:
        return sum(n for (f, _, _), n in self.items_read.items() if f == function)

    def _write(
        self, api: Callable[..., Any], client: Any, operation: str, params: dict[str, Any], function: str
    ) -> Any:
        targets = list(self._write_targets(operation, params))
        before = [self._stored(table, key) for table, key, _, _ in targets]
        failed = False
        try:
            return api(client, operation, params)
        except Exception:
            failed = True
            raise
        finally:
            for (table, key, transactional, attempted), old in zip(targets, before, strict=True):
                new = None if failed else self._stored(table, key)
                size = max(item_size(old), item_size(new), attempted)
                self.write_units[(function, table, operation, "table")] += write_units(
                    size, transactional=transactional
                )
                if failed:
                    continue
                spec = self._table_spec(table)
                for index in spec[1]:
                    units = index_write_units(old, new, index, spec[0])
                    if units:
                        self.write_units[(function, table, operation, index.name)] += units

    def _write_targets(
        self, operation: str, params: dict[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any], bool, int]]:
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
        self, table: str, kind: str, op: dict[str, Any], *, transactional: bool
    ) -> Iterator[tuple[str, dict[str, Any], bool, int]]:
        keys = self._table_spec(table)[0]
        if kind == "Put":
            item = op["Item"]
            yield table, {k: item[k] for k in keys if k in item}, transactional, item_size(item)
        else:
            yield table, dict(op["Key"]), transactional, 0

    def _table_spec(self, table: str) -> tuple[tuple[str, ...], tuple[IndexSpec, ...]]:
        cache: dict[str, tuple[tuple[str, ...], tuple[IndexSpec, ...]]] = self.__dict__.setdefault(
            "_specs", {}
        )
        spec = cache.get(table)
        if spec is None:
            moto_table = _moto_backend(self.cloud).get_table(table)
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
            spec = cache[table] = (keys, indexes)
        return spec

    def _stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            item = _moto_backend(self.cloud).get_item(table, key)
        except Exception:  # a malformed key: the request itself will fail and say why
            return None
        return item.to_json()["Attributes"] if item is not None else None

    def _read(self, operation: str, params: dict[str, Any], response: dict[str, Any], function: str) -> None:
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


def _event_units(event: Any) -> dict[str, int]:
    """What an invocation was given: its records and, for invoice jobs, the agreements they name."""
    records = event.get("Records", []) if isinstance(event, dict) else []
    agreements = 0
    for record in records:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            agreements += len(json.loads(record.get("body", "")).get("agreement_ids", []))
    return {"records": len(records), "agreements": agreements}


def least_squares(points: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (x, y) points; slope 0 when x never varies."""
    pairs = list(points)
    if not pairs:
        return 0.0, 0.0
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return mean_y, 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return mean_y - slope * mean_x, slope


def _payload_bytes(operation: str, params: dict[str, Any], response: dict[str, Any]) -> int:
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


def _moto_backend(cloud: Any) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[cloud.account_id][cloud.region]


def _table_items(cloud: Any, logical_id: str) -> list[dict[str, Any]]:
    """A table's items read from the emulator directly (a Scan through moto serializes everything)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    table = _moto_backend(cloud).get_table(cloud.physical_id(logical_id))
    return [
        {k: deserialize(v) for k, v in item.to_json()["Attributes"].items()} for item in table.all_items()
    ]


@dataclass
class RunMeasurement:
    """Everything measured over one pipeline run (raw: no per-invoice division yet)."""

    agreements: int
    days: int
    deliveries: int
    seconds: float
    requests_by_function: Counter[tuple[str, str, str]]
    poller_requests: Counter[tuple[str, str]]
    poller_requests_by_source: Counter[tuple[str, str, str]]
    invocations: dict[str, int]
    durations: dict[str, list[float]]
    memory_mb: dict[str, int]
    environments: dict[str, dict[str, str]]
    code_dirs: dict[str, str]
    write_units: Counter[tuple[str, str, str, str]]
    read_units: Counter[tuple[str, str, str]]
    billed: Counter[tuple[str, str, str]]
    largest_payload: int
    log_bytes: Counter[str]
    samples: list[dict[str, Any]]
    due_pages: dict[str, Any]
    items_read: Counter[tuple[str, str, str]]
    bytes_read: Counter[tuple[str, str, str]]
    schedule_fires: int
    sns_sqs_deliveries: int
    documents: int
    invoices: int
    credit_notes: int
    chargeable: int
    paid: int
    design: Design
    checks: dict[str, Any]
    table_names: dict[str, str]


def run_pipeline(
    scenario_json: dict[str, Any],
    template: Path = ROOT / "template.yaml",
    progress: Callable[[int, int], None] | None = None,
) -> RunMeasurement:
    """Run the workload day by day, as `billing simulate` does, and measure it."""
    import boto3

    from billing.service import accounting, invoicing
    from billing_local.preview import parse_scenario, preview
    from billing_local.runtime.cloud import LocalCloud
    from billing_local.sim import simulate
    from billing_local.sim.simulate import (
        DAILY_SCHEDULE,
        EXPORT_SCHEDULE,
        PROVIDER_KEY,
        Simulation,
        schedule_id,
    )

    # Deliveries are published and drained the way `billing simulate` does: in chunks of
    # DELIVERY_CHUNK (one at a time before the simulator had chunks).
    chunk = max(1, int(getattr(simulate, "DELIVERY_CHUNK", 1)))

    scenario = parse_scenario(scenario_json)
    timeline = Simulation(scenario).timeline()
    at = scenario.runs.at
    start = datetime.combine(timeline[0], at, tzinfo=UTC) - timedelta(minutes=1)
    parameters = {"ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)", "ScheduleTimezone": "UTC"}
    pending = sorted(scenario.deliveries, key=lambda delivery: delivery[0])
    # Loading the handlers imports Powertools' Logger(log_uncaught_exceptions=True), which takes over
    # sys.excepthook and logs to the handlers' captured stdout: the bench's own errors would vanish.
    with _keep_excepthook(), LocalCloud(template, parameters=parameters, start=start) as cloud:
        key_name = cloud.function("PaymentProcessorFunction").environment.get("PAYMENT_PROVIDER_KEY_PARAM")
        if key_name:
            boto3.client("ssm").put_parameter(
                Name=key_name, Value=PROVIDER_KEY, Type="SecureString", Overwrite=True
            )
        functions = {lid: cloud.function(lid) for lid in cloud.function_names()}
        for function in functions.values():
            function.load()  # cold starts (imports) are measured on their own, not as handler time
        daily, export = schedule_id(cloud, DAILY_SCHEDULE), schedule_id(cloud, EXPORT_SCHEDULE)
        cloud.reset_request_counts()
        meter = Meter(cloud)
        fires = 0
        started = time.perf_counter()
        with meter.installed():
            for number, day in enumerate(timeline, 1):
                arriving = [event for on, event in pending if on <= day]
                pending = pending[len(arriving) :]
                instant = datetime.combine(day, at, tzinfo=UTC)
                cloud.clock.advance_to(instant - timedelta(minutes=1))
                cloud.expire_visibility()
                for number_in_day, event in enumerate(arriving, 1):  # as simulate delivers them
                    cloud.publish("AgreementTopic", event if isinstance(event, str) else json.dumps(event))
                    if number_in_day % chunk == 0 or number_in_day == len(arriving):
                        cloud.drain()
                if scenario.runs.from_date <= day <= scenario.runs.through and day not in scenario.runs.skip:
                    cloud.clock.advance_to(instant)
                    cloud.fire_schedule(daily, instant)
                    cloud.drain()
                    cloud.fire_schedule(export, instant)
                    fires += 2
                if progress:
                    progress(number, len(timeline))
        seconds = time.perf_counter() - started
        poller_by_source = _poller_requests_by_source(cloud)
        due_pages = measure_due_pages(cloud, scenario.runs.through)
        items = _table_items(cloud, "BillingTable")
        ledger = _table_items(cloud, "SandboxLedgerTable")
        documents = [json.loads(i["document"]) for i in items if i["sk"].startswith("DOC#")]
        payments = {i["sk"].removeprefix("PAY#"): i for i in items if i["sk"].startswith("PAY#")}
        chargeable = {d["document_id"] for d in documents if d["kind"] == "invoice" and d["total_minor"] > 0}
        paid = sum(1 for p in payments.values() if p["status"] == "succeeded")
        charges = Counter(i["document_id"] for i in ledger if i["status"] == "succeeded")
        outbox = [i for i in items if i["sk"].startswith("OUT#")]
        left = {
            name: sum(depth.values()) for name, depth in cloud.queue_depths().items() if sum(depth.values())
        }
        expected = preview(scenario)
        checks = {
            "documents_match_preview": len(documents) == len(expected["documents"]),
            "every_chargeable_invoice_paid_once": all(
                payments.get(d, {}).get("status") == "succeeded" and charges[d] == 1 for d in chargeable
            ),
            "queues_empty": not left,
            "left_in_queues": left,
        }
        pollers = {p.function: p.batch_size for p in cloud.pollers()}
        design = Design(
            agreements_per_job=invoicing.AGREEMENTS_PER_JOB,
            due_page=int(getattr(invoicing, "DUE_PAGE", 500)),
            job_batch=pollers.get("InvoiceGeneratorFunction", 10),
            payment_batch=pollers.get("PaymentProcessorFunction", 10),
            stream_batch=pollers.get("OutboxPublisherFunction", 100),
            export_object_messages=accounting.MESSAGES_PER_OBJECT,
        )
        return RunMeasurement(
            agreements=_agreements(scenario),
            days=len(timeline),
            deliveries=len(scenario.deliveries),
            seconds=seconds,
            requests_by_function=cloud.request_counts_by_function(),
            poller_requests=cloud.poller_request_counts(),
            poller_requests_by_source=poller_by_source,
            invocations={lid: count for lid, (count, _) in cloud.invocation_counts().items()},
            durations=dict(meter.durations),
            memory_mb={lid: f.memory for lid, f in functions.items()},
            environments={lid: dict(f.environment) for lid, f in functions.items()},
            code_dirs={lid: str(f.code_dir) for lid, f in functions.items() if f.code_dir is not None},
            write_units=meter.write_units,
            read_units=meter.read_units,
            billed=meter.billed,
            largest_payload=meter.largest_payload,
            log_bytes=meter.log_bytes,
            samples=meter.samples,
            due_pages=due_pages,
            items_read=meter.items_read,
            bytes_read=meter.bytes_read,
            schedule_fires=fires,
            sns_sqs_deliveries=_sns_sqs_deliveries(outbox),
            documents=len(documents),
            invoices=sum(1 for d in documents if d["kind"] == "invoice"),
            credit_notes=sum(1 for d in documents if d["kind"] == "credit_note"),
            chargeable=len(chargeable),
            paid=paid,
            design=design,
            checks=checks,
            table_names={cloud.physical_id(lid): lid for lid in cloud.logical_ids("AWS::DynamoDB::Table")},
        )


def measure_due_pages(cloud: Any, day: Any, items: int = 2000) -> dict[str, Any]:
    """Time the generator's due-page read (billing.service.invoicing.read_due_page) over one shard
    holding `items` due agreements: the per-item figure docs/SCALE.md scales to 1M and 10M.

    Runs after the measured workload, through the runtime's own (uncounted) client: copies of a real
    agreement state item are put on shard 0 of the due index, read page by page, and deleted.
    """
    from billing.adapters.dynamo import STATE_SK, BillingTable, due_shard
    from billing.service import invoicing

    client = cloud._client("dynamodb")
    name = cloud.physical_id("BillingTable")
    shards = int(cloud.function("InvoiceGeneratorFunction").environment.get("DUE_SHARDS", "32"))
    template = next(
        (
            i.to_json()["Attributes"]
            for i in _moto_backend(cloud).get_table(name).all_items()
            if i.range_key and i.range_key.value == STATE_SK
        ),
        None,
    )
    if template is None or not hasattr(invoicing, "read_due_page"):
        return {}
    run_at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)
    due = f"{run_at.isoformat().replace('+00:00', 'Z')}#{STATE_SK}"
    ids: list[str] = []
    n = 0
    while len(ids) < items:
        candidate = f"bench-due-{n}"
        n += 1
        if due_shard(candidate, shards) == "DUE#0":
            ids.append(candidate)
    for agreement_id in ids:
        item = dict(template) | {
            "pk": {"S": f"AGR#{agreement_id}"},
            "gsi1pk": {"S": "DUE#0"},
            "gsi1sk": {"S": due},
        }
        client.put_item(TableName=name, Item=item)
    table = BillingTable(name, shards, client=client)
    job: Any = invoicing.ShardJob(run_at, 0)
    pages, read, started = 0, 0, time.perf_counter()
    while job is not None:
        page = invoicing.read_due_page(table, job)
        pages += 1
        read += sum(len(j.agreement_ids) for j in page.agreement_jobs)
        job = page.continuation
    seconds = time.perf_counter() - started
    for agreement_id in ids:
        client.delete_item(TableName=name, Key={"pk": {"S": f"AGR#{agreement_id}"}, "sk": {"S": STATE_SK}})
    return {
        "items": items,
        "read": read,
        "pages": pages,
        "page_size": int(getattr(invoicing, "DUE_PAGE", 0)),
        "item_bytes": item_size(template),
        "ms_per_page": round(1000 * seconds / pages, 2),
        "ms_per_item": round(1000 * seconds / max(1, read), 4),
    }


@contextlib.contextmanager
def _keep_excepthook() -> Iterator[None]:
    hook = sys.excepthook
    try:
        yield
    finally:
        sys.excepthook = hook


def _agreements(scenario: Any) -> int:
    ids = set()
    for _, event in scenario.deliveries:
        if isinstance(event, dict):
            ids.add(str(event.get("data", {}).get("agreement_id")))
    return len(ids)


def _poller_requests_by_source(cloud: Any) -> Counter[tuple[str, str, str]]:
    """The pollers' requests per event source. The runtime counts them by (service, operation);
    each poller's share follows from its batches (one receive and one delete per SQS batch of up to
    10, one GetRecords per stream fetch), checked against the runtime's totals."""
    counts: Counter[tuple[str, str, str]] = Counter()
    totals = cloud.poller_request_counts()
    sqs_batches = {p.queue_logical_id: p.batches for p in cloud.pollers() if hasattr(p, "queue_logical_id")}
    receives = totals.get(("sqs", "ReceiveMessage"), 0)
    deletes = totals.get(("sqs", "DeleteMessageBatch"), 0)
    batches = sum(sqs_batches.values())
    for queue, n in sqs_batches.items():
        if batches:
            counts[(f"(poller) {queue}", "sqs", "ReceiveMessage")] += receives * n / batches
            counts[(f"(poller) {queue}", "sqs", "DeleteMessageBatch")] += deletes * n / batches
    for (service, operation), n in totals.items():
        if service != "sqs":
            counts[("(poller) BillingTable stream", service, operation)] += n
    return counts


def _sns_sqs_deliveries(outbox: list[dict[str, Any]]) -> int:
    """SNS -> SQS deliveries of the billing topic: every event to accounting, charges to payments."""
    deliveries = 0
    for item in outbox:
        attributes = item.get("attributes") or {}
        deliveries += 1  # AccountingQueue takes every billing event
        if attributes.get("chargeable") == "true" and item.get("type") == "billing.invoice.issued":
            deliveries += 1
    return deliveries


# =============================================================================== cold imports


_IMPORT = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "sys.stdout.write(repr(time.perf_counter() - t))"
)
_DUMMY_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",  # a dummy: importing calls nothing
    "AWS_SESSION_TOKEN": "bench",
}


def built_layer(build: bool = True) -> tuple[Path | None, str]:
    """The built shared layer (`sam build` output) and how it was found.

    A missing build, or one whose `billing` package differs from layers/shared/billing (the code
    changed since), is rebuilt with `make sam-build` (cached, about 10 s).
    """
    layer = ROOT / ".aws-sam" / "build" / "SharedLayer"
    source = ROOT / "layers" / "shared" / "billing"
    state = "built" if layer.is_dir() else "missing"
    if state == "built" and _stale(layer / "python" / "billing", source):
        state = "stale"
    make = shutil.which("make")
    if state != "built" and build and make:
        subprocess.run(  # noqa: S603  # nosec B603
            [make, "-C", str(ROOT), "sam-build"], check=False, capture_output=True, timeout=900
        )
        fresh = layer.is_dir() and not _stale(layer / "python" / "billing", source)
        state = "rebuilt" if fresh else f"{state}, sam build failed"
    return (layer if state in ("built", "rebuilt") else None), state


def _stale(built: Path, source: Path) -> bool:
    def sources(root: Path) -> dict[str, bytes]:
        return {
            str(f.relative_to(root)): f.read_bytes()
            for f in root.rglob("*.py")
            if "__pycache__" not in f.parts
        }

    return not built.is_dir() or sources(built) != sources(source)


def directory_bytes(path: Path) -> int:
    """Bytes of every file under `path` (what the layer zip holds, unzipped), caches excluded."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def measure_cold_imports(
    code_dirs: Mapping[str, str],
    environments: Mapping[str, Mapping[str, str]],
    layer_python: Path,
    rounds: int = 3,
    seed: int = 1,
) -> dict[str, Any]:
    """Median fresh-interpreter import time of every handler module over the median of a fresh
    `import boto3`, measured alternately (boto3, handler, boto3, handler, ...).

    As on Lambda, the layer and function code carry no bytecode cache (their folders are
    read-only there, so every cold start compiles them): both are copied without `__pycache__`
    and imported with PYTHONDONTWRITEBYTECODE. boto3 and Powertools come from the environment
    with their bytecode, as the runtime's boto3 and the managed Powertools layer do.
    """
    work = OUT_DIR / "imports"
    shutil.rmtree(work, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    layer = work / "layer" / "python"
    shutil.copytree(layer_python, layer, ignore=ignore)
    folders: dict[str, Path] = {}
    for lid, code_dir in sorted(code_dirs.items()):
        folders[lid] = work / "functions" / Path(code_dir).name
        shutil.copytree(code_dir, folders[lid], ignore=ignore)
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
    base |= _DUMMY_AWS | {"PYTHONPATH": str(layer)}

    def lambda_env(lid: str) -> dict[str, str]:
        env = {k: v for k, v in environments.get(lid, {}).items() if k != "POWERTOOLS_TRACE_DISABLED"}
        return base | env | {"LAMBDA_TASK_ROOT": str(folders[lid]), "PYTHONDONTWRITEBYTECODE": "1"}

    def timed(module: str, cwd: Path, env: dict[str, str]) -> float:
        done = subprocess.run(  # noqa: S603  # nosec B603
            [sys.executable, "-c", _IMPORT.format(module=module)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"importing {module} in {cwd} failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return float(done.stdout.strip())

    # Warm-up, not measured: lets the environment's own packages write their bytecode once.
    timed("boto3", work, base)
    for lid, folder in folders.items():
        timed("app", folder, lambda_env(lid) | {"PYTHONDONTWRITEBYTECODE": ""})
    shutil.rmtree(layer)
    shutil.copytree(layer_python, layer, ignore=ignore)

    rng = random.Random(seed)
    baseline: list[float] = []
    samples: dict[str, list[float]] = {lid: [] for lid in folders}
    for _ in range(rounds):
        order = list(folders)
        rng.shuffle(order)
        for lid in order:
            baseline.append(timed("boto3", work, base | {"PYTHONDONTWRITEBYTECODE": "1"}))
            samples[lid].append(timed("app", folders[lid], lambda_env(lid)))
    ratios = {lid: round(ratio_of_medians(s, baseline), 3) for lid, s in samples.items()}
    return {
        "rounds": rounds,
        "boto3_median_s": round(statistics.median(baseline), 3),
        "median_s": {lid: round(statistics.median(s), 3) for lid, s in samples.items()},
        "ratio": ratios,
        "worst": max(ratios, key=lambda lid: ratios[lid]),
        "max": max(ratios.values()),
    }


# =============================================================================== summary


def summarise(run: RunMeasurement) -> dict[str, Any]:
    """Per-paid-invoice figures, cost and floor from one run's raw measurements."""
    paid = run.paid
    operations: Counter[tuple[str, str, str]] = Counter()
    for (function, service, operation), n in run.requests_by_function.items():
        operations[(function, service, operation)] += n
    for key, n in run.poller_requests_by_source.items():
        operations[key] += n
    # The headline counts the SQS pollers' requests (the issue's definition); the stream poller's
    # GetRecords are free and, on AWS, a constant 4 a second per shard: reported on their own.
    counted_pollers = {k: n for k, n in run.poller_requests.items() if k not in FREE_REQUESTS}
    stream_reads = sum(n for k, n in run.poller_requests.items() if k in FREE_REQUESTS)
    total_requests = sum(run.requests_by_function.values()) + sum(counted_pollers.values())
    by_service_op: Counter[str] = Counter()
    for (_, service, operation), n in operations.items():
        if (service, operation) not in FREE_REQUESTS:
            by_service_op[f"{service}.{operation}"] += n
    floor = floor_lines(run.design)
    floor_total = sum(floor.values())
    invocations_total = sum(run.invocations.values())

    wru = sum(run.write_units.values())
    rru = sum(run.read_units.values())
    gb_seconds = {lid: lambda_gb_seconds(d, run.memory_mb.get(lid, 128)) for lid, d in run.durations.items()}
    sqs_app = sum(n for (_, service, _), n in run.billed.items() if service == "sqs")
    sns_app = sum(n for (_, service, _), n in run.billed.items() if service == "sns")
    sqs_pollers = sum(n for (service, _), n in run.poller_requests.items() if service == "sqs")
    log_bytes = sum(run.log_bytes.values()) + PLATFORM_LOG_BYTES_PER_INVOCATION * invocations_total
    usage = Usage(
        lambda_requests=invocations_total,
        lambda_gb_seconds=sum(gb_seconds.values()),
        dynamodb_wru=wru,
        dynamodb_rru=rru,
        sqs_requests=sqs_app + sqs_pollers,
        sns_publish_requests=sns_app,
        sns_sqs_deliveries=run.sns_sqs_deliveries,
        s3_put_requests=sum(
            n for (_, s, op), n in run.requests_by_function.items() if (s, op) == ("s3", "PutObject")
        ),
        scheduler_invocations=run.schedule_fires,
        log_gb=log_bytes / 1e9,
    )
    per_million = scale_usage(usage, 1e6 / paid) if paid else Usage()
    cost = cost_usd(per_million)

    def table_label(name: str) -> str:
        return run.table_names.get(name, name)

    units_by_line: Counter[str] = Counter()
    for (function, table, operation, target), n in run.write_units.items():
        where = table_label(table) + ("" if target == "table" else f"/{target}")
        units_by_line[f"WRU {function} {operation} {where}"] += n
    for (function, table, operation), n in run.read_units.items():
        units_by_line[f"RRU {function} {operation} {table_label(table)}"] += n

    rows = []
    for key in sorted(set(operations) | set(floor)):
        function, service, operation = key
        rows.append(
            {
                "function": function,
                "service": service,
                "operation": operation,
                "count": round(operations.get(key, 0), 2),
                "per_paid_invoice": round(operations.get(key, 0) / paid, 4) if paid else None,
                "floor_per_paid_invoice": round(floor[key], 4) if key in floor else None,
            }
        )
    durations = {
        lid: {
            "invocations": len(d),
            "mean_ms": round(1000 * statistics.fmean(d), 2),
            "p50_ms": round(1000 * statistics.median(d), 2),
            "memory_mb": run.memory_mb.get(lid),
            "gb_seconds": round(gb_seconds[lid], 4),
        }
        for lid, d in sorted(run.durations.items())
        if d
    }
    return {
        "aws_requests_per_paid_invoice": round(total_requests / paid, 3) if paid else None,
        "aws_requests_floor_per_paid_invoice": round(floor_total, 3),
        "stream_get_records_per_paid_invoice": round(stream_reads / paid, 3) if paid else None,
        "lambda_invocations_per_invoice": round(invocations_total / paid, 3) if paid else None,
        "lambda_invocations_floor_per_invoice": round(sum(floor_invocations(run.design).values()), 3),
        "cost_usd_per_million_paid_invoices": round(cost["total"], 3) if paid else None,
        "local_invoices_per_second": round(paid / run.seconds, 2) if run.seconds else None,
        "workload": {
            "generator": "billing_local.workload.generate (billing simulate), every payment method pm_ok",
            "agreements": run.agreements,
            "days": run.days,
            "deliveries": run.deliveries,
            "documents": run.documents,
            "invoices": run.invoices,
            "credit_notes": run.credit_notes,
            "chargeable_invoices": run.chargeable,
            "paid_invoices": paid,
            "seconds": round(run.seconds, 1),
            "checks": run.checks,
        },
        "requests": {
            "total": round(total_requests),
            "application": sum(run.requests_by_function.values()),
            "pollers": dict(sorted((f"{s}.{o}", n) for (s, o), n in run.poller_requests.items())),
            "per_paid_invoice_by_service_operation": dict(
                sorted(per_invoice(by_service_op, paid).items(), key=lambda kv: -kv[1])
            ),
            "per_paid_invoice_by_function": dict(
                sorted(
                    per_invoice(
                        _by_function({k: n for k, n in operations.items() if k[1:] not in FREE_REQUESTS}),
                        paid,
                    ).items(),
                    key=lambda kv: -kv[1],
                )
            ),
            "rows": rows,
        },
        "floor": {
            "design": run.design.__dict__,
            "lines": {" ".join(k): round(v, 4) for k, v in floor.items()},
            "invocations": {k: round(v, 4) for k, v in floor_invocations(run.design).items()},
        },
        "invocations": {
            "total": invocations_total,
            "by_function": dict(sorted(run.invocations.items())),
            "per_paid_invoice_by_function": per_invoice(
                {k: v for k, v in run.invocations.items() if v}, paid
            ),
        },
        "durations": durations,
        "unit_times": unit_times(run),
        "dynamodb": {
            "wru_per_paid_invoice": round(wru / paid, 3) if paid else None,
            "rru_per_paid_invoice": round(rru / paid, 3) if paid else None,
            "units_per_paid_invoice": dict(
                sorted(per_invoice(units_by_line, paid).items(), key=lambda kv: -kv[1])
            ),
        },
        "cost": {
            "price_table": {"checked_on": prices.CHECKED_ON, "region": prices.REGION},
            "usage_per_million_paid_invoices": {k: round(v, 3) for k, v in per_million.__dict__.items()},
            "usd_per_million_paid_invoices": {k: round(v, 4) for k, v in cost.items()},
            "largest_sqs_sns_payload_bytes": run.largest_payload,
            "log_bytes_per_paid_invoice": round(log_bytes / paid) if paid else None,
            "log_bytes_per_paid_invoice_by_function": {
                lid: round(n / paid) for lid, n in sorted(run.log_bytes.items()) if paid
            },
        },
    }


def unit_times(run: RunMeasurement) -> dict[str, Any]:
    """Handler seconds per unit of work, measured locally (one x86 core, moto doing the server side):
    the inputs of docs/SCALE.md. The scheduler's line is fitted over its invocations (fixed cost per
    run + cost per due item read); the others are totals over totals."""
    by_function: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for sample in run.samples:
        by_function[sample["function"]].append(sample)

    def total(function: str, key: str) -> float:
        return float(sum(s[key] for s in by_function.get(function, [])))

    def per(function: str, key: str) -> float | None:
        units = total(function, key)
        return round(total(function, "seconds") / units * 1000, 3) if units else None

    scheduler = by_function.get("InvoiceSchedulerFunction", [])
    billed = sum(
        n
        for (function, service, operation), n in run.requests_by_function.items()
        if function == "InvoiceGeneratorFunction" and operation in ("TransactWriteItems", "UpdateItem")
    )
    due_items = sum(n for (_, _, index), n in run.items_read.items() if index == "DueIndex")
    due_bytes = sum(n for (_, _, index), n in run.bytes_read.items() if index == "DueIndex")
    return {
        "scheduler_ms_per_run": round(1000 * statistics.fmean(s["seconds"] for s in scheduler), 3)
        if scheduler
        else None,
        "scheduler_runs": len(scheduler),
        "due_index_item_bytes": round(due_bytes / due_items) if due_items else None,
        "due_pages": run.due_pages,
        # Agreements billed = the generator's commits (a transaction with a document, an update without):
        # quiet shard pages bill in place, so job bodies do not name every agreement.
        "generator_ms_per_agreement": round(total("InvoiceGeneratorFunction", "seconds") / billed * 1000, 3)
        if billed
        else None,
        "generator_agreements_per_invocation": round(
            billed / max(1, len(by_function.get("InvoiceGeneratorFunction", []))), 1
        ),
        "payment_ms_per_record": per("PaymentProcessorFunction", "records"),
        "payment_records_per_invocation": round(
            total("PaymentProcessorFunction", "records")
            / max(1, len(by_function.get("PaymentProcessorFunction", []))),
            2,
        ),
        "outbox_ms_per_record": per("OutboxPublisherFunction", "records"),
        "outbox_records_per_invocation": round(
            total("OutboxPublisherFunction", "records")
            / max(1, len(by_function.get("OutboxPublisherFunction", []))),
            2,
        ),
        "projector_ms_per_record": per("AgreementProjectorFunction", "records"),
        "projector_records_per_invocation": round(
            total("AgreementProjectorFunction", "records")
            / max(1, len(by_function.get("AgreementProjectorFunction", []))),
            2,
        ),
    }


def _by_function(operations: Mapping[tuple[str, str, str], float]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (function, _, _), n in operations.items():
        out[function] += n
    return out


def goal_status(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For each goal: the figure, the limit, met or not, and by how much it is missed (ratio)."""
    status = {}
    for name, limit in GOALS.items():
        value = results.get(name)
        met = value is not None and value <= limit
        status[name] = {
            "value": value,
            "goal_at_most": limit,
            "met": met,
            "over_by": None if met or value is None else round(value / limit, 2),
        }
    return status


# =============================================================================== main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing_local.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--agreements", type=int, default=800, help="generated agreements (default 800)")
    parser.add_argument("--days", type=int, default=31, help="days of daily runs (default 31)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="cold-import rounds (default 3)")
    parser.add_argument("--engine-agreements", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=OUT_DIR / "results.json")
    parser.add_argument("--skip-imports", action="store_true", help="skip the cold-import measurement")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.progress import Progress

    from billing_local.preview import benchmark

    console = Console(stderr=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
    }
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("pipeline on the embedded AWS", total=args.days)
        run = run_pipeline(
            bench_scenario(args.agreements, args.days, args.seed),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    results |= summarise(run)

    console.print("shared layer: checking the sam build output")
    layer, state = built_layer()
    results["layer_unzipped_bytes"] = directory_bytes(layer) if layer else None
    results["layer"] = {"path": str(layer) if layer else None, "state": state, "built_by": "make sam-build"}
    if not args.skip_imports:
        console.print(f"cold imports: {args.rounds} rounds of fresh interpreters")
        source = layer / "python" if layer else ROOT / "layers" / "shared"
        imports = measure_cold_imports(run.code_dirs, run.environments, source, rounds=args.rounds)
        results["cold_import_ratio_max"] = imports["max"]
        results["cold_imports"] = imports | {"layer": str(source)}

    console.print("engine benchmark (billing preview)")
    engine = {mix: benchmark(args.engine_agreements, 365, seed=1, mix=mix) for mix in ("mixed", "monthly")}
    results["engine_documents_per_second"] = engine["mixed"]["documents_per_second"]
    results["engine"] = engine
    results["goals"] = goal_status(results)
    results["bench_seconds"] = round(time.perf_counter() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    _print(Console(), results)
    Console().print(f"written to {args.out}")
    return 0


def _git_commit() -> str | None:
    git = shutil.which("git")
    if not git:
        return None
    done = subprocess.run(  # noqa: S603  # nosec B603
        [git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


def _print(console: Any, results: Mapping[str, Any]) -> None:
    from rich.table import Table

    headline = Table(title="make bench", show_lines=False)
    for column in ("figure", "value", "goal", ""):
        headline.add_column(column)
    goals = results["goals"]
    for name in (
        "aws_requests_per_paid_invoice",
        "aws_requests_floor_per_paid_invoice",
        "lambda_invocations_per_invoice",
        "cold_import_ratio_max",
        "layer_unzipped_bytes",
        "cost_usd_per_million_paid_invoices",
        "engine_documents_per_second",
        "local_invoices_per_second",
    ):
        goal = goals.get(name)
        mark = ""
        if goal:
            mark = "[green]met[/]" if goal["met"] else f"[red]missed ×{goal['over_by']}[/]"
        headline.add_row(name, str(results.get(name)), f"≤ {goal['goal_at_most']}" if goal else "", mark)
    console.print(headline)

    rows = Table(title=f"AWS requests per paid invoice ({results['workload']['paid_invoices']} paid)")
    for column in ("function / source", "service", "operation", "count", "per invoice", "floor"):
        rows.add_column(column, justify="right" if column in ("count", "per invoice", "floor") else "left")
    for row in sorted(results["requests"]["rows"], key=lambda r: -(r["per_paid_invoice"] or 0)):
        floor = row["floor_per_paid_invoice"]
        rows.add_row(
            row["function"],
            row["service"],
            row["operation"],
            f"{row['count']:.0f}",
            f"{row['per_paid_invoice']:.3f}" if row["per_paid_invoice"] is not None else "-",
            f"{floor:.3f}" if floor is not None else "-",
        )
    console.print(rows)

    checked = results["cost"]["price_table"]["checked_on"]
    cost = Table(title=f"USD per million paid invoices (us-east-1, prices of {checked})")
    cost.add_column("line")
    cost.add_column("usage per million", justify="right")
    cost.add_column("USD", justify="right")
    usage = results["cost"]["usage_per_million_paid_invoices"]
    for line, usd in results["cost"]["usd_per_million_paid_invoices"].items():
        cost.add_row(line, f"{usage.get(line, ''):,}" if line in usage else "", f"{usd:.3f}")
    console.print(cost)

    if "cold_imports" in results:
        imports = Table(
            title=f"cold import / import boto3 (boto3 median {results['cold_imports']['boto3_median_s']} s)"
        )
        imports.add_column("function")
        imports.add_column("median s", justify="right")
        imports.add_column("ratio", justify="right")
        for lid, value in sorted(results["cold_imports"]["ratio"].items(), key=lambda kv: -kv[1]):
            imports.add_row(lid, str(results["cold_imports"]["median_s"][lid]), str(value))
        console.print(imports)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
