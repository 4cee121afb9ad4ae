"""DLQ redrive, invoked by an operator (or `billing redrive`):

    {"queue": "payment", "types": ["billing.invoice.issued"], "min_age_seconds": 0,
     "max_messages": 100, "dry_run": true, "include_rejected": false}

`queue` names a pair of REDRIVE_PAIRS (its DLQ and source queue). The request is read strictly
(billing.service.redrive.parse_request): a wrong one is answered `{"error": {"code", "field",
"reason"}}` and nothing is received or moved. Receives long-poll (RECEIVE_WAIT_SECONDS, default 5 s,
never more than the time left allows); the DLQ is drained after three empty answers in a row.
"""

from typing import Any, cast

from billing import bootstrap, clock, config
from billing.observability import count, logger, metrics
from billing.service.redrive import (
    EMPTY_RECEIVES,
    LONG_POLL_SECONDS,
    Redrive,
    RedriveInterrupted,
    parse_request,
)
from billing.service.requests import InvalidRequest

_SAFETY_MS = 15_000  # leave time to release what was held and to answer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    pairs = config.json_setting("REDRIVE_PAIRS")
    try:
        queue, request = parse_request(event, pairs)
    except InvalidRequest as error:
        logger.warning("redrive request refused", extra=error.as_payload()["error"])
        return error.as_payload()
    dlq_url, source_url = cast(list[str], pairs[queue])
    spare_s = (context.get_remaining_time_in_millis() - _SAFETY_MS) // 1000
    mover = Redrive(
        bootstrap.queue_at(str(dlq_url)),
        bootstrap.queue_at(str(source_url)),
        wait_seconds=max(0, min(config.receive_wait_seconds(LONG_POLL_SECONDS), spare_s // EMPTY_RECEIVES)),
        empty_receives=EMPTY_RECEIVES,
    )
    try:
        report = mover.run(
            request,
            int(clock.now().timestamp() * 1000),
            lambda: context.get_remaining_time_in_millis() > _SAFETY_MS,
        )
    except RedriveInterrupted as error:  # what was not moved is visible again: fix, run it again
        count("MessagesRedriven", error.report.moved)
        logger.error("redrive failed part-way", extra={"queue": queue, **error.report.as_dict()})
        raise
    if not request.dry_run:
        count("MessagesRedriven", report.moved)
    result = {"queue": queue, "dry_run": request.dry_run, **report.as_dict()}
    logger.info("redrive", extra=result)
    return result
