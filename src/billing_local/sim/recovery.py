"""What an operator does after an incident (docs/RUNBOOK.md), as `billing simulate --chaos` does it
once the scenario's days are over."""

import json
from datetime import date, timedelta
from typing import Any

import boto3

from billing.service.redrive import QUEUES as REDRIVE_QUEUES
from billing.service.replay import MAX_DAYS
from billing_local.emulator.cloud import LocalCloud
from billing_local.sim.stack import EXPORT_SCHEDULE, let_time_pass, schedule_id


def recover(cloud: LocalCloud, first_day: date, last_day: date) -> dict[str, Any]:
    """What an operator does after an incident (docs/RUNBOOK.md): re-run missed daily runs, redrive
    every DLQ, replay what the outbox could not publish, and let the pipeline quiesce."""
    report: dict[str, int] = {"reruns": 0, "redriven": 0, "outbox_replays": 0, "rounds": 0}
    for _ in range(5):
        report["rounds"] += 1
        let_time_pass(cloud)
        reruns = _rerun_missed_schedules(cloud)
        moved = sum(
            int(cloud.invoke("DlqRedriveFunction", {"queue": queue})["moved"]) for queue in REDRIVE_QUEUES
        )
        replayed = _replay_failed_outbox(cloud, first_day, last_day)
        cloud.drain()
        cloud.fire_schedule(schedule_id(cloud, EXPORT_SCHEDULE), cloud.clock.now())
        report["reruns"] += reruns
        report["redriven"] += moved
        report["outbox_replays"] += replayed
        if reruns == moved == replayed == 0:
            break
    return report


def _rerun_missed_schedules(cloud: LocalCloud) -> int:
    """A scheduled invocation that failed all its retries lands on the ScheduleDLQ with its input:
    invoke its function again with that input (the run instant inside makes it the same run)."""
    sqs = boto3.client("sqs")
    url = cloud.physical_id("ScheduleDLQ")
    reruns = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            payload = json.loads(message["Body"])
            function = "InvoiceSchedulerFunction" if "run_at" in payload else "AccountingExporterFunction"
            cloud.invoke(function, payload)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            reruns += 1
    return reruns


def _replay_failed_outbox(cloud: LocalCloud, first_day: date, last_day: date) -> int:
    """Stream batches that exhausted their retries land on the OutboxDLQ as pointers; the events
    themselves are in the event store: re-send the period to the topic (consumers deduplicate)."""
    sqs = boto3.client("sqs")
    url = cloud.physical_id("OutboxDLQ")
    failures = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        failures += len(messages)
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    if failures == 0:
        return 0
    day, last_day = first_day, last_day + timedelta(days=1)
    while day <= last_day:  # one replay covers at most MAX_DAYS days: a month at a time
        through = min(last_day, day + timedelta(days=MAX_DAYS - 1))
        event = {"action": "replay", "from": day.isoformat(), "to": through.isoformat(), "target": "topic"}
        answer = cloud.invoke("EventReplayFunction", event)
        if "error" in answer:
            raise RuntimeError(f"replay refused: {answer['error']}")
        day = through + timedelta(days=1)
    return failures
