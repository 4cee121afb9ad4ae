"""Settlement on the fakes (contract §4): credit applied by invoices, refunds once the agreement closes.

`Pipeline` runs the generator and hands every published event the payment queue would receive to
the payment side exactly as PaymentProcessor does (`handle_payment_message`), so each test reads as
the system's story: events in, runs, payments, refunds.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fakes import FakeBillingTable, MemoryLedger
from service_builders import agreement_event, at, created, send

from billing.domain.billing_events import AGREEMENT_CLOSED, INVOICE_ISSUED
from billing.domain.payments import ChargeResult, ChargeStatus, GatewayTimeout, RefundRequest, SandboxGateway
from billing.ports import StaleState
from billing.service.invoicing import bill_agreement
from billing.service.payments import OutcomeUnknown, handle_payment_message
from billing.service.settlement import settle

RETRY_DAYS = (1, 3, 7)


@dataclass
class Pipeline:
    table: FakeBillingTable
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    handled: set[str] = field(default_factory=set)

    @property
    def gateway(self) -> SandboxGateway:
        return SandboxGateway(self.ledger)

    def run(self, agreement_id: str, day: str) -> None:
        bill_agreement(self.table, agreement_id, at(day))

    def payment_queue(self) -> list[dict[str, Any]]:
        """Published events the PaymentQueue filter lets through, not handled yet, oldest first."""
        events = [json.loads(item["body"]) for item in self.table.outbox.values()]
        return [
            e
            for e in sorted(events, key=lambda e: e["time"])
            if e["id"] not in self.handled
            and (
                e["type"] == AGREEMENT_CLOSED
                or (e["type"] == INVOICE_ISSUED and e["data"]["document"]["amount_due_minor"] > 0)
            )
        ]

    def deliver(self, now: datetime, *, skip: str | None = None) -> None:
        for event in self.payment_queue():
            if event["type"] == skip:
                continue
            handle_payment_message(event, self.table, self.gateway, RETRY_DAYS, now)
            self.handled.add(event["id"])

    def settlement(self, agreement_id: str) -> tuple[int, int, int, int]:
        """(owed, charged, refunded, credit balance) of one agreement."""
        owed = sum(d.total_minor for d in self.table.documents(agreement_id))
        view = self.table.settlement(agreement_id)
        refunded = sum(
            r.amount_minor for r in (view.account.refunds if view.account else ()) if r.status == "succeeded"
        )
        balance = self.table.agreements[agreement_id].credit.balance_minor
        return owed, view.collected_minor, refunded, balance

    def types(self, agreement_id: str) -> list[str]:
        return sorted(self.table.event_types(agreement_id))


@pytest.fixture
def world(table: FakeBillingTable) -> Pipeline:
    return Pipeline(table)


def downgrade(agreement_id: str, version: int, effective: str, amount: int) -> dict[str, Any]:
    plan = {"amount_minor": amount, "currency": "EUR", "interval": "month", "interval_count": 1}
    return agreement_event("agreement.amended", agreement_id, version, effective_date=effective, plan=plan)


def cancel(agreement_id: str, version: int, effective: str) -> dict[str, Any]:
    return agreement_event("agreement.cancelled", agreement_id, version, effective_date=effective)


def paid_then_cancelled(world: Pipeline, agreement_id: str, payment_method: str = "pm_ok") -> None:
    """March invoiced and charged, then cancelled from Mar 11: the run of Mar 12 closes it."""
    send(world.table, created(agreement_id, payment_method=payment_method))
    world.run(agreement_id, "2026-03-01")
    world.deliver(at("2026-03-01", 1))
    send(world.table, cancel(agreement_id, 2, "2026-03-11"))
    world.run(agreement_id, "2026-03-12")


def test_a_credit_note_is_applied_by_the_next_invoice_which_charges_only_the_rest(world: Pipeline) -> None:
    send(world.table, created("agr-c"))
    world.run("agr-c", "2026-03-01")  # 1000 for March
    world.deliver(at("2026-03-01", 1))
    send(world.table, downgrade("agr-c", 2, "2026-03-01", 400))  # retroactive: March costs 400
    world.run("agr-c", "2026-03-02")  # credit note -600
    world.run("agr-c", "2026-04-01")  # April's 400, paid by the credit
    world.run("agr-c", "2026-05-01")  # May's 400: 200 of credit left, 200 charged
    world.deliver(at("2026-05-01", 1))
    docs = world.table.documents("agr-c")
    assert [(d.kind, d.total_minor, d.credit_applied_minor, d.amount_due_minor) for d in docs] == [
        ("invoice", 1000, 0, 1000),
        ("credit_note", -600, 0, -600),
        ("invoice", 400, 400, 0),
        ("invoice", 400, 200, 200),
    ]
    assert not docs[2].chargeable and docs[3].chargeable
    payments = {p.document_id: p.amount_minor for p in world.table.settlement("agr-c").payments}
    assert payments == {docs[0].document_id: 1000, docs[3].document_id: 200}  # the covered one is not charged
    owed, charged, refunded, balance = world.settlement("agr-c")
    assert (owed, charged, refunded, balance) == (1200, 1200, 0, 0)
    assert charged - refunded - balance == owed


def test_cancelling_a_paid_agreement_refunds_its_credit_once(world: Pipeline) -> None:
    paid_then_cancelled(world, "agr-r")
    world.deliver(at("2026-03-12", 1))
    credit_note = world.table.documents("agr-r")[-1]
    assert credit_note.kind == "credit_note"
    account = world.table.settlement("agr-r").account
    assert account is not None and account.owed_minor == 1000 + credit_note.total_minor
    [refund] = account.refunds
    assert (refund.refund_id, refund.amount_minor, refund.status) == (
        "agr-r:refund-1",
        -credit_note.total_minor,
        "succeeded",
    )
    assert world.ledger.refunded_minor() == -credit_note.total_minor
    owed, charged, refunded, balance = world.settlement("agr-r")
    assert balance == 0 and charged - refunded - balance == owed
    assert world.types("agr-r") == [
        "billing.agreement.closed",
        "billing.credit_note.issued",
        "billing.invoice.issued",
        "billing.payment.succeeded",
        "billing.refund.succeeded",
    ]
    # Every message again (a redelivery, a replay): nothing moves twice.
    world.handled.clear()
    world.deliver(at("2026-03-12", 2))
    assert len(world.table.settlement("agr-r").account.refunds) == 1  # type: ignore[union-attr]
    assert world.ledger.refunded_minor() == -credit_note.total_minor


def test_credit_for_an_invoice_never_paid_offsets_the_debt_and_is_never_paid_out(world: Pipeline) -> None:
    paid_then_cancelled(world, "agr-s", "pm_stolen")
    world.deliver(at("2026-03-12", 1))
    account = world.table.settlement("agr-s").account
    assert account is not None and account.refunds == ()
    assert world.ledger.refunded_minor() == 0
    assert world.table.agreements["agr-s"].credit.balance_minor == 0


def test_a_payment_that_succeeds_after_the_closure_is_refunded_too(world: Pipeline) -> None:
    send(world.table, created("agr-late"))
    world.run("agr-late", "2026-03-01")
    send(world.table, cancel("agr-late", 2, "2026-03-11"))
    world.run("agr-late", "2026-03-12")
    world.deliver(at("2026-03-12", 1), skip=INVOICE_ISSUED)  # the closure first: nothing collected yet
    account = world.table.settlement("agr-late").account
    assert account is not None and account.refunds == ()
    world.deliver(at("2026-03-13", 1))  # the charge arrives late and succeeds: now overpaid
    owed, charged, refunded, balance = world.settlement("agr-late")
    assert (charged, refunded, balance) == (1000, 1000 - owed, 0)
    assert world.ledger.refunded_minor() == 1000 - owed


def test_a_refund_that_times_out_after_paying_is_reconciled_not_paid_twice(world: Pipeline) -> None:
    paid_then_cancelled(world, "agr-t", "pm_timeout_once")
    world.deliver(at("2026-03-12", 1))
    [refund] = world.table.settlement("agr-t").account.refunds  # type: ignore[union-attr]
    assert refund.status == "succeeded"
    assert [k for k in world.ledger.requests if k.startswith("agr-t:refund")] == ["agr-t:refund-1"]


def test_a_refund_the_gateway_cannot_confirm_stays_pending_and_the_retry_finishes_it(
    world: Pipeline,
) -> None:
    paid_then_cancelled(world, "agr-u")

    class Lost(SandboxGateway):
        """The refund is paid, then the answer and the gateway's record of it are out of reach."""

        def refund(self, request: RefundRequest) -> ChargeResult:
            super().refund(request)
            raise GatewayTimeout("lost")

        def find(self, idempotency_key: str) -> ChargeResult | None:
            return None

    [closed] = [e for e in world.payment_queue() if e["type"] == AGREEMENT_CLOSED]
    with pytest.raises(OutcomeUnknown):
        handle_payment_message(closed, world.table, Lost(world.ledger), RETRY_DAYS, at("2026-03-12", 1))
    [pending] = world.table.settlement("agr-u").account.refunds  # type: ignore[union-attr]
    assert pending.status == "pending"
    handle_payment_message(closed, world.table, world.gateway, RETRY_DAYS, at("2026-03-12", 2))
    [done] = world.table.settlement("agr-u").account.refunds  # type: ignore[union-attr]
    assert (done.refund_id, done.status) == (pending.refund_id, "succeeded")
    assert world.ledger.refunded_minor() == pending.amount_minor  # the same key: paid once


