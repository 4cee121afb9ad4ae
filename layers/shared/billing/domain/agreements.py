"""Inbound agreement events (contract §1) and their fold into agreement state (§2).

`parse_event` turns one CloudEvents 1.0 structured-mode JSON message into an
`AgreementEvent` or raises `BadInput` with a code and a field. `fold` turns the
known events of one agreement, in any order and with duplicates, into the state
the billing rules read. `admit` is the ingest-time rule shared by the projector
and `billing preview`: is a new event new, a duplicate, or in conflict with what
is already stored?
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal, overload

from .errors import BadInput
from .money import is_active_currency
from .periods import INTERVALS

__all__ = [
    "AFTER_CANCELLATION",
    "AGREEMENT_AMENDED",
    "AGREEMENT_CANCELLED",
    "AGREEMENT_CREATED",
    "CONFLICT",
    "EVENT_TYPES",
    "MAX_AMOUNT_MINOR",
    "MAX_DATE",
    "MAX_EVENT_BYTES",
    "MAX_INTERVAL_COUNT",
    "MIN_DATE",
    "PLAN_CHANGE_NOT_ALLOWED",
    "AgreementEvent",
    "AgreementState",
    "Fold",
    "Plan",
    "PriceStep",
    "admit",
    "fold",
    "is_known_timezone",
    "known_timezones",
    "parse_event",
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


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Plan:
    amount_minor: int
    currency: str
    interval: str
    interval_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "interval": self.interval,
            "interval_count": self.interval_count,
        }


@dataclass(frozen=True, slots=True)
class AgreementEvent:
    event_id: str
    type: str
    agreement_id: str
    version: int
    time: str | None
    start_date: date | None
    effective_date: date | None
    timezone: str | None
    plan: Plan | None
    customer_id: str | None
    payment_method: str | None
    customer_email: str | None
    fingerprint: str

    def content(self) -> dict[str, Any]:
        """What the event says (type and normalised data), without its id or time."""
        return _content(
            self.type,
            self.agreement_id,
            self.version,
            self.start_date,
            self.effective_date,
            self.timezone,
            self.plan,
            self.customer_id,
            self.payment_method,
            self.customer_email,
        )


@dataclass(frozen=True, slots=True)
class PriceStep:
    """From `effective_date` on (until the next step), a period costs `amount_minor` in full."""

    effective_date: date
    amount_minor: int


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
    # The price as a step function of the local date, from start_date on; adjacent
    # steps always have different amounts (a period is split only where the price changes).
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
        return Plan(self.prices[-1].amount_minor, self.currency, self.interval, self.interval_count)

    @property
    def cancelled(self) -> bool:
        return self.cancel_date is not None


@dataclass(frozen=True, slots=True)
class Fold:
    state: AgreementState | None
    ignored: tuple[tuple[AgreementEvent, BadInput], ...]


# --------------------------------------------------------------------------- parsing

_CE_REQUIRED: Final = ("id", "source", "type")
_CE_KNOWN: Final = frozenset(
    {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "data"}
)
_EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+")
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_JSON_MEDIA_RE: Final = re.compile(r"application/([a-z0-9.+-]+\+)?json(\s*;.*)?", re.IGNORECASE)
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _load_json(raw: str | bytes) -> Any:
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        if len(data) > MAX_EVENT_BYTES:
            raise BadInput("too_large", f"{len(data)} bytes, more than {MAX_EVENT_BYTES}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput("invalid_json", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        text = raw
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise BadInput("invalid_json", "not encodable as UTF-8") from None
        if size > MAX_EVENT_BYTES:
            raise BadInput("too_large", f"{size} bytes, more than {MAX_EVENT_BYTES}")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise BadInput("invalid_json", "nested too deeply") from None
    except ValueError as exc:
        raise BadInput("invalid_json", str(exc)) from None


def _check_mapping_size(raw: Mapping[str, Any]) -> None:
    try:
        size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadInput("invalid_json", f"not representable as JSON: {exc}") from None
    if size > MAX_EVENT_BYTES:
        raise BadInput("too_large", f"{size} bytes, more than {MAX_EVENT_BYTES}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@overload
def _string(obj: Mapping[str, Any], key: str, field: str, *, required: Literal[True] = True) -> str: ...
@overload
def _string(obj: Mapping[str, Any], key: str, field: str, *, required: bool) -> str | None: ...
def _string(obj: Mapping[str, Any], key: str, field: str, *, required: bool = True) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise BadInput("missing_field", "required", field)
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise BadInput("invalid_field", f"must be a string, got {_json_type(value)}", field)
    return value


@overload
def _identifier(
    obj: Mapping[str, Any],
    key: str,
    field: str,
    *,
    required: Literal[True] = True,
    max_len: int = MAX_ID_LENGTH,
) -> str: ...
@overload
def _identifier(
    obj: Mapping[str, Any], key: str, field: str, *, required: bool, max_len: int = MAX_ID_LENGTH
) -> str | None: ...
def _identifier(
    obj: Mapping[str, Any], key: str, field: str, *, required: bool = True, max_len: int = MAX_ID_LENGTH
) -> str | None:
    value = _string(obj, key, field, required=required)
    if value is None:
        return None
    if not value:
        raise BadInput("invalid_field", "must not be empty", field)
    if len(value) > max_len:
        raise BadInput("invalid_field", f"longer than {max_len} characters", field)
    if not value.isprintable() or value != value.strip():
        raise BadInput("invalid_field", "must be printable, without leading or trailing spaces", field)
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _integer(obj: Mapping[str, Any], key: str, field: str, low: int, high: int) -> int:
    if key not in obj or obj[key] is None:
        raise BadInput("missing_field", "required", field)
    value = obj[key]
    if not _is_int(value):
        raise BadInput("invalid_field", f"must be an integer, got {_json_type(value)}", field)
    if not low <= value <= high:
        raise BadInput("out_of_range", f"{value} is not between {low} and {high}", field)
    return int(value)


def _date(obj: Mapping[str, Any], key: str, field: str) -> date:
    value = _string(obj, key, field)
    if not _DATE_RE.fullmatch(value):
        raise BadInput("invalid_date", f"{value!r} is not an ISO date YYYY-MM-DD", field)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadInput("invalid_date", f"{value!r} is not a calendar date", field) from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadInput("out_of_range", f"{value} is not between {MIN_DATE} and {MAX_DATE}", field)
    return day


@functools.cache
def _zone_names() -> frozenset[str]:
    """IANA names the layer accepts: the tzdata package's list (a runtime dependency)."""
    try:
        from importlib.resources import files

        text = files("tzdata").joinpath("zones").read_text(encoding="utf-8")
        names = {line.strip() for line in text.splitlines() if line.strip()}
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - tzdata is a dependency
        import zoneinfo

        names = set(zoneinfo.available_timezones())
    names.discard("Factory")  # a placeholder zone, not a place
    return frozenset(names)


