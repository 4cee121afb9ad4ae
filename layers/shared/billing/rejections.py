"""Bad input on an SQS consumer: parked on the consumer's DLQ at once, with its reason.

No retries are burnt on input that can never succeed; the message keeps its
body and attributes, gains `rejection_code` and `rejection_reason`, is counted
in `EventsRejected` and logged (id and reason only: the body may hold PII).

`once=True` (the projector, whose input comes from outside and arrives many times) parks each
distinct bad body once (billing.service.rejections): a copy of one already parked is counted in
its record and in `RejectionsRepeated`, and logged at WARNING, not parked again.
"""

from billing import bootstrap, clock
from billing.adapters.messaging import lambda_record_attributes
from billing.batch import Record
from billing.domain.errors import BadInput
from billing.observability import count, logger
from billing.service.rejections import Verdict, park_once, rejection_key


def reject(record: Record, error: BadInput, *, once: bool = False) -> None:
    attributes = lambda_record_attributes(record)
    park(record["body"], attributes, error, once=once, message_id=record["messageId"])


def park(
    body: str, attributes: dict[str, str], error: BadInput, *, once: bool = False, **context: str
) -> None:
    """Park one body (a record's, or a stored event's found bad later) with its reason; `context`
    goes to the log line (ids, never the body)."""
    dlq = bootstrap.queue("DEAD_LETTER_QUEUE_URL")
    if not once:
        dlq.park(body, attributes, error.code, str(error))
    elif park_once(dlq, bootstrap.billing_table(), body, attributes, error, clock.now()) is Verdict.REPEATED:
        count("RejectionsRepeated")
        extra = {"reason": str(error), "rejection_key": rejection_key(body), **context}
        logger.warning("input rejected again (parked before)", extra=extra)
        return
    count("EventsRejected")
    logger.error("input rejected", extra={"reason": str(error), **context})
