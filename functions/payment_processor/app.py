"""Payment processor: PaymentQueue -> the gateway -> payment outcome events (outbox).

Two message types arrive: `billing.invoice.issued` (first attempt, via the
billing topic's filter) and `billing.payment.retry_due` (a scheduled retry).
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
from billing.domain.billing_events import INVOICE_ISSUED, PAYMENT_RETRY_DUE
from billing.observability import count, logger, mask, metrics
from billing.rejections import reject
from billing.service.payments import Attempted, charge_new_invoice, parse_payment_message, retry_payment

idempotency = IdempotencyConfig(event_key_jmespath="id", raise_on_no_idempotency_key=True)
# The default session's client, created at cold start (Powertools would build its own session).
persistence = DynamoDBPersistenceLayer(
    table_name=config.setting("IDEMPOTENCY_TABLE"), boto3_client=boto3.client("dynamodb")
)

_HANDLERS = {INVOICE_ISSUED: charge_new_invoice, PAYMENT_RETRY_DUE: retry_payment}
_METRIC = {"succeeded": "PaymentsSucceeded", "failed": "PaymentsFailed", "retrying": "PaymentsRetried"}


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
    data_keyword_argument="cloudevent", config=idempotency, persistence_store=persistence
)
def process(cloudevent: dict[str, Any]) -> dict[str, Any]:
    handle = _HANDLERS[cloudevent["type"]]
    attempted: Attempted | None = handle(
        cloudevent, bootstrap.billing_table(), bootstrap.gateway(), config.payment_retry_days(), clock.now()
    )
    if attempted is None or attempted.result is None:
        return {"status": "already_handled"}
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


def record_handler(record: Record) -> None:
    # BadInput if it is not a payment message: parked by process_sqs_batch
    cloudevent = parse_payment_message(record["body"], accepted=frozenset(_HANDLERS))
    logger.append_keys(event_id=cloudevent["id"], agreement_id=cloudevent.get("subject"))
    process(cloudevent=cloudevent)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_sqs_batch(event, record_handler, park=reject)
