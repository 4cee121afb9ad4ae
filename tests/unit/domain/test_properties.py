"""Hypothesis properties of the billing rules (contract §2 "consequences the tests rely on")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from domain_builders import (
    PROPERTY,
    amended,
    cancelled,
    created,
    ev,
    net_by_period,
    oracle_expected,
    oracle_price,
    run_days,
)
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.agreements import AgreementEvent, fold
from billing.domain.engine import bill, clear_cache, next_bill_date, period_amount
from billing.domain.money import round_half_up
from billing.domain.periods import boundary

BASE = date(2026, 1, 1)
HORIZON = 100  # days of runs
PLANS = [("day", 1), ("day", 3), ("week", 1), ("week", 2), ("month", 1), ("month", 2), ("year", 1)]
CURRENCIES = ["JPY", "EUR", "KWD", "CLF"]


@dataclass
class Agreement:
    events: list[AgreementEvent]  # one created, some amendments, maybe a cancellation

    def applied(self) -> tuple[list[AgreementEvent], date | None]:
        """The version-order reading of the contract, written independently of fold()."""
        cancels = sorted((e for e in self.events if e.type == "agreement.cancelled"), key=lambda e: e.version)
        limit = cancels[0].version if cancels else None
        kept = [
            e for e in self.events if e.type != "agreement.cancelled" and (limit is None or e.version < limit)
        ]
        made = next(e for e in self.events if e.type == "agreement.created")
        if limit is not None and made.version > limit:
            return [made], made.start_date  # void: cancelled "before" it was created
        return kept, (cancels[0].effective_date if cancels else None)


@st.composite
def agreements(draw, max_amendments: int = 3, cancel: bool | None = None) -> Agreement:
    interval, count = draw(st.sampled_from(PLANS))
    currency = draw(st.sampled_from(CURRENCIES))
    start = BASE + timedelta(days=draw(st.integers(0, 40)))
    n_amend = draw(st.integers(0, max_amendments))
    has_cancel = draw(st.booleans()) if cancel is None else cancel
    n = 1 + n_amend + int(has_cancel)
    versions = draw(st.permutations(range(1, n + 1)))
    amount = st.integers(0, 10**7)
    day = st.integers(-10, HORIZON).map(lambda x: (BASE + timedelta(days=x)).isoformat())
    raws = [
        created(
            version=versions[0],
            start=start.isoformat(),
            amount=draw(amount),
            currency=currency,
            interval=interval,
            count=count,
        )
    ]
    for i in range(n_amend):
        raws.append(
            amended(
                version=versions[1 + i],
                effective=draw(day),
                amount=draw(amount),
                currency=currency,
                interval=interval,
                count=count,
            )
        )
    if has_cancel:
        raws.append(cancelled(version=versions[-1], effective=draw(day)))
    return Agreement([ev(r) for r in raws])


@st.composite
def schedules(draw, agreement: Agreement) -> dict[date, list[AgreementEvent]]:
    """Each event delivered on some day (any order, days late), some of them several times."""
    out: dict[date, list[AgreementEvent]] = {}
    for event in agreement.events:
        for _ in range(draw(st.integers(1, 3))):
            on = BASE + timedelta(days=draw(st.integers(0, HORIZON - 1)))
            out.setdefault(on, []).append(event)
    for events in out.values():
        order = draw(st.permutations(range(len(events))))
        events[:] = [events[i] for i in order]
    return out


LAST = BASE + timedelta(days=HORIZON)
ALL_RUNS = [BASE + timedelta(days=i) for i in range(HORIZON + 1)]


def final_expectation(agreement: Agreement) -> dict[tuple[date, date], int]:
    applied, cancel = agreement.applied()
    return oracle_expected(applied, LAST, cancel)


@PROPERTY
@given(st.data())
def test_any_delivery_order_ends_with_the_version_order_net(data):
    """(1) Whatever the order, duplication and delay of deliveries, once all are known and a run
    happened, the net issued per period is the period's amount under the version-order state."""
    agreement = data.draw(agreements())
    docs = run_days(data.draw(schedules(agreement)), ALL_RUNS)
    expected = final_expectation(agreement)
    assert net_by_period(docs) == expected
    # Delivered all at once, in version order, before the first run: the same net.
    in_order = sorted(agreement.events, key=lambda e: e.version)
    assert net_by_period(run_days({BASE: in_order}, ALL_RUNS)) == expected


@PROPERTY
@given(st.data())
def test_rerunning_a_day_issues_nothing(data):
    """(2) After a run on day L, another run on L (with or without the memo) issues nothing."""
    agreement = data.draw(agreements())
    state = fold(agreement.events).state
    docs = []
    for today in sorted(data.draw(st.sets(st.sampled_from(ALL_RUNS), min_size=1, max_size=6))):
        doc = bill(state, docs, today)
        if doc is not None:
            docs.append(doc)
        assert bill(state, docs, today) is None
        clear_cache()
        assert bill(state, docs, today) is None


