"""Accounting exporter: on its schedule, drains AccountingQueue into JSON Lines objects on S3."""

from functools import cache
from typing import Any

import boto3

from billing import bootstrap, clock, config
from billing.domain.errors import BadInput
from billing.observability import count, logger, metrics
from billing.service.accounting import drain, export_batch

_SAFETY_MS = 20_000  # leave time to write and delete the last batch


@cache
def _clients() -> tuple[Any, Any]:
    return boto3.client("sqs"), boto3.client("s3")


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
    sqs, s3 = _clients()
    queue_url, bucket = config.setting("ACCOUNTING_QUEUE_URL"), config.setting("ACCOUNTING_BUCKET")
    exported = drain(
        lambda: export_batch(sqs, s3, queue_url, bucket, clock.now(), park),
        lambda: context.get_remaining_time_in_millis() > _SAFETY_MS,
    )
    count("EventsExported", exported)
    logger.info("accounting export", extra={"exported": exported})
    return {"exported": exported}
