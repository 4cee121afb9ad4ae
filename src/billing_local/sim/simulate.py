"""Run a scenario through the whole pipeline on the embedded AWS (CONTRACT §5 `simulate`).

The day loop is the scenario's timeline: each day's deliveries are published to
the agreement topic and processed, then (unless the day is skipped) the daily
schedule fires at the run instant and every queue is drained, as Lambda's
pollers would. What comes out is read back from the stores: documents from
BillingTable, charges from the sandbox gateway's own ledger, queue depths from
SQS — never from the simulator's own bookkeeping.
"""

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import batched
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from billing.adapters.gateway import DynamoLedger
from billing.domain.billing_events import PAYMENT_FAILED, PAYMENT_SUCCEEDED
from billing.domain.engine import Document
from billing_local.preview import Scenario, preview
from billing_local.runtime.cloud import LocalCloud
from billing_local.sim.chaos import Chaos

DELIVERY_CHUNK = 50
DAILY_SCHEDULE = "DailyBillingSchedule"
EXPORT_SCHEDULE = "AccountingExportSchedule"
_DESERIALIZE = TypeDeserializer().deserialize
PROVIDER_KEY = "sandbox-key-not-a-secret"  # the sandbox's dummy key, stored as SecureString


@dataclass
class DayReport:
    day: date
    ran: bool
    delivered: int
    batches: int
    invocations: dict[str, int] = field(default_factory=dict)  # per function, this day
    dlq_messages: int = 0  # in every DLQ at the end of the day


@dataclass
class Simulation:
    """A scenario run on a fresh embedded AWS."""

    scenario: Scenario
    template: Path = Path("template.yaml")
    chaos_seed: int | None = None
    on_day: Callable[[DayReport], None] | None = None
    days: list[DayReport] = field(default_factory=list)
    _invocations_so_far: dict[str, int] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        at = self.scenario.runs.at
        first_instant = datetime.combine(self.timeline()[0], at, tzinfo=UTC) - timedelta(minutes=1)
        chaos = Chaos(self.chaos_seed) if self.chaos_seed is not None else None
        with LocalCloud(self.template, parameters=_parameters(at), start=first_instant) as cloud:
            self._setup(cloud)
            # Arrival order: by `on` date, list order breaking ties (CONTRACT §5; preview does the same).
            pending = sorted(self.scenario.deliveries, key=lambda delivery: delivery[0])
            if chaos is not None:
                pending = chaos.plan(pending, last_run=self.scenario.runs.through)
                chaos.install(cloud.faults)
            try:
                for day in self.timeline():
                    arriving = [d for d in pending if d[0] <= day]
                    pending = pending[len(arriving) :]  # pending is in arrival order
                    self._run_day(cloud, day, [event for _, event in arriving])
            finally:
                if chaos is not None:
                    chaos.uninstall(cloud.faults)
            # Recovery re-runs missed runs: it belongs to the scenario's period, so it happens before
            # the deliveries dated after the last run (which never affect what was issued).
            recovered = recover(cloud, self.timeline()[0], self.scenario.runs.through) if chaos else {}
            self._deliver(cloud, [event for _, event in pending])
            result = self.result(cloud)
            if chaos is not None:
                result["chaos"] = {
                    "seed": chaos.seed,
                    "faults": dict(sorted(chaos.injected.items())),
                    "recovery": recovered,
                }
            result["invariants"] = check_invariants(result, preview(self.scenario), exact=chaos is None)
            return result

    def timeline(self) -> list[date]:
        runs = self.scenario.runs.from_date, self.scenario.runs.through
        first = min([runs[0], *(d for d, _ in self.scenario.deliveries if d < runs[0])])
        return [first + timedelta(days=i) for i in range((runs[1] - first).days + 1)]

    def _setup(self, cloud: LocalCloud) -> None:
        name = cloud.function("PaymentProcessorFunction").environment.get("PAYMENT_PROVIDER_KEY_PARAM")
        if name:
            boto3.client("ssm").put_parameter(
                Name=name, Value=PROVIDER_KEY, Type="SecureString", Overwrite=True
            )

    def _run_day(self, cloud: LocalCloud, day: date, events: list[dict[str, Any]]) -> None:
        instant = datetime.combine(day, self.scenario.runs.at, tzinfo=UTC)
        cloud.clock.advance_to(instant - timedelta(minutes=1))
        let_time_pass(cloud)
        batches = self._deliver(cloud, events)
        ran = (
            self.scenario.runs.from_date <= day <= self.scenario.runs.through
            and day not in self.scenario.runs.skip
        )
        if ran:
            cloud.clock.advance_to(instant)
            cloud.fire_schedule(schedule_id(cloud, DAILY_SCHEDULE), instant)
            batches += cloud.drain()
            cloud.fire_schedule(schedule_id(cloud, EXPORT_SCHEDULE), instant)
        report = DayReport(day, ran, len(events), batches, self._invocations_today(cloud), _dlq_depth(cloud))
        self.days.append(report)
        if self.on_day:
            self.on_day(report)

    def _invocations_today(self, cloud: LocalCloud) -> dict[str, int]:
        totals = {name.removesuffix("Function"): n for name, (n, _) in cloud.invocation_counts().items()}
        before = self._invocations_so_far
        self._invocations_so_far = totals
        return {name: n - before.get(name, 0) for name, n in totals.items() if n - before.get(name, 0)}

    def _deliver(self, cloud: LocalCloud, events: list[dict[str, Any]]) -> int:
        """Publish the day's events, draining every DELIVERY_CHUNK: batches fill up as they would
        behind Lambda's poller, and moto's queues stay shallow (its SQS slows with depth)."""
        batches = 0
        for chunk in batched(events, DELIVERY_CHUNK, strict=False):
            for event in chunk:
                cloud.publish("AgreementTopic", event if isinstance(event, str) else json.dumps(event))
            batches += cloud.drain()
        return batches

    def result(self, cloud: LocalCloud) -> dict[str, Any]:
        documents = read_documents(cloud.physical_id("BillingTable"))
        return {
            "documents": [d.to_json() for d in documents],
            "parked": read_parked(cloud.physical_id("AgreementDLQ")),
            "payments": read_payments(
                cloud.physical_id("BillingTable"), cloud.physical_id("SandboxLedgerTable")
            ),
            "queues": cloud.queue_depths(),
        }


