"""Project an inbound agreement event: validate, store once per version, mark the agreement due.

Duplicates (same event, or same content under a new id) change nothing;
conflicts (same agreement and version, different content) and amendments the
agreement forbids are bad input, raised as BadInput for the handler to park.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.adapters.dynamo import BillingTable, StoredInbound, VersionTaken
from billing.domain.agreements import AgreementEvent, fold, parse_event
from billing.domain.billing_events import iso_instant
from billing.domain.errors import BadInput

# Fold.ignored reasons that mean "the producer sent something wrong", as opposed
# to "superseded" (a version after a cancellation), which is merely stale.
_STALE_CODES = frozenset({"stale", "after_cancellation"})


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Ingested:
    outcome: Outcome
    event: AgreementEvent


def ingest(body: str | bytes, table: BillingTable, now: datetime) -> Ingested:
    event = parse_event(body)
    for _ in range(3):  # a concurrent writer of the same version makes us look again
        existing = table.inbound_events(event.agreement_id)
        same = next((s for s in existing if s.version == event.version), None)
        if same is not None:
            return Ingested(_same_version(same, event), event)
        ignored = {e.event_id: err for e, err in fold([*map(_parse_stored, existing), event]).ignored}
        error = ignored.get(event.event_id)
        if error is not None and error.code not in _STALE_CODES:
            raise error
        stored = StoredInbound(event.version, event.event_id, event.fingerprint, _text(body))
        try:
            table.record_inbound(
                event.agreement_id, stored, received_at=iso_instant(now), due_at=iso_instant(now)
            )
        except VersionTaken:
            continue
        return Ingested(Outcome.STALE if error is not None else Outcome.STORED, event)
    raise RuntimeError(f"version {event.version} of {event.agreement_id} kept changing")


def _same_version(stored: StoredInbound, event: AgreementEvent) -> Outcome:
    if stored.event_id == event.event_id and stored.fingerprint == event.fingerprint:
        return Outcome.DUPLICATE
    if stored.fingerprint == event.fingerprint:
        return Outcome.DUPLICATE  # the producer re-sent the same content under a new id
    raise BadInput(
        "conflict",
        f"version {event.version} of {event.agreement_id} is already event {stored.event_id} "
        "with different content",
        field="data.version",
    )


def _parse_stored(stored: StoredInbound) -> AgreementEvent:
    return parse_event(stored.body)


def _text(body: str | bytes) -> str:
    return body.decode() if isinstance(body, bytes) else body
