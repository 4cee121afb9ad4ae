"""Taxes (contract §1 plan fields, §2 "Taxes"): per piece, per (period, rate), exact and half up."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from domain_builders import PROPERTY, amended, cancelled, created, d, days, ev, run_days, state_of
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.agreements import AgreementEvent, parse_event
from billing.domain.engine import Document, bill, clear_cache, taxed
from billing.domain.errors import BadInput
from billing.domain.periods import boundary

RATES = ["0", "5", "7.7", "8.875", "16", "19", "21", "33.3333", "100"]


def eur(amount: int, rate: str, **kw) -> dict:
    return created(amount=amount, currency="EUR", tax_rate=rate, **kw)


def test_the_contract_worked_example_splits_the_march_invoice_by_rate():
    """€31.00 a month net at 19 %, 16 % from Mar 16 (known in advance)."""
    st_ = state_of(
        eur(3100, "19"), amended(effective="2026-03-16", amount=3100, currency="EUR", tax_rate="16")
    )
    invoice = bill(st_, [], d("2026-03-01"))
    assert invoice is not None
    assert [(line.tax_rate, line.net_minor, line.tax_minor) for line in invoice.lines] == [
        ("16", 1600, 256),
        ("19", 1500, 285),
    ]
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (3100, 541, 3641)
    body = invoice.to_json()
    assert (body["subtotal_minor"], body["tax_minor"], body["total_minor"]) == (3100, 541, 3641)
    assert body["lines"][0] == {
        "period_start": "2026-03-01",
        "period_end": "2026-04-01",
        "tax_rate": "16",
        "net_minor": 1600,
        "tax_minor": 256,
        "amount_minor": 1856,
    }
    assert Document.from_json(body, seq=1) == invoice


def test_a_late_rate_change_reverses_the_old_rate_line_and_charges_the_new_one():
    invoice = bill(state_of(eur(3100, "19")), [], d("2026-03-01"))
    late = state_of(
        eur(3100, "19"), amended(effective="2026-03-01", amount=3100, currency="EUR", tax_rate="16")
    )
    adjustment = bill(late, [invoice], d("2026-03-05"))
    assert [(line.tax_rate, line.net_minor, line.tax_minor) for line in adjustment.lines] == [
        ("16", 3100, 496),
        ("19", -3100, -589),
    ]
    assert adjustment.kind == "credit_note" and adjustment.total_minor == 496 - 589


def test_a_cancellation_credits_net_and_tax_separately():
    invoice = bill(state_of(eur(3100, "19")), [], d("2026-03-01"))
    ended = state_of(eur(3100, "19"), cancelled(version=2, effective="2026-03-11"))
    note = bill(ended, [invoice], d("2026-03-12"))
    used = round(Fraction(3100 * 10, 31))  # 1000 exactly
    assert [(line.net_minor, line.tax_minor) for line in note.lines] == [(used - 3100, 190 - 589)]
    assert invoice.total_minor + note.total_minor == 1000 + 190


def test_inclusive_prices_hold_the_tax_inside_the_price():
    doc = bill(
        state_of(created(amount=1000, currency="JPY", tax_rate="10", tax_inclusive=True)), [], d("2026-03-01")
    )
    (line,) = doc.lines
    assert (line.net_minor, line.tax_minor, line.amount_minor) == (909, 91, 1000)


@pytest.mark.parametrize(
    ("part", "rate", "inclusive", "expected"),
    [
        (1000, "19", False, (1000, 190)),
        (5, "10", False, (5, 1)),  # 0.5 rounds half up
        (1, "50", False, (1, 1)),  # 0.5 again
        (1000, "8.875", False, (1000, 89)),  # 88.75
        (1000, "10", True, (909, 91)),  # 909.09...
        (105, "5", True, (100, 5)),
        (0, "19", True, (0, 0)),
        (1234, "100", True, (617, 617)),
        (3, "0", True, (3, 0)),
    ],
)
def test_taxed_rounds_each_piece_half_up(part, rate, inclusive, expected):
    assert taxed(part, rate, inclusive) == expected


@given(st.integers(0, 10**12), st.sampled_from(RATES), st.booleans())
@PROPERTY
def test_net_plus_tax_of_an_inclusive_part_is_the_part(part, rate, inclusive):
    net, tax = taxed(part, rate, inclusive)
    exact_tax = (
        Fraction(part) * Fraction(rate) / (100 + Fraction(rate)) if inclusive else part * Fraction(rate) / 100
    )
    if inclusive:
        assert net + tax == part
    else:
        assert net == part
    assert abs(tax - exact_tax) <= Fraction(1, 2)


# --------------------------------------------------------------------------- bad tax input


@pytest.mark.parametrize(
    "field",
    [
        {"tax_rate": 19},
        {"tax_rate": 7.7},
        {"tax_rate": "05"},
        {"tax_rate": "1e2"},
        {"tax_rate": "-1"},
        {"tax_rate": "101"},
        {"tax_rate": "100.0001"},
        {"tax_rate": "19.12345"},
        {"tax_rate": ""},
        {"tax_rate": " 19"},
        {"tax_rate": "19."},
        {"tax_rate": ".5"},
        {"tax_rate": "19%"},
        {"tax_inclusive": "true"},
        {"tax_inclusive": 1},
        {"tax_inclusive": "false"},
    ],
)
def test_bad_tax_fields_are_rejected_with_a_reason(field):
    raw = eur(3100, "19")
    raw["data"]["plan"].update(field)
    with pytest.raises(BadInput) as caught:
        parse_event(raw)
    name = next(iter(field))
    assert caught.value.code == "invalid_field"
    assert caught.value.field == f"data.plan.{name}"


@pytest.mark.parametrize(
    ("given_rate", "canonical"),
    [("0", "0"), ("0.0000", "0"), ("7.7", "7.7"), ("19.50", "19.5"), ("100.0", "100"), ("8.875", "8.875")],
)
def test_rates_are_read_in_their_canonical_form(given_rate, canonical):
    event = ev(eur(3100, given_rate))
    assert event.plan.tax_rate == canonical


def test_an_event_without_tax_keeps_the_fingerprint_it_had_before_taxes():
    """Stored events predate the tax fields: their redelivery must still be recognised as themselves."""
    plain = ev(created())
    explicit_zero = ev(created(tax_rate="0", tax_inclusive=False))
    assert plain.fingerprint == explicit_zero.fingerprint
    assert "tax_rate" not in plain.plan.to_json()
    assert ev(created(tax_rate="19")).fingerprint != plain.fingerprint


def test_an_amendment_may_change_the_tax_but_not_the_currency():
    st_ = state_of(
        eur(3100, "19"),
        amended(effective="2026-04-01", amount=3100, currency="EUR", tax_rate="7.7", tax_inclusive=True),
    )
    assert [(s.tax_rate, s.tax_inclusive) for s in st_.prices] == [("19", False), ("7.7", True)]
    assert st_.plan.tax_rate == "7.7" and st_.plan.tax_inclusive


# --------------------------------------------------------------------------- the property


BASE = date(2026, 1, 1)
CURRENCIES = ["JPY", "EUR", "KWD"]  # 0, 2 and 3 minor digits


def oracle_amounts(events: list[AgreementEvent], start: date, end: date, cancel: date | None) -> dict:
    """Per rate (net, tax) of a period, day by day from the contract, written apart from the engine."""

    def plan_on(day: date):
        best = None
        for e in events:
            if e.type == "agreement.cancelled":
                continue
            applies = e.type == "agreement.created" or e.effective_date <= day
            if applies and (best is None or e.version > best.version):
                best = e
        return best.plan

    n = (end - start).days
    pieces: list[list] = []  # [plan key, days]
    for day in days(start, end - timedelta(days=1)):
        if cancel is not None and day >= cancel:
            break
        p = plan_on(day)
        key = (p.amount_minor, p.tax_rate, p.tax_inclusive)
        if pieces and pieces[-1][0] == key:
            pieces[-1][1] += 1
        else:
            pieces.append([key, 1])
    out: dict[str, tuple[int, int]] = {}
    for (amount, rate, inclusive), piece_days in pieces:
        part = Fraction(amount * piece_days, n)
        part_minor = int(part + Fraction(1, 2))  # half up (parts are never negative)
        r = Fraction(rate)
        if inclusive:
            net = int(Fraction(part_minor * 100) / (100 + r) + Fraction(1, 2))
            tax = part_minor - net
        else:
            net, tax = part_minor, int(part_minor * r / 100 + Fraction(1, 2))
        was = out.get(rate, (0, 0))
        out[rate] = (was[0] + net, was[1] + tax)
    return {rate: v for rate, v in out.items() if v != (0, 0)}


@st.composite
def taxed_agreements(draw):
    currency = draw(st.sampled_from(CURRENCIES))
    interval, count = draw(st.sampled_from([("day", 3), ("week", 1), ("month", 1)]))
    start = BASE + timedelta(days=draw(st.integers(0, 20)))
    n_amend = draw(st.integers(0, 3))
    has_cancel = draw(st.booleans())
    versions = draw(st.permutations(range(1, 2 + n_amend + int(has_cancel))))
    amount = st.integers(0, 10**6)
    rate = st.sampled_from(RATES)
    day = st.integers(-5, 70).map(lambda x: (BASE + timedelta(days=x)).isoformat())
    raws = [
        created(
            version=versions[0],
            start=start.isoformat(),
            amount=draw(amount),
            currency=currency,
            interval=interval,
            count=count,
            tax_rate=draw(rate),
            tax_inclusive=draw(st.booleans()),
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
                tax_rate=draw(rate),
                tax_inclusive=draw(st.booleans()),
            )
        )
    if has_cancel:
        raws.append(cancelled(version=versions[-1], effective=draw(day)))
    return [ev(r) for r in raws]


@PROPERTY
@given(st.data())
def test_whatever_the_order_and_timing_issued_net_and_tax_per_period_and_rate_are_the_expected(data):
    events = data.draw(taxed_agreements())
    arrival = {e.event_id: BASE + timedelta(days=data.draw(st.integers(0, 60))) for e in events}
    by_day: dict[date, list[AgreementEvent]] = {}
    for e in data.draw(st.permutations(events)):
        by_day.setdefault(arrival[e.event_id], []).append(e)
    last = BASE + timedelta(days=70)
    clear_cache()
    docs = run_days(by_day, days(BASE, last))

    issued: dict[tuple[date, date, str], tuple[int, int]] = {}
    for doc in docs:
        assert doc.total_minor == doc.subtotal_minor + doc.tax_minor
        for line in doc.lines:
            key = (line.period_start, line.period_end, line.tax_rate)
            was = issued.get(key, (0, 0))
            issued[key] = (was[0] + line.net_minor, was[1] + line.tax_minor)
    issued = {k: v for k, v in issued.items() if v != (0, 0)}

    # The version-order reading: amendments below the lowest cancellation; a void agreement bills nothing.
    cancels = sorted((e for e in events if e.type == "agreement.cancelled"), key=lambda e: e.version)
    made = next(e for e in events if e.type == "agreement.created")
    limit = cancels[0].version if cancels else None
    if limit is not None and made.version > limit:
        applied, cancel = [made], made.start_date
    else:
        applied = [
            e for e in events if e.type != "agreement.cancelled" and (limit is None or e.version < limit)
        ]
        cancel = cancels[0].effective_date if cancels else None
    expected: dict[tuple[date, date, str], tuple[int, int]] = {}
    k = 0
    while (start := boundary(made.start_date, made.plan.interval, made.plan.interval_count, k)) <= last:
        end = boundary(made.start_date, made.plan.interval, made.plan.interval_count, k + 1)
        for rate, amounts in oracle_amounts(applied, start, end, cancel).items():
            expected[(start, end, rate)] = amounts
        k += 1
    assert issued == expected
