"""The typed records of the agreement contract (§1, §2): events in, state out.

An inbound event is one of three frozen records, told apart by their `type` (a Literal, so a
type checker narrows `AgreementEvent` on ``event.type == AGREEMENT_CREATED``). Each record holds
the fields its kind carries; the fields of the other kinds read as None, so code that reads any
event the same way (``event.start_date``, ``event.plan``) keeps working.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

from ..errors import BadInput

__all__ = [
    "AFTER_CANCELLATION",
    "AGREEMENT_AMENDED",
    "AGREEMENT_CANCELLED",
    "AGREEMENT_CREATED",
    "CONFLICT",
    "CONTENT_FIELDS",
    "EVENT_TYPES",
    "MAX_AMOUNT_MINOR",
    "MAX_DATE",
    "MAX_EMAIL_LENGTH",
    "MAX_EVENT_BYTES",
    "MAX_EVENT_ID_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_INTERVAL_COUNT",
    "MAX_VERSION",
    "MIN_DATE",
    "PLAN_CHANGE_NOT_ALLOWED",
    "AgreementAmended",
    "AgreementCancelled",
    "AgreementCreated",
    "AgreementEvent",
    "AgreementState",
    "Fold",
    "Plan",
    "PriceStep",
    "canonical_rate",
    "content",
    "fingerprint",
]

AGREEMENT_CREATED: Final = "agreement.created"
AGREEMENT_AMENDED: Final = "agreement.amended"
AGREEMENT_CANCELLED: Final = "agreement.cancelled"
EVENT_TYPES: Final = (AGREEMENT_CREATED, AGREEMENT_AMENDED, AGREEMENT_CANCELLED)

MAX_EVENT_BYTES: Final = 64 * 1024
MAX_AMOUNT_MINOR: Final = 10**12
MAX_INTERVAL_COUNT: Final = 120
MAX_VERSION: Final = 2**63 - 1
MIN_DATE: Final = date(2000, 1, 1)
MAX_DATE: Final = date(2199, 12, 31)
MAX_ID_LENGTH: Final = 128
MAX_EVENT_ID_LENGTH: Final = 256
MAX_EMAIL_LENGTH: Final = 254

# Reasons an event is in Fold.ignored (BadInput codes). The first two are bad input
# (reported and counted as rejections); the last is the contract's "ignored" rule.
CONFLICT: Final = "conflict"
PLAN_CHANGE_NOT_ALLOWED: Final = "plan_change_not_allowed"
AFTER_CANCELLATION: Final = "after_cancellation"

# What an event says, in this order (its fingerprint is of these, whatever the event's kind).
CONTENT_FIELDS: Final = (
    "agreement_id",
    "version",
    "start_date",
    "effective_date",
    "timezone",
    "plan",
    "customer_id",
    "payment_method",
    "customer_email",
)


def canonical_rate(text: str) -> str:
    """A tax rate as the contract prints it: no trailing zeros, no trailing point ("19.50" -> "19.5")."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True, slots=True)
class Plan:
    amount_minor: int
    currency: str
    interval: str
    interval_count: int
    tax_rate: str = "0"  # a percentage, as a canonical decimal string (contract §1)
    tax_inclusive: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tax_rate", canonical_rate(self.tax_rate))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "interval": self.interval,
            "interval_count": self.interval_count,
        }
        # Only when set: a plan without tax keeps the fingerprint it had before taxes existed, so a
        # redelivery of an event stored then is still recognised as the same event.
        if self.tax_rate != "0":
            out["tax_rate"] = self.tax_rate
        if self.tax_inclusive:
            out["tax_inclusive"] = True
        return out


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Plan):
        return value.to_json()
    return value


