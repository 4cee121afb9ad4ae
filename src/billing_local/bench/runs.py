"""The pipeline run of `make bench`: the `billing simulate` workload day by day on the embedded AWS,
metered (`meter`), then read back from the stores and checked; plus the due-page timing that
docs/SCALE.md scales up.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_local.bench import ROOT
from billing_local.bench.costs import Design, item_size
from billing_local.bench.meter import Meter, dynamodb_backend, table_items

Progress = Callable[[int, int], None]


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
    read_units: Mapping[tuple[str, str, str], float]
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
    progress: Progress | None = None,
) -> RunMeasurement:
    """Run the workload day by day, as `billing simulate` does, and measure it."""
    from billing_local.preview import parse_scenario
    from billing_local.sim.simulate import Simulation
    from billing_local.stack import local_cloud

    scenario = parse_scenario(scenario_json)
    timeline = Simulation(scenario).timeline()
    at = scenario.runs.at
    start = datetime.combine(timeline[0], at, tzinfo=UTC) - timedelta(minutes=1)
    parameters = {"ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)", "ScheduleTimezone": "UTC"}
    # Loading the handlers imports Powertools' Logger(log_uncaught_exceptions=True), which takes over
    # sys.excepthook and logs to the handlers' captured stdout: the bench's own errors would vanish.
    with _keep_excepthook(), local_cloud(template, parameters=parameters, start=start) as cloud:
        functions = _prepare(cloud)
        meter = Meter(cloud)
        started = time.perf_counter()
        with meter.installed():
            fires = _run_days(cloud, scenario, timeline, progress)
        seconds = time.perf_counter() - started
        poller_by_source = poller_requests_by_source(cloud)
        due_pages = measure_due_pages(cloud, scenario.runs.through)
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
            design=_design(cloud),
            table_names={cloud.physical_id(lid): lid for lid in cloud.logical_ids("AWS::DynamoDB::Table")},
            **_outcome(cloud, scenario),
        )


def _prepare(cloud: Any) -> dict[str, Any]:
    """Every handler loaded (cold starts are measured on their own, not as handler time), the
    request counts zeroed; the functions by logical id. (local_cloud stored the provider key.)"""
    functions = {lid: cloud.function(lid) for lid in cloud.function_names()}
    for function in functions.values():
        function.load()
    cloud.reset_request_counts()
    return functions


def _run_days(cloud: Any, scenario: Any, timeline: list[date], progress: Progress | None) -> int:
    """Each day: its deliveries published and drained, then the daily run and the export. Schedule fires."""
    from billing_local.sim import simulate
    from billing_local.sim.stack import DAILY_SCHEDULE, EXPORT_SCHEDULE, schedule_id

    # Deliveries are published and drained the way `billing simulate` does: in chunks of
    # DELIVERY_CHUNK (one at a time before the simulator had chunks).
    chunk = max(1, int(getattr(simulate, "DELIVERY_CHUNK", 1)))
    daily, export = schedule_id(cloud, DAILY_SCHEDULE), schedule_id(cloud, EXPORT_SCHEDULE)
    at = scenario.runs.at
    pending = sorted(scenario.deliveries, key=lambda delivery: delivery[0])
    fires = 0
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
    return fires


def _outcome(cloud: Any, scenario: Any) -> dict[str, Any]:
    """What the run left in the stores, and the checks that it is what it should be."""
    from billing_local.preview import preview

    items = table_items(cloud, "BillingTable")
    ledger = table_items(cloud, "SandboxLedgerTable")
    documents = [json.loads(i["document"]) for i in items if i["sk"].startswith("DOC#")]
    payments = {i["sk"].removeprefix("PAY#"): i for i in items if i["sk"].startswith("PAY#")}
    chargeable = {
        d["document_id"] for d in documents if d["kind"] == "invoice" and d.get("amount_due_minor", 0) > 0
    }
    paid = sum(1 for p in payments.values() if p["status"] == "succeeded")
    charges = Counter(
        i["document_id"] for i in ledger if i["status"] == "succeeded" and i.get("kind") != "refund"
    )
    outbox = [i for i in items if "body" in i and i["sk"].startswith(("OUT#", "PAY#"))]  # stored events
    left = {name: sum(depth.values()) for name, depth in cloud.queue_depths().items() if sum(depth.values())}
    expected = preview(scenario)
    checks = {
        "documents_match_preview": len(documents) == len(expected["documents"]),
        "every_chargeable_invoice_paid_once": all(
            payments.get(d, {}).get("status") == "succeeded" and charges[d] == 1 for d in chargeable
        ),
        "queues_empty": not left,
        "left_in_queues": left,
    }
    return {
        "sns_sqs_deliveries": sns_sqs_deliveries(outbox),
        "documents": len(documents),
        "invoices": sum(1 for d in documents if d["kind"] == "invoice"),
        "credit_notes": sum(1 for d in documents if d["kind"] == "credit_note"),
        "chargeable": len(chargeable),
        "paid": paid,
        "checks": checks,
    }


def _design(cloud: Any) -> Design:
    """The batching constants of the code and template the run used."""
    from billing.service import accounting, invoicing

    pollers = {p.function: p.batch_size for p in cloud.pollers()}
    return Design(
        agreements_per_job=invoicing.AGREEMENTS_PER_JOB,
        due_page=int(getattr(invoicing, "DUE_PAGE", 500)),
        job_batch=pollers.get("InvoiceGeneratorFunction", 10),
        payment_batch=pollers.get("PaymentProcessorFunction", 10),
        stream_batch=pollers.get("OutboxPublisherFunction", 100),
        export_object_messages=accounting.MESSAGES_PER_OBJECT,
    )


def measure_due_pages(cloud: Any, day: Any, items: int = 2000) -> dict[str, Any]:
    """Time the generator's due-page read (billing.service.invoicing.read_due_page) over one shard
    holding `items` due agreements: the per-item figure docs/SCALE.md scales to 1M and 10M.

    Runs after the measured workload, outside any handler (so nothing counts it): copies of a real
    agreement state item are put on shard 0 of the due index, read page by page, and deleted.
    """
    import boto3

    from billing.adapters.dynamo import STATE_SK, BillingTable, due_shard
    from billing.service import invoicing

    client = boto3.client("dynamodb")
    name = cloud.physical_id("BillingTable")
    shards = int(cloud.function("InvoiceGeneratorFunction").environment.get("DUE_SHARDS", "32"))
    template = next(
        (
            i.to_json()["Attributes"]
            for i in dynamodb_backend(cloud).get_table(name).all_items()
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


def poller_requests_by_source(cloud: Any) -> Counter[tuple[str, str, str]]:
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


def sns_sqs_deliveries(outbox: list[dict[str, Any]]) -> int:
    """SNS -> SQS deliveries of the billing topic: every event to accounting, charges to payments."""
    deliveries = 0
    for item in outbox:
        attributes = item.get("attributes") or {}
        deliveries += 1  # AccountingQueue takes every billing event
        if attributes.get("chargeable") == "true" and item.get("type") == "billing.invoice.issued":
            deliveries += 1
    return deliveries
