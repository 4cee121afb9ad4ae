"""Builders for the domain tests: CloudEvents, parsed events, a tiny run loop, an oracle."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, settings

from billing.domain.agreements import AgreementEvent, AgreementState, fold, parse_event
from billing.domain.engine import Document, bill
from billing.domain.money import round_half_up
from billing.domain.periods import boundary

# A moderate Hypothesis profile for the domain properties, applied per test (never
# globally, so other suites keep their own settings). BILLING_HYPOTHESIS_EXAMPLES=2000
# digs deeper.
PROPERTY = settings(
    max_examples=int(os.environ.get("BILLING_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def plan(
    amount: int = 1000,
    currency: str = "JPY",
    interval: str = "month",
    count: int = 1,
    tax_rate: str | None = None,
    tax_inclusive: bool | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "amount_minor": amount,
        "currency": currency,
        "interval": interval,
        "interval_count": count,
    }
    if tax_rate is not None:
        out["tax_rate"] = tax_rate
    if tax_inclusive is not None:
        out["tax_inclusive"] = tax_inclusive
    return out


def envelope(type_: str, data: dict[str, Any], event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {
        "specversion": "1.0",
        "id": event_id or f"{data.get('agreement_id', 'x')}-v{data.get('version', 0)}",
        "source": "urn:example:purchases",
        "type": type_,
        "time": "2026-01-31T10:15:00Z",
        "subject": data.get("agreement_id", "x") if isinstance(data, dict) else "x",
        "datacontenttype": "application/json",
        "data": data,
    }
    body.update(extra)
    return body


def created(
    agreement_id: str = "agr-1",
    version: int = 1,
    start: str = "2026-03-01",
    tz: str | None = "UTC",
    amount: int = 1000,
    currency: str = "JPY",
    interval: str = "month",
    count: int = 1,
    payment_method: str = "pm_ok",
    event_id: str | None = None,
    tax_rate: str | None = None,
    tax_inclusive: bool | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "agreement_id": agreement_id,
        "customer_id": "cus-1",
        "version": version,
        "start_date": start,
        "plan": plan(amount, currency, interval, count, tax_rate, tax_inclusive),
        "payment_method": payment_method,
        "customer_email": "ana@example.com",
    }
    if tz is not None:
        data["timezone"] = tz
    return envelope("agreement.created", data, event_id)


def amended(
    agreement_id: str = "agr-1",
    version: int = 2,
    effective: str = "2026-03-16",
    amount: int = 2000,
    currency: str = "JPY",
    interval: str = "month",
    count: int = 1,
    payment_method: str | None = None,
    event_id: str | None = None,
    tax_rate: str | None = None,
    tax_inclusive: bool | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "agreement_id": agreement_id,
        "version": version,
        "effective_date": effective,
        "plan": plan(amount, currency, interval, count, tax_rate, tax_inclusive),
    }
    if payment_method is not None:
        data["payment_method"] = payment_method
    return envelope("agreement.amended", data, event_id)


def cancelled(
    agreement_id: str = "agr-1", version: int = 3, effective: str = "2026-03-11", event_id: str | None = None
) -> dict[str, Any]:
    data = {"agreement_id": agreement_id, "version": version, "effective_date": effective}
    return envelope("agreement.cancelled", data, event_id)


def ev(raw: dict[str, Any]) -> AgreementEvent:
    return parse_event(copy.deepcopy(raw))


def state_of(*raws: dict[str, Any]) -> AgreementState:
    st = fold(ev(r) for r in raws).state
    assert st is not None
    return st


def d(text: str) -> date:
    return date.fromisoformat(text)


def days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def net_by_period(docs: Sequence[Document]) -> dict[tuple[date, date], int]:
    out: dict[tuple[date, date], int] = {}
    for doc in docs:
        for line in doc.lines:
            key = (line.period_start, line.period_end)
            out[key] = out.get(key, 0) + line.amount_minor
    return {k: v for k, v in out.items() if v}


def run_days(
    events_by_day: dict[date, list[AgreementEvent]],
    run_dates: Iterable[date],
    docs: list[Document] | None = None,
) -> list[Document]:
    """A minimal pipeline for one agreement: events arrive before the run of their day; each run bills."""
    docs = [] if docs is None else docs
    known: list[AgreementEvent] = []
    run_list = sorted(run_dates)
    pending = sorted(events_by_day.items())
    i = 0
    for today in run_list:
        while i < len(pending) and pending[i][0] <= today:
            known.extend(pending[i][1])
            i += 1
        st = fold(known).state
        if st is None:
            continue
        doc = bill(st, docs, today)
        if doc is not None:
            docs.append(doc)
    return docs


# --------------------------------------------------------------------------- oracle


def oracle_price(events: Sequence[AgreementEvent], day: date) -> int:
    """Contract wording: the highest-version event among created and amendments effective on/before `day`."""
    best = None
    for e in events:
        eff = e.start_date if e.type == "agreement.created" else e.effective_date
        if e.type == "agreement.cancelled" or eff is None:
            continue
        applies = e.type == "agreement.created" or eff <= day
        if applies and (best is None or e.version > best.version):
            best = e
    assert best is not None and best.plan is not None
    return best.plan.amount_minor


def oracle_period_amount(
    events: Sequence[AgreementEvent], start: date, end: date, cancel: date | None
) -> int:
    """Day by day: group consecutive days of equal price, stop at the cancellation, round each piece."""
    n = (end - start).days
    total = 0
    piece_days, piece_price = 0, None
    for day in days(start, end - timedelta(days=1)):
        if cancel is not None and day >= cancel:
            break
        price = oracle_price(events, day)
        if price != piece_price and piece_days:
            total += round_half_up(Fraction(piece_price * piece_days, n))  # type: ignore[operator]
            piece_days = 0
        piece_price = price
        piece_days += 1
    if piece_days:
        total += round_half_up(Fraction(piece_price * piece_days, n))  # type: ignore[operator]
    return total


def oracle_expected(
    events: Sequence[AgreementEvent], today: date, cancel: date | None
) -> dict[tuple[date, date], int]:
    """Every due period's amount (non-zero only) for a single created + amendments, by the oracle."""
    created_ev = next(e for e in events if e.type == "agreement.created")
    assert created_ev.plan is not None and created_ev.start_date is not None
    p = created_ev.plan
    out = {}
    k = 0
    while True:
        s = boundary(created_ev.start_date, p.interval, p.interval_count, k)
        e = boundary(created_ev.start_date, p.interval, p.interval_count, k + 1)
        if s > today or (cancel is not None and s >= cancel):
            break
        amount = oracle_period_amount(events, s, e, cancel)
        if amount:
            out[(s, e)] = amount
        k += 1
    return out
