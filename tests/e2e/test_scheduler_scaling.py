"""The daily run finds due agreements without reading the others (docs/SCALE.md, "Finding what is due").

Two embedded AWS stacks run the same day: one holds only N agreements due that day, the other
the same N plus 10 x N that are not due (half already billed for their current period, half
starting weeks later). The scheduler sends one job per due-index shard and reads nothing; the
generators read the shards. The run must make the same due-index requests and read the same
items in both: its reads grow with the due agreements, not with the table. A Scan, or a query
that reads not-due items and filters them out, reads (or scans past) the 10 x N and fails here.
"""

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from botocore.client import BaseClient
from support import ROOT, agreement_event

from billing_local.runtime.cloud import LocalCloud
from billing_local.simulate import DAILY_SCHEDULE, schedule_id

DUE = 8
CROWD = 10 * DUE
FIRST_RUN = date(2026, 3, 2)
MEASURED_RUN = FIRST_RUN + timedelta(days=5)
SCHEDULER = "InvoiceSchedulerFunction"


def created(agreement_id: str, start: date) -> dict[str, Any]:
    return agreement_event(
        "agreement.created",
        agreement_id,
        1,
        start_date=start.isoformat(),
        plan={"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1},
    )


@contextlib.contextmanager
def finding_reads(cloud: LocalCloud) -> Iterator[Counter[str]]:
    """Count the DynamoDB requests that look for due work — the scheduler's, and the due-index reads of
    any function — and the items they read (Count, ScannedCount)."""
    inner = BaseClient._make_api_call
    seen: Counter[str] = Counter()

    def spy(client: Any, operation: str, params: dict[str, Any]) -> Any:
        response = inner(client, operation, params)
        finding = cloud.current_function == SCHEDULER or params.get("IndexName") == "DueIndex"
        if finding and client.meta.service_model.service_name == "dynamodb":
            seen["requests"] += 1
            seen[operation] += 1
            seen["items"] += len(response.get("Items", [])) + (1 if response.get("Item") else 0)
            seen["scanned"] += int(response.get("ScannedCount", 0))
            seen[f"index:{params.get('IndexName', '-')}"] += 1
        return response

    BaseClient._make_api_call = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        BaseClient._make_api_call = inner  # type: ignore[method-assign]


def daily_run(cloud: LocalCloud, day: date) -> Any:
    instant = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=5)
    cloud.clock.advance_to(instant)
    return cloud.fire_schedule(schedule_id(cloud, DAILY_SCHEDULE), instant)


@dataclass
class Measured:
    summary: dict[str, Any]  # what the scheduler returned
    reads: Counter[str]  # the run's due-finding DynamoDB requests and the items they returned
    requests: Counter[tuple[str, str, str]]  # the runtime's counters for the scheduler
    shards: int


def measure(not_due: int) -> Measured:
    """Run FIRST_RUN (settles every agreement), then measure the scheduler alone at MEASURED_RUN."""
    start = datetime.combine(FIRST_RUN - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with LocalCloud(ROOT / "template.yaml", start=start) as cloud:
        key = cloud.function("PaymentProcessorFunction").environment.get("PAYMENT_PROVIDER_KEY_PARAM")
        if key:
            boto3.client("ssm").put_parameter(Name=key, Value="sandbox", Type="SecureString")
        events = [created(f"due-{n}", MEASURED_RUN) for n in range(DUE)]
        events += [created(f"billed-{n}", FIRST_RUN) for n in range(not_due // 2)]
        events += [
            created(f"later-{n}", FIRST_RUN + timedelta(days=40)) for n in range(not_due - not_due // 2)
        ]
        for event in events:
            cloud.publish("AgreementTopic", json.dumps(event))
        cloud.drain()
        daily_run(cloud, FIRST_RUN)  # every agreement is due on arrival; this run settles each one
        cloud.drain()
        cloud.reset_request_counts()
        with finding_reads(cloud) as reads:
            summary = daily_run(cloud, MEASURED_RUN)
            cloud.drain()  # the generators read the shards and bill what is due
        requests = Counter({k: v for k, v in cloud.request_counts_by_function().items() if k[0] == SCHEDULER})
        return Measured(summary, reads, requests, int(cloud.function(SCHEDULER).environment["DUE_SHARDS"]))


def test_scheduler_reads_grow_with_due_agreements_not_with_all_agreements() -> None:
    alone = measure(not_due=0)
    crowded = measure(not_due=CROWD)

    # The scheduler only fans out, one job per shard, whatever the table holds.
    assert alone.summary["shard_jobs"] == crowded.summary["shard_jobs"] == crowded.shards
    # Only queries of the due index: no Scan, no GetItem, no read of the base table.
    assert set(crowded.reads) == {"requests", "Query", "items", "scanned", "index:DueIndex"}
    assert crowded.reads["Query"] == crowded.reads["index:DueIndex"] == crowded.reads["requests"]
    # Items read: exactly the due ones, whatever else the table holds (a filter would show in ScannedCount).
    assert crowded.reads["items"] == crowded.reads["scanned"] == DUE
    assert alone.reads["items"] == alone.reads["scanned"] == DUE
    # Requests: one query per shard in both (a second page per shard would be tolerated; none is needed).
    assert alone.reads["requests"] == crowded.reads["requests"]
    assert crowded.shards <= crowded.reads["requests"] <= 2 * crowded.shards
    # The runtime's own counters of the scheduler's requests agree: no DynamoDB at all, the same SQS.
    assert alone.requests == crowded.requests
    assert not any(service == "dynamodb" for _, service, _ in crowded.requests)