@PROPERTY
@given(st.data())
def test_skipping_runs_changes_issue_dates_never_the_final_net(data):
    """(3) Missed runs are caught up: only issue dates move."""
    agreement = data.draw(agreements())
    schedule = data.draw(schedules(agreement))
    skipped = data.draw(st.sets(st.sampled_from(ALL_RUNS[:-1])))
    full = run_days(schedule, ALL_RUNS)
    partial = run_days(schedule, [r for r in ALL_RUNS if r not in skipped])
    assert net_by_period(partial) == net_by_period(full)
    assert len(partial) <= len(full)
    assert all(doc.issue_date not in skipped for doc in partial)


@PROPERTY
@given(
    st.sampled_from(PLANS),
    st.sampled_from(CURRENCIES),
    st.integers(0, 10**12),
    st.dates(date(2000, 1, 1), date(2199, 1, 1)),
)
def test_without_changes_a_year_of_periods_costs_amount_times_periods(plan, currency, amount, start):
    """(4) No amendment, no cancellation: a year of runs bills exactly amount x periods."""
    interval, count = plan
    state = fold(
        [
            ev(
                created(
                    start=start.isoformat(), amount=amount, currency=currency, interval=interval, count=count
                )
            )
        ]
    ).state
    last = start + timedelta(days=364)
    periods = 0
    while boundary(start, interval, count, periods) <= last:
        periods += 1
    docs, today = [], start
    while today is not None and today <= last:
        doc = bill(state, docs, today)
        if doc is not None:
            docs.append(doc)
        today = next_bill_date(state, docs, today)
    assert sum(doc.total_minor for doc in docs) == amount * periods
    assert all(line.amount_minor == amount for doc in docs for line in doc.lines)


@PROPERTY
@given(st.data())
def test_each_piece_is_within_one_minor_unit_of_the_exact_pro_rata(data):
    """(5) A period is split where the price changes and at the cancellation; each piece is the
    exact pro-rata rounded half up, so it is less than one minor unit from it."""
    agreement = data.draw(agreements(max_amendments=4))
    state = fold(agreement.events).state
    applied, cancel = agreement.applied()
    k = data.draw(st.integers(0, 30))
    start = boundary(state.start_date, state.interval, state.interval_count, k)
    end = boundary(state.start_date, state.interval, state.interval_count, k + 1)
    n = (end - start).days
    pieces: list[tuple[int, int]] = []  # (price, days), consecutive days of one price
    day = start
    while day < end and (cancel is None or day < cancel):
        price = oracle_price(applied, day)
        if pieces and pieces[-1][0] == price:
            pieces[-1] = (price, pieces[-1][1] + 1)
        else:
            pieces.append((price, 1))
        day += timedelta(days=1)
    rounded = [round_half_up(Fraction(p * used, n)) for p, used in pieces]
    for (p, used), r in zip(pieces, rounded, strict=True):
        assert abs(r - Fraction(p * used, n)) < 1
    assert period_amount(state, start, end) == sum(rounded)


@PROPERTY
@given(st.data())
def test_the_memo_never_changes_a_result(data):
    """bill/next_bill_date memoise per agreement; a full recomputation gives the same answers."""
    agreement = data.draw(agreements())
    schedule = data.draw(schedules(agreement))
    runs = sorted(data.draw(st.sets(st.sampled_from(ALL_RUNS), min_size=1)))
    fast, slow = [], []
    known: list[AgreementEvent] = []
    for today in runs:
        for on in sorted(schedule):
            if on <= today:
                known.extend(e for e in schedule.pop(on))
        state = fold(known).state
        if state is None:
            continue
        doc = bill(state, fast, today)
        if doc is not None:
            fast.append(doc)
        nxt = next_bill_date(state, fast, today)
        clear_cache()
        doc2 = bill(state, slow, today)
        if doc2 is not None:
            slow.append(doc2)
        clear_cache()
        assert doc == doc2
        assert nxt == next_bill_date(state, slow, today)


@PROPERTY
@given(st.data())
def test_next_bill_date_is_the_first_day_bill_issues_something(data):
    """The scheduler and preview sleep until next_bill_date: no day before it issues anything."""
    agreement = data.draw(agreements())
    state = fold(agreement.events).state
    docs = []
    today = BASE + timedelta(days=data.draw(st.integers(-5, 30)))
    for _ in range(6):
        doc = bill(state, docs, today)
        if doc is not None:
            docs.append(doc)
        nxt = next_bill_date(state, docs, today)
        if nxt is None:
            clear_cache()
            assert bill(state, docs, today + timedelta(days=400)) is None
            return
        assert nxt > today
        for gap in range(1, min((nxt - today).days, 40)):
            clear_cache()
            assert bill(state, docs, today + timedelta(days=gap)) is None
        clear_cache()
        assert bill(state, docs, nxt) is not None
        today = nxt