def known_timezones() -> frozenset[str]:
    """Every time zone name `parse_event` accepts."""
    return _zone_names()


def is_known_timezone(name: str) -> bool:
    """True for an IANA time zone name (canonical or link, case-sensitive), e.g. ``Europe/Berlin``."""
    return isinstance(name, str) and name in _zone_names()


def _plan(data: Mapping[str, Any]) -> Plan:
    if "plan" not in data or data["plan"] is None:
        raise BadInput("missing_field", "required", "data.plan")
    raw = data["plan"]
    if not isinstance(raw, Mapping):
        raise BadInput("invalid_field", f"must be an object, got {_json_type(raw)}", "data.plan")
    amount = _integer(raw, "amount_minor", "data.plan.amount_minor", 0, MAX_AMOUNT_MINOR)
    currency = _string(raw, "currency", "data.plan.currency")
    if not is_active_currency(currency):
        raise BadInput(
            "unknown_currency", f"{currency!r} is not an active ISO 4217 currency code", "data.plan.currency"
        )
    interval = _string(raw, "interval", "data.plan.interval")
    if interval not in INTERVALS:
        raise BadInput(
            "invalid_field", f"{interval!r} is not one of {', '.join(INTERVALS)}", "data.plan.interval"
        )
    count = _integer(raw, "interval_count", "data.plan.interval_count", 1, MAX_INTERVAL_COUNT)
    return Plan(amount, currency, interval, count)


def _content(
    type_: str,
    agreement_id: str,
    version: int,
    start_date: date | None,
    effective_date: date | None,
    timezone: str | None,
    plan: Plan | None,
    customer_id: str | None,
    payment_method: str | None,
    customer_email: str | None,
) -> dict[str, Any]:
    return {
        "type": type_,
        "agreement_id": agreement_id,
        "version": version,
        "start_date": None if start_date is None else start_date.isoformat(),
        "effective_date": None if effective_date is None else effective_date.isoformat(),
        "timezone": timezone,
        "plan": None if plan is None else plan.to_json(),
        "customer_id": customer_id,
        "payment_method": payment_method,
        "customer_email": customer_email,
    }


