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
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from billing.adapters.gateway import DynamoLedger
from billing.domain.engine import Document
from billing_local.preview import Scenario
from billing_local.runtime.cloud import LocalCloud

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


@dataclass
class Simulation:
    """A scenario run on a fresh embedded AWS."""

    scenario: Scenario
    template: Path = Path("template.yaml")
    chaos_seed: int | None = None
    on_day: Callable[[DayReport], None] | None = None
    days: list[DayReport] = field(default_factory=list)

    def run(self) -> dict[str, Any]:
        at = self.scenario.at
        first_instant = datetime.combine(self.timeline()[0], at) - timedelta(minutes=1)
        with LocalCloud(self.template, parameters=_parameters(at), start=first_instant) as cloud:
            self._setup(cloud)
            pending = list(self.scenario.deliveries)
            for day in self.timeline():
                arriving = [d for d in pending if d[0] <= day]
                pending = pending[len(arriving) :]
                self._run_day(cloud, day, [event for _, event in arriving])
            if pending:  # deliveries after the last run never affect what was issued
                self._deliver(cloud, [event for _, event in pending])
            return self.result(cloud)

    def timeline(self) -> list[date]:
        runs = self.scenario.runs_from, self.scenario.runs_through
        first = min([runs[0], *(d for d, _ in self.scenario.deliveries if d < runs[0])])
        return [first + timedelta(days=i) for i in range((runs[1] - first).days + 1)]

    def _setup(self, cloud: LocalCloud) -> None:
        name = cloud.function_environment("PaymentProcessorFunction").get("PAYMENT_PROVIDER_KEY_PARAM")
        if name:
            boto3.client("ssm").put_parameter(
                Name=name, Value=PROVIDER_KEY, Type="SecureString", Overwrite=True
            )

    def _run_day(self, cloud: LocalCloud, day: date, events: list[dict[str, Any]]) -> None:
        instant = datetime.combine(day, self.scenario.at)
        cloud.clock.advance_to(instant - timedelta(minutes=1))
        batches = self._deliver(cloud, events)
        ran = self.scenario.runs_from <= day <= self.scenario.runs_through and day not in self.scenario.skip
        if ran:
            cloud.clock.advance_to(instant)
            cloud.fire_schedule(DAILY_SCHEDULE, instant)
            batches += cloud.drain()
            cloud.fire_schedule(EXPORT_SCHEDULE, instant)
        report = DayReport(day, ran, len(events), batches)
        self.days.append(report)
        if self.on_day:
            self.on_day(report)

    def _deliver(self, cloud: LocalCloud, events: list[dict[str, Any]]) -> int:
        batches = 0
        for event in events:
            cloud.publish("AgreementTopic", json.dumps(event))
            batches += cloud.drain()  # consume while producing: moto SQS slows with depth
        return batches

    def result(self, cloud: LocalCloud) -> dict[str, Any]:
        documents = read_documents(cloud.physical_id("BillingTable"))
        return {
            "documents": [d.to_json() for d in documents],
            "payments": read_payments(
                cloud.physical_id("BillingTable"), cloud.physical_id("SandboxLedgerTable")
            ),
            "queues": cloud.queue_depths(),
        }


def _parameters(at: time) -> dict[str, str]:
    return {
        "Stage": "local",
        "ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)",
        "ScheduleTimezone": "UTC",
    }


def _scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items += [{k: _DESERIALIZE(v) for k, v in item.items()} for item in page["Items"]]
    return items


def read_documents(table: str) -> list[Document]:
    documents = [
        Document.from_json(json.loads(i["document"]), seq=int(i["seq"]))
        for i in _scan(table)
        if i["sk"].startswith("DOC#")
    ]
    return sorted(documents, key=lambda d: (d.issue_date, d.agreement_id, d.seq))


def read_payments(billing_table: str, ledger_table: str) -> list[dict[str, Any]]:
    charges = Counter(c["document_id"] for c in DynamoLedger(ledger_table).charges())
    payments = [i for i in _scan(billing_table) if i["sk"].startswith("PAY#")]
    return sorted(
        (
            {
                "document_id": p["sk"].removeprefix("PAY#"),
                "agreement_id": p["pk"].removeprefix("AGR#"),
                "status": p["status"],
                "attempts": int(p["attempts"]),
                "charges": charges.get(p["sk"].removeprefix("PAY#"), 0),
            }
            for p in payments
        ),
        key=lambda p: (p["agreement_id"], p["document_id"]),
    )
