"""Outbound billing events: CloudEvents 1.0 built from documents and payment outcomes.

Ids are deterministic (UUIDv5 of what the event is about), so a re-send, a
replay or a retried write carries the same id and consumers can deduplicate.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.domain.engine import Document
from billing.domain.settlement import Closure

SOURCE = "urn:recurring-billing"
_NAMESPACE = uuid.UUID("5d7c1f0e-2b7a-4c53-9f55-0e4b0c8f2a11")

INVOICE_ISSUED = "billing.invoice.issued"
CREDIT_NOTE_ISSUED = "billing.credit_note.issued"
PAYMENT_SUCCEEDED = "billing.payment.succeeded"
PAYMENT_FAILED = "billing.payment.failed"
PAYMENT_RETRY_DUE = "billing.payment.retry_due"  # internal command: scheduler -> payment queue
AGREEMENT_CLOSED = "billing.agreement.closed"
REFUND_SUCCEEDED = "billing.refund.succeeded"
REFUND_FAILED = "billing.refund.failed"
OUTBOUND_TYPES = (
    INVOICE_ISSUED,
    CREDIT_NOTE_ISSUED,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    AGREEMENT_CLOSED,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
)


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """A CloudEvent plus the SNS message attributes subscribers filter on."""

    body: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def agreement_id(self) -> str:
        return str(self.body["subject"])

    @property
    def time(self) -> str:
        return str(self.body["time"])

    @property
    def attributes(self) -> dict[str, str]:
        data = self.body["data"]
        chargeable = self.type == INVOICE_ISSUED and invoice_amount_due(data["document"]) > 0
        return {"type": self.type, "agreement_id": self.agreement_id, "chargeable": str(chargeable).lower()}


def invoice_amount_due(document: dict[str, Any]) -> int:
    """What an issued invoice leaves to charge (an event stored before settlement: its total)."""
    return int(document.get("amount_due_minor", document["total_minor"]))


def event_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def iso_instant(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cloudevent(type_: str, id_: str, subject: str, time: datetime, data: dict[str, Any]) -> BillingEvent:
    return BillingEvent(
        {
            "specversion": "1.0",
            "id": id_,
            "source": SOURCE,
            "type": type_,
            "time": iso_instant(time),
            "subject": subject,
            "datacontenttype": "application/json",
            "data": data,
        }
    )


def document_issued(
    document: Document, *, customer_id: str, payment_method: str, at: datetime
) -> BillingEvent:
    """`billing.invoice.issued` or `billing.credit_note.issued` for a new document."""
    type_ = INVOICE_ISSUED if document.kind == "invoice" else CREDIT_NOTE_ISSUED
    data = {"document": document.to_json(), "customer_id": customer_id, "payment_method": payment_method}
    return _cloudevent(type_, event_id(type_, document.document_id), document.agreement_id, at, data)


def payment_outcome(
    *,
    succeeded: bool,
    agreement_id: str,
    document_id: str,
    amount_minor: int,
    currency: str,
    attempts: int,
    reason: str | None,
    at: datetime,
) -> BillingEvent:
    """The one final outcome of charging an invoice (`.succeeded` or `.failed`)."""
    type_ = PAYMENT_SUCCEEDED if succeeded else PAYMENT_FAILED
    data: dict[str, Any] = {
        "document_id": document_id,
        "agreement_id": agreement_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "attempts": attempts,
    }
    if reason:
        data["reason"] = reason
    return _cloudevent(type_, event_id(type_, document_id), agreement_id, at, data)


def payment_retry_due(*, agreement_id: str, document_id: str, attempt: int, at: datetime) -> BillingEvent:
    """Command the daily run sends to the payment queue when a soft-declined charge is due again."""
    data = {"agreement_id": agreement_id, "document_id": document_id, "attempt": attempt}
    return _cloudevent(
        PAYMENT_RETRY_DUE, event_id(PAYMENT_RETRY_DUE, document_id, str(attempt)), agreement_id, at, data
    )


def agreement_closed(
    *, agreement_id: str, currency: str, payment_method: str, closure: Closure, at: datetime
) -> BillingEvent:
    """A cancelled agreement with nothing more to bill: what it owes in all, the credit released."""
    data = {
        "agreement_id": agreement_id,
        "currency": currency,
        "payment_method": payment_method,
        "closure": closure.closure,
        "owed_minor": closure.owed_minor,
        "credit_released_minor": closure.released_minor,
    }
    id_ = event_id(AGREEMENT_CLOSED, agreement_id, str(closure.closure))
    return _cloudevent(AGREEMENT_CLOSED, id_, agreement_id, at, data)


def refund_outcome(
    *,
    succeeded: bool,
    agreement_id: str,
    refund_id: str,
    amount_minor: int,
    currency: str,
    reason: str | None,
    at: datetime,
) -> BillingEvent:
    """The one final outcome of a refund (`.succeeded` or `.failed`)."""
    type_ = REFUND_SUCCEEDED if succeeded else REFUND_FAILED
    data: dict[str, Any] = {
        "refund_id": refund_id,
        "agreement_id": agreement_id,
        "amount_minor": amount_minor,
        "currency": currency,
    }
    if reason:
        data["reason"] = reason
    return _cloudevent(type_, event_id(type_, refund_id), agreement_id, at, data)