def _fingerprint(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_envelope(obj: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """CloudEvents 1.0 structured-mode checks; returns (id, type, time)."""
    if "specversion" not in obj:
        raise BadInput(
            "not_cloudevent", "no specversion: not a CloudEvents structured-mode message", "specversion"
        )
    if obj["specversion"] != "1.0":
        raise BadInput(
            "unsupported_specversion", f"{obj['specversion']!r} is not supported (only '1.0')", "specversion"
        )
    for key in _CE_REQUIRED:
        value = _string(obj, key, key)
        if not value:
            raise BadInput("invalid_field", "must not be empty", key)
    event_id = _identifier(obj, "id", "id", max_len=MAX_EVENT_ID_LENGTH)
    type_ = obj["type"]
    if type_ not in EVENT_TYPES:
        raise BadInput("unknown_type", f"{type_!r} is not one of {', '.join(EVENT_TYPES)}", "type")
    time = _string(obj, "time", "time", required=False)
    if time is not None:
        if not _TIME_RE.fullmatch(time):
            raise BadInput("invalid_field", f"{time!r} is not an RFC 3339 timestamp", "time")
        try:
            datetime.fromisoformat(time.upper())
        except ValueError:
            raise BadInput("invalid_field", f"{time!r} is not an RFC 3339 timestamp", "time") from None
    for key in ("subject", "dataschema"):
        optional = _string(obj, key, key, required=False)
        if optional is not None and not optional:
            raise BadInput("invalid_field", "must not be empty", key)
    media = _string(obj, "datacontenttype", "datacontenttype", required=False)
    if media is not None and not _JSON_MEDIA_RE.fullmatch(media):
        raise BadInput("invalid_field", f"{media!r}: data must be JSON (application/json)", "datacontenttype")
    if "data_base64" in obj:
        raise BadInput("invalid_field", "data must be a JSON object, not data_base64", "data_base64")
    for key, value in obj.items():
        if key in _CE_KNOWN:
            continue
        if not isinstance(key, str) or not _EXTENSION_NAME.fullmatch(key):
            raise BadInput(
                "invalid_field", "extension attribute names are lower-case letters and digits", str(key)
            )
        if value is not None and not isinstance(value, (str, int)):
            got = _json_type(value)
            raise BadInput(
                "invalid_field", f"an extension attribute is a string, integer or boolean, not {got}", key
            )
    return event_id, type_, time


def parse_event(raw: str | bytes | Mapping[str, Any]) -> AgreementEvent:
    """Validate one CloudEvents 1.0 JSON message (structured mode) against contract §1.

    Accepts the message body (str or bytes) or an already-decoded JSON object.
    Unknown CloudEvents extension attributes are allowed; unknown fields inside
    `data` are ignored, but every known field must have the right type and range.
    Raises BadInput with one of: too_large, invalid_json, not_cloudevent,
    unsupported_specversion, unknown_type, missing_field, invalid_field,
    out_of_range, invalid_date, unknown_currency, unknown_timezone.
    """
    if isinstance(raw, Mapping):
        _check_mapping_size(raw)
        obj: Any = raw
    elif isinstance(raw, (str, bytes, bytearray, memoryview)):
        obj = _load_json(raw)
    else:
        raise BadInput("not_cloudevent", f"a CloudEvent is a JSON object, got {_json_type(raw)}")
    if not isinstance(obj, Mapping):
        raise BadInput("not_cloudevent", f"a CloudEvent is a JSON object, got {_json_type(obj)}")
    event_id, type_, time = _check_envelope(obj)

    if "data" not in obj or obj["data"] is None:
        raise BadInput("missing_field", "required", "data")
    data = obj["data"]
    if not isinstance(data, Mapping):
        raise BadInput("invalid_field", f"must be an object, got {_json_type(data)}", "data")

    agreement_id = _identifier(data, "agreement_id", "data.agreement_id")
    version = _integer(data, "version", "data.version", 1, MAX_VERSION)
    start_date = effective_date = None
    timezone = customer_id = payment_method = customer_email = None
    plan = None
    if type_ == AGREEMENT_CREATED:
        customer_id = _identifier(data, "customer_id", "data.customer_id")
        start_date = _date(data, "start_date", "data.start_date")
        timezone = _string(data, "timezone", "data.timezone", required=False)
        if timezone is None:
            timezone = "UTC"
        elif not is_known_timezone(timezone):
            raise BadInput("unknown_timezone", f"{timezone!r} is not an IANA time zone name", "data.timezone")
        plan = _plan(data)
        payment_method = _identifier(data, "payment_method", "data.payment_method")
        customer_email = _string(data, "customer_email", "data.customer_email", required=False)
        if customer_email is not None and (
            len(customer_email) > MAX_EMAIL_LENGTH or not _EMAIL_RE.fullmatch(customer_email)
        ):
            raise BadInput("invalid_field", "not an e-mail address", "data.customer_email")
    elif type_ == AGREEMENT_AMENDED:
        effective_date = _date(data, "effective_date", "data.effective_date")
        plan = _plan(data)
        payment_method = _identifier(data, "payment_method", "data.payment_method", required=False)
    else:
        effective_date = _date(data, "effective_date", "data.effective_date")

    content = _content(
        type_,
        agreement_id,
        version,
        start_date,
        effective_date,
        timezone,
        plan,
        customer_id,
        payment_method,
        customer_email,
    )
    return AgreementEvent(
        event_id=event_id,
        type=type_,
        agreement_id=agreement_id,
        version=version,
        time=time,
        start_date=start_date,
        effective_date=effective_date,
        timezone=timezone,
        plan=plan,
        customer_id=customer_id,
        payment_method=payment_method,
        customer_email=customer_email,
        fingerprint=_fingerprint(content),
    )


# --------------------------------------------------------------------------- ingest rule


def _plan_change(created: AgreementEvent, amendment: AgreementEvent) -> BadInput | None:
    if created.plan is None or amendment.plan is None:
        return None
    for name in ("currency", "interval", "interval_count"):
        was, now = getattr(created.plan, name), getattr(amendment.plan, name)
        if was != now:
            return BadInput(
                PLAN_CHANGE_NOT_ALLOWED,
                f"an amendment cannot change {name} ({was!r} -> {now!r}); version {amendment.version}",
                f"data.plan.{name}",
            )
    return None


def admit(known: Iterable[AgreementEvent], event: AgreementEvent) -> Literal["new", "duplicate"]:
    """The ingest rule (projector and preview): is `event` new for its agreement?

    `known` holds the events already accepted for the same agreement. Returns
    "duplicate" for an event id already known with the same content, or the same
    content already known under another id (changes nothing). Raises BadInput:
    - conflict: the id is known with other content; or the agreement+version is
      known with other content (the first one accepted wins); or a second
      agreement.created with another version;
    - plan_change_not_allowed: an amendment whose currency/interval/interval_count
      differs from the known agreement.created.
    """
    created: AgreementEvent | None = None
    for other in known:
        if other.agreement_id != event.agreement_id:
            continue
        if other.event_id == event.event_id:
            if other.fingerprint == event.fingerprint:
                return "duplicate"
            raise BadInput(CONFLICT, "this event id was already received with different content", "id")
        if other.version == event.version:
            if other.fingerprint == event.fingerprint:
                return "duplicate"
            raise BadInput(
                CONFLICT,
                f"version {event.version} of {event.agreement_id} is already known "
                f"with different content (event {other.event_id})",
                "data.version",
            )
        if other.type == AGREEMENT_CREATED:
            created = other
    if created is not None:
        if event.type == AGREEMENT_CREATED:
            raise BadInput(
                CONFLICT,
                f"{event.agreement_id} was already created by version {created.version} "
                f"(event {created.event_id})",
                "type",
            )
        if event.type == AGREEMENT_AMENDED:
            problem = _plan_change(created, event)
            if problem is not None:
                raise problem
    return "new"


# --------------------------------------------------------------------------- fold


def _price_steps(start: date, entries: list[tuple[date, int, int]]) -> tuple[PriceStep, ...]:
    """Step function of the price: highest version among entries effective on or before a date.

    `entries` are (effective_date, version, amount_minor); the created event is one of
    them with effective_date = start. Dates before `start` count as `start`.
    """
    entries.sort()
    steps: list[PriceStep] = []
    best_version = 0
    best_amount = 0
    i = 0
    while i < len(entries):
        day = max(entries[i][0], start)
        changed = False
        while i < len(entries) and max(entries[i][0], start) == day:
            _, version, amount = entries[i]
            if version > best_version:
                best_version, best_amount, changed = version, amount, True
            i += 1
        if changed and (not steps or steps[-1].amount_minor != best_amount):
            steps.append(PriceStep(day, best_amount))
    return tuple(steps)


def _present[T](value: T | None) -> T:
    """A field parse_event guarantees for the event's type (a ValueError means a hand-made event)."""
    if value is None:
        raise ValueError("an AgreementEvent lacks a field its type requires: build events with parse_event")
    return value


def fold(events: Iterable[AgreementEvent]) -> Fold:
    """Fold one agreement's known events into its state (contract §2), order-insensitively.

    - The same event id seen again changes nothing (the first occurrence is kept).
    - Same version, different content: a conflict; the first occurrence is kept and
      the other goes to `ignored` (callers reject these at ingest with `admit`).
    - Until an agreement.created is known, `state` is None. If several are known,
      the lowest version is the agreement's creation; the others are conflicts.
    - The lowest-version cancellation ends billing at its effective_date; every event
      with a higher version is ignored (after_cancellation). A cancellation with a
      version below the creation voids the agreement: cancel_date = start_date, so
      nothing is billed and whatever was issued is credited.
    - An amendment that changes currency, interval or interval_count is ignored
      (plan_change_not_allowed) once the creation is known.
    Raises ValueError if the events belong to different agreements.
    """
    by_id: dict[str, AgreementEvent] = {}
    by_version: dict[int, AgreementEvent] = {}
    ignored: list[tuple[AgreementEvent, BadInput]] = []
    agreement_id: str | None = None
    for event in events:
        if agreement_id is None:
            agreement_id = event.agreement_id
        elif event.agreement_id != agreement_id:
            raise ValueError(
                f"fold() takes one agreement's events: {agreement_id!r} and {event.agreement_id!r}"
            )
        seen = by_id.get(event.event_id)
        if seen is not None:
            if seen.fingerprint != event.fingerprint:
                ignored.append(
                    (event, BadInput(CONFLICT, "event id already known with different content", "id"))
                )
            continue
        by_id[event.event_id] = event
        other = by_version.get(event.version)
        if other is not None:
            if other.fingerprint != event.fingerprint:
                ignored.append(
                    (
                        event,
                        BadInput(
                            CONFLICT,
                            f"version {event.version} already known with different content "
                            f"(event {other.event_id})",
                            "data.version",
                        ),
                    )
                )
            continue
        by_version[event.version] = event

    ordered = [by_version[v] for v in sorted(by_version)]
    cancel = next((e for e in ordered if e.type == AGREEMENT_CANCELLED), None)
    creates = [e for e in ordered if e.type == AGREEMENT_CREATED]
    created = creates[0] if creates else None

    applied: list[AgreementEvent] = []
    for event in ordered:
        if event is cancel or event is created:
            continue
        if cancel is not None and event.version > cancel.version:
            reason = BadInput(
                AFTER_CANCELLATION,
                f"version {event.version} is above the cancellation (version {cancel.version})",
                "data.version",
            )
            ignored.append((event, reason))
            continue
        if event.type == AGREEMENT_CREATED:
            first = creates[0].version
            ignored.append((event, BadInput(CONFLICT, f"already created by version {first}", "type")))
            continue
        if event.type == AGREEMENT_AMENDED and created is not None:
            problem = _plan_change(created, event)
            if problem is not None:
                ignored.append((event, problem))
                continue
        applied.append(event)

    if created is None:
        return Fold(None, tuple(ignored))

    plan = _present(created.plan)
    start = _present(created.start_date)
    entries = [(start, created.version, plan.amount_minor)]
    payment = (created.version, _present(created.payment_method))
    for event in applied:
        if event.type == AGREEMENT_AMENDED:
            entries.append((_present(event.effective_date), event.version, _present(event.plan).amount_minor))
            if event.payment_method is not None and event.version > payment[0]:
                payment = (event.version, event.payment_method)

    cancel_date: date | None = None
    cancel_version: int | None = None
    if cancel is not None:
        cancel_version = cancel.version
        cancel_date = _present(cancel.effective_date) if cancel.version > created.version else start
        if cancel.version < created.version:
            reason = BadInput(
                AFTER_CANCELLATION,
                f"the creation (version {created.version}) is above the cancellation "
                f"(version {cancel.version}): the agreement is void",
                "data.version",
            )
            ignored.append((created, reason))
    versions = [created.version, *(e.version for e in applied)]
    if cancel_version is not None:
        versions.append(cancel_version)

    state = AgreementState(
        agreement_id=created.agreement_id,
        customer_id=_present(created.customer_id),
        start_date=start,
        timezone=_present(created.timezone),
        currency=plan.currency,
        interval=plan.interval,
        interval_count=plan.interval_count,
        prices=_price_steps(start, entries),
        cancel_date=cancel_date,
        payment_method=payment[1],
        customer_email=created.customer_email,
        version=max(versions),
        created_version=created.version,
        cancel_version=cancel_version,
    )
    return Fold(state, tuple(ignored))
