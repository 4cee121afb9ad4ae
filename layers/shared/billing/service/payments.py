"""Charge invoices through the gateway: once per attempt, retries on a schedule, one final outcome.

Attempt n of an invoice always uses the idempotency key (invoice, n): a
redelivered message, a crash after the charge, or a timeout reconciled with
`find` can never take the money twice. Soft declines are retried on the days of
`retry_days` counted from the first attempt: the payment item goes onto the
due index and the daily run sends a `billing.payment.retry_due` command (SQS
delays stop at 15 minutes; the due index is already read every day).
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.domain.billing_events import (
    AGREEMENT_CLOSED,
    INVOICE_ISSUED,
    PAYMENT_RETRY_DUE,
    invoice_amount_due,
    payment_outcome,
)
from billing.domain.errors import BadInput
from billing.domain.payments import (
    ChargeRequest,
    ChargeResult,
    OutcomeUnknown,
    after_attempt,
    idempotency_key,
    reconciled,
)
from billing.domain.settlement import Refund
from billing.ports import Gateway, Payment, PaymentSide, PaymentStore, StaleState
from billing.service.settlement import record_closure, settle

__all__ = [
    "Attempted",
    "Handled",
    "OutcomeUnknown",
    "charge_new_invoice",
    "handle_payment_message",
    "parse_payment_message",
    "retry_payment",
]
ACCEPTED = frozenset({INVOICE_ISSUED, PAYMENT_RETRY_DUE, AGREEMENT_CLOSED})


def parse_payment_message(body: str, accepted: frozenset[str]) -> dict[str, Any]:
    """A payment queue message: a CloudEvent of an accepted type with an id (BadInput otherwise)."""
    try:
        event = json.loads(body)
    except ValueError as error:
        raise BadInput("invalid_json", f"not JSON ({error})") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadInput("not_cloudevent", "a CloudEvent object with a string id is required", "id")
    if event.get("type") not in accepted:
        raise BadInput("unknown_type", f"{str(event.get('type'))[:100]!r} is not a payment message", "type")
    return event


@dataclass(frozen=True, slots=True)
class Attempted:
    payment: Payment
    result: ChargeResult | None  # None when this attempt had already been recorded (a redelivery)


@dataclass(frozen=True, slots=True)
class Handled:
    attempted: Attempted | None  # None for a closure, or a retry no longer awaited
    refunds: list[Refund]  # refunds finished while handling the message


def handle_payment_message(
    event: dict[str, Any], table: PaymentSide, gateway: Gateway, retry_days: tuple[int, ...], now: datetime
) -> Handled:
    """One PaymentQueue message (a parsed CloudEvent of an ACCEPTED type): charge, retry or settle.

    Every succeeded payment settles too, also on a redelivery: a crash may have come between the
    payment's commit and its settlement.
    """
    if event["type"] == AGREEMENT_CLOSED:
        return Handled(None, record_closure(event, table, gateway, now))
    charge = charge_new_invoice if event["type"] == INVOICE_ISSUED else retry_payment
    attempted = charge(event, table, gateway, retry_days, now)
    refunds: list[Refund] = []
    if attempted is not None and attempted.payment.status == "succeeded":
        refunds = settle(table, gateway, attempted.payment.agreement_id, now)
    return Handled(attempted, refunds)


def charge_new_invoice(
    event: dict[str, Any],
    table: PaymentStore,
    gateway: Gateway,
    retry_days: tuple[int, ...],
    now: datetime,
) -> Attempted | None:
    """First attempt for a `billing.invoice.issued` event.

    No read first: a replay or second delivery of the event charges with the same
    idempotency key (the gateway answers with what it did, taking nothing), and its
    record loses to the first one's conditional write (`Attempted.result` is None).
    """
    data = event["data"]
    document = data["document"]
    agreement_id = document["agreement_id"]
    payment = Payment(
        agreement_id=agreement_id,
        document_id=document["document_id"],
        amount_minor=invoice_amount_due(document),  # the total less the credit it applied
        currency=document["currency"],
        payment_method=data["payment_method"],
        status="pending",
        attempts=0,
        first_attempt_on=now.date(),
    )
    return _attempt(payment, table, gateway, retry_days, now)


def retry_payment(
    event: dict[str, Any],
    table: PaymentStore,
    gateway: Gateway,
    retry_days: tuple[int, ...],
    now: datetime,
) -> Attempted | None:
    """A scheduled retry (`billing.payment.retry_due`); None if it is no longer awaited."""
    data = event["data"]
    payment = table.payment(data["agreement_id"], data["document_id"])
    if payment is None or payment.status != "retrying" or payment.attempts + 1 != int(data["attempt"]):
        return None
    return _attempt(payment, table, gateway, retry_days, now)


def _attempt(
    payment: Payment, table: PaymentStore, gateway: Gateway, retry_days: tuple[int, ...], now: datetime
) -> Attempted:
    attempt = payment.attempts + 1
    request = ChargeRequest(
        idempotency_key=idempotency_key(payment.document_id, attempt),
        document_id=payment.document_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        payment_method=payment.payment_method,
    )
    result = reconciled(gateway, request)
    step = after_attempt(result, attempt, payment.first_attempt_on, retry_days)
    status = "retrying" if not step.final else ("succeeded" if step.succeeded else "failed")
    updated = replace(payment, status=status, attempts=attempt)
    events = []
    if step.final:
        events.append(
            payment_outcome(
                succeeded=step.succeeded,
                agreement_id=payment.agreement_id,
                document_id=payment.document_id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                attempts=attempt,
                reason=step.reason,
                at=now,
            )
        )
    retry_at = f"{step.retry_on.isoformat()}T00:00:00Z" if step.retry_on else None
    try:
        table.commit_payment(updated, previous_attempts=payment.attempts, retry_at=retry_at, events=events)
    except StaleState:
        return Attempted(updated, None)  # recorded by an earlier delivery of this attempt
    return Attempted(updated, result)
