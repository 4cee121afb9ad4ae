"""The sandbox gateway (CONTRACT §4) and the retry policy, on an in-memory ledger."""

from datetime import date

import pytest

from billing.domain.payments import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    GatewayTimeout,
    SandboxGateway,
    after_attempt,
    idempotency_key,
)


class MemoryLedger:
    def __init__(self) -> None:
        self.results: dict[str, ChargeResult] = {}
        self.writes = 0

    def get(self, key: str) -> ChargeResult | None:
        return self.results.get(key)

    def put_if_absent(self, request: ChargeRequest, result: ChargeResult) -> ChargeResult:
        self.writes += 1
        return self.results.setdefault(request.idempotency_key, result)


def request(method: str, attempt: int = 1) -> ChargeRequest:
    return ChargeRequest(idempotency_key("doc_1", attempt), "doc_1", 1999, "EUR", method)


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("pm_ok", ChargeStatus.SUCCEEDED),
        ("pm_insufficient_funds", ChargeStatus.SOFT_DECLINED),
        ("pm_stolen", ChargeStatus.HARD_DECLINED),
        ("pm_unknown", ChargeStatus.HARD_DECLINED),
    ],
)
def test_outcome_is_decided_by_the_payment_method(method: str, status: ChargeStatus) -> None:
    assert SandboxGateway(MemoryLedger()).charge(request(method)).status is status


def test_a_repeated_key_returns_the_first_result_and_charges_once() -> None:
    ledger = MemoryLedger()
    gateway = SandboxGateway(ledger)
    first = gateway.charge(request("pm_ok"))
    again = gateway.charge(request("pm_ok"))
    assert first == again
    assert len(ledger.results) == 1


def test_timeout_once_takes_the_money_then_times_out_and_find_tells() -> None:
    ledger = MemoryLedger()
    gateway = SandboxGateway(ledger)
    with pytest.raises(GatewayTimeout):
        gateway.charge(request("pm_timeout_once"))
    found = gateway.find(idempotency_key("doc_1", 1))
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
    assert gateway.charge(request("pm_timeout_once")).status is ChargeStatus.SUCCEEDED
    assert len(ledger.results) == 1


def test_find_of_an_unknown_key_is_none() -> None:
    assert SandboxGateway(MemoryLedger()).find("nope") is None


RETRY_DAYS = (1, 3, 7)
SOFT = ChargeResult("k", ChargeStatus.SOFT_DECLINED, "insufficient_funds")


@pytest.mark.parametrize(
    ("attempt", "retry_on"), [(1, date(2026, 3, 2)), (2, date(2026, 3, 4)), (3, date(2026, 3, 8))]
)
def test_soft_declines_retry_after_1_3_and_7_days_from_the_first_attempt(
    attempt: int, retry_on: date
) -> None:
    step = after_attempt(SOFT, attempt, date(2026, 3, 1), RETRY_DAYS)
    assert not step.final and step.retry_on == retry_on


def test_soft_decline_after_the_last_retry_fails_with_the_reason() -> None:
    step = after_attempt(SOFT, 4, date(2026, 3, 1), RETRY_DAYS)
    assert step.final and not step.succeeded and step.reason == "insufficient_funds"


def test_hard_decline_fails_at_once() -> None:
    step = after_attempt(
        ChargeResult("k", ChargeStatus.HARD_DECLINED, "stolen_card"), 1, date(2026, 3, 1), RETRY_DAYS
    )
    assert step.final and not step.succeeded and step.retry_on is None


def test_success_is_final() -> None:
    step = after_attempt(ChargeResult("k", ChargeStatus.SUCCEEDED), 2, date(2026, 3, 1), RETRY_DAYS)
    assert step.final and step.succeeded


def test_each_attempt_has_its_own_idempotency_key() -> None:
    assert idempotency_key("doc_1", 1) != idempotency_key("doc_1", 2)
