"""The one place handlers read the time from.

Lambda uses the system clock; the embedded AWS swaps in its virtual clock with
`set_source`, so simulated days pass in seconds.
"""

from collections.abc import Callable
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (None restores the system clock)."""
    global _source
    _source = source or _system_now