def fingerprint(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an event's content (see `content()`)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def content(type_: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """What an event says: its type and CONTENT_FIELDS (None where its kind has none), as JSON."""
    out: dict[str, Any] = {"type": type_}
    for name in CONTENT_FIELDS:
        out[name] = _json_value(values.get(name))
    return out


class _Content:
    """What every event kind shares: its content (type and data, not its id or time)."""

    __slots__ = ()
    type: str  # each kind's tag (a slot of the dataclass)

    def content(self) -> dict[str, Any]:
        """What the event says (type and normalised data), without its id or time."""
        return content(self.type, {name: getattr(self, name) for name in CONTENT_FIELDS})


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementCreated(_Content):
    event_id: str
    agreement_id: str
    version: int
    time: str | None
    customer_id: str
    start_date: date
    timezone: str
    plan: Plan
    payment_method: str
    customer_email: str | None
    fingerprint: str
    type: Literal["agreement.created"] = field(default=AGREEMENT_CREATED, init=False)

    @property
    def effective_date(self) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementAmended(_Content):
    event_id: str
    agreement_id: str
    version: int
    time: str | None
    effective_date: date
    plan: Plan
    payment_method: str | None
    fingerprint: str
    type: Literal["agreement.amended"] = field(default=AGREEMENT_AMENDED, init=False)

    @property
    def start_date(self) -> None:
        return None

    @property
    def timezone(self) -> None:
        return None

    @property
    def customer_id(self) -> None:
        return None

    @property
    def customer_email(self) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementCancelled(_Content):
    event_id: str
    agreement_id: str
    version: int
    time: str | None
    effective_date: date
    fingerprint: str
    type: Literal["agreement.cancelled"] = field(default=AGREEMENT_CANCELLED, init=False)

    @property
    def start_date(self) -> None:
        return None

    @property
    def timezone(self) -> None:
        return None

    @property
    def plan(self) -> None:
        return None

    @property
    def customer_id(self) -> None:
        return None

    @property
    def payment_method(self) -> None:
        return None

    @property
    def customer_email(self) -> None:
        return None


# The tagged union of the inbound event kinds (tag: `type`).
AgreementEvent = AgreementCreated | AgreementAmended | AgreementCancelled


@dataclass(frozen=True, slots=True)
class PriceStep:
    """From `effective_date` on (until the next step), a period costs `amount_minor` in full, taxed at
    `tax_rate` percent (added to it, or included in it when `tax_inclusive`)."""

    effective_date: date
    amount_minor: int
    tax_rate: str = "0"
    tax_inclusive: bool = False

    @property
    def pricing(self) -> tuple[int, str, bool]:
        """What a step changes: two adjacent steps never have the same pricing."""
        return self.amount_minor, self.tax_rate, self.tax_inclusive


@dataclass(frozen=True, slots=True)
class AgreementState:
    """The fold of one agreement's known events: everything the billing rules read."""

    agreement_id: str
    customer_id: str
    start_date: date
    timezone: str
    currency: str
    interval: str
    interval_count: int
    # The price and its tax as a step function of the local date, from start_date on; adjacent
    # steps always differ (a period is split only where the price, the rate or inclusiveness changes).
    prices: tuple[PriceStep, ...]
    cancel_date: date | None
    payment_method: str  # of the highest applied version that carries one
    customer_email: str | None
    version: int  # the highest version applied (created, amendments, cancellation)
    created_version: int
    cancel_version: int | None

    def price_on(self, day: date) -> int:
        """The full-period price in effect on `day` (days before start_date get the first price)."""
        amount = self.prices[0].amount_minor
        for step in self.prices[1:]:
            if step.effective_date > day:
                break
            amount = step.amount_minor
        return amount

    @property
    def plan(self) -> Plan:
        """The plan in effect at the latest price step."""
        last = self.prices[-1]
        return Plan(
            last.amount_minor,
            self.currency,
            self.interval,
            self.interval_count,
            last.tax_rate,
            last.tax_inclusive,
        )

    @property
    def cancelled(self) -> bool:
        return self.cancel_date is not None


@dataclass(frozen=True, slots=True)
class Fold:
    state: AgreementState | None
    ignored: tuple[tuple[AgreementEvent, BadInput], ...]
