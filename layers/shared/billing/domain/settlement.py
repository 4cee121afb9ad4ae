"""Settlement (contract §4): the credit balance, what a cancellation releases, and what is refunded.

Two halves, each pure, each used by the service on its side of the billing topic:

- The generator keeps an agreement's **credit balance**. A credit note adds its amount; each later
  invoice applies as much as it can (`credit_applied_minor`) and is charged only the rest. When the
  agreement is cancelled and nothing more will be billed, the run **closes** it: the balance goes to
  0 and a closure (the agreement's total owed, the credit it released) is published.
- The payment side refunds from what the money says, not from the balance: refundable is what was
  collected, less every refund already made or under way, less what is owed. Credit for invoices
  that were never paid therefore offsets that debt and is never paid out; a payment that succeeds
  after the closure is refunded too; and no refund ever exceeds money received and not yet returned.

When every payment succeeds the two agree: collected − owed is exactly the balance released, so
per agreement ``charged − refunded − credit_balance = owed`` at every step.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .documents import CREDIT_NOTE, INVOICE, Document

__all__ = [
    "Closure",
    "CreditAccount",
    "Refund",
    "RunSettlement",
    "refund_id",
    "refundable",
    "settle_run",
    "with_refund",
]


@dataclass(frozen=True, slots=True)
class CreditAccount:
    """The generator's settlement state of one agreement."""

    balance_minor: int = 0
    closures: int = 0  # how many times the agreement was closed (a late adjustment closes it again)


@dataclass(frozen=True, slots=True)
class Closure:
    """A cancelled agreement with nothing more to bill: what it owes in all, and the credit released."""

    closure: int
    owed_minor: int
    released_minor: int


@dataclass(frozen=True, slots=True)
class RunSettlement:
    document: Document | None  # the run's document with its credit applied
    account: CreditAccount
    closure: Closure | None


def settle_run(
    account: CreditAccount, issued: Sequence[Document], document: Document | None, *, finished: bool
) -> RunSettlement:
    """Apply the balance to the run's new document; close the agreement if it is `finished`.

    `issued` is every document before this one; `finished` means cancelled with nothing more due. A
    finished agreement closes the first time, and again after any later document (an adjustment
    that changes what it owes); a run that issues nothing changes nothing.
    """
    balance = account.balance_minor
    if not finished and balance == 0 and (document is None or document.kind == INVOICE):
        return RunSettlement(document, account, None)  # the common case: no credit, nothing to close
    if document is not None and document.kind == CREDIT_NOTE:
        balance -= document.total_minor  # a credit note's total is negative: money owed back
    elif document is not None and document.kind == INVOICE:
        document = document.with_credit(min(balance, max(document.total_minor, 0)))
        balance -= document.credit_applied_minor
    if not finished or (document is None and account.closures > 0) or (document is None and not issued):
        return RunSettlement(document, CreditAccount(balance, account.closures), None)
    everything = (*issued, document) if document is not None else tuple(issued)
    closure = Closure(account.closures + 1, sum(d.total_minor for d in everything), balance)
    return RunSettlement(document, CreditAccount(0, closure.closure), closure)


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    amount_minor: int
    status: str  # pending | succeeded | failed


def with_refund(refunds: Sequence[Refund], refund: Refund) -> tuple[Refund, ...]:
    """`refunds` with `refund` added, or replacing the one with its id (in place: ids stay in order)."""
    if any(r.refund_id == refund.refund_id for r in refunds):
        return tuple(refund if r.refund_id == refund.refund_id else r for r in refunds)
    return (*refunds, refund)


def refund_id(agreement_id: str, n: int) -> str:
    """The refund's id, also its gateway idempotency key: the n-th refund of the agreement."""
    return f"{agreement_id}:refund-{n}"


def refundable(collected_minor: int, owed_minor: int, refunds: Iterable[Refund]) -> int:
    """What a closed agreement can be refunded now: collected − owed − every refund made or under way.

    A failed refund counts as made: it is published (`billing.refund.failed`) for a person to act on,
    never retried into a second payout.
    """
    return max(0, collected_minor - owed_minor - sum(r.amount_minor for r in refunds))
