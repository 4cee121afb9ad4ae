"""Event store query and replay, invoked by an operator (or `billing events query` / `billing replay`):

    {"action": "query" | "replay", "from": "2026-03-01", "to": "2026-03-31",
     "types": ["billing.invoice.issued"], "agreement_id": "agr-1", "limit": 100,
     "target": "topic" | "payment" | "accounting", "dry_run": false}

`target` "topic" re-publishes to every subscriber; a queue name sends to that
subscriber's queue only. Events keep their ids, so consumers deduplicate.
"""

from datetime import date
from typing import Any

from billing import bootstrap, config
from billing.observability import count, logger, metrics
from billing.service.replay import EventQuery, query, replay


def parse_query(event: dict[str, Any]) -> EventQuery:
    limit = event.get("limit")
    return EventQuery(
        first_day=date.fromisoformat(event["from"]),
        last_day=date.fromisoformat(event.get("to", event["from"])),
        types=frozenset(event.get("types") or ()),
        agreement_id=event.get("agreement_id"),
        limit=int(limit) if limit is not None else None,
    )


def target(name: str) -> Any:
    if name == "topic":
        return bootstrap.billing_topic()
    queues = config.json_setting("REPLAY_TARGETS")
    if name not in queues:
        raise ValueError(f"target must be 'topic' or one of {sorted(queues)}, got {name!r}")
    return bootstrap.queue_at(str(queues[name]))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    events = list(query(bootstrap.billing_table(), parse_query(event)))
    if event.get("action", "query") == "query":
        return {"count": len(events), "events": [e.summary() for e in events]}
    destination = event.get("target", "topic")
    sink = target(destination)
    sent = 0 if event.get("dry_run") else replay(events, sink)
    count("EventsReplayed", sent)
    result = {
        "target": destination,
        "matched": len(events),
        "sent": sent,
        "dry_run": bool(event.get("dry_run")),
    }
    logger.info("replay", extra=result)
    return result
