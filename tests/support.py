"""Helpers to drive the embedded AWS like the world does (imported by tests as `support`)."""

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from billing.domain.agreements import message_body
from billing_local.emulator.cloud import LocalCloud
from billing_local.sim.stack import (
    DAILY_SCHEDULE,
    EXPORT_SCHEDULE,
    peek,
    read_documents,
    read_payments,
    schedule_id,
)

ROOT = Path(__file__).resolve().parent.parent
RUN_AT = time(0, 5)


class Pipeline:
    """The deployed system, locally: publish agreement events, run days, read back what happened."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud

    def publish(self, event: dict[str, Any] | str) -> None:
        self.cloud.publish("AgreementTopic", message_body(event))  # as `billing simulate` publishes
        self.cloud.drain()

    def run_day(self, day: date) -> Any:
        instant = datetime.combine(day, RUN_AT, tzinfo=UTC)
        self.cloud.clock.advance_to(instant)
        result = self.cloud.fire_schedule(schedule_id(self.cloud, DAILY_SCHEDULE), instant)
        self.cloud.drain()
        self.export_accounting()  # the pull consumer's schedule runs several times a day
        return result

    def export_accounting(self) -> Any:
        return self.cloud.fire_schedule(schedule_id(self.cloud, EXPORT_SCHEDULE), self.cloud.clock.now())

    def documents(self, agreement_id: str | None = None) -> list[dict[str, Any]]:
        docs = [d.to_json() for d in read_documents(self.cloud.physical_id("BillingTable"))]
        return [d for d in docs if agreement_id is None or d["agreement_id"] == agreement_id]

    def payments(self, agreement_id: str | None = None) -> list[dict[str, Any]]:
        found = read_payments(
            self.cloud.physical_id("BillingTable"), self.cloud.physical_id("SandboxLedgerTable")
        )
        return [p for p in found if agreement_id is None or p["agreement_id"] == agreement_id]

    def left_in_queues(self) -> dict[str, int]:
        return {
            name: depth["visible"] + depth["in_flight"] + depth.get("delayed", 0)
            for name, depth in self.cloud.queue_depths().items()
            if depth["visible"] + depth["in_flight"] + depth.get("delayed", 0)
        }

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Every message on a queue, left in place."""
        return peek(self.cloud.physical_id(queue))


def agreement_event(
    type_: str, agreement_id: str, version: int, event_id: str | None = None, **data: Any
) -> dict[str, Any]:
    """A CloudEvent as upstream publishes it (CONTRACT §1)."""
    body: dict[str, Any] = {"agreement_id": agreement_id, "version": version, **data}
    if type_ == "agreement.created":
        body.setdefault("customer_id", "cus-1")
        body.setdefault("payment_method", "pm_ok")
        body.setdefault("timezone", "UTC")
        body.setdefault(
            "plan", {"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1}
        )
    return {
        "specversion": "1.0",
        "id": event_id or f"{agreement_id}-v{version}-{type_}",
        "source": "urn:example:purchases",
        "type": type_,
        "time": "2026-02-27T10:00:00Z",
        "subject": agreement_id,
        "datacontenttype": "application/json",
        "data": body,
    }
