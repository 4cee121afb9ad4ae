"""The daily run finds due agreements without reading the others (docs/SCALE.md, "Finding what is due").

Two embedded AWS stacks run the same day: one holds only N agreements due that day, the other
the same N plus 10 x N that are not due (half already billed for their current period, half
starting weeks later). The run the InvoiceSchedulerFunction starts (its shard jobs, read by the
generators, and everything downstream) must make the same DynamoDB requests and read the same
items in both: the daily run's reads grow with the due agreements, not with the table. A Scan, or
a query that reads not-due items and filters them out, reads (or scans past) the 10 x N and fails.
"""

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from support import ROOT, agreement_event

from billing_local.emulator import ApiCall, LocalCloud
from billing_local.sim.stack import DAILY_SCHEDULE, schedule_id
from billing_local.stack import local_cloud

DUE = 8
CROWD = 10 * DUE
FIRST_RUN = date(2026, 3, 2)
MEASURED_RUN = FIRST_RUN + timedelta(days=5)


def created(agreement_id: str, start: date) -> dict[str, Any]:
    return agreement_event(
        "agreement.created",
        agreement_id,
        1,
        start_date=start.isoformat(),
        plan={"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1},
    )


@contextlib.contextmanager
def dynamodb_reads(cloud: LocalCloud) -> Iterator[Counter[tuple[str, ...]]]:
    """Count every DynamoDB request handlers make, by function, operation and index, with the items
    each returned (Count) and went through (ScannedCount: what a filter would have discarded)."""
    seen: Counter[tuple[str, ...]] = Counter()

    def spy(call: ApiCall, response: dict[str, Any] | None) -> None:
        function = cloud.current_function
        if response is not None and function is not None and call.service == "dynamodb":
            where = (function, call.operation, str(call.params.get("IndexName", "table")))
            seen[(*where, "requests")] += 1
            seen[(*where, "items")] += len(response.get("Items", [])) + (1 if response.get("Item") else 0)
            seen[(*where, "scanned")] += int(response.get("ScannedCount", 0))

    unsubscribe = cloud.api_hook.subscribe(spy)
    try:
        yield seen
    finally:
        unsubscribe()


def total(
    seen: Counter[tuple[str, ...]], what: str, *, operation: str | None = None, index: str | None = None
) -> int:
    return sum(
        n
        for (_, op, idx, kind), n in seen.items()
        if kind == what and operation in (None, op) and index in (None, idx)
    )


def daily_run(cloud: LocalCloud, day: date) -> Any:
    instant = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=5)
    cloud.clock.advance_to(instant)
    return cloud.fire_schedule(schedule_id(cloud, DAILY_SCHEDULE), instant)


@dataclass
class Measured:
    summary: dict[str, Any]  # what the scheduler returned
    reads: Counter[tuple[str, ...]]  # the run's DynamoDB requests and the items they returned
    requests: Counter[tuple[str, str, str]]  # the emulator's own counters, every service
    shards: int


def measure(not_due: int) -> Measured:
    """Run FIRST_RUN (settles every agreement), then measure the whole run of MEASURED_RUN."""
    start = datetime.combine(FIRST_RUN - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with local_cloud(ROOT / "template.yaml", start=start) as cloud:
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
        with dynamodb_reads(cloud) as reads:
            summary = daily_run(cloud, MEASURED_RUN)
            cloud.drain()  # the run itself: shard jobs, agreement jobs, outbox, payments
        shards = int(cloud.function("InvoiceGeneratorFunction").environment["DUE_SHARDS"])
        return Measured(summary, reads, cloud.request_counts_by_function(), shards)


def test_daily_run_reads_grow_with_due_agreements_not_with_all_agreements() -> None:
    alone = measure(not_due=0)
    crowded = measure(not_due=CROWD)

    assert alone.summary == crowded.summary
    for run in (alone, crowded):
        # Only the due ones come out of the due index, and nothing is skipped past (no filter).
        assert total(run.reads, "items", index="DueIndex") == DUE
        assert total(run.reads, "scanned", index="DueIndex") == DUE
        # No Scan anywhere; one query per shard (a second page per shard would be tolerated).
        assert total(run.reads, "requests", operation="Scan") == 0
        assert run.shards <= total(run.reads, "requests", index="DueIndex") <= 2 * run.shards
        # The due agreements were billed: their partitions were read, and nothing else.
        assert total(run.reads, "items", index="table") > 0

    # The same requests and the same items read, request by request type, with 10 x N more agreements
    # (but what a numbering series' counter read finds: nothing until the series has a document, and
    # the crowded stack's first run numbered documents in the same series).
    def without_series_items(reads: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
        return Counter({k: n for k, n in reads.items() if k[1:] != ("GetItem", "table", "items")})

    assert without_series_items(alone.reads) == without_series_items(crowded.reads)

    # And the emulator's own counters agree, for every function and service (SQS and SNS too), but
    # the provider key: read from SSM once per container and cached for 5 minutes, it was already
    # cached in the crowded stack (whose first run took payments) and not in the other.
    def without_key_reads(requests: Counter[tuple[str, str, str]]) -> Counter[tuple[str, str, str]]:
        return Counter({k: n for k, n in requests.items() if k[1] != "ssm"})

    assert without_key_reads(alone.requests) == without_key_reads(crowded.requests)
