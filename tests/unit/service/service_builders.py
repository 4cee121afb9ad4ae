"""Builders for the service tests: agreement CloudEvents as upstream sends them, instants."""

import json
from datetime import UTC, datetime
from typing import Any

from fakes import FakeBillingTable

from billing.service.ingest import Ingested, ingest

NOW = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)


def at(day: str, hour: int = 0, minute: int = 5) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def agreement_event(
    type_: str, agreement_id: str, version: int, event_id: str | None = None, **data: Any
) -> dict[str, Any]:
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


def created(agreement_id: str = "agr-1", start: str = "2026-03-01", **data: Any) -> dict[str, Any]:
    return agreement_event("agreement.created", agreement_id, 1, start_date=start, **data)


def send(table: FakeBillingTable, event: dict[str, Any], now: datetime = NOW) -> Ingested:
    return ingest(json.dumps(event), table, now)
