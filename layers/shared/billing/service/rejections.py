"""Park each distinct rejected input once, and count every copy of it (issue 15 item 7).

At-least-once delivery (and upstream resending) brings the same bad body many times; parking
every copy would show an operator one bad event many times. The record of a rejection is keyed
by the SHA-256 of the body, not by the CloudEvent id: a reused id with other content is a bad
event of its own. Each delivery counts itself in one atomic update (`seen`, `first_seen`,
`last_seen`); the body goes to the DLQ only when no copy of it is known to be there:

- never parked (the first copy, or a retry after the park failed: the record is marked parked
  only after the DLQ took it, so a crash in between parks a second copy, never none);
- a redrive sent the parked copy back (it carries REDRIVEN_ATTRIBUTE);
- the parked copy has expired (REPARK_AFTER: a day inside the DLQ's 14-day retention).
"""

import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum

from billing.domain.billing_events import iso_instant
from billing.domain.errors import BadInput
from billing.ports import REDRIVEN_ATTRIBUTE, REJECTION_ATTRIBUTES, DeadLetterQueue, Rejection, RejectionLog

__all__ = ["MAX_EVENT_ID", "REPARK_AFTER", "Verdict", "park_once", "rejection_key"]

REPARK_AFTER = timedelta(days=13)  # DLQs keep messages 14 days (template.yaml MessageRetentionPeriod)
MAX_EVENT_ID = 256  # the longest valid CloudEvent id (contract §1); a longer one is cut in the record


class Verdict(StrEnum):
    PARKED = "parked"  # on the DLQ now
    REPEATED = "repeated"  # a copy of input already parked: counted, not parked again


def rejection_key(body: str) -> str:
    """The record's key: SHA-256 of the body's bytes (a lone surrogate cannot make it fail)."""
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def park_once(
    dlq: DeadLetterQueue,
    log: RejectionLog,
    body: str,
    attributes: dict[str, str],
    error: BadInput,
    now: datetime,
) -> Verdict:
    """Count this delivery of rejected `body`; park it on `dlq` unless a copy is there already."""
    key = rejection_key(body)
    at = iso_instant(now)
    noted = log.note_rejection(
        key, code=error.code, reason=_storable(str(error)), event_id=_event_id(body), seen_at=at
    )
    if not _needs_parking(noted, attributes, now):
        return Verdict.REPEATED
    # A redriven copy's marks are replaced: it is back on the DLQ, under this record.
    kept = {k: v for k, v in attributes.items() if k not in REJECTION_ATTRIBUTES and k != REDRIVEN_ATTRIBUTE}
    dlq.park(body, {**kept, "rejection_key": key}, error.code, str(error))
    log.mark_parked(key, at)
    return Verdict.PARKED


def _needs_parking(noted: Rejection, attributes: dict[str, str], now: datetime) -> bool:
    if noted.parked_at is None or REDRIVEN_ATTRIBUTE in attributes:
        return True
    return now - datetime.fromisoformat(noted.parked_at) >= REPARK_AFTER


def _event_id(body: str) -> str | None:
    """The body's top-level `id`, if it has a string one (for the operator to search by)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = decoded.get("id") if isinstance(decoded, dict) else None
    return _storable(value[:MAX_EVENT_ID]) if isinstance(value, str) else None


def _storable(text: str) -> str:
    """`text` as valid UTF-8 (DynamoDB's strings): lone surrogates become backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
