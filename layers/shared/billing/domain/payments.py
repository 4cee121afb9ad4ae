"""Payments: the gateway port, the sandbox gateway of CONTRACT §4 (charges and refunds), the retry policy.

A real provider implements `PaymentGateway`; the processor never knows which
one it talks to. Every charge carries an idempotency key, one per attempt of
one invoice: a redelivered or retried attempt reuses its key, so the gateway
never takes the money twice for it; a soft-decline retry is a new attempt with
a new key (the previous attempt took nothing).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    SOFT_DECLINED = "soft_declined"
    HARD_DECLINED = "hard_declined"


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    idempotency_key: str
    document_id: str
    amount_minor: int
    currency: str
    payment_method: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Pay money back to the payment method (contract §4 "Settlement"); the key is the refund's id."""

    idempotency_key: str
    agreement_id: str
    amount_minor: int
    currency: str
    payment_method: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """What the gateway did with a charge or a refund (a refund only succeeds or hard-declines)."""

    idempotency_key: str
    status: ChargeStatus
    reason: str | None = None


class GatewayTimeout(Exception):
    """The gateway did not answer in time: the charge may or may not have happened."""


class OutcomeUnknown(Exception):
    """The gateway timed out and does not know the charge or refund yet: retry the message later."""


class PaymentGateway(Protocol):
    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge once per idempotency key; a repeated key returns the first result."""
        ...

    def refund(self, request: RefundRequest) -> ChargeResult:
        """Refund once per idempotency key; a repeated key returns the first result."""
        ...

    def find(self, idempotency_key: str) -> ChargeResult | None:
        """What happened to the charge or refund with this key, or None if the gateway never saw it."""
        ...


def reconciled(gateway: PaymentGateway, request: ChargeRequest | RefundRequest) -> ChargeResult:
    """Charge or refund; when the gateway times out, what `find` says happened under the request's
    key (OutcomeUnknown when it does not know yet: ask again later with the same key)."""
    try:
        if isinstance(request, RefundRequest):
            return gateway.refund(request)
        return gateway.charge(request)
    except GatewayTimeout:
        found = gateway.find(request.idempotency_key)
        if found is None:
            raise OutcomeUnknown(request.idempotency_key) from None
        return found


def idempotency_key(document_id: str, attempt: int) -> str:
    return f"{document_id}:attempt-{attempt}"


class LedgerStore(Protocol):
    """Where the sandbox gateway keeps what it did (DynamoDB when deployed, memory in tests)."""

    def get(self, idempotency_key: str) -> ChargeResult | None: ...

    def put_if_absent(self, request: ChargeRequest | RefundRequest, result: ChargeResult) -> ChargeResult:
        """Record the result unless the key is known: `result` itself when recorded now, else the
        result recorded before."""
        ...


_SANDBOX_OUTCOMES = {
    "pm_ok": (ChargeStatus.SUCCEEDED, None),
    "pm_timeout_once": (ChargeStatus.SUCCEEDED, None),
    "pm_insufficient_funds": (ChargeStatus.SOFT_DECLINED, "insufficient_funds"),
    "pm_stolen": (ChargeStatus.HARD_DECLINED, "stolen_card"),
}


class SandboxGateway:
    """Deterministic by payment method (CONTRACT §4). Unknown methods are hard declines."""

    def __init__(self, ledger: LedgerStore) -> None:
        self._ledger = ledger

    def charge(self, request: ChargeRequest) -> ChargeResult:
        status, reason = _SANDBOX_OUTCOMES.get(
            request.payment_method, (ChargeStatus.HARD_DECLINED, "unknown_method")
        )
        return self._once(request, ChargeResult(request.idempotency_key, status, reason))

    def refund(self, request: RefundRequest) -> ChargeResult:
        """Methods that can be charged take refunds; a stolen card or an unknown method refuses."""
        status, reason = _SANDBOX_OUTCOMES.get(
            request.payment_method, (ChargeStatus.HARD_DECLINED, "unknown_method")
        )
        if status is ChargeStatus.SOFT_DECLINED:
            status, reason = ChargeStatus.SUCCEEDED, None  # paying money back needs no funds
        return self._once(request, ChargeResult(request.idempotency_key, status, reason))

    def _once(self, request: ChargeRequest | RefundRequest, result: ChargeResult) -> ChargeResult:
        recorded = self._ledger.put_if_absent(request, result)  # one write; a read only for a repeat
        if recorded is not result:
            return recorded  # this key was seen before: its first result, no money moves again
        if request.payment_method == "pm_timeout_once":
            # The money moves, then the answer is lost: the caller must reconcile with find().
            raise GatewayTimeout(f"gateway timed out for {request.idempotency_key}")
        return recorded

    def find(self, idempotency_key: str) -> ChargeResult | None:
        return self._ledger.get(idempotency_key)


@dataclass(frozen=True, slots=True)
class NextStep:
    """What to do after an attempt: finish (succeeded or failed) or retry on a date."""

    final: bool
    succeeded: bool = False
    retry_on: date | None = None
    reason: str | None = None


def after_attempt(
    result: ChargeResult, attempt: int, first_attempt_on: date, retry_days: tuple[int, ...]
) -> NextStep:
    """Soft declines retry after each of `retry_days` (counted from the first attempt), then fail."""
    if result.status is ChargeStatus.SUCCEEDED:
        return NextStep(final=True, succeeded=True)
    if result.status is ChargeStatus.SOFT_DECLINED and attempt <= len(retry_days):
        return NextStep(final=False, retry_on=first_attempt_on + timedelta(days=retry_days[attempt - 1]))
    return NextStep(final=True, reason=result.reason)
