"""Settle closed agreements: pay back what was collected beyond what is owed, once (contract §4).

Triggered by `billing.agreement.closed` and by every succeeded payment (a retry that succeeds
after the closure leaves the customer overpaid). Each trigger first writes its own fact (the
closure, the payment) and then reads the other side consistently, so of two racing triggers the
later one always sees both: no refund is missed, and none is made twice, because a refund is
recorded as pending, under a conditional write, before any money moves, and its id is the
gateway's idempotency key. A redelivery finishes a pending refund with the same key; a timeout is
reconciled with `find` like a charge, or the message is retried.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.domain.billing_events import BillingEvent, refund_outcome
from billing.domain.payments import ChargeStatus, RefundRequest, reconciled
from billing.domain.settlement import Refund, refund_id, refundable, with_refund
from billing.ports import Gateway, SettlementAccount, SettlementStore, StaleState

_MAX_TRIES = 10


def record_closure(
    event: dict[str, Any], table: SettlementStore, gateway: Gateway, now: datetime
) -> list[Refund]:
    """Store a `billing.agreement.closed` (a redelivery or an older closure changes nothing), then settle."""
    data = event["data"]
    agreement_id = str(data["agreement_id"])
    table.record_closure(
        SettlementAccount(
            agreement_id=agreement_id,
            currency=str(data["currency"]),
            payment_method=str(data["payment_method"]),
            owed_minor=int(data["owed_minor"]),
            closure=int(data["closure"]),
            refunds=(),
            ver=0,
        )
    )
    return settle(table, gateway, agreement_id, now)


def settle(table: SettlementStore, gateway: Gateway, agreement_id: str, now: datetime) -> list[Refund]:
    """Finish a refund under way, then refund what is refundable; the refunds finished by this call.

    Nothing happens before the agreement is closed. Raises OutcomeUnknown when the gateway cannot
    tell whether a refund happened (the message is retried and finishes it with the same key).
    """
    finished: list[Refund] = []
    for _ in range(_MAX_TRIES):
        view = table.settlement(agreement_id)
        account = view.account
        if account is None:
            return finished
        pending = next((r for r in account.refunds if r.status == "pending"), None)
        if pending is None:
            amount = refundable(view.collected_minor, account.owed_minor, account.refunds)
            if amount == 0:
                return finished
            pending = Refund(refund_id(agreement_id, len(account.refunds) + 1), amount, "pending")
            try:
                table.save_refund(account, pending)  # the key is fixed before any money moves
            except StaleState:
                continue
            account = replace(account, refunds=with_refund(account.refunds, pending), ver=account.ver + 1)
        done = _execute(account, pending, gateway, now)
        try:
            table.save_refund(account, done.refund, [done.event])
        except StaleState:
            continue  # another delivery recorded this refund first
        finished.append(done.refund)
    raise RuntimeError(f"settlement of {agreement_id} kept changing; the message will be retried")


@dataclass(frozen=True, slots=True)
class _Done:
    refund: Refund
    event: BillingEvent


def _execute(account: SettlementAccount, pending: Refund, gateway: Gateway, now: datetime) -> _Done:
    request = RefundRequest(
        idempotency_key=pending.refund_id,
        agreement_id=account.agreement_id,
        amount_minor=pending.amount_minor,
        currency=account.currency,
        payment_method=account.payment_method,
    )
    result = reconciled(gateway, request)
    succeeded = result.status is ChargeStatus.SUCCEEDED
    refund = replace(pending, status="succeeded" if succeeded else "failed")
    event = refund_outcome(
        succeeded=succeeded,
        agreement_id=account.agreement_id,
        refund_id=refund.refund_id,
        amount_minor=refund.amount_minor,
        currency=account.currency,
        reason=result.reason,
        at=now,
    )
    return _Done(refund, event)
