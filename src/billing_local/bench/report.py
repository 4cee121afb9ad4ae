"""The figures of `make bench`: one run's raw measurements divided by the paid invoices (requests,
invocations, DynamoDB units, cost per million), the unit times docs/SCALE.md builds on, the goals,
and the tables printed at the end.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from billing_local.bench import prices
from billing_local.bench.costs import (
    FREE_REQUESTS,
    PLATFORM_LOG_BYTES_PER_INVOCATION,
    Design,
    Usage,
    cost_usd,
    floor_invocations,
    floor_lines,
    lambda_gb_seconds,
    per_invoice,
    scale_usage,
)
from billing_local.bench.runs import RunMeasurement

#: figure -> the most it may be (every goal is an upper bound).
GOALS: dict[str, float] = {
    "aws_requests_per_paid_invoice": 3.5,
    "lambda_invocations_per_invoice": 0.35,
    "cold_import_ratio_max": 1.3,
    "layer_unzipped_bytes": 5_000_000,
    "cost_usd_per_million_paid_invoices": 5.0,
}


Operations = Counter[tuple[str, str, str]]


def summarise(run: RunMeasurement) -> dict[str, Any]:
    """Per-paid-invoice figures, cost and floor from one run's raw measurements."""
    paid = run.paid
    operations = operations_of(run)
    # The headline counts the SQS pollers' requests (the issue's definition); the stream poller's
    # GetRecords are free and, on AWS, a constant 4 a second per shard: reported on their own.
    stream_reads = sum(n for k, n in run.poller_requests.items() if k in FREE_REQUESTS)
    requests = total_requests(run)
    invocations = sum(run.invocations.values())
    per_million, cost = cost_per_million(run)
    return {
        "aws_requests_per_paid_invoice": _per_paid(requests, paid, 3),
        "aws_requests_floor_per_paid_invoice": round(sum(floor_lines(run.design).values()), 3),
        "stream_get_records_per_paid_invoice": _per_paid(stream_reads, paid, 3),
        "lambda_invocations_per_invoice": _per_paid(invocations, paid, 3),
        "lambda_invocations_floor_per_invoice": round(sum(floor_invocations(run.design).values()), 3),
        "cost_usd_per_million_paid_invoices": round(cost["total"], 3) if paid else None,
        "local_invoices_per_second": round(paid / run.seconds, 2) if run.seconds else None,
        "workload": workload_figures(run),
        "requests": request_figures(run, operations, requests),
        "floor": floor_figures(run.design),
        "invocations": invocation_figures(run),
        "durations": duration_figures(run),
        "unit_times": unit_times(run),
        "dynamodb": dynamodb_figures(run),
        "cost": cost_figures(run, per_million, cost),
    }


def _per_paid(value: float, paid: int, places: int) -> float | None:
    return round(value / paid, places) if paid else None


def operations_of(run: RunMeasurement) -> Operations:
    """Requests by (function or poller, service, operation): the handlers' and the pollers'."""
    operations: Operations = Counter()
    for (function, service, operation), n in run.requests_by_function.items():
        operations[(function, service, operation)] += n
    for key, n in run.poller_requests_by_source.items():
        operations[key] += n
    return operations


def total_requests(run: RunMeasurement) -> float:
    """The handlers' requests and the SQS pollers' (the stream poller's free reads left out)."""
    counted_pollers = {k: n for k, n in run.poller_requests.items() if k not in FREE_REQUESTS}
    return sum(run.requests_by_function.values()) + sum(counted_pollers.values())


def workload_figures(run: RunMeasurement) -> dict[str, Any]:
    return {
        "generator": "billing_local.sim.workload.generate (billing simulate), every payment method pm_ok",
        "agreements": run.agreements,
        "days": run.days,
        "deliveries": run.deliveries,
        "documents": run.documents,
        "invoices": run.invoices,
        "credit_notes": run.credit_notes,
        "chargeable_invoices": run.chargeable,
        "paid_invoices": run.paid,
        "seconds": round(run.seconds, 1),
        "checks": run.checks,
    }


def request_figures(run: RunMeasurement, operations: Operations, total: float) -> dict[str, Any]:
    """Requests in total, by service and operation, by function, and one row per line of the table."""
    paid = run.paid
    by_service_op: Counter[str] = Counter()
    for (_, service, operation), n in operations.items():
        if (service, operation) not in FREE_REQUESTS:
            by_service_op[f"{service}.{operation}"] += n
    billable = {k: n for k, n in operations.items() if k[1:] not in FREE_REQUESTS}
    return {
        "total": round(total),
        "application": sum(run.requests_by_function.values()),
        "pollers": dict(sorted((f"{s}.{o}", n) for (s, o), n in run.poller_requests.items())),
        "per_paid_invoice_by_service_operation": _largest_first(per_invoice(by_service_op, paid)),
        "per_paid_invoice_by_function": _largest_first(per_invoice(by_function(billable), paid)),
        "rows": request_rows(operations, floor_lines(run.design), paid),
    }


def _largest_first(figures: Mapping[Any, float]) -> dict[Any, float]:
    return dict(sorted(figures.items(), key=lambda kv: -kv[1]))


def request_rows(
    operations: Operations, floor: Mapping[tuple[str, str, str], float], paid: int
) -> list[dict[str, Any]]:
    """One row per (function, service, operation) measured or in the floor."""
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
    return rows


def floor_figures(design: Design) -> dict[str, Any]:
    return {
        "design": design.__dict__,
        "lines": {" ".join(k): round(v, 4) for k, v in floor_lines(design).items()},
        "invocations": {k: round(v, 4) for k, v in floor_invocations(design).items()},
    }


