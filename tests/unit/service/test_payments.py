"""Payments on the fakes: charge once, schedule soft-decline retries, ignore duplicates, reconcile."""

import json
from datetime import date
from typing import Any

import pytest
from fakes import FakeBillingTable, MemoryLedger, sandbox_gateway
from service_builders import at, created, send

from billing.domain.billing_events import INVOICE_ISSUED, payment_retry_due
from billing.domain.errors import BadInput
from billing.domain.payments import GatewayTimeout, SandboxGateway
from billing.service.invoicing import bill_agreement
from billing.service.payments import (
    OutcomeUnknown,
    charge_new_invoice,
    parse_payment_message,
    retry_payment,
)

RETRY_DAYS = (1, 3, 7)


def issued_invoice(table: FakeBillingTable, agreement_id: str, payment_method: str) -> dict[str, Any]:
    send(table, created(agreement_id, payment_method=payment_method))
    bill_agreement(table, agreement_id, at("2026-03-01"))
    [item] = table.events_of(agreement_id)
    event: dict[str, Any] = json.loads(item["body"])
    return event


def retry_event(agreement_id: str, document_id: str, attempt: int, day: str) -> dict[str, Any]:
    return payment_retry_due(
        agreement_id=agreement_id, document_id=document_id, attempt=attempt, at=at(day)
    ).body


def test_an_invoice_is_charged_and_its_success_recorded(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-ok", "pm_ok")
    attempted = charge_new_invoice(event, table, sandbox_gateway(), RETRY_DAYS, at("2026-03-01", 0, 6))
    assert attempted is not None and attempted.result is not None
    assert (attempted.payment.status, attempted.payment.attempts) == ("succeeded", 1)
    stored = table.payment("agr-ok", attempted.payment.document_id)
    assert stored == attempted.payment
    assert table.event_types("agr-ok") == ["billing.invoice.issued", "billing.payment.succeeded"]


def test_a_duplicate_delivery_charges_nothing_and_records_nothing(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-dup", "pm_ok")
    ledger = MemoryLedger()
    gateway = SandboxGateway(ledger)
    charge_new_invoice(event, table, gateway, RETRY_DAYS, at("2026-03-01", 0, 6))
    again = charge_new_invoice(event, table, gateway, RETRY_DAYS, at("2026-03-01", 0, 7))
    assert again is not None and again.result is None  # recorded by the first delivery
    assert len(ledger.results) == 1
    assert table.event_types("agr-dup") == ["billing.invoice.issued", "billing.payment.succeeded"]


def test_a_soft_decline_is_retried_on_the_schedule_then_fails(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-sd", "pm_insufficient_funds")
    gateway = sandbox_gateway()
    first = charge_new_invoice(event, table, gateway, RETRY_DAYS, at("2026-03-01", 0, 6))
    assert first is not None
    document_id = first.payment.document_id
    assert (first.payment.status, first.payment.first_attempt_on) == ("retrying", date(2026, 3, 1))
    assert table.payments[("agr-sd", document_id)][1] == f"2026-03-02T00:00:00Z#PAY#{document_id}#2"
    for attempt, day in ((2, "2026-03-02"), (3, "2026-03-04"), (4, "2026-03-08")):
        retried = retry_payment(
            retry_event("agr-sd", document_id, attempt, day), table, gateway, RETRY_DAYS, at(day)
        )
        assert retried is not None and retried.payment.attempts == attempt
    assert table.payment("agr-sd", document_id).status == "failed"  # type: ignore[union-attr]
    assert table.payments[("agr-sd", document_id)][1] is None  # off the due index
    assert table.event_types("agr-sd")[-1] == "billing.payment.failed"


def test_a_retry_no_longer_awaited_is_ignored(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-old", "pm_ok")
    done = charge_new_invoice(event, table, sandbox_gateway(), RETRY_DAYS, at("2026-03-01", 0, 6))
    assert done is not None
    stale = retry_event("agr-old", done.payment.document_id, 2, "2026-03-02")
    assert retry_payment(stale, table, sandbox_gateway(), RETRY_DAYS, at("2026-03-02")) is None
    assert (
        retry_payment(
            retry_event("nobody", "d", 2, "2026-03-02"),
            table,
            sandbox_gateway(),
            RETRY_DAYS,
            at("2026-03-02"),
        )
        is None
    )


def test_a_timeout_after_the_charge_is_reconciled_with_find(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-to", "pm_timeout_once")
    attempted = charge_new_invoice(event, table, sandbox_gateway(), RETRY_DAYS, at("2026-03-01", 0, 6))
    assert attempted is not None and attempted.payment.status == "succeeded"


def test_a_timeout_the_gateway_does_not_know_is_retried_later(table: FakeBillingTable) -> None:
    event = issued_invoice(table, "agr-lost", "pm_ok")

    class Lost:
        def charge(self, request: object) -> object:
            raise GatewayTimeout("no answer")

        def find(self, key: str) -> None:
            return None

    with pytest.raises(OutcomeUnknown):
        charge_new_invoice(event, table, Lost(), RETRY_DAYS, at("2026-03-01", 0, 6))  # type: ignore[arg-type]
    assert table.payments == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        (json.dumps(["a list"]), "not_cloudevent"),
        (json.dumps({"id": "x", "type": "billing.something"}), "unknown_type"),
    ],
)
def test_bad_payment_messages_are_bad_input(body: str, code: str) -> None:
    with pytest.raises(BadInput) as raised:
        parse_payment_message(body, frozenset({INVOICE_ISSUED}))
    assert raised.value.code == code
