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
from typing import Any

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
    read_parked,
    read_payments,
    read_rejections,
    schedule_id,
)
from billing_local.stack import local_cloud

DELIVERY_CHUNK = 50


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
        report = DayReport(day, ran, len(events), batches, self._invocations_today(cloud), dlq_depth(cloud))
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
            "rejections": read_rejections(cloud.physical_id("BillingTable")),
            "payments": read_payments(
                cloud.physical_id("BillingTable"), cloud.physical_id("SandboxLedgerTable")
            ),
            "queues": cloud.queue_depths(),
        }


def _parameters(at: time) -> dict[str, str]:
    return {
        "ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)",
        "ScheduleTimezone": "UTC",
    }
