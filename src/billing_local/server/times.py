"""The test clock's inputs: RFC 3339 instants (`2026-03-01T00:05:00Z`) and durations (`1d`, `6h`, `30m`)."""

import re
from datetime import UTC, datetime, timedelta

from billing_local.emulator.clock import iso_z

_DURATION = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 time with its offset (`Z` or `+01:00`), as UTC; ValueError says what is wrong."""
    if not _RFC3339.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not an RFC 3339 UTC time such as 2026-03-01T00:05:00Z")
    try:
        instant = datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid time (e.g. 2026-03-01T00:05:00Z)") from None
    return instant.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """`1d`, `6h`, `30m`, `45s` or a sum of them (`1d6h`); ValueError otherwise."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration such as 1d, 6h, 30m or 1d6h")
    return sum((timedelta(**{_UNITS[unit]: int(n)}) for n, unit in parts), timedelta())


def format_instant(instant: datetime) -> str:
    """`2026-03-01T00:05:00Z` (seconds precision, as the scheduler writes instants)."""
    return iso_z(instant)
