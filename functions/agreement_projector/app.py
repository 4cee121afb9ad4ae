"""Agreement projector: AgreementQueue (SNS raw delivery) -> BillingTable.

Each record is one agreement CloudEvent. Valid events are stored once per
version and mark the agreement due; bad input is parked on the DLQ at once with
its reason (no retries burnt), each distinct bad body once (copies are counted in its
rejection record); anything else fails the record so SQS retries it (the rule:
`billing.domain.errors.input_fault`, applied by `process_sqs_batch`).
"""

from typing import Any

from billing import bootstrap, clock
from billing.batch import Record, process_sqs_batch
from billing.domain.errors import BadInput
from billing.observability import count, logger, metrics
from billing.rejections import park, reject
from billing.service.ingest import Ingested, Outcome, ingest

_METRIC = {
    Outcome.STORED: "AgreementEventsStored",
    Outcome.DUPLICATE: "DuplicateEventsIgnored",
    Outcome.STALE: "StaleEventsIgnored",
}


def record_handler(record: Record) -> None:
    result = ingest(record["body"], bootstrap.billing_table(), clock.now())  # bad input: BadInput, parked
    _park_refused(result)
    count(_METRIC[result.outcome])
    # A stored event is counted and kept (its item has received_at): DEBUG; duplicates and stale
    # events, the ones an operator asks about, stay at INFO.
    log = logger.debug if result.outcome is Outcome.STORED else logger.info
    log(
        "agreement event " + result.outcome.value,
        extra={
            "event_id": result.event.event_id,
            "agreement_id": result.event.agreement_id,
            "event_type": result.event.type,
            "version": result.event.version,
        },
    )


def _reject_once(record: Record, error: BadInput) -> None:
    reject(record, error, once=True)  # each distinct bad body parked once, its copies counted


def _park_refused(result: Ingested) -> None:
    """Held events the creation made invalid: parked like bad input delivered now (the body as
    received; its message attributes were not kept). Before the creation is counted as stored, so
    a failure here retries the creation, which names them again."""
    for stored, error in result.refused:
        park(
            stored.body,
            {},
            error,
            once=True,
            event_id=stored.event_id,
            agreement_id=result.event.agreement_id,
            refused_by=result.event.event_id,
        )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_sqs_batch(event, record_handler, park=_reject_once)
