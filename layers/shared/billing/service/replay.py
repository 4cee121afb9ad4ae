"""The event store: query published billing events and send them again.

Every billing event is stored (the `OUT#` items) before it is published. A
replay re-sends the stored CloudEvent unchanged (same id, so consumers that
already saw it ignore it) to the whole topic, or to one subscriber's queue only
so one consumer can rebuild without disturbing the others.

The request is read strictly (billing.service.requests): an unknown `action` is
refused, never taken for a replay; `from` is required, `to` (default: `from`) is
not before it, and one request covers at most MAX_DAYS days (a longer outage is
replayed a month at a time).
"""

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from billing.ports import EventStore, Publisher, WorkQueue
from billing.service.requests import Fields, InvalidRequest

MAX_DAYS = 31  # days in one query or replay: a calendar month; each is a Query of the day index
MAX_LIMIT = 10_000  # events in one answer or one replay (10,000 summaries stay far below Lambda's 6 MB)
ACTIONS = ("query", "replay")
TARGET_QUEUES = ("payment", "accounting")  # the template's REPLAY_TARGETS (a tooling test holds them equal)
QUERY_FIELDS = ("action", "from", "to", "types", "agreement_id", "limit")
REPLAY_ONLY = ("target", "dry_run")


@dataclass(frozen=True, slots=True)
class EventQuery:
    first_day: date
    last_day: date
    types: frozenset[str] = frozenset()
    agreement_id: str | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    action: str  # "query" (read only) or "replay"
    query: EventQuery
    target: str = "topic"  # "topic" or a REPLAY_TARGETS queue name
    dry_run: bool = False


def parse_request(request: Any, targets: Collection[str]) -> ReplayRequest:
    """What to query and where to send it; InvalidRequest (nothing done) if anything is wrong.

    `{"action": "query" | "replay", "from": "2026-03-01", "to": "2026-03-31", "types": [...],
    "agreement_id": "agr-1", "limit": 100, "target": "topic" | <queue>, "dry_run": false}`;
    `from` is required, `action` defaults to "query", `target` and `dry_run` are for a replay only.
    """
    fields = Fields(request, QUERY_FIELDS + REPLAY_ONLY)
    action = fields.choice("action", ACTIONS, default="query")
    if action == "query":
        for name in REPLAY_ONLY:
            if fields.has(name):
                raise InvalidRequest("unknown_field", f"{name}: only for action replay", name)
    first = fields.day("from", required=True)
    if first is None:  # required=True refuses a missing one; this keeps the type checker honest
        raise InvalidRequest("missing_field", "from: required", "from")
    last = fields.day("to") or first
    if last < first:
        raise InvalidRequest("invalid_range", f"to ({last}) is before from ({first})", "to")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidRequest(
            "invalid_range", f"{days} days from {first} to {last}: at most {MAX_DAYS} per request", "to"
        )
    query = EventQuery(
        first_day=first,
        last_day=last,
        types=fields.strings("types"),
        agreement_id=fields.string("agreement_id"),
        limit=fields.integer("limit", 1, MAX_LIMIT),
    )
    if action == "query":
        return ReplayRequest(action, query)
    target = fields.choice("target", ("topic", *targets), default="topic")
    return ReplayRequest(action, query, target, fields.boolean("dry_run"))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    type: str
    time: str
    agreement_id: str
    body: str
    attributes: dict[str, str]

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": self.time, "agreement_id": self.agreement_id}

    def cloudevent(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


def query(table: EventStore, q: EventQuery) -> Iterator[StoredEvent]:
    items: Iterable[dict[str, Any]]
    if q.agreement_id:
        items = table.events_of(q.agreement_id)
    else:
        items = table.events_between(q.first_day, q.last_day)
    found = 0
    for item in items:
        event = _stored(item)
        if not (q.first_day.isoformat() <= event.time[:10] <= q.last_day.isoformat()):
            continue
        if q.types and event.type not in q.types:
            continue
        yield event
        found += 1
        if q.limit is not None and found >= q.limit:
            return


def replay(events: Iterable[StoredEvent], target: Publisher | WorkQueue) -> int:
    batch = list(events)
    if isinstance(target, Publisher):
        failed = target.publish_batch([(e.id, e.body, e.attributes) for e in batch])
        if failed:
            raise RuntimeError(f"{len(failed)} events were not accepted by the topic")
        return len(batch)
    return target.send_batch((e.body, e.attributes) for e in batch)


def _stored(item: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=item.get("event_id") or item["sk"].removeprefix("OUT#"),  # a payment item: its outcome's id
        type=item["type"],
        time=item["time"],
        agreement_id=item["pk"].removeprefix("AGR#"),
        body=item["body"],
        attributes=dict(item["attributes"]),
    )
