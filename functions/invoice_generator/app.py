"""Invoice generator: InvoiceJobQueue -> documents and their billing events (outbox) in BillingTable.

A job names a run instant and up to 25 agreements. Each agreement is billed by
recompute-and-diff in its own transaction; a failing agreement fails the whole
record, which is safe to retry (agreements already billed issue nothing new).
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from billing import bootstrap
from billing.domain.errors import BadInput
from billing.observability import count, count_by, logger, metrics
from billing.rejections import reject
from billing.service.invoicing import bill_agreement, parse_job

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    try:
        run_at, agreement_ids = parse_job(record.body)
    except BadInput as error:
        reject(record, error)
        return
    table = bootstrap.billing_table()
    for agreement_id in agreement_ids:
        billed = bill_agreement(table, agreement_id, run_at)
        if billed.ignored_events:
            count("StaleEventsIgnored", billed.ignored_events)
        document = billed.document
        if document is None:
            continue
        kind = "InvoicesIssued" if document.kind == "invoice" else "CreditNotesIssued"
        count(kind)
        count_by(
            "InvoicedAmountMinor" if document.kind == "invoice" else "CreditedAmountMinor",
            abs(document.total_minor),
            "currency",
            document.currency,
        )
        logger.info(
            f"{document.kind} issued",
            extra={
                "agreement_id": agreement_id,
                "document_id": document.document_id,
                "total_minor": document.total_minor,
                "currency": document.currency,
            },
        )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
