"""Bad input on an SQS consumer: parked on the consumer's DLQ at once, with its reason.

No retries are burnt on input that can never succeed; the message keeps its
body and attributes, gains `rejection_code` and `rejection_reason`, is counted
in `EventsRejected` and logged (id and reason only: the body may hold PII).
"""

from billing import bootstrap
from billing.adapters.messaging import lambda_record_attributes
from billing.batch import Record
from billing.domain.errors import BadInput
from billing.observability import count, logger


def reject(record: Record, error: BadInput) -> None:
    park(record["body"], lambda_record_attributes(record), error, message_id=record["messageId"])


def park(body: str, attributes: dict[str, str], error: BadInput, **context: str) -> None:
    """Park one body (a record's, or a stored event's found bad later) with its reason; `context`
    goes to the log line (ids, never the body)."""
    bootstrap.queue("DEAD_LETTER_QUEUE_URL").park(body, attributes, error.code, str(error))
    count("EventsRejected")
    logger.error("input rejected", extra={"reason": str(error), **context})