def schedule_id(cloud: LocalCloud, name: str) -> str:
    """The translated logical id of a function's ScheduleV2 event (SAM prefixes the function's id)."""
    matches = [s for s in cloud.schedule_names() if s == name or s.endswith(name)]
    if len(matches) != 1:
        raise KeyError(f"schedule {name!r} not found among {cloud.schedule_names()}")
    return matches[0]


def _parameters(at: time) -> dict[str, str]:
    return {
        "ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)",
        "ScheduleTimezone": "UTC",
    }


def _scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items += [{k: _DESERIALIZE(v) for k, v in item.items()} for item in page["Items"]]
    return items


def peek(queue_url: str) -> list[dict[str, Any]]:
    """Every message on a queue, with attributes, left in place (visibility released at once)."""
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += messages
    for message in found:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return found


def read_parked(dlq_url: str) -> list[dict[str, Any]]:
    """Bad input the projector parked: event id (None if the body is not an event) and rejection code."""
    parked = []
    for message in peek(dlq_url):
        try:
            body = json.loads(message["Body"])
            event_id = body.get("id") if isinstance(body, dict) else None
        except ValueError:
            event_id = None
        code = message.get("MessageAttributes", {}).get("rejection_code", {}).get("StringValue")
        parked.append({"event_id": event_id, "code": code})
    return sorted(parked, key=lambda p: (str(p["event_id"]), str(p["code"])))


def read_documents(table: str) -> list[Document]:
    documents = [
        Document.from_json(json.loads(i["document"]), seq=int(i["seq"]))
        for i in _scan(table)
        if i["sk"].startswith("DOC#")
    ]
    return sorted(documents, key=lambda d: (d.issue_date, d.agreement_id, d.seq))


def read_payments(billing_table: str, ledger_table: str) -> list[dict[str, Any]]:
    charges = Counter(c["document_id"] for c in DynamoLedger(ledger_table).charges())
    items = _scan(billing_table)
    payments = [i for i in items if i["sk"].startswith("PAY#")]
    outcome_events = [
        (json.loads(i["body"])["data"]["document_id"], i["time"][:10])
        for i in items
        if i["sk"].startswith("OUT#") and i["type"] in (PAYMENT_SUCCEEDED, PAYMENT_FAILED)
    ]
    outcomes = Counter(document_id for document_id, _ in outcome_events)
    settled_on = dict(outcome_events)
    return sorted(
        (
            {
                "document_id": p["sk"].removeprefix("PAY#"),
                "agreement_id": p["pk"].removeprefix("AGR#"),
                "status": p["status"],
                "attempts": int(p["attempts"]),
                "charges": charges.get(p["sk"].removeprefix("PAY#"), 0),
                "outcome_events": outcomes.get(p["sk"].removeprefix("PAY#"), 0),
                "settled_on": settled_on.get(p["sk"].removeprefix("PAY#")),
            }
            for p in payments
        ),
        key=lambda p: (p["agreement_id"], p["document_id"]),
    )


