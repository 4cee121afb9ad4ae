"""DLQ redrive, invoked by an operator (or `billing redrive`):

    {"queue": "payment", "types": ["billing.invoice.issued"], "min_age_seconds": 0,
     "max_messages": 100, "dry_run": true, "include_rejected": false}

`queue` names a pair of REDRIVE_PAIRS (its DLQ and source queue). Receives long-poll
(RECEIVE_WAIT_SECONDS, default 5 s, never more than the time left allows); the DLQ is drained after
three empty answers in a row.
"""

from typing import Any, cast

from billing import bootstrap, clock, config
from billing.observability import count, logger, metrics
from billing.service.redrive import EMPTY_RECEIVES, LONG_POLL_SECONDS, Redrive, RedriveRequest

_SAFETY_MS = 15_000  # leave time to release what was held and to answer


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
    dlq_url, source_url = cast(list[str], config.json_setting("REDRIVE_PAIRS")[queue])
    spare_s = (context.get_remaining_time_in_millis() - _SAFETY_MS) // 1000
    mover = Redrive(
        bootstrap.queue_at(str(dlq_url)),
        bootstrap.queue_at(str(source_url)),
        wait_seconds=max(0, min(config.receive_wait_seconds(LONG_POLL_SECONDS), spare_s // EMPTY_RECEIVES)),
        empty_receives=EMPTY_RECEIVES,
    )
    report = mover.run(
        request,
        int(clock.now().timestamp() * 1000),
        lambda: context.get_remaining_time_in_millis() > _SAFETY_MS,
    )
    if not request.dry_run:
        count("MessagesRedriven", report.moved)
    result = {"queue": queue, "dry_run": request.dry_run, **report.as_dict()}
    logger.info("redrive", extra=result)
    return result
