"""Accounting exporter: on its schedule, drains AccountingQueue into JSON Lines objects on S3.

Receives long-poll (RECEIVE_WAIT_SECONDS, default 5 s, never more than the time left allows); the
queue is drained after three empty answers in a row.
"""

from typing import Any

from billing import bootstrap, clock, config
from billing.domain.errors import BadInput
from billing.observability import count, logger, metrics
from billing.service.accounting import EMPTY_RECEIVES, LONG_POLL_SECONDS, AccountingExport

_SAFETY_MS = 20_000  # leave time to write and delete the last batch


def park(message: dict[str, Any], error: BadInput) -> None:
    attributes = {
        k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items() if "StringValue" in v
    }
    bootstrap.queue("DEAD_LETTER_QUEUE_URL").park(message["Body"], attributes, error.code, str(error))
    count("EventsRejected")
    logger.error("input rejected", extra={"reason": str(error), "message_id": message["MessageId"]})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    spare_s = (context.get_remaining_time_in_millis() - _SAFETY_MS) // 1000
    export = AccountingExport(
        bootstrap.queue("ACCOUNTING_QUEUE_URL"),
        bootstrap.bucket("ACCOUNTING_BUCKET"),
        park,
        wait_seconds=max(0, min(config.receive_wait_seconds(LONG_POLL_SECONDS), spare_s // EMPTY_RECEIVES)),
        empty_receives=EMPTY_RECEIVES,
    )
    exported = export.drain(clock.now, lambda: context.get_remaining_time_in_millis() > _SAFETY_MS)
    count("EventsExported", exported)
    logger.info("accounting export", extra={"exported": exported})
    return {"exported": exported}