REDRIVE_QUEUES = ("agreement", "invoice-job", "payment", "accounting")


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


def _dlq_depth(cloud: LocalCloud) -> int:
    sqs = boto3.client("sqs")
    total = 0
    for name in cloud.logical_ids("AWS::SQS::Queue"):
        if name.endswith("DLQ"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=cloud.physical_id(name), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            total += int(attributes["ApproximateNumberOfMessages"])
    return total


def let_time_pass(cloud: LocalCloud) -> None:
    """Between simulated days every timeout measured in real time by moto or Powertools is over:
    messages a crashed consumer held become visible, and the idempotency record of an invocation
    that died mid-way is past its in-progress expiry (Powertools then lets a retry through)."""
    cloud.expire_visibility()
    ddb = boto3.client("dynamodb")
    table = cloud.physical_id("IdempotencyTable")
    for page in ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="#s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "INPROGRESS"}},
    ):
        for item in page["Items"]:
            ddb.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )


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
    event = {
        "action": "replay",
        "from": first_day.isoformat(),
        "to": (last_day + timedelta(days=1)).isoformat(),
        "target": "topic",
    }
    cloud.invoke("EventReplayFunction", event)
    return failures


def net_per_period(documents: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    net: Counter[tuple[str, str, str]] = Counter()
    for document in documents:
        for line in document["lines"]:
            net[(document["agreement_id"], line["period_start"], line["period_end"])] += line["amount_minor"]
    return {key: value for key, value in net.items() if value != 0}


def check_invariants(result: dict[str, Any], expected: dict[str, Any], *, exact: bool) -> dict[str, Any]:
    """The chaos contract: what was issued matches preview, every invoice is charged at most once and
    ends with one outcome, and nothing is left in any queue."""
    got, want = net_per_period(result["documents"]), net_per_period(expected["documents"])
    mismatched = sorted(set(got) ^ set(want) | {k for k in got.keys() & want.keys() if got[k] != want[k]})
    checks: dict[str, Any] = {
        "net_per_period_matches_preview": not mismatched,
        "periods_checked": len(want),
    }
    if mismatched:
        checks["mismatched_periods"] = [list(k) for k in mismatched[:20]]
    if exact:
        checks["documents_identical_to_preview"] = result["documents"] == expected["documents"]
    chargeable = {
        d["document_id"] for d in result["documents"] if d["kind"] == "invoice" and d["total_minor"] > 0
    }
    payments = {p["document_id"]: p for p in result["payments"]}
    problems = []
    for document_id in sorted(chargeable):
        payment = payments.get(document_id)
        if payment is None:
            problems.append(f"{document_id}: never charged")
        elif payment["charges"] > 1:
            problems.append(f"{document_id}: charged {payment['charges']} times")
        elif payment["status"] == "succeeded" and payment["charges"] != 1:
            problems.append(f"{document_id}: succeeded without a charge in the gateway ledger")
        elif payment["status"] != "succeeded" and payment["charges"] != 0:
            problems.append(f"{document_id}: {payment['status']} but the gateway took the money")
        elif payment["status"] in ("succeeded", "failed") and payment["outcome_events"] != 1:
            problems.append(f"{document_id}: {payment['outcome_events']} final outcome events")
    checks["every_invoice_charged_at_most_once_with_one_outcome"] = not problems
    checks["invoices_checked"] = len(chargeable)
    if problems:
        checks["payment_problems"] = problems[:20]
    left = {name: q["visible"] + q["in_flight"] + q.get("delayed", 0) for name, q in result["queues"].items()}
    parked = {(r["event_id"], r["code"]) for r in result["parked"]}
    rejected = {(r["event_id"], r["reason"].split(":")[0]) for r in expected.get("rejected", [])}
    left["AgreementDLQ"] = left.get("AgreementDLQ", 0) - len(result["parked"])
    checks["only_bad_input_parked"] = parked == rejected
    checks["every_queue_and_dlq_empty"] = not any(left.values())
    checks["all_hold"] = all(v for k, v in checks.items() if isinstance(v, bool))
    return checks
