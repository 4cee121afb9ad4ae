"""The billing engine: recompute what each due period should cost, issue the difference.

Contract §2. `bill(state, issued, today)` compares, for every period that starts
on or before `today`, the period's amount under `state` with what the issued
documents already say for that period, and returns one document with a line
per differing period (or None). The same function does the first invoice, the
catch-up after missed runs, the adjustment after a late amendment and the credit
note after a cancellation: there is no other billing path.

Pure: no clock, no I/O. `bill` and `next_bill_date` memoise, per agreement, how
far the documents already settle the periods under an unchanged state, so a run
costs O(new periods) instead of O(history); the memo is a cache only (the result
is always the same as a full recomputation, which the tests check).
"""

from __future__ import annotations

import contextlib
import functools
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Final
from zoneinfo import ZoneInfo

from .agreements import AgreementState, PriceStep
from .documents import CREDIT_NOTE, INVOICE, Document, Line, document_id
from .money import prorate, round_half_up
from .periods import boundary, index_of

__all__ = [
    "CREDIT_NOTE",
    "INVOICE",
    "Document",
    "Line",
    "bill",
    "bill_and_next",
    "clear_cache",
    "document_id",
    "expected_amount",
    "local_date",
    "midnight_utc",
    "next_bill_date",
    "period_amount",
    "period_amounts",
    "taxed",
]

# --------------------------------------------------------------------------- time


def local_date(instant: datetime, timezone: str) -> date:
    """The date on the wall calendar of `timezone` at `instant` (timezone-aware)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(ZoneInfo(timezone)).date()


def midnight_utc(local: date, timezone: str) -> datetime:
    """The first UTC instant whose local date in `timezone` is `local` (or later).

    DST-safe: where midnight does not exist (a gap at 00:00) it is the end of the
    gap; where it happens twice, the first one; where the whole day was skipped
    (Pacific/Apia, 2011-12-30) the start of the next day.
    """
    zone = ZoneInfo(timezone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


# --------------------------------------------------------------------------- amounts


def _step_index(prices: tuple[PriceStep, ...], day: date) -> int:
    return max(bisect_right(prices, day, key=_step_date) - 1, 0)


def _step_date(step: PriceStep) -> date:
    return step.effective_date


# A period's amount, per tax rate: rate -> (net, tax), rates with nothing to bill left out.
Amounts = dict[str, tuple[int, int]]


@functools.cache
def _rate(text: str) -> Fraction:
    return Fraction(text)


def taxed(part: int, rate: str, inclusive: bool) -> tuple[int, int]:
    """(net, tax) of a price part at `rate` percent (contract §2 "Taxes"), rounded half up, exactly.

    Exclusive: the part is net and the tax is added. Inclusive: the part already holds the tax,
    so net + tax == part to the minor unit.
    """
    if rate == "0":
        return part, 0
    if inclusive:
        net = round_half_up(Fraction(part * 100) / (100 + _rate(rate)))
        return net, part - net
    return part, round_half_up(part * _rate(rate) / 100)


def _add(amounts: Amounts, rate: str, net: int, tax: int) -> None:
    if net or tax:
        was_net, was_tax = amounts.get(rate, (0, 0))
        amounts[rate] = (was_net + net, was_tax + tax)


def period_amounts(state: AgreementState, start: date, end: date) -> Amounts:
    """What the period ``[start, end)`` costs under `state`, per tax rate (contract §2).

    Split where the price, the rate or inclusiveness changes and at the cancellation date; each
    piece ``[a, b)`` has the price part ``round_half_up(p * (b - a) / (end - start))``, taxed on its
    own; the part on or after the cancellation costs nothing.
    """
    cancel = state.cancel_date
    if cancel is not None and start >= cancel:
        return {}
    prices = state.prices
    stop = end if cancel is None or cancel >= end else cancel
    out: Amounts = {}
    if len(prices) == 1 and stop is end:
        step = prices[0]  # one price for the whole period: no proration
        _add(out, step.tax_rate, *taxed(step.amount_minor, step.tax_rate, step.tax_inclusive))
        return out
    days = (end - start).days
    i = _step_index(prices, start)
    a = start
    while True:
        step = prices[i]
        b = min(prices[i + 1].effective_date if i + 1 < len(prices) else stop, stop)
        part = prorate(step.amount_minor, (b - a).days, days)
        _add(out, step.tax_rate, *taxed(part, step.tax_rate, step.tax_inclusive))
        if b >= stop:
            return out
        a = b
        i += 1


def period_amount(state: AgreementState, start: date, end: date) -> int:
    """What the period ``[start, end)`` costs under `state`, tax included."""
    return sum(net + tax for net, tax in period_amounts(state, start, end).values())


def expected_amount(state: AgreementState, k: int) -> tuple[date, date, int]:
    """Period `k` and its amount, tax included: ``(period_start, period_end, amount_minor)``."""
    start = boundary(state.start_date, state.interval, state.interval_count, k)
    end = boundary(state.start_date, state.interval, state.interval_count, k + 1)
    return start, end, period_amount(state, start, end)


def _amounts_if_period(state: AgreementState, start: date, end: date) -> Amounts:
    """`period_amounts` if ``[start, end)`` is a period of the agreement's plan, else nothing."""
    if start < state.start_date:
        return {}
    k = index_of(state.start_date, state.interval, state.interval_count, start)
    p_start = boundary(state.start_date, state.interval, state.interval_count, k)
    p_end = boundary(state.start_date, state.interval, state.interval_count, k + 1)
    return period_amounts(state, start, end) if (p_start, p_end) == (start, end) else {}


