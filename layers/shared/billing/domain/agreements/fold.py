"""The fold of one agreement's known events into the state the billing rules read (contract §2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..errors import BadInput
from .model import (
    AFTER_CANCELLATION,
    AGREEMENT_AMENDED,
    AGREEMENT_CANCELLED,
    AGREEMENT_CREATED,
    AgreementCancelled,
    AgreementCreated,
    AgreementEvent,
    AgreementState,
    Fold,
    Plan,
    PriceStep,
)
from .rules import against_creation, relation

__all__ = ["fold"]


def _price_steps(start: date, entries: list[tuple[date, int, Plan]]) -> tuple[PriceStep, ...]:
    """Step function of the price and its tax: highest version among entries effective on or before a date.

    `entries` are (effective_date, version, plan); the created event is one of
    them with effective_date = start. Dates before `start` count as `start`.
    """
    entries.sort(key=lambda entry: entry[:2])
    steps: list[PriceStep] = []
    best_version = 0
    best: Plan | None = None
    i = 0
    while i < len(entries):
        day = max(entries[i][0], start)
        changed = False
        while i < len(entries) and max(entries[i][0], start) == day:
            _, version, plan = entries[i]
            if version > best_version:
                best_version, best, changed = version, plan, True
            i += 1
        if changed and best is not None:
            step = PriceStep(day, best.amount_minor, best.tax_rate, best.tax_inclusive)
            if not steps or steps[-1].pricing != step.pricing:
                steps.append(step)
    return tuple(steps)


def _distinct(
    events: Iterable[AgreementEvent], ignored: list[tuple[AgreementEvent, BadInput]]
) -> list[AgreementEvent]:
    """One event per version, in version order: the first occurrence of an id or a version wins;
    a later one with other content is a conflict (appended to `ignored`)."""
    by_id: dict[str, AgreementEvent] = {}
    by_version: dict[int, AgreementEvent] = {}
    agreement_id: str | None = None
    for event in events:
        if agreement_id is None:
            agreement_id = event.agreement_id
        elif event.agreement_id != agreement_id:
            raise ValueError(
                f"fold() takes one agreement's events: {agreement_id!r} and {event.agreement_id!r}"
            )
        seen = by_id.get(event.event_id)
        if seen is None:
            by_id[event.event_id] = event
            seen = by_version.get(event.version)
        if seen is not None:
            found = relation(seen, event)
            if isinstance(found, BadInput):
                ignored.append((event, found))
            continue
        by_version[event.version] = event
    return [by_version[v] for v in sorted(by_version)]


def _applicable(
    ordered: list[AgreementEvent],
    created: AgreementCreated | None,
    cancel: AgreementCancelled | None,
    ignored: list[tuple[AgreementEvent, BadInput]],
) -> list[AgreementEvent]:
    """The events besides the creation and the cancellation that the rules apply."""
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
        problem = None if created is None else against_creation(created, event)
        if problem is not None:
            ignored.append((event, problem))
            continue
        applied.append(event)
    return applied


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
    ignored: list[tuple[AgreementEvent, BadInput]] = []
    ordered = _distinct(events, ignored)
    cancel = next((e for e in ordered if e.type == AGREEMENT_CANCELLED), None)
    created = next((e for e in ordered if e.type == AGREEMENT_CREATED), None)
    applied = _applicable(ordered, created, cancel, ignored)
    if created is None:
        return Fold(None, tuple(ignored))
    return Fold(_state(created, applied, cancel, ignored), tuple(ignored))


def _state(
    created: AgreementCreated,
    applied: list[AgreementEvent],
    cancel: AgreementCancelled | None,
    ignored: list[tuple[AgreementEvent, BadInput]],
) -> AgreementState:
    plan, start = created.plan, created.start_date
    entries = [(start, created.version, plan)]
    payment = (created.version, created.payment_method)
    for event in applied:
        if event.type == AGREEMENT_AMENDED:
            entries.append((event.effective_date, event.version, event.plan))
            if event.payment_method is not None and event.version > payment[0]:
                payment = (event.version, event.payment_method)

    cancel_date: date | None = None
    cancel_version: int | None = None
    if cancel is not None:
        cancel_version = cancel.version
        cancel_date = cancel.effective_date if cancel.version > created.version else start
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

    return AgreementState(
        agreement_id=created.agreement_id,
        customer_id=created.customer_id,
        start_date=start,
        timezone=created.timezone,
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
