"""Period boundaries: counted from the start date, day of month clamped."""

import itertools
from datetime import date, timedelta

import pytest
from domain_builders import PROPERTY
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.periods import INTERVALS, add_months, boundary, index_of, period


def bounds(start, interval, count, n):
    return [boundary(start, interval, count, k) for k in range(n)]


@pytest.mark.parametrize(
    ("start", "interval", "count", "expected"),
    [
        # Month-end anchor, non-leap year: clamped, then back to the 31st.
        ("2026-01-31", "month", 1, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]),
        # Leap year: Feb 29.
        ("2024-01-31", "month", 1, ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]),
        ("2024-01-30", "month", 1, ["2024-01-30", "2024-02-29", "2024-03-30", "2024-04-30"]),
        ("2026-03-31", "month", 3, ["2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31", "2027-03-31"]),
        # Yearly from Feb 29: Feb 28 in common years, Feb 29 again in 2028.
        ("2024-02-29", "year", 1, ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]),
        ("2024-02-29", "year", 4, ["2024-02-29", "2028-02-29", "2032-02-29"]),
        ("2026-03-01", "day", 1, ["2026-03-01", "2026-03-02", "2026-03-03"]),
        ("2026-02-27", "day", 3, ["2026-02-27", "2026-03-02", "2026-03-05"]),
        ("2026-12-28", "week", 1, ["2026-12-28", "2027-01-04", "2027-01-11"]),
        ("2026-01-01", "week", 2, ["2026-01-01", "2026-01-15", "2026-01-29"]),
        ("2199-12-31", "year", 120, ["2199-12-31", "2319-12-31"]),
    ],
)
def test_boundaries(start, interval, count, expected):
    assert bounds(date.fromisoformat(start), interval, count, len(expected)) == [
        date.fromisoformat(e) for e in expected
    ]


def test_months_are_counted_from_the_start_never_from_the_previous_boundary():
    start = date(2026, 1, 31)
    # Chaining from Feb 28 would give Mar 28; counting from Jan 31 gives Mar 31.
    assert add_months(add_months(start, 1), 1) == date(2026, 3, 28)
    assert boundary(start, "month", 1, 2) == date(2026, 3, 31)


def test_period_is_half_open():
    assert period(date(2026, 3, 1), "month", 1, 0) == (date(2026, 3, 1), date(2026, 4, 1))


def test_unknown_interval_is_a_programming_error():
    with pytest.raises(ValueError, match="fortnight"):
        boundary(date(2026, 1, 1), "fortnight", 1, 1)


@PROPERTY
@given(
    st.dates(date(2000, 1, 1), date(2199, 12, 31)),
    st.sampled_from(INTERVALS),
    st.integers(1, 120),
    st.integers(0, 40_000),
)
def test_index_of_finds_the_period_containing_a_day(start, interval, count, offset):
    day = start + timedelta(days=offset)
    k = index_of(start, interval, count, day)
    assert k >= 0
    assert boundary(start, interval, count, k) <= day < boundary(start, interval, count, k + 1)


@PROPERTY
@given(st.dates(date(2000, 1, 1), date(2199, 12, 31)), st.sampled_from(INTERVALS), st.integers(1, 120))
def test_boundaries_strictly_increase(start, interval, count):
    b = bounds(start, interval, count, 6)
    assert all(x < y for x, y in itertools.pairwise(b))