def _rate_order(rate: str) -> Fraction:
    return _rate(rate)


def _lines(start: date, end: date, expected: Amounts, issued: Amounts) -> list[Line]:
    """One line per rate whose net or tax differs from what was issued, ordered by rate."""
    lines = []
    for rate in sorted(expected.keys() | issued.keys(), key=_rate_order):
        net, tax = expected.get(rate, (0, 0))
        was_net, was_tax = issued.get(rate, (0, 0))
        if net != was_net or tax != was_tax:
            lines.append(Line(start, end, net - was_net, tax - was_tax, rate))
    return lines


# --------------------------------------------------------------------------- memo
#
# After a scan on local date `through`, every period starting on or before
# `through` is settled by the documents under `state`. The cursor (k, k_start)
# is the first period the scan did not examine: it starts after `through`, or
# on/after the cancellation date (so it and everything after cost nothing). A
# later call with an equal state, the same documents (plus the one the memo's own
# bill() issued) and a later date only has to look at periods from the cursor on.
#
# An agreement's documents are an append-only log (seq 1..n, each stored once), so
# "the same documents" is checked in O(1): the same count, and the same first and
# last document (identical or equal). Copying or comparing the whole history on
# every call would make a year of a daily plan quadratic.


@dataclass(slots=True)
class _Memo:
    state: AgreementState
    count: int
    first: Document | None
    last: Document | None
    through: date
    k: int
    k_start: date


_MEMO: dict[str, _Memo] = {}
_MEMO_MAX: Final = 65_536


def clear_cache() -> None:
    """Forget the memo (tests use it to compare the memoised path with a full recomputation)."""
    _MEMO.clear()


def _remember(
    state: AgreementState,
    issued: Sequence[Document],
    new: Document | None,
    through: date,
    k: int,
    k_start: date,
) -> None:
    count = len(issued) + (new is not None)
    first = issued[0] if issued else new
    last = new if new is not None else (issued[-1] if issued else None)
    # A new entry, assigned in one step: a reader in another thread sees the old
    # memo or the new one, never a mix of both.
    key = state.agreement_id
    known = key in _MEMO
    _MEMO[key] = _Memo(state, count, first, last, through, k, k_start)
    if not known and len(_MEMO) > _MEMO_MAX:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread got there first
            del _MEMO[next(iter(_MEMO))]  # the oldest entry


def _same(a: Document | None, b: Document | None) -> bool:
    return a is b or a == b


def _recall(state: AgreementState, issued: Sequence[Document], today: date) -> _Memo | None:
    memo = _MEMO.get(state.agreement_id)
    if memo is None or today < memo.through:
        return None
    if memo.state is not state and memo.state != state:
        return None
    if len(issued) != memo.count:
        return None
    if issued and not (_same(issued[-1], memo.last) and _same(issued[0], memo.first)):
        return None
    return memo


# --------------------------------------------------------------------------- billing


@dataclass(slots=True)
class _Scan:
    lines: list[Line]
    future: dict[tuple[date, date], Amounts]  # issued amounts for periods starting after today
    k: int  # the cursor: first period not examined (starts after today, or on/after the cancellation)
    k_start: date


