"""The daily run's completion on the fake table: once, whatever the delivery order or repetition."""

from datetime import timedelta

import pytest
from fakes import FakeBillingTable
from service_builders import at

from billing.service.invoicing import RunCompleted, ShardJob, finish_shard, shard_jobs, start_run

RUN = at("2026-03-01")


def started(table: FakeBillingTable, shards: int = 4) -> list[ShardJob]:
    jobs = shard_jobs(shards, RUN)
    start_run(table, jobs, RUN + timedelta(seconds=2))
    return jobs


def test_the_run_completes_once_when_its_last_shard_is_done(table: FakeBillingTable) -> None:
    jobs = started(table)
    finished = [finish_shard(table, job, RUN + timedelta(seconds=10 + n)) for n, job in enumerate(jobs)]
    assert finished[:3] == [None, None, None]
    assert finished[3] == RunCompleted(RUN, 11_000)  # from the scheduler's start to the last shard
    assert table.runs["2026-03-01T00:05:00Z"].completed_at == "2026-03-01T00:05:13Z"


def test_a_page_delivered_twice_does_not_complete_the_run_early(table: FakeBillingTable) -> None:
    jobs = started(table)
    assert finish_shard(table, jobs[0], RUN) is None
    assert finish_shard(table, jobs[0], RUN) is None  # redelivered: still one shard of four
    assert finish_shard(table, jobs[1], RUN) is None
    assert finish_shard(table, jobs[2], RUN) is None
    assert finish_shard(table, jobs[3], RUN) is not None
    assert finish_shard(table, jobs[3], RUN) is None  # the last page again: completed already
    assert finish_shard(table, jobs[1], RUN) is None


def test_shards_out_of_order_complete_the_run_with_the_last_one_counted(table: FakeBillingTable) -> None:
    jobs = started(table, shards=5)
    order = [4, 0, 3, 1, 2]
    results = [finish_shard(table, jobs[n], RUN + timedelta(minutes=1)) for n in order]
    assert [r is not None for r in results] == [False, False, False, False, True]


def test_a_retried_start_keeps_the_first_start(table: FakeBillingTable) -> None:
    jobs = started(table)
    start_run(table, jobs, RUN + timedelta(minutes=30))  # the scheduler's invocation retried
    for job in jobs:
        completed = finish_shard(table, job, RUN + timedelta(minutes=31))
    assert completed is not None and completed.duration_ms == (31 * 60 - 2) * 1000


def test_two_generators_counting_the_last_shard_at_once_complete_the_run_once(
    table: FakeBillingTable,
) -> None:
    """Both see every shard done; the other one's completion lands between our count and ours."""
    jobs = started(table, shards=2)
    finish_shard(table, jobs[0], RUN)
    complete = table.complete_run
    other: list[RunCompleted | None] = []

    def the_other_completes_first(run_at: str, completed_at: str) -> bool:
        if not other:
            other.append(None)
            other[0] = finish_shard(table, jobs[1], RUN)  # the same last page, delivered twice
        return complete(run_at, completed_at)

    table.complete_run = the_other_completes_first  # type: ignore[method-assign]
    mine = finish_shard(table, jobs[1], RUN)
    assert mine is None and other[0] is not None


def test_a_shard_of_an_unknown_run_reports_nothing(table: FakeBillingTable) -> None:
    assert finish_shard(table, ShardJob(RUN, 0), RUN) is None
    assert table.runs == {}


def test_one_run_per_start() -> None:
    jobs = [ShardJob(RUN, 0), ShardJob(RUN + timedelta(days=1), 1)]
    with pytest.raises(ValueError, match="one run"):
        start_run(FakeBillingTable(), jobs, RUN)
