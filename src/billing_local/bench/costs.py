"""The cost model of `make bench`: DynamoDB item sizes and request units, SQS/SNS billed chunks,
Lambda GB-seconds, dollars from the price table (`prices`), and the floor (the requests per
paid invoice the design cannot avoid). Pure arithmetic: tests/unit/test_bench.py pins it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from billing_local.bench import prices

#: Lambda's JSON platform records per invocation (platform.start and platform.report), bytes:
#: an estimate (docs/PERFORMANCE.md), added to the handlers' own log bytes.
PLATFORM_LOG_BYTES_PER_INVOCATION = 600

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
FREE_REQUESTS = frozenset({("dynamodbstreams", "GetRecords")})  # Lambda trigger reads are free


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


PRICE_OF = {
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
    lines = {name: getattr(usage, name) * table[price] for name, price in PRICE_OF.items()}
    lines["total"] = sum(lines.values())
    return lines


def scale_usage(usage: Usage, factor: float) -> Usage:
    return Usage(**{name: getattr(usage, name) * factor for name in PRICE_OF})


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
        # the gateway's ledger entry, and the payment item holding its outcome event (one write)
        ("PaymentProcessorFunction", "dynamodb", "PutItem"): 2.0,
        ("PaymentProcessorFunction", "dynamodb", "Query"): 1.0,  # settle: settlement item + payments
        ("PaymentProcessorFunction", "dynamodb", "GetItem"): float(
            d.payment_reads_before_charge + d.gateway_reads_per_charge
        ),
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
