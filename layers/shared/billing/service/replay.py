"""The event store: query published billing events and send them again.

Every billing event is stored (the `OUT#` items) before it is published. A
replay re-sends the stored CloudEvent unchanged (same id, so consumers that
already saw it ignore it) to the whole topic, or to one subscriber's queue only
so one consumer can rebuild without disturbing the others.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from billing.ports import EventStore, Publisher, WorkQueue


@dataclass(frozen=True, slots=True)
class EventQuery:
    first_day: date
    last_day: date
    types: frozenset[str] = frozenset()
    agreement_id: str | None = None
    limit: int | None = None


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
        id=item["sk"].removeprefix("OUT#"),
        type=item["type"],
        time=item["time"],
        agreement_id=item["pk"].removeprefix("AGR#"),
        body=item["body"],
        attributes=dict(item["attributes"]),
    )
