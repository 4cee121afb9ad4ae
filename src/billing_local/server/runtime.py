"""The stack behind `billing up`: one LocalCloud, one lock, Lambda's pollers and the test clock.

moto's backends and the emulator (handlers patch the process environment while they run) are not
made for concurrent use, so everything that touches them holds one lock: each HTTP request the
server answers, each round of the pollers and each step of the clock. Handlers' own AWS calls stay
in-process (moto's in-memory mock), never over HTTP, so a request that runs a handler cannot wait
on itself.

The pollers run in a background thread, as Lambda's do: woken by every request (an outside client
may have published or sent something) and every few seconds, they drain the queues and the stream
at the clock's current instant. Time itself only moves with `advance_to`.
"""

import collections
import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from billing_local.emulator.cloud import LocalCloud
from billing_local.sim.chaos import Chaos
from billing_local.sim.stack import let_time_pass

from .times import format_instant

#: The pollers look again at least this often (seconds) even when no request woke them.
POLL_INTERVAL_S = 2.0


class ClockError(ValueError):
    """A clock move the test clock refuses (backwards): a one-line reason for the caller."""


class StackRuntime:
    """A started LocalCloud served to outside clients; every use of it goes through ``lock``."""

    def __init__(
        self, cloud: LocalCloud, *, chaos_seed: int | None = None, chaos_until: datetime | None = None
    ) -> None:
        self.cloud = cloud
        self.lock = threading.RLock()
        self.chaos = Chaos(chaos_seed) if chaos_seed is not None else None
        self.chaos_until = chaos_until  # the test-clock instant the faults stop ("the fix is deployed")
        self._chaos_on = False
        self._operator_call = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """The cloud is active: install the faults (if any) and start Lambda's pollers."""
        if self.chaos is not None:
            self._install_chaos(self.chaos)
            self._end_chaos_if_due()
        self._worker = threading.Thread(target=self._poll_forever, name="billing-pollers", daemon=True)
        self._worker.start()

    def stop(self, timeout_s: float = 3.0) -> bool:
        """Stop the pollers; True when they stopped (and hold nothing) within the timeout."""
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout_s)
            return not self._worker.is_alive()
        return True

    def wake(self) -> None:
        """Something may have arrived (a request was served): let the pollers look now."""
        self._wake.set()

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(POLL_INTERVAL_S)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                with self.lock:
                    self.cloud.drain()
            except Exception:  # a poller bug must not kill the stack: report it, keep polling
                print(f"billing up: pollers: {traceback.format_exc(limit=3)}", file=sys.stderr)

    # -- faults -----------------------------------------------------------------------------
    def _install_chaos(self, chaos: Chaos) -> None:
        """`simulate --chaos`'s runtime faults, in the pipeline only: an operator's own invocations
        (redrive, replay, events, invoke) run clean, as the tools of a real incident do."""
        faults = self.cloud.faults
        chaos.install(faults)
        pipeline_fault = faults.before_aws_call

        def before_aws_call(service: str, operation: str) -> None:
            if not self._operator_call:
                pipeline_fault(service, operation)

        faults.before_aws_call = before_aws_call
        self._chaos_on = True

    def _end_chaos_if_due(self) -> None:
        chaos, until = self.chaos, self.chaos_until
        if self._chaos_on and chaos is not None and until is not None and self.cloud.clock.now() >= until:
            chaos.uninstall(self.cloud.faults)  # as a deploy would: fresh containers, no faults
            self._chaos_on = False

    def chaos_state(self) -> dict[str, Any] | None:
        """The seed, whether faults are still injected, until when, and how many of each so far."""
        if self.chaos is None:
            return None
        return {
            "seed": self.chaos.seed,
            "active": self._chaos_on,
            "until": format_instant(self.chaos_until) if self.chaos_until else None,
            "faults": dict(sorted(self.chaos.injected.items())),
        }

    # -- Lambda's Invoke API ----------------------------------------------------------------
    @contextlib.contextmanager
    def operator_call(self) -> Iterator[None]:
        """An invocation asked for through the Lambda API (an operator, a test): no faults. It
        comes after the fact, so what died before it is over (visibility and in-progress
        timeouts, counted in real time by moto and Powertools, have passed)."""
        with self.lock:
            let_time_pass(self.cloud)
            self._operator_call = True
            try:
                yield
            finally:
                self._operator_call = False

    def invoke(self, logical_id: str, event: Any) -> Any:
        """RequestResponse: the handler's result; its exception propagates."""
        with self.operator_call():
            return self.cloud.invoke(logical_id, event)

    def invoke_async(self, logical_id: str, event: Any) -> None:
        """InvocationType=Event: run now (retries, then the failure destination), answer nothing."""
        with self.operator_call():
            self.cloud.invoke_async(logical_id, event, source="lambda-invoke-event")
        self.wake()

    # -- the test clock ---------------------------------------------------------------------
    def now(self) -> datetime:
        return self.cloud.clock.now()

    def settle(self) -> int:
        """Run the queues and the stream to quiescence at the current instant; batches delivered."""
        with self.lock:
            return self.cloud.drain()

    def advance_to(self, target: datetime) -> dict[str, Any]:
        """Move the clock to ``target`` one due schedule at a time, oldest first, settling the
        queues after each firing; the report says what fired and what sits in a DLQ."""
        with self.lock:
            cloud = self.cloud
            start = cloud.clock.now()
            if target < start:
                raise ClockError(
                    f"the test clock never goes back: it is {format_instant(start)}, "
                    f"{format_instant(target)} is earlier"
                )
            fired: collections.Counter[str] = collections.Counter()
            let_time_pass(cloud)  # time passes: real-time timeouts (visibility) are over
            batches = cloud.drain()
            while (due := self._next_step(target)) is not None:
                cloud.clock.advance_to(max(due, cloud.clock.now()))
                self._end_chaos_if_due()
                fired.update(cloud.fire_due_schedules())
                batches += cloud.drain()
            cloud.clock.advance_to(target)
            self._end_chaos_if_due()
            fired.update(cloud.fire_due_schedules())
            batches += cloud.drain()
            return {
                "from": format_instant(start),
                "now": format_instant(cloud.clock.now()),
                "fired": dict(sorted(fired.items())),
                "batches": batches,
                "dead_letters": self.dead_letters(),
            }

    def _next_step(self, target: datetime) -> datetime | None:
        """The next instant up to ``target`` where something happens: a schedule falls due, or
        the faults stop."""
        now = self.cloud.clock.now()
        horizon = target - now
        times = [self.cloud.next_fire_time(name, horizon) for name in self.cloud.schedule_names()]
        if self._chaos_on and self.chaos_until is not None and self.chaos_until > now:
            times.append(self.chaos_until)
        due = [t for t in times if t is not None and t <= target]
        return min(due) if due else None

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each dead-letter queue that holds any (an alarm would be firing)."""
        depths = self.cloud.queue_depths()
        waiting = {
            name: depth["visible"] + depth["in_flight"] + depth["delayed"]
            for name, depth in depths.items()
            if name.endswith("DLQ")
        }
        return {name: n for name, n in waiting.items() if n}
