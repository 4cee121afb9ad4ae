"""Payment processor: PaymentQueue -> the gateway -> payment and refund outcome events (outbox).

Three message types arrive: `billing.invoice.issued` (first attempt, via the
billing topic's filter), `billing.payment.retry_due` (a scheduled retry) and
`billing.agreement.closed` (settle: refund what was paid beyond what is owed;
every succeeded payment settles too).
Powertools idempotency, keyed on the CloudEvent id (not the SQS messageId,
which differs per queue and per re-send), skips what was already processed;
the gateway's idempotency key per attempt makes a second charge impossible
even when the idempotency record is lost.
"""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from billing import bootstrap, clock, config
from billing.batch import Record, process_sqs_batch
from billing.domain.billing_events import AGREEMENT_CLOSED
from billing.domain.settlement import Refund
from billing.observability import count, logger, mask, metrics
from billing.rejections import reject
from billing.service.payments import ACCEPTED, handle_payment_message, parse_payment_message

idempotency = IdempotencyConfig(event_key_jmespath="id", raise_on_no_idempotency_key=True)
# The default session's client, created at cold start (Powertools would build its own session).
persistence = DynamoDBPersistenceLayer(
    table_name=config.setting("IDEMPOTENCY_TABLE"), boto3_client=boto3.client("dynamodb")
)

_METRIC = {"succeeded": "PaymentsSucceeded", "failed": "PaymentsFailed", "retrying": "PaymentsRetried"}


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
    data_keyword_argument="cloudevent", config=idempotency, persistence_store=persistence
)
def process(cloudevent: dict[str, Any]) -> dict[str, Any]:
    handled = handle_payment_message(
        cloudevent, bootstrap.billing_table(), bootstrap.gateway(), config.payment_retry_days(), clock.now()
    )
    _report(handled.refunds)
    attempted = handled.attempted
    if attempted is None or attempted.result is None:
        return {"status": "already_handled" if cloudevent["type"] != AGREEMENT_CLOSED else "settled"}
    payment = attempted.payment
    count(_METRIC[payment.status])
    logger.info(
        f"payment {payment.status}",
        extra={
            "agreement_id": payment.agreement_id,
            "document_id": payment.document_id,
            "attempt": payment.attempts,
            "payment_method": mask(payment.payment_method),
        },
    )
    return {"status": payment.status, "attempts": payment.attempts}


def _report(refunds: list[Refund]) -> None:
    for refund in refunds:
        count("RefundsSucceeded" if refund.status == "succeeded" else "RefundsFailed")
        logger.info(f"refund {refund.status}", extra={"refund_id": refund.refund_id})


def record_handler(record: Record) -> None:
    # BadInput if it is not a payment message: parked by process_sqs_batch
    cloudevent = parse_payment_message(record["body"], accepted=ACCEPTED)
    logger.append_keys(event_id=cloudevent["id"], agreement_id=cloudevent.get("subject"))
    process(cloudevent=cloudevent)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_sqs_batch(event, record_handler, park=reject)
