"""The examples the contracts carry: one valid message per inbound type, and real builder output
(the contract's worked example, billed by the engine) for every outbound type."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import UTC, datetime
from typing import Any

from billing.domain.agreements import (
    AGREEMENT_AMENDED,
    AGREEMENT_CANCELLED,
    AGREEMENT_CREATED,
    fold,
    parse_event,
)
from billing.domain.billing_events import (
    BillingEvent,
    agreement_closed,
    document_issued,
    payment_outcome,
    payment_retry_due,
    refund_outcome,
)
from billing.domain.engine import Document, Line, bill
from billing.domain.numbering import DEFAULT_SERIES_COUNT, series_for
from billing.domain.settlement import CreditAccount, refund_id, settle_run

from .common import REPO

__all__ = ["INBOUND_EXAMPLES", "Samples", "samples"]

# The contract's own example (CONTRACT §1), kept once, as the body upstream publishes.
_CREATED: dict[str, Any] = json.loads((REPO / "events/agreement_topic/agreement-created.json").read_text())
_AMENDED: dict[str, Any] = {
    "specversion": "1.0",
    "id": "6a1e2b3c-0000-4000-8000-000000000002",
    "source": "urn:example:purchases",
    "type": AGREEMENT_AMENDED,
    "time": "2026-02-10T09:00:00Z",
    "subject": "agr-1001",
    "datacontenttype": "application/json",
    "data": {
        "agreement_id": "agr-1001",
        "version": 2,
        "effective_date": "2026-02-15",
        "plan": {"amount_minor": 2999, "currency": "EUR", "interval": "month", "interval_count": 1},
        "payment_method": "pm_ok",
    },
}
_CANCELLED: dict[str, Any] = {
    "specversion": "1.0",
    "id": "6a1e2b3c-0000-4000-8000-000000000003",
    "source": "urn:example:purchases",
    "type": AGREEMENT_CANCELLED,
    "time": "2026-03-20T09:00:00Z",
    "subject": "agr-1001",
    "datacontenttype": "application/json",
    "data": {"agreement_id": "agr-1001", "version": 3, "effective_date": "2026-04-10"},
}
INBOUND_EXAMPLES: dict[str, dict[str, Any]] = {
    AGREEMENT_CREATED: _CREATED,
    AGREEMENT_AMENDED: _AMENDED,
    AGREEMENT_CANCELLED: _CANCELLED,
}


_RUN_1 = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
_RUN_2 = datetime(2026, 3, 12, 0, 5, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Samples:
    """Real builder output: the contract's worked example and the payments that follow."""

    invoice: BillingEvent
    credit_note: BillingEvent
    zero_invoice: BillingEvent
    succeeded: BillingEvent
    failed: BillingEvent
    failed_without_reason: BillingEvent
    retry: BillingEvent
    invoice_with_credit: BillingEvent
    closed: BillingEvent
    refunded: BillingEvent
    refund_failed: BillingEvent

    def of_type(self, type_: str) -> list[BillingEvent]:
        events = (getattr(self, f.name) for f in dataclasses.fields(self))
        return [e for e in events if e.type == type_]


def _worked_example() -> tuple[Document, Document, str, str]:
    created = {
        **_CREATED,
        "data": {
            **_CREATED["data"],
            "agreement_id": "agr-1001",
            "start_date": "2026-03-01",
            "timezone": "Asia/Tokyo",
            "plan": {"amount_minor": 1000, "currency": "JPY", "interval": "month", "interval_count": 1},
        },
    }
    cancelled = {**_CANCELLED, "data": {**_CANCELLED["data"], "version": 2, "effective_date": "2026-03-11"}}
    first = fold([parse_event(created)]).state
    later = fold([parse_event(created), parse_event(cancelled)]).state
    if first is None or later is None:
        raise ValueError("the worked example does not fold")
    invoice = bill(first, [], _RUN_1.date())
    if invoice is None:
        raise ValueError("the worked example issues no invoice")
    credit = bill(later, [invoice], _RUN_2.date())
    if credit is None:
        raise ValueError("the worked example issues no credit note")
    return _numbered(invoice), _numbered(credit), first.customer_id, first.payment_method


def _numbered(document: Document) -> Document:
    """As the pipeline publishes it: numbered in its series (the first of the series here)."""
    series = series_for(document.kind, document.issue_date, document.agreement_id, DEFAULT_SERIES_COUNT)
    return document.numbered(series, 1)


@functools.cache
def samples() -> Samples:
    invoice, credit, customer, method = _worked_example()
    zero = dataclasses.replace(
        invoice,
        total_minor=0,
        lines=(
            invoice.lines[0],
            Line(invoice.lines[0].period_start, invoice.lines[0].period_end, -invoice.total_minor),
        ),
    )
    payment: dict[str, Any] = {
        "agreement_id": invoice.agreement_id,
        "document_id": invoice.document_id,
        "amount_minor": invoice.total_minor,
        "currency": invoice.currency,
    }
    # The worked example settles: the credit note closes the cancelled agreement, its amount released.
    settled = settle_run(CreditAccount(), [invoice], credit, finished=True)
    if settled.closure is None:
        raise ValueError("the worked example does not close the agreement")
    refund: dict[str, Any] = {
        "agreement_id": invoice.agreement_id,
        "refund_id": refund_id(invoice.agreement_id, 1),
        "amount_minor": settled.closure.released_minor,
        "currency": invoice.currency,
        "at": _RUN_2,
    }
    return Samples(
        invoice=document_issued(invoice, customer_id=customer, payment_method=method, at=_RUN_1),
        credit_note=document_issued(credit, customer_id=customer, payment_method=method, at=_RUN_2),
        zero_invoice=document_issued(zero, customer_id=customer, payment_method=method, at=_RUN_1),
        succeeded=payment_outcome(succeeded=True, attempts=1, reason=None, at=_RUN_1, **payment),
        failed=payment_outcome(
            succeeded=False, attempts=4, reason="insufficient_funds", at=_RUN_2, **payment
        ),
        failed_without_reason=payment_outcome(succeeded=False, attempts=1, reason=None, at=_RUN_1, **payment),
        retry=payment_retry_due(
            agreement_id=invoice.agreement_id, document_id=invoice.document_id, attempt=2, at=_RUN_2
        ),
        # The next month's invoice, had the agreement gone on: the credit note's amount applied first.
        invoice_with_credit=document_issued(
            invoice.with_credit(min(-credit.total_minor, invoice.total_minor)),
            customer_id=customer,
            payment_method=method,
            at=_RUN_2,
        ),
        closed=agreement_closed(
            agreement_id=invoice.agreement_id,
            currency=invoice.currency,
            payment_method=method,
            closure=settled.closure,
            at=_RUN_2,
        ),
        refunded=refund_outcome(succeeded=True, reason=None, **refund),
        refund_failed=refund_outcome(succeeded=False, reason="stolen_card", **refund),
    )
