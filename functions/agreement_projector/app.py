"""Agreement projector: AgreementQueue (SNS raw delivery) -> BillingTable.

Each record is one agreement CloudEvent. Valid events are stored once per
version and mark the agreement due; bad input is parked on the DLQ at once with
its reason (no retries burnt); anything else fails the record so SQS retries it (the rule:
`billing.domain.errors.input_fault`, applied by `process_sqs_batch`).
"""

from typing import Any

from billing import bootstrap, clock
from billing.batch import Record, process_sqs_batch
from billing.observability import count, logger, metrics
from billing.rejections import reject
from billing.service.ingest import Outcome, ingest

_METRIC = {
    Outcome.STORED: "AgreementEventsStored",
    Outcome.DUPLICATE: "DuplicateEventsIgnored",
    Outcome.STALE: "StaleEventsIgnored",
}


def record_handler(record: Record) -> None:
    result = ingest(record["body"], bootstrap.billing_table(), clock.now())  # bad input: BadInput, parked
    count(_METRIC[result.outcome])
    logger.info(
        "agreement event " + result.outcome.value,
        extra={
            "event_id": result.event.event_id,
            "agreement_id": result.event.agreement_id,
            "event_type": result.event.type,
            "version": result.event.version,
        },
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_sqs_batch(event, record_handler, park=reject)
