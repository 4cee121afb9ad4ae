"""Outbound CloudEvents: deterministic ids, the attributes subscribers filter on."""

from datetime import UTC, date, datetime

from billing.domain.billing_events import (
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    PAYMENT_FAILED,
    document_issued,
    payment_outcome,
    payment_retry_due,
)
from billing.domain.engine import Document, Line

AT = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)


def doc(total: int, seq: int = 1) -> Document:
    kind = "invoice" if total >= 0 else "credit_note"
    line = Line(date(2026, 3, 1), date(2026, 4, 1), total)
    return Document(f"doc_{seq}", kind, "agr-1", date(2026, 3, 1), "JPY", total, (line,), seq)


def test_invoice_event_is_a_cloudevent_with_a_deterministic_id() -> None:
    first = document_issued(doc(1000), customer_id="cus-1", payment_method="pm_ok", at=AT)
    again = document_issued(doc(1000), customer_id="cus-1", payment_method="pm_ok", at=AT)
    assert first.body == again.body
    assert first.body["specversion"] == "1.0"
    assert first.type == INVOICE_ISSUED
    assert first.body["time"] == "2026-03-01T00:05:00Z"
    assert first.body["data"]["document"]["total_minor"] == 1000
    assert first.attributes == {"type": INVOICE_ISSUED, "agreement_id": "agr-1", "chargeable": "true"}


def test_different_documents_get_different_ids() -> None:
    a = document_issued(doc(1000, 1), customer_id="c", payment_method="pm_ok", at=AT)
    b = document_issued(doc(1000, 2), customer_id="c", payment_method="pm_ok", at=AT)
    assert a.id != b.id


def test_credit_notes_and_zero_invoices_are_not_chargeable() -> None:
    credit = document_issued(doc(-677), customer_id="c", payment_method="pm_ok", at=AT)
    zero = document_issued(doc(0), customer_id="c", payment_method="pm_ok", at=AT)
    assert credit.type == CREDIT_NOTE_ISSUED
    assert credit.attributes["chargeable"] == "false"
    assert zero.type == INVOICE_ISSUED and zero.attributes["chargeable"] == "false"


def test_payment_outcome_id_is_one_per_invoice_whatever_the_attempt() -> None:
    kwargs = {"agreement_id": "agr-1", "document_id": "doc_1", "amount_minor": 5, "currency": "EUR", "at": AT}
    first = payment_outcome(succeeded=False, attempts=1, reason="stolen_card", **kwargs)  # type: ignore[arg-type]
    later = payment_outcome(succeeded=False, attempts=4, reason="insufficient_funds", **kwargs)  # type: ignore[arg-type]
    assert first.type == PAYMENT_FAILED and first.id == later.id
    assert first.body["data"]["reason"] == "stolen_card"


def test_retry_commands_differ_per_attempt() -> None:
    a = payment_retry_due(agreement_id="agr-1", document_id="doc_1", attempt=2, at=AT)
    b = payment_retry_due(agreement_id="agr-1", document_id="doc_1", attempt=3, at=AT)
    assert a.id != b.id
