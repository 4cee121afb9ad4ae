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
import hashlib
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from .agreements import AgreementState, PriceStep
from .errors import BadInput
from .money import prorate
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
]

INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Line:
    period_start: date
    period_end: date
    amount_minor: int

    def to_json(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "amount_minor": self.amount_minor,
        }


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    kind: str  # "invoice" | "credit_note"
    agreement_id: str
    issue_date: date
    currency: str
    total_minor: int
    lines: tuple[Line, ...]
    seq: int  # 1-based index among the agreement's documents

    @property
    def chargeable(self) -> bool:
        """An invoice with a positive total is charged; credit notes and zero invoices are not."""
        return self.kind == INVOICE and self.total_minor > 0

    def to_json(self) -> dict[str, Any]:
        """The contract §5 document object (seq is not part of it)."""
        return {
            "document_id": self.document_id,
            "kind": self.kind,
            "agreement_id": self.agreement_id,
            "issue_date": self.issue_date.isoformat(),
            "currency": self.currency,
            "total_minor": self.total_minor,
            "lines": [line.to_json() for line in self.lines],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], seq: int) -> Document:
        """Read back a `to_json` object; raises BadInput(invalid_field) if it is not one."""
        if not isinstance(data, Mapping):
            raise BadInput("invalid_field", "a document is a JSON object", "document")
        raw_lines = data.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise BadInput("invalid_field", "must be a non-empty array", "document.lines")
        lines = tuple(
            Line(
                _json_date(item, "period_start", f"document.lines[{i}]"),
                _json_date(item, "period_end", f"document.lines[{i}]"),
                _json_int(item, "amount_minor", f"document.lines[{i}]"),
            )
            for i, item in enumerate(raw_lines)
        )
        doc = cls(
            document_id=_json_str(data, "document_id", "document"),
            kind=_json_str(data, "kind", "document"),
            agreement_id=_json_str(data, "agreement_id", "document"),
            issue_date=_json_date(data, "issue_date", "document"),
            currency=_json_str(data, "currency", "document"),
            total_minor=_json_int(data, "total_minor", "document"),
            lines=lines,
            seq=seq,
        )
        if doc.total_minor != sum(line.amount_minor for line in lines):
            raise BadInput("invalid_field", "total_minor is not the sum of the lines", "document.total_minor")
        if doc.kind != _kind(doc.total_minor):
            raise BadInput(
                "invalid_field", f"{doc.kind!r} does not match total {doc.total_minor}", "document.kind"
            )
        if seq < 1:
            raise ValueError("seq is 1-based")
        return doc


def _json_str(data: Any, key: str, where: str) -> str:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise BadInput("invalid_field", "must be a non-empty string", f"{where}.{key}")
    return value


def _json_int(data: Any, key: str, where: str) -> int:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput("invalid_field", "must be an integer", f"{where}.{key}")
    return value


def _json_date(data: Any, key: str, where: str) -> date:
    value = _json_str(data, key, where)
    if not _DATE_RE.fullmatch(value):
        raise BadInput("invalid_field", f"{value!r} is not an ISO date", f"{where}.{key}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput("invalid_field", f"{value!r} is not a calendar date", f"{where}.{key}") from None


def _kind(total_minor: int) -> str:
    return INVOICE if total_minor >= 0 else CREDIT_NOTE


def document_id(agreement_id: str, seq: int) -> str:
    """Deterministic id of an agreement's `seq`-th document: ``doc_`` + 32 hex of SHA-256.

    The same in preview and in the deployed pipeline; a re-run that issues the
    same document again produces the same id (and the store refuses a second one).
    """
    key = f"{len(agreement_id)}:{agreement_id}:{seq}"  # length-prefixed: unambiguous
    return "doc_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


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


def period_amount(state: AgreementState, start: date, end: date) -> int:
    """What the period ``[start, end)`` costs under `state` (contract §2).

    Split where the price changes and at the cancellation date; each piece
    ``[a, b)`` with price p costs ``round_half_up(p * (b - a) / (end - start))``;
    the part on or after the cancellation costs nothing.
    """
    cancel = state.cancel_date
    if cancel is not None and start >= cancel:
        return 0
    prices = state.prices
    stop = end if cancel is None or cancel >= end else cancel
    if len(prices) == 1 and stop is end:
        return prices[0].amount_minor  # one price for the whole period: no proration
    days = (end - start).days
    i = _step_index(prices, start)
    total = 0
    a = start
    while True:
        b = prices[i + 1].effective_date if i + 1 < len(prices) else stop
        b = min(b, stop)
        total += prorate(prices[i].amount_minor, (b - a).days, days)
        if b >= stop:
            return total
        a = b
        i += 1


def expected_amount(state: AgreementState, k: int) -> tuple[date, date, int]:
    """Period `k` of the agreement and its amount: ``(period_start, period_end, amount_minor)``."""
    start = boundary(state.start_date, state.interval, state.interval_count, k)
    end = boundary(state.start_date, state.interval, state.interval_count, k + 1)
    return start, end, period_amount(state, start, end)


def period_amount_if_period(state: AgreementState, start: date, end: date) -> int:
    """`period_amount` if ``[start, end)`` is a period of the agreement's plan, else 0."""
    if start < state.start_date:
        return 0
    k = index_of(state.start_date, state.interval, state.interval_count, start)
    p_start, p_end, amount = expected_amount(state, k)
    return amount if (p_start, p_end) == (start, end) else 0


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
    future: dict[tuple[date, date], int]  # issued amounts for periods starting after today
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
            amount = period_amount(state, start, end)
            if amount:
                lines.append(Line(start, end, amount))
            start = end
        return _Scan(lines, {}, k, start)

    # Full recomputation: what was issued per period, against what is due.
    issued = _issued_per_period(state, docs)
    k = 0
    start = anchor
    while start <= today and (cancel is None or start < cancel):
        k += 1
        end = boundary(anchor, interval, count, k)
        diff = period_amount(state, start, end) - issued.pop((start, end), 0)
        if diff:
            lines.append(Line(start, end, diff))
        start = end
    future: dict[tuple[date, date], int] = {}
    for (p_start, p_end), amount in issued.items():
        if p_start > today:
            future[(p_start, p_end)] = amount
        elif amount:
            # Issued for a period that is not (or no longer) billable: cancelled, or
            # not a period of this plan at all. Its amount under the state is 0.
            lines.append(Line(p_start, p_end, -amount))
    lines.sort(key=_line_order)
    return _Scan(lines, future, k, start)


def _issued_per_period(state: AgreementState, docs: Sequence[Document]) -> dict[tuple[date, date], int]:
    issued: dict[tuple[date, date], int] = {}
    for doc in docs:
        if doc.agreement_id != state.agreement_id:
            raise ValueError(
                f"document {doc.document_id} is {doc.agreement_id}'s, not {state.agreement_id}'s"
            )
        if doc.currency != state.currency:
            continue  # amounts in another currency cannot be netted (see docs/BILLING.md)
        for line in doc.lines:
            key = (line.period_start, line.period_end)
            issued[key] = issued.get(key, 0) + line.amount_minor
    return issued


def _line_order(line: Line) -> tuple[date, date]:
    return line.period_start, line.period_end


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
        start
        for (start, end), amount in future.items()
        if period_amount_if_period(state, start, end) != amount
    ]
    cancel = state.cancel_date
    anchor, interval, count = state.start_date, state.interval, state.interval_count
    k, start = scan.k, scan.k_start
    while cancel is None or start < cancel:
        end = boundary(anchor, interval, count, k + 1)
        if (start, end) not in future:
            if period_amount(state, start, end):
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
