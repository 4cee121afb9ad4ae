"""Payment processor: PaymentQueue -> the gateway -> payment and refund outcome events (outbox).

Three message types arrive: `billing.invoice.issued` (first attempt, via the
billing topic's filter), `billing.payment.retry_due` (a scheduled retry) and
`billing.agreement.closed` (settle: refund what was paid beyond what is owed;
every succeeded payment settles too).

A redelivery or a replay does nothing twice without an idempotency store of its
own: each charge attempt and each refund carries its gateway idempotency key,
and each record of one is a conditional write (the payment item on its attempt
count, the settlement item on its version), so a repeat takes no money and
records nothing; it costs one gateway answer (docs/ARCHITECTURE.md).
"""

from typing import Any

from billing import bootstrap, clock, config
from billing.batch import Record, process_sqs_batch
from billing.domain.billing_events import AGREEMENT_CLOSED
from billing.domain.settlement import Refund
from billing.observability import count, logger, mask, metrics
from billing.rejections import reject
from billing.service.payments import ACCEPTED, handle_payment_message, parse_payment_message

_METRIC = {"succeeded": "PaymentsSucceeded", "failed": "PaymentsFailed", "retrying": "PaymentsRetried"}


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
    # A success is counted and stored with its event; failures and retries are what an operator reads.
    log = logger.debug if payment.status == "succeeded" else logger.info
    log(
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
    return process_sqs_batch(event, record_handler, park=reject)
