"""EventBridge Scheduler expressions: cron(...), rate(...), at(...), in a time zone."""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}  # 1 = Sunday
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleExpressionError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """A cron field as the set of allowed values (None = any)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        stepped = "/" in part
        if stepped:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _value(a, names), _value(b, names)
        else:
            first = _value(part, names)
            last = high if stepped else first
        if not (low <= first <= high and low <= last <= high) or step < 1:
            raise ScheduleExpressionError(f"cron field {text!r} out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.upper()
    if names and upper in names:
        return names[upper]
    return int(text)


class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)`` (EventBridge dialect).

    Supports ``*``, ``?``, numbers, names, lists, ranges, steps and ``L`` (last day of month).
    """

    def __init__(self, body: str) -> None:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields, got {body!r}")
        minute, hour, dom, month, dow, year = fields
        self.minutes = sorted(_field(minute, 0, 59) or range(60))
        self.hours = sorted(_field(hour, 0, 23) or range(24))
        self.last_day = dom.upper() == "L"
        self.dom = None if self.last_day else _field(dom, 1, 31)
        self.months = _field(month, 1, 12, _MONTHS)
        self.dow = _field(dow, 1, 7, _DAYS)
        self.years = _field(year, 1970, 2199)

    def matches_day(self, day: date) -> bool:
        if self.years is not None and day.year not in self.years:
            return False
        if self.months is not None and day.month not in self.months:
            return False
        if self.last_day and (day + timedelta(days=1)).month == day.month:
            return False
        if self.dom is not None and day.day not in self.dom:
            return False
        return self.dow is None or (day.isoweekday() % 7) + 1 in self.dow


class Schedule:
    """One schedule expression in a time zone, with optional start/end bounds."""

    def __init__(
        self,
        expression: str,
        timezone: str | None = "UTC",
        *,
        anchor: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        self.expression = expression.strip()
        self.zone = ZoneInfo(timezone or "UTC")
        self.anchor = anchor
        self.start = start
        self.end = end
        self.kind, _, rest = self.expression.partition("(")
        if not rest.endswith(")"):
            raise ScheduleExpressionError(f"bad schedule expression {expression!r}")
        body = rest[:-1].strip()
        self._cron: Cron | None = None
        self._rate: timedelta | None = None
        self._at: datetime | None = None
        if self.kind == "cron":
            self._cron = Cron(body)
        elif self.kind == "rate":
            match = re.fullmatch(r"(\d+)\s+(\w+)", body)
            if not match or match.group(2) not in _RATE_UNITS or int(match.group(1)) < 1:
                raise ScheduleExpressionError(f"bad rate expression {expression!r}")
            self._rate = timedelta(seconds=int(match.group(1)) * _RATE_UNITS[match.group(2)])
        elif self.kind == "at":
            local = datetime.fromisoformat(body)
            self._at = local.replace(tzinfo=self.zone).astimezone(UTC)
        else:
            raise ScheduleExpressionError(f"unknown schedule expression {expression!r}")

    def occurrences(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Fire instants t (UTC) with after < t <= until, in order."""
        lower = max(after, self.start - timedelta(microseconds=1)) if self.start else after
        upper = min(until, self.end) if self.end else until
        if upper <= lower:
            return
        if self._at is not None:
            if lower < self._at <= upper:
                yield self._at
        elif self._rate is not None:
            base = self.start or self.anchor
            k = max(1, int((lower - base) / self._rate))
            while base + k * self._rate <= lower:
                k += 1
            while (t := base + k * self._rate) <= upper:
                yield t
                k += 1
        else:
            yield from self._cron_occurrences(lower, upper)

    def _cron_occurrences(self, lower: datetime, upper: datetime) -> Iterator[datetime]:
        cron = self._cron
        assert cron is not None
        day = lower.astimezone(self.zone).date()
        last = upper.astimezone(self.zone).date()
        while day <= last:
            if cron.matches_day(day):
                for hour in cron.hours:
                    for minute in cron.minutes:
                        local = datetime.combine(day, time(hour, minute), tzinfo=self.zone)
                        instant = local.astimezone(UTC)
                        if instant.astimezone(self.zone).replace(tzinfo=None) != local.replace(tzinfo=None):
                            continue  # a local time skipped by a DST change: no run
                        if lower < instant <= upper:
                            yield instant
            day += timedelta(days=1)