def test_a_refused_refund_is_published_as_failed_and_never_retried_into_a_second_payout(
    world: Pipeline,
) -> None:
    paid_then_cancelled(world, "agr-f")

    class Refusing(SandboxGateway):
        def refund(self, request: RefundRequest) -> ChargeResult:
            return ChargeResult(request.idempotency_key, ChargeStatus.HARD_DECLINED, "account_closed")

    [closed] = [e for e in world.payment_queue() if e["type"] == AGREEMENT_CLOSED]
    handled = handle_payment_message(
        closed, world.table, Refusing(world.ledger), RETRY_DAYS, at("2026-03-12")
    )
    assert [r.status for r in handled.refunds] == ["failed"]
    assert "billing.refund.failed" in world.types("agr-f")
    assert settle(world.table, world.gateway, "agr-f", at("2026-03-13")) == []


def test_two_settlements_racing_on_one_agreement_make_one_refund(world: Pipeline) -> None:
    paid_then_cancelled(world, "agr-race")
    world.deliver(at("2026-03-12", 1), skip=AGREEMENT_CLOSED)
    [closed] = world.payment_queue()
    save = world.table.save_refund
    raced = []

    def rival_first(account: Any, refund: Any, events: Any = ()) -> None:
        if not raced:  # another settle of the same agreement commits the same pending refund first
            raced.append(True)
            save(account, refund, events)
            raise StaleState("lost the race")
        save(account, refund, events)

    world.table.save_refund = rival_first  # type: ignore[method-assign]
    handle_payment_message(closed, world.table, world.gateway, RETRY_DAYS, at("2026-03-12", 1))
    refunds = world.table.settlement("agr-race").account.refunds  # type: ignore[union-attr]
    assert [r.status for r in refunds] == ["succeeded"]
    owed, charged, refunded, _ = world.settlement("agr-race")
    assert charged - refunded == owed


def test_a_late_adjustment_after_the_closure_closes_again_and_refunds_only_the_difference(
    world: Pipeline,
) -> None:
    send(world.table, created("agr-adj"))
    world.run("agr-adj", "2026-03-01")
    world.deliver(at("2026-03-01", 1))
    send(world.table, cancel("agr-adj", 3, "2026-03-21"))
    world.run("agr-adj", "2026-03-22")
    world.deliver(at("2026-03-22", 1))
    send(world.table, downgrade("agr-adj", 2, "2026-03-01", 400))  # arrives late, below the cancellation
    world.run("agr-adj", "2026-03-23")
    world.deliver(at("2026-03-23", 1))
    account = world.table.settlement("agr-adj").account
    assert account is not None and account.closure == 2
    assert [r.refund_id for r in account.refunds] == ["agr-adj:refund-1", "agr-adj:refund-2"]
    owed, charged, refunded, balance = world.settlement("agr-adj")
    assert balance == 0 and charged - refunded == owed