def invocation_figures(run: RunMeasurement) -> dict[str, Any]:
    return {
        "total": sum(run.invocations.values()),
        "by_function": dict(sorted(run.invocations.items())),
        "per_paid_invoice_by_function": per_invoice(
            {k: v for k, v in run.invocations.items() if v}, run.paid
        ),
    }


def _gb_seconds(run: RunMeasurement) -> dict[str, float]:
    return {lid: lambda_gb_seconds(d, run.memory_mb.get(lid, 128)) for lid, d in run.durations.items()}


def duration_figures(run: RunMeasurement) -> dict[str, Any]:
    gb_seconds = _gb_seconds(run)
    return {
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


def dynamodb_figures(run: RunMeasurement) -> dict[str, Any]:
    """Write and read units per paid invoice, in total and by function, operation and table/index."""
    paid = run.paid

    def table_label(name: str) -> str:
        return run.table_names.get(name, name)

    units_by_line: defaultdict[str, float] = defaultdict(float)
    for (function, table, operation, target), n in run.write_units.items():
        where = table_label(table) + ("" if target == "table" else f"/{target}")
        units_by_line[f"WRU {function} {operation} {where}"] += n
    for (function, table, operation), units in run.read_units.items():
        units_by_line[f"RRU {function} {operation} {table_label(table)}"] += units
    return {
        "wru_per_paid_invoice": _per_paid(sum(run.write_units.values()), paid, 3),
        "rru_per_paid_invoice": _per_paid(sum(run.read_units.values()), paid, 3),
        "units_per_paid_invoice": _largest_first(per_invoice(units_by_line, paid)),
    }


def log_bytes(run: RunMeasurement) -> int:
    """The handlers' log bytes plus Lambda's platform records (an estimate per invocation)."""
    return sum(run.log_bytes.values()) + PLATFORM_LOG_BYTES_PER_INVOCATION * sum(run.invocations.values())


def usage_of(run: RunMeasurement) -> Usage:
    """The billable quantities of the whole run."""
    sqs_app = sum(n for (_, service, _), n in run.billed.items() if service == "sqs")
    sns_app = sum(n for (_, service, _), n in run.billed.items() if service == "sns")
    sqs_pollers = sum(n for (service, _), n in run.poller_requests.items() if service == "sqs")
    return Usage(
        lambda_requests=sum(run.invocations.values()),
        lambda_gb_seconds=sum(_gb_seconds(run).values()),
        dynamodb_wru=sum(run.write_units.values()),
        dynamodb_rru=sum(run.read_units.values()),
        sqs_requests=sqs_app + sqs_pollers,
        sns_publish_requests=sns_app,
        sns_sqs_deliveries=run.sns_sqs_deliveries,
        s3_put_requests=sum(
            n for (_, s, op), n in run.requests_by_function.items() if (s, op) == ("s3", "PutObject")
        ),
        scheduler_invocations=run.schedule_fires,
        log_gb=log_bytes(run) / 1e9,
    )


def cost_per_million(run: RunMeasurement) -> tuple[Usage, dict[str, float]]:
    """Usage and dollars per million paid invoices (zero usage when nothing was paid)."""
    per_million = scale_usage(usage_of(run), 1e6 / run.paid) if run.paid else Usage()
    return per_million, cost_usd(per_million)


def cost_figures(run: RunMeasurement, per_million: Usage, cost: Mapping[str, float]) -> dict[str, Any]:
    paid = run.paid
    return {
        "price_table": {"checked_on": prices.CHECKED_ON, "region": prices.REGION},
        "usage_per_million_paid_invoices": {k: round(v, 3) for k, v in per_million.__dict__.items()},
        "usd_per_million_paid_invoices": {k: round(v, 4) for k, v in cost.items()},
        "largest_sqs_sns_payload_bytes": run.largest_payload,
        "log_bytes_per_paid_invoice": round(log_bytes(run) / paid) if paid else None,
        "log_bytes_per_paid_invoice_by_function": {
            lid: round(n / paid) for lid, n in sorted(run.log_bytes.items()) if paid
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


def by_function(operations: Mapping[tuple[str, str, str], float]) -> dict[str, float]:
    """Requests summed per function (or poller)."""
    out: defaultdict[str, float] = defaultdict(float)
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


def print_tables(console: Any, results: Mapping[str, Any]) -> None:
    """The headline figures against their goals, then requests, cost and cold imports."""
    for table in (_headline(results), _requests(results), _cost(results)):
        console.print(table)
    if "cold_imports" in results:
        console.print(_imports(results))


def _headline(results: Mapping[str, Any]) -> Any:
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
    return headline


def _requests(results: Mapping[str, Any]) -> Any:
    from rich.table import Table

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
    return rows


def _cost(results: Mapping[str, Any]) -> Any:
    from rich.table import Table

    checked = results["cost"]["price_table"]["checked_on"]
    cost = Table(title=f"USD per million paid invoices (us-east-1, prices of {checked})")
    cost.add_column("line")
    cost.add_column("usage per million", justify="right")
    cost.add_column("USD", justify="right")
    usage = results["cost"]["usage_per_million_paid_invoices"]
    for line, usd in results["cost"]["usd_per_million_paid_invoices"].items():
        cost.add_row(line, f"{usage.get(line, ''):,}" if line in usage else "", f"{usd:.3f}")
    return cost


def _imports(results: Mapping[str, Any]) -> Any:
    from rich.table import Table

    imports = Table(
        title=f"cold import / import boto3 (boto3 median {results['cold_imports']['boto3_median_s']} s)"
    )
    imports.add_column("function")
    imports.add_column("median s", justify="right")
    imports.add_column("ratio", justify="right")
    for lid, value in sorted(results["cold_imports"]["ratio"].items(), key=lambda kv: -kv[1]):
        imports.add_row(lid, str(results["cold_imports"]["median_s"][lid]), str(value))
    return imports
