"""DLQ redrive, invoked by an operator (or `billing redrive`):

    {"queue": "payment", "types": ["billing.invoice.issued"], "min_age_seconds": 0,
     "max_messages": 100, "dry_run": true, "include_rejected": false}

`queue` names a pair of REDRIVE_PAIRS (its DLQ and source queue).
"""

from typing import Any

from billing import bootstrap, clock, config
from billing.observability import count, logger, metrics
from billing.service.redrive import Redrive, RedriveRequest


def parse_request(event: dict[str, Any]) -> tuple[str, RedriveRequest]:
    pairs = config.json_setting("REDRIVE_PAIRS")
    queue = event.get("queue")
    if queue not in pairs:
        raise ValueError(f"queue must be one of {sorted(pairs)}, got {queue!r}")
    max_messages = event.get("max_messages")
    return queue, RedriveRequest(
        types=frozenset(event.get("types") or ()),
        min_age_seconds=int(event.get("min_age_seconds", 0)),
        max_messages=int(max_messages) if max_messages is not None else None,
        dry_run=bool(event.get("dry_run", False)),
        include_rejected=bool(event.get("include_rejected", False)),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    queue, request = parse_request(event)
    dlq_url, source_url = config.json_setting("REDRIVE_PAIRS")[queue]  # type: ignore[misc]
    mover = Redrive(bootstrap.queue_at(str(dlq_url)), bootstrap.queue_at(str(source_url)))
    report = mover.run(request, int(clock.now().timestamp() * 1000))
    if not request.dry_run:
        count("MessagesRedriven", report.moved)
    result = {"queue": queue, "dry_run": request.dry_run, **report.as_dict()}
    logger.info("redrive", extra=result)
    return result
