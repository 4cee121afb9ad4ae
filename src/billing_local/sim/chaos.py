"""Faults for `billing simulate --chaos SEED`, all drawn from one seeded PRNG.

- deliveries: duplicated, reordered within a day, delayed to a later day (never
  past the scenario's last run);
- AWS calls made by handlers: transient errors (throttling, 5xx) from
  DynamoDB, SNS and SQS, and "crashes" right after a write succeeded (the
  next call of the same invocation dies), which is where lost or doubled work
  hides;
- the payment gateway: timeouts before the charge (nothing taken) and after it
  (money taken, answer lost);
- SQS: a record delivered twice in one batch, a processed message delivered
  again later.
Every injected fault is counted by kind, so a run can say what it survived.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from billing import bootstrap
from billing.domain.payments import ChargeRequest, ChargeResult, GatewayTimeout, PaymentGateway, RefundRequest
from billing_local.emulator.instrumentation import Faults, client_error

_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "TransactWriteItems",
        "Publish",
        "PublishBatch",
        "SendMessage",
        "SendMessageBatch",
    }
)
_TRANSIENT = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "sns": ("Throttling", 400),
    "sqs": ("InternalError", 500),
}


class Crash(Exception):
    """The process died here (injected): nothing after this point of the invocation ran."""


@dataclass(frozen=True)
class ChaosRates:
    duplicate_delivery: float = 0.15
    delay_delivery: float = 0.15
    max_delay_days: int = 3
    aws_error: float = 0.02
    crash_after_write: float = 0.02
    gateway_timeout: float = 0.1
    duplicate_record: float = 0.05
    redeliver_record: float = 0.05


@dataclass
class Chaos:
    seed: int
    rates: ChaosRates = field(default_factory=ChaosRates)
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._after_write = False

    # -- deliveries ----------------------------------------------------------------

    def plan(
        self, deliveries: list[tuple[date, dict[str, Any]]], last_run: date
    ) -> list[tuple[date, dict[str, Any]]]:
        """Duplicate, delay (never past `last_run`) and shuffle deliveries; the result is in arrival order."""
        planned: list[tuple[date, float, dict[str, Any]]] = []
        for on, event in deliveries:
            copies = 2 if self.rng.random() < self.rates.duplicate_delivery else 1
            self.injected["duplicate_delivery"] += copies - 1
            for _ in range(copies):
                arrival = on
                if on < last_run and self.rng.random() < self.rates.delay_delivery:
                    delay = self.rng.randint(1, self.rates.max_delay_days)
                    arrival = min(on + timedelta(days=delay), last_run)
                    self.injected["delayed_delivery"] += 1
                planned.append((arrival, self.rng.random(), event))
        planned.sort(key=lambda p: (p[0], p[1]))  # random order within each day
        self.injected["reordered_days"] += len({p[0] for p in planned})
        return [(arrival, event) for arrival, _, event in planned]

    # -- runtime faults ------------------------------------------------------------

    def install(self, faults: Faults) -> None:
        faults.before_aws_call = self._before_aws_call
        faults.duplicate_record = lambda _fn, _record: self._draw(
            self.rates.duplicate_record, "duplicate_record"
        )
        faults.redeliver_record = lambda _fn, _record: self._draw(
            self.rates.redeliver_record, "redeliver_record"
        )
        bootstrap.override(gateway=lambda: FlakyGateway(bootstrap.build_gateway(), self))

    def uninstall(self, faults: Faults) -> None:
        faults.reset()
        bootstrap.reset()

    def _draw(self, rate: float, kind: str) -> bool:
        hit = self.rng.random() < rate
        if hit:
            self.injected[kind] += 1
        return hit

    def _before_aws_call(self, service: str, operation: str) -> None:
        crashed_after_write = self._after_write
        self._after_write = operation in _WRITES
        if crashed_after_write and self._draw(self.rates.crash_after_write, "crash_after_write"):
            self._after_write = False
            raise Crash(f"injected crash before {service}.{operation}, after a successful write")
        if service in _TRANSIENT and self._draw(self.rates.aws_error, f"{service}_error"):
            self._after_write = False
            code, status = _TRANSIENT[service]
            raise client_error(code, operation, status=status)


class FlakyGateway:
    """Times out before a charge or refund (no money moves) or after it (it moved, the answer is lost)."""

    def __init__(self, inner: PaymentGateway, chaos: Chaos) -> None:
        self._inner = inner
        self._chaos = chaos

    def charge(self, request: ChargeRequest) -> ChargeResult:
        return self._flaky(self._inner.charge, request, "charge")

    def refund(self, request: RefundRequest) -> ChargeResult:
        return self._flaky(self._inner.refund, request, "refund")

    def _flaky(self, call: Callable[[Any], ChargeResult], request: Any, what: str) -> ChargeResult:
        if self._chaos._draw(self._chaos.rates.gateway_timeout / 2, f"gateway_timeout_before_{what}"):
            raise GatewayTimeout("injected: timed out before reaching the gateway")
        result = call(request)
        if self._chaos._draw(self._chaos.rates.gateway_timeout / 2, f"gateway_timeout_after_{what}"):
            raise GatewayTimeout(f"injected: the {what} happened, the answer was lost")
        return result

    def find(self, idempotency_key: str) -> ChargeResult | None:
        return self._inner.find(idempotency_key)
