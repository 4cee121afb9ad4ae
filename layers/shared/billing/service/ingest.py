"""Project an inbound agreement event: validate, store once per version, mark the agreement due.

Duplicates (same event, or same content under a new id) change nothing;
conflicts (same agreement and version, different content) and amendments the
agreement forbids are bad input (`admit` raises BadInput) for the handler to park.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.agreements import (
    AFTER_CANCELLATION,
    AGREEMENT_CREATED,
    AgreementEvent,
    admit,
    fold,
    parse_event,
)
from billing.domain.billing_events import iso_instant
from billing.domain.engine import midnight_utc
from billing.ports import AgreementStore, StoredInbound, VersionTaken


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    STALE = "stale"  # stored, but ignored by the rules: a version after a known cancellation


@dataclass(frozen=True, slots=True)
class Ingested:
    outcome: Outcome
    event: AgreementEvent


def ingest(body: str | bytes, table: AgreementStore, now: datetime) -> Ingested:
    event = parse_event(body)
    for _ in range(3):  # a concurrent writer of the same version makes us look again
        known = [parse_event(stored.body) for stored in table.inbound_events(event.agreement_id)]
        if admit(known, event) == "duplicate":
            return Ingested(Outcome.DUPLICATE, event)
        stale = any(
            ignored.event_id == event.event_id and error.code == AFTER_CANCELLATION
            for ignored, error in fold([*known, event]).ignored
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
        return Ingested(Outcome.STALE if stale else Outcome.STORED, event)
    raise RuntimeError(f"version {event.version} of {event.agreement_id} kept changing")


def _due_from(event: AgreementEvent, now: datetime) -> datetime:
    """When the agreement must be looked at again: at once, except for a creation that starts in
    the future (nothing can be billed before its start, so no run looks at it earlier)."""
    if event.type == AGREEMENT_CREATED and event.start_date is not None:
        return max(now, midnight_utc(event.start_date, event.timezone or "UTC"))
    return now
