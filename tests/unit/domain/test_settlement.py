"""The settlement rules, pure: the credit balance, closures, and what is refundable."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.documents import CREDIT_NOTE, INVOICE, Document, Line
from billing.domain.settlement import CreditAccount, Refund, refundable, settle_run


def doc(seq: int, total: int) -> Document:
    line = Line(date(2026, 3, 1), date(2026, 4, 1), total)
    kind = INVOICE if total >= 0 else CREDIT_NOTE
    return Document(f"doc-{seq}", kind, "agr-1", date(2026, 3, 1), "EUR", total, (line,), seq)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.integers(-5_000, 5_000).filter(bool), max_size=12), st.integers(0, 12))
def test_credit_is_applied_or_released_never_lost_and_charged_minus_balance_is_owed(
    totals: list[int], cancel_after: int
) -> None:
    account, issued, released = CreditAccount(), [], 0
    for seq, total in enumerate(totals, 1):
        settled = settle_run(account, issued, doc(seq, total), finished=seq >= cancel_after)
        assert settled.document is not None
        new = settled.document
        assert 0 <= new.credit_applied_minor <= max(new.total_minor, 0)
        assert settled.account.balance_minor >= 0
        issued.append(new)
        account = settled.account
        if settled.closure is not None:
            assert settled.account.balance_minor == 0
            assert settled.closure.owed_minor == sum(d.total_minor for d in issued)
            released += settled.closure.released_minor
    credit = -sum(d.total_minor for d in issued if d.kind == CREDIT_NOTE)
    applied = sum(d.credit_applied_minor for d in issued)
    assert applied + account.balance_minor + released == credit
    charged = sum(d.amount_due_minor for d in issued if d.kind == INVOICE)
    owed = sum(d.total_minor for d in issued)
    assert charged - account.balance_minor - released == owed  # every invoice paid: refund = released


def test_a_finished_agreement_closes_once_until_another_document_comes() -> None:
    first = settle_run(CreditAccount(), [doc(1, 1000)], doc(2, -600), finished=True)
    assert first.closure is not None and (first.closure.closure, first.closure.released_minor) == (1, 600)
    again = settle_run(first.account, [doc(1, 1000), doc(2, -600)], None, finished=True)
    assert again.closure is None
    later = settle_run(first.account, [doc(1, 1000), doc(2, -600)], doc(3, -100), finished=True)
    assert later.closure is not None and (later.closure.closure, later.closure.owed_minor) == (2, 300)


def test_an_agreement_with_no_document_never_closes() -> None:
    assert settle_run(CreditAccount(), [], None, finished=True).closure is None


def test_refundable_is_collected_beyond_owed_less_refunds_made_or_under_way() -> None:
    assert refundable(1000, 400, []) == 600
    assert refundable(1000, 400, [Refund("r1", 600, "pending")]) == 0
    assert refundable(1000, 400, [Refund("r1", 200, "failed")]) == 400  # a failed one is not paid again
    assert refundable(300, 400, []) == 0  # credit for unpaid invoices offsets the debt
