"""Virtual time: the emulator's clock, which only moves when told to."""

import bisect
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    """A UTC clock that stands still until ``advance``/``advance_to`` moves it (never backwards).

    It also remembers when (in real time) each move happened, so real timestamps that moto
    stamps on messages and stream records can be mapped back to the virtual instant at which
    they were made (``virtual_at``).
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC).replace(microsecond=0)
        self._now = _utc(start)
        self._real_marks: list[float] = [time.time()]
        self._virtual_marks: list[datetime] = [self._now]

    def now(self) -> datetime:
        return self._now

    def advance_to(self, instant: datetime) -> datetime:
        instant = _utc(instant)
        if instant < self._now:
            raise ValueError(f"the virtual clock cannot go back from {self._now} to {instant}")
        if instant != self._now:
            self._now = instant
            self._real_marks.append(time.time())
            self._virtual_marks.append(instant)
        return self._now

    def advance(self, delta: timedelta | float = 0.0, /, **kwargs: float) -> datetime:
        """``advance(timedelta(days=1))``, ``advance(90)`` (seconds) or ``advance(hours=2)``."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self.advance_to(self._now + step + timedelta(**kwargs))

    def virtual_at(self, real_epoch_seconds: float) -> datetime:
        """The virtual instant that was current at a given real (time.time()) instant."""
        index = bisect.bisect_right(self._real_marks, real_epoch_seconds) - 1
        return self._virtual_marks[max(index, 0)]

    def virtual_millis(self, real_epoch_millis: int | str) -> int:
        return int(self.virtual_at(int(real_epoch_millis) / 1000).timestamp() * 1000)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("the virtual clock needs timezone-aware datetimes")
    return instant.astimezone(UTC)


def iso_z(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, as EventBridge Scheduler writes scheduled-time."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
