"""The semantic rules of the agreement contract: what the shapes cannot say.

- value rules a declaration names (`shapes.Named`): an active ISO 4217 currency, a known IANA
  time zone;
- the rules between events of one agreement, shared by the ingest rule (`admit`) and the fold:
  `relation` (same id or same version: a duplicate or a conflict) and `against_creation` (a second
  creation, or an amendment that changes the plan's currency or interval).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Literal

from ..errors import BadInput
from ..money import is_active_currency
from .model import (
    AGREEMENT_AMENDED,
    AGREEMENT_CREATED,
    CONFLICT,
    PLAN_CHANGE_NOT_ALLOWED,
    AgreementCreated,
    AgreementEvent,
)

__all__ = [
    "DUPLICATE",
    "REFUSED",
    "admit",
    "against_creation",
    "check_named",
    "id_conflict",
    "is_known_timezone",
    "known_timezones",
    "relation",
]

DUPLICATE: Literal["duplicate"] = "duplicate"
# The fold's ignored reasons that are bad input (rejected and parked), unlike after_cancellation,
# which is the contract's rule for a late event (stored and ignored).
REFUSED = frozenset({CONFLICT, PLAN_CHANGE_NOT_ALLOWED})


# --------------------------------------------------------------------------- value rules


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


def check_named(rule: Literal["currency", "timezone"], value: str, field: str) -> None:
    """The rule a `shapes.Named` field names; raises BadInput when `value` does not pass it."""
    if rule == "currency":
        if not is_active_currency(value):
            raise BadInput("unknown_currency", f"{value!r} is not an active ISO 4217 currency code", field)
    elif not is_known_timezone(value):
        raise BadInput("unknown_timezone", f"{value!r} is not an IANA time zone name", field)


# --------------------------------------------------------------------------- rules between events


def relation(known: AgreementEvent, event: AgreementEvent) -> Literal["duplicate"] | BadInput | None:
    """How `event` relates to a `known` event of the same agreement.

    The same id or the same version with the same content: a duplicate (it changes nothing);
    with other content: a conflict (the first one accepted wins); else None (unrelated).
    """
    if known.event_id == event.event_id:
        if known.fingerprint == event.fingerprint:
            return DUPLICATE
        return id_conflict()
    if known.version == event.version:
        if known.fingerprint == event.fingerprint:
            return DUPLICATE
        return BadInput(
            CONFLICT,
            f"version {event.version} of {event.agreement_id} is already known "
            f"with different content (event {known.event_id})",
            "data.version",
        )
    return None


def id_conflict() -> BadInput:
    """The event's id was accepted before with other content: of this agreement or another one
    (an id is unique per event, system-wide; the first one accepted wins)."""
    return BadInput(CONFLICT, "this event id was already received with different content", "id")


def against_creation(created: AgreementCreated, event: AgreementEvent) -> BadInput | None:
    """What the agreement's creation forbids: another creation, or an amendment that changes the
    plan's currency, interval or interval_count."""
    if event.type == AGREEMENT_CREATED:
        return BadInput(
            CONFLICT,
            f"{event.agreement_id} was already created by version {created.version} "
            f"(event {created.event_id})",
            "type",
        )
    if event.type == AGREEMENT_AMENDED:
        for name in ("currency", "interval", "interval_count"):
            was, now = getattr(created.plan, name), getattr(event.plan, name)
            if was != now:
                return BadInput(
                    PLAN_CHANGE_NOT_ALLOWED,
                    f"an amendment cannot change {name} ({was!r} -> {now!r}); version {event.version}",
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
    created: AgreementCreated | None = None
    for other in known:
        if other.agreement_id != event.agreement_id:
            continue
        found = relation(other, event)
        if found == DUPLICATE:
            return DUPLICATE
        if isinstance(found, BadInput):
            raise found
        if other.type == AGREEMENT_CREATED:
            created = other
    if created is not None:
        problem = against_creation(created, event)
        if problem is not None:
            raise problem
    return "new"
