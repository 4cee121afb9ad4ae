"""Billing periods: half-open local-date ranges counted from the start date.

Boundary ``k`` is ``start + k * interval_count`` intervals. ``day`` and ``week`` add
days; ``month`` and ``year`` add calendar months to the *start date* (never to the
previous boundary) and clamp the day to the month's length, so a monthly plan
started on Jan 31 has boundaries Jan 31, Feb 28/29, Mar 31, Apr 30 ...
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Final

__all__ = [
    "INTERVALS",
    "add_months",
    "boundary",
    "index_of",
    "interval_days",
    "interval_months",
    "period",
]

INTERVALS: Final = ("day", "week", "month", "year")
_DAYS: Final = {"day": 1, "week": 7}
_MONTHS: Final = {"month": 1, "year": 12}


def add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, day clamped to the target month's length."""
    total = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    day = start.day
    if day > 28:
        day = min(day, _month_length(year, month))
    return date(year, month, day)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def interval_days(interval: str, interval_count: int) -> int | None:
    """Length of one period in days for day/week plans, None for month/year plans."""
    unit = _DAYS.get(interval)
    return None if unit is None else unit * interval_count


def interval_months(interval: str, interval_count: int) -> int | None:
    """Length of one period in months for month/year plans, None for day/week plans."""
    unit = _MONTHS.get(interval)
    return None if unit is None else unit * interval_count


def boundary(start: date, interval: str, interval_count: int, k: int) -> date:
    """Boundary `k` (k >= 0) of a plan started on `start`."""
    if interval == "month":
        return add_months(start, interval_count * k)
    if interval == "day":
        return date.fromordinal(start.toordinal() + interval_count * k)
    if interval == "week":
        return date.fromordinal(start.toordinal() + 7 * interval_count * k)
    if interval == "year":
        return add_months(start, 12 * interval_count * k)
    raise ValueError(f"unknown interval {interval!r}")


def period(start: date, interval: str, interval_count: int, k: int) -> tuple[date, date]:
    """Period `k` as ``(period_start, period_end)``, end exclusive."""
    return boundary(start, interval, interval_count, k), boundary(start, interval, interval_count, k + 1)


def index_of(start: date, interval: str, interval_count: int, day: date) -> int:
    """The `k` whose period contains `day` (``boundary(k) <= day < boundary(k + 1)``).

    Negative for days before `start`. O(1): computed, not walked.
    """
    days = interval_days(interval, interval_count)
    if days is not None:
        return (day - start).days // days
    months = interval_months(interval, interval_count)
    if months is None:
        raise ValueError(f"unknown interval {interval!r}")
    k = ((day.year - start.year) * 12 + (day.month - start.month)) // months
    # The estimate is off by at most one because of day clamping: settle it.
    while add_months(start, months * k) > day:
        k -= 1
    while add_months(start, months * (k + 1)) <= day:
        k += 1
    return k
