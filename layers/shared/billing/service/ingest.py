"""Project an inbound agreement event: validate, store once per version, mark the agreement due.

Duplicates (same event, or same content under a new id) change nothing;
conflicts (same agreement and version, different content) and amendments the
agreement forbids are bad input (`admit` raises BadInput) for the handler to park,
and so is an id another agreement's event took (the store's claim of the id, written
with the event, refuses it: EventIdTaken).

Events that arrive before their agreement's creation are held (stored) unchecked: there is
nothing to check them against. The creation's arrival decides them: those it makes invalid
(an amendment changing the currency, ...) come back in `Ingested.refused` for the handler to
park like any other rejection, and a later copy of one is rejected again, never a silent
duplicate.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.agreements import (
    AFTER_CANCELLATION,
    AGREEMENT_CREATED,
    REFUSED,
    AgreementEvent,
    Fold,
    admit,
    fold,
    id_conflict,
    parse_event,
)
from billing.domain.billing_events import iso_instant
from billing.domain.engine import midnight_utc
from billing.domain.errors import BadInput
from billing.ports import AgreementStore, EventIdTaken, StoredInbound, VersionTaken


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    STALE = "stale"  # stored, but ignored by the rules: a version after a known cancellation


@dataclass(frozen=True, slots=True)
class Ingested:
    outcome: Outcome
    event: AgreementEvent
    # Held events this creation makes invalid (stored, as received), each with its reason.
    refused: tuple[tuple[StoredInbound, BadInput], ...] = ()


def ingest(body: str | bytes, table: AgreementStore, now: datetime) -> Ingested:
    event = parse_event(body)
    for _ in range(3):  # a concurrent writer of the same version makes us look again
        stored = table.inbound_events(event.agreement_id)
        known = [parse_event(s.body) for s in stored]
        if admit(known, event) == "duplicate":
            folded = fold(known)
            copy_of = _refusal(folded, event)
            if copy_of is not None:
                raise copy_of
            return Ingested(Outcome.DUPLICATE, event, _refused_by(event, folded, stored))
        folded = fold([*known, event])
        stale = any(
            ignored.event_id == event.event_id and error.code == AFTER_CANCELLATION
            for ignored, error in folded.ignored
        )
        text = body.decode() if isinstance(body, bytes) else body
        try:
            table.record_inbound(
                event.agreement_id,
                StoredInbound(event.version, event.event_id, event.fingerprint, text),
                received_at=iso_instant(now),
                due_at=iso_instant(_due_from(event, now)),
            )
        except VersionTaken:
            continue
        except EventIdTaken:
            # Another agreement's event has this id: `admit` only sees this agreement's events.
            raise id_conflict() from None
        outcome = Outcome.STALE if stale else Outcome.STORED
        return Ingested(outcome, event, _refused_by(event, folded, stored))
    raise RuntimeError(f"version {event.version} of {event.agreement_id} kept changing")


def _refusal(folded: Fold, event: AgreementEvent) -> BadInput | None:
    """Why the rules refuse the stored event `event` duplicates (same id, or same version and
    content), if they do."""
    for ignored, error in folded.ignored:
        same = ignored.event_id == event.event_id or (
            ignored.version == event.version and ignored.fingerprint == event.fingerprint
        )
        if same and error.code in REFUSED:
            return error
    return None


def _refused_by(
    event: AgreementEvent, folded: Fold, stored: list[StoredInbound]
) -> tuple[tuple[StoredInbound, BadInput], ...]:
    """The held events a creation makes invalid (a redelivered creation names them again: the
    handler may have died before parking them)."""
    if event.type != AGREEMENT_CREATED:
        return ()
    by_id = {s.event_id: s for s in stored}
    return tuple(
        (by_id[ignored.event_id], error)
        for ignored, error in folded.ignored
        if error.code in REFUSED and ignored.event_id in by_id and ignored.event_id != event.event_id
    )


def _due_from(event: AgreementEvent, now: datetime) -> datetime:
    """When the agreement must be looked at again: at once, except for a creation that starts in
    the future (nothing can be billed before its start, so no run looks at it earlier)."""
    if event.type == AGREEMENT_CREATED and event.start_date is not None:
        return max(now, midnight_utc(event.start_date, event.timezone or "UTC"))
    return now