def _scan(state: AgreementState, docs: Sequence[Document], today: date) -> _Scan:
    anchor, interval, count = state.start_date, state.interval, state.interval_count
    cancel = state.cancel_date
    lines: list[Line] = []
    memo = _recall(state, docs, today)
    if memo is not None:
        # Fast path: periods before the cursor are settled and no line exists after it.
        k, start = memo.k, memo.k_start
        while start <= today and (cancel is None or start < cancel):
            k += 1
            end = boundary(anchor, interval, count, k)
            lines += _lines(start, end, period_amounts(state, start, end), {})
            start = end
        return _Scan(lines, {}, k, start)

    # Full recomputation: what was issued per (period, rate), against what is due.
    issued = _issued_per_period(state, docs)
    k = 0
    start = anchor
    while start <= today and (cancel is None or start < cancel):
        k += 1
        end = boundary(anchor, interval, count, k)
        lines += _lines(start, end, period_amounts(state, start, end), issued.pop((start, end), {}))
        start = end
    future: dict[tuple[date, date], Amounts] = {}
    for (p_start, p_end), amounts in issued.items():
        if p_start > today:
            future[(p_start, p_end)] = amounts
        else:
            # Issued for a period that is not (or no longer) billable: cancelled, or
            # not a period of this plan at all. Its amount under the state is nothing.
            lines += _lines(p_start, p_end, {}, amounts)
    lines.sort(key=_line_order)
    return _Scan(lines, future, k, start)


def _issued_per_period(state: AgreementState, docs: Sequence[Document]) -> dict[tuple[date, date], Amounts]:
    issued: dict[tuple[date, date], Amounts] = {}
    for doc in docs:
        if doc.agreement_id != state.agreement_id:
            raise ValueError(
                f"document {doc.document_id} is {doc.agreement_id}'s, not {state.agreement_id}'s"
            )
        if doc.currency != state.currency:
            continue  # amounts in another currency cannot be netted (see docs/BILLING.md)
        for line in doc.lines:
            _add(
                issued.setdefault((line.period_start, line.period_end), {}),
                line.tax_rate,
                line.net_minor,
                line.tax_minor,
            )
    return issued


def _line_order(line: Line) -> tuple[date, date, Fraction]:
    return line.period_start, line.period_end, _rate(line.tax_rate)


def _issue(state: AgreementState, docs: Sequence[Document], today: date) -> tuple[Document | None, _Scan]:
    scan = _scan(state, docs, today)
    if not scan.lines:
        if not scan.future:
            _remember(state, docs, None, today, scan.k, scan.k_start)
        return None, scan
    total = 0
    for line in scan.lines:
        total += line.amount_minor
    seq = len(docs) + 1
    doc = Document(
        document_id(state.agreement_id, seq),
        INVOICE if total >= 0 else CREDIT_NOTE,
        state.agreement_id,
        today,
        state.currency,
        total,
        tuple(scan.lines),
        seq,
    )
    if not scan.future:
        _remember(state, docs, doc, today, scan.k, scan.k_start)
    return doc, scan


def _next_after(state: AgreementState, scan: _Scan) -> date | None:
    """First date after the scanned day with something to bill, all periods up to it being settled."""
    future = scan.future
    candidates = [
        start for (start, end), amounts in future.items() if _amounts_if_period(state, start, end) != amounts
    ]
    cancel = state.cancel_date
    anchor, interval, count = state.start_date, state.interval, state.interval_count
    k, start = scan.k, scan.k_start
    while cancel is None or start < cancel:
        end = boundary(anchor, interval, count, k + 1)
        if (start, end) not in future:
            if period_amounts(state, start, end):
                candidates.append(start)
                break
            # A zero-priced period: jump to the period holding the next price change.
            i = _step_index(state.prices, start) + 1
            if i >= len(state.prices):
                break
            change = state.prices[i].effective_date
            jump = index_of(anchor, interval, count, change)
            if jump > k + 1:
                k = jump
                start = boundary(anchor, interval, count, k)
                continue
        k += 1
        start = end
    return min(candidates) if candidates else None


def bill(state: AgreementState, issued: Sequence[Document], today: date) -> Document | None:
    """The document the run on local date `today` issues for this agreement, or None.

    Every period with start <= today is due; each due period whose amount under
    `state` differs from the sum of the `issued` lines for that period gets one
    line with the difference. `issued` is every document of the agreement so far,
    in seq order; the new document has ``seq = len(issued) + 1``.
    """
    return _issue(state, issued, today)[0]


def next_bill_date(state: AgreementState, issued: Sequence[Document], today: date) -> date | None:
    """The earliest local date after `today` on which `bill` would issue something, if
    no new event arrives; None when nothing will ever be due again (cancelled and
    settled, or a zero price forever).
    """
    scan = _scan(state, issued, today)
    if scan.lines:
        return today + timedelta(days=1)
    if not scan.future:
        _remember(state, issued, None, today, scan.k, scan.k_start)
    return _next_after(state, scan)


def bill_and_next(
    state: AgreementState, issued: Sequence[Document], today: date
) -> tuple[Document | None, date | None]:
    """``bill(state, issued, today)``, then ``next_bill_date(state, issued + [doc], today)``,
    in one pass: what a run does for each agreement."""
    doc, scan = _issue(state, issued, today)
    return doc, _next_after(state, scan)
