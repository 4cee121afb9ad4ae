"""Run a scenario through the whole pipeline on the embedded AWS (CONTRACT §5 `simulate`).

The day loop is the scenario's timeline: each day's deliveries are published to
the agreement topic and processed, then (unless the day is skipped) the daily
schedule fires at the run instant and every queue is drained, as Lambda's
pollers would. What comes out is read back from the stores: documents from
BillingTable, charges from the sandbox gateway's own ledger, queue depths from
SQS — never from the simulator's own bookkeeping.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import batched
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from billing.domain.agreements import message_body
from billing.domain.errors import BadInput
from billing_local.emulator.cloud import LocalCloud
from billing_local.preview import Scenario, preview
from billing_local.sim.chaos import Chaos
from billing_local.sim.invariants import check_invariants
from billing_local.sim.recovery import recover
from billing_local.sim.stack import (
    DAILY_SCHEDULE,
    EXPORT_SCHEDULE,
    dlq_depth,
    let_time_pass,
    read_documents,
    read_money,
    read_parked,
    read_rejections,
    schedule_id,
)
from billing_local.stack import local_cloud

DELIVERY_CHUNK = 50
# What SNS answers a publish it will not take (a message over 256 KiB: "Message too long").
SNS_REFUSALS = frozenset({"InvalidParameter", "InvalidParameterValue"})


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
    refused: list[dict[str, Any]] = field(default_factory=list)  # publishes SNS refused (upstream saw why)
    _invocations_so_far: dict[str, int] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        at = self.scenario.runs.at
        first_instant = datetime.combine(self.timeline()[0], at, tzinfo=UTC) - timedelta(minutes=1)
        chaos = Chaos(self.chaos_seed) if self.chaos_seed is not None else None
        with local_cloud(self.template, parameters=_parameters(at), start=first_instant) as cloud:
            # Arrival order: by `on` date, list order breaking ties (CONTRACT §5; preview does the same).
            pending: list[tuple[date, dict[str, Any]]] = sorted(self.scenario.deliveries, key=lambda d: d[0])
            if chaos is not None:
                pending = chaos.plan(pending, last_run=self.scenario.runs.through)
                chaos.install(cloud.faults)
            try:
                for day in self.timeline():
                    arriving = [d for d in pending if d[0] <= day]
                    pending = pending[len(arriving) :]  # pending is in arrival order
                    self._run_day(cloud, day, arriving)
            finally:
                if chaos is not None:
                    chaos.uninstall(cloud.faults)
            # Recovery re-runs missed runs: it belongs to the scenario's period, so it happens before
            # the deliveries dated after the last run (which never affect what was issued).
            recovered = recover(cloud, self.timeline()[0], self.scenario.runs.through) if chaos else {}
            self._deliver(cloud, pending)
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

    def _run_day(self, cloud: LocalCloud, day: date, deliveries: list[tuple[date, Any]]) -> None:
        instant = datetime.combine(day, self.scenario.runs.at, tzinfo=UTC)
        cloud.clock.advance_to(instant - timedelta(minutes=1))
        let_time_pass(cloud)
        batches = self._deliver(cloud, deliveries)
        ran = (
            self.scenario.runs.from_date <= day <= self.scenario.runs.through
            and day not in self.scenario.runs.skip
        )
        if ran:
            cloud.clock.advance_to(instant)
            cloud.fire_schedule(schedule_id(cloud, DAILY_SCHEDULE), instant)
            batches += cloud.drain()
            cloud.fire_schedule(schedule_id(cloud, EXPORT_SCHEDULE), instant)
        report = DayReport(
            day, ran, len(deliveries), batches, self._invocations_today(cloud), dlq_depth(cloud)
        )
        self.days.append(report)
        if self.on_day:
            self.on_day(report)

    def _invocations_today(self, cloud: LocalCloud) -> dict[str, int]:
        totals = {name.removesuffix("Function"): n for name, (n, _) in cloud.invocation_counts().items()}
        before = self._invocations_so_far
        self._invocations_so_far = totals
        return {name: n - before.get(name, 0) for name, n in totals.items() if n - before.get(name, 0)}

    def _deliver(self, cloud: LocalCloud, deliveries: list[tuple[date, Any]]) -> int:
        """Publish the day's events, draining every DELIVERY_CHUNK: batches fill up as they would
        behind Lambda's poller, and moto's queues stay shallow (its SQS slows with depth)."""
        batches = 0
        for chunk in batched(deliveries, DELIVERY_CHUNK, strict=False):
            for on, event in chunk:
                self._publish(cloud, on, event)
            batches += cloud.drain()
        return batches

    def _publish(self, cloud: LocalCloud, on: date, event: Any) -> None:
        """Publish as upstream does; what SNS refuses (a body over 256 KiB) never enters the pipeline:
        upstream gets the error, and the simulation records it (`refused`) and carries on."""
        try:
            publish(cloud, event)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in SNS_REFUSALS:
                raise
            # The embedded SNS nests moto's error in its own: keep SNS's words ("Invalid parameter: ...").
            message = str(error.response.get("Error", {}).get("Message", "")).rsplit("operation: ", 1)[-1]
            self._refuse(on, event, code, message)
        except UnicodeEncodeError as error:  # a lone surrogate: the SDK cannot even encode the request
            self._refuse(
                on, event, "NotUtf8", f"not encodable as UTF-8: {error.reason} at index {error.start}"
            )

    def _refuse(self, on: date, event: Any, code: str, reason: str) -> None:
        self.refused.append(
            {"event_id": _event_id(event), "on": on.isoformat(), "code": code, "reason": reason}
        )

    def result(self, cloud: LocalCloud) -> dict[str, Any]:
        documents = read_documents(cloud.physical_id("BillingTable"))
        return {
            "documents": [d.to_json() for d in documents],
            "parked": read_parked(cloud.physical_id("AgreementDLQ")),
            **read_money(cloud.physical_id("BillingTable"), cloud.physical_id("SandboxLedgerTable")),
            "rejections": read_rejections(cloud.physical_id("BillingTable")),
            "queues": cloud.queue_depths(),
            "refused": list(self.refused),
        }


class Publisher(Protocol):
    def publish(self, topic_logical_id: str, message: str) -> Any: ...


def publish(cloud: Publisher, event: Any) -> str | None:
    """Publish one scenario event to the agreement topic as upstream would: its `message_body`, the
    text preview measures and parses (compact UTF-8), not json.dumps' default. Returns the body."""
    try:
        body = message_body(event)
    except BadInput:  # no JSON text holds it (a scenario file cannot): nothing to publish
        return None
    cloud.publish("AgreementTopic", body)
    return body


def _event_id(event: Any) -> str | None:
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):
            return None
    return event["id"] if isinstance(event, dict) and isinstance(event.get("id"), str) else None


def _parameters(at: time) -> dict[str, str]:
    return {
        "ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)",
        "ScheduleTimezone": "UTC",
    }
