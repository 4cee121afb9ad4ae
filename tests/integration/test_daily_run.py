"""The daily run's progress item on the embedded AWS: completed once, with the heartbeat and duration."""

import json
from datetime import UTC, date, datetime

import boto3
from support import Pipeline, agreement_event

from billing.adapters.dynamo import BillingTable
from billing.service.invoicing import ShardJob

RUN = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)


def run_item(pipeline: Pipeline, run_at: str) -> dict[str, object]:
    item = boto3.client("dynamodb").get_item(
        TableName=pipeline.cloud.physical_id("BillingTable"),
        Key={"pk": {"S": f"RUN#{run_at}"}, "sk": {"S": "RUN"}},
    )["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def emitted(pipeline: Pipeline, name: str, function: str | None = None) -> list[dict[str, object]]:
    found = []
    for line in pipeline.cloud.logs(function):
        if '"_aws"' in line and name in json.loads(line):
            found.append(json.loads(line))
    return found


def test_the_run_completes_once_when_every_shard_is_done(pipeline: Pipeline) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-run", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))
    shards = int(pipeline.cloud.function("InvoiceGeneratorFunction").environment["DUE_SHARDS"])
    item = run_item(pipeline, "2026-03-01T00:05:00Z")
    assert item["jobs_expected"] == str(shards)
    assert sorted(item["shards"], key=int) == [str(s) for s in range(shards)]  # type: ignore[call-overload]
    assert item["started_at"] <= item["completed_at"]  # type: ignore[operator]
    [heartbeat] = emitted(pipeline, "DailyRunHeartbeat")  # once, from the generator
    assert emitted(pipeline, "DailyRunHeartbeat", "InvoiceGeneratorFunction") == [heartbeat]
    assert "DailyRunDurationMs" in heartbeat
    [directive] = heartbeat["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units["DailyRunDurationMs"] == "Milliseconds"

    # A shard's last page delivered again (a redelivery, a retried scheduler) completes nothing.
    pipeline.cloud.send("InvoiceJobQueue", ShardJob(RUN, 0).body())
    pipeline.cloud.drain()
    assert len(emitted(pipeline, "DailyRunHeartbeat")) == 1


def test_the_adapter_counts_a_shard_once_and_completes_once(pipeline: Pipeline) -> None:
    table = BillingTable(pipeline.cloud.physical_id("BillingTable"), shards=2)
    assert table.shard_done("2026-04-01T00:05:00Z", 0) is None  # no such run: nothing is created
    table.start_run("2026-04-01T00:05:00Z", 2, "2026-04-01T00:05:01Z")
    table.start_run("2026-04-01T00:05:00Z", 2, "2026-04-01T00:35:00Z")  # a retried start
    first = table.shard_done("2026-04-01T00:05:00Z", 1)
    again = table.shard_done("2026-04-01T00:05:00Z", 1)
    assert first is not None and again is not None
    assert (first.shards_done, again.shards_done, again.shards_expected) == (1, 1, 2)
    last = table.shard_done("2026-04-01T00:05:00Z", 0)
    assert last is not None and (last.shards_done, last.started_at) == (2, "2026-04-01T00:05:01Z")
    assert table.complete_run("2026-04-01T00:05:00Z", "2026-04-01T00:06:00Z") is True
    assert table.complete_run("2026-04-01T00:05:00Z", "2026-04-01T00:07:00Z") is False
    done = table.shard_done("2026-04-01T00:05:00Z", 0)
    assert done is not None and done.completed_at == "2026-04-01T00:06:00Z"
    assert table.complete_run("2026-05-01T00:05:00Z", "x") is False  # unknown run
