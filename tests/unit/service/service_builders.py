"""Builders for the service tests: agreement CloudEvents as upstream sends them, instants, and the
agreement projector's handler on the fakes."""

import functools
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from fakes import FakeBillingTable, FakeQueue

from billing import bootstrap, clock
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


_ROOT = Path(__file__).resolve().parents[3]


@functools.cache
def handler_module(function: str) -> ModuleType:
    """functions/<function>/app.py, loaded once (as the Lambda runtime would, by file)."""
    file = _ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"_fn_{function}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project(table: FakeBillingTable, dlq: FakeQueue, *bodies: str) -> dict[str, Any]:
    """Deliver message bodies to the agreement projector (one SQS batch) on the fakes, at NOW."""
    records = [{"messageId": f"m{i}", "body": body, "messageAttributes": {}} for i, body in enumerate(bodies)]
    app = handler_module("agreement_projector")
    clock.set_source(lambda: NOW)
    try:
        with bootstrap.override(table=lambda: table, queues={"DEAD_LETTER_QUEUE_URL": lambda: dlq}):
            response: dict[str, Any] = app.handler({"Records": records}, _Context())
    finally:
        clock.set_source(None)
    return response


class _Context:
    function_name = "AgreementProjector"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:AgreementProjector"
    aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
