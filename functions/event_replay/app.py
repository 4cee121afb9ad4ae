"""Event store query and replay, invoked by an operator (or `billing events query` / `billing replay`):

    {"action": "query" | "replay", "from": "2026-03-01", "to": "2026-03-31",
     "types": ["billing.invoice.issued"], "agreement_id": "agr-1", "limit": 100,
     "target": "topic" | "payment" | "accounting", "dry_run": false}

`target` "topic" re-publishes to every subscriber; a queue name sends to that
subscriber's queue only. Events keep their ids, so consumers deduplicate. The
request is read strictly (billing.service.replay.parse_request): a wrong one is
answered `{"error": {"code", "field", "reason"}}` and nothing is read or sent.
"""

from typing import Any

from billing import bootstrap, config
from billing.observability import count, logger, metrics
from billing.service.replay import parse_request, query, replay
from billing.service.requests import InvalidRequest


def target(name: str) -> Any:
    if name == "topic":
        return bootstrap.billing_topic()
    return bootstrap.queue_at(str(config.json_setting("REPLAY_TARGETS")[name]))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        request = parse_request(event, config.json_setting("REPLAY_TARGETS"))
    except InvalidRequest as error:
        logger.warning("replay request refused", extra=error.as_payload()["error"])
        return error.as_payload()
    events = list(query(bootstrap.billing_table(), request.query))
    if request.action == "query":
        return {"count": len(events), "events": [e.summary() for e in events]}
    sink = target(request.target)
    sent = 0 if request.dry_run else replay(events, sink)
    count("EventsReplayed", sent)
    result = {"target": request.target, "matched": len(events), "sent": sent, "dry_run": request.dry_run}
    logger.info("replay", extra=result)
    return result
