"""Invoice generator: InvoiceJobQueue -> documents and their billing events (outbox) in BillingTable.

Two kinds of job arrive. A shard job reads one page of a due-index shard and
fans it out: agreement jobs back onto this queue, payment retries onto the
payment queue, and a continuation for the next page. An agreement job names a
run instant and up to 25 agreements; each is billed by recompute-and-diff in
its own transaction. A failing agreement fails the whole record, which is safe
to retry (agreements already billed issue nothing new); bad input (a body that is
not a job, stored data the rules refuse) is parked at once (`input_fault`). The last page of a
shard counts the shard done; the generator that counts the run's last shard
reports the run complete: DailyRunHeartbeat and DailyRunDurationMs, once.
"""

from collections import Counter
from typing import Any

from billing import bootstrap, clock, config
from billing.adapters.messaging import to_json
from billing.batch import Record, process_sqs_batch
from billing.domain.billing_events import payment_retry_due
from billing.observability import MetricUnit, count, count_by, logger, metrics
from billing.rejections import reject
from billing.service.invoicing import (
    AgreementJob,
    ShardJob,
    bill_agreement,
    finish_shard,
    parse_job,
    read_due_page,
)


def record_handler(record: Record) -> None:
    job = parse_job(record["body"])  # BadInput if it is not a job: parked by process_sqs_batch
    if isinstance(job, ShardJob):
        fan_out(job)
    else:
        bill(job)


def fan_out(job: ShardJob) -> None:
    page = read_due_page(bootstrap.billing_table(), job)
    jobs = bootstrap.queue("INVOICE_JOB_QUEUE_URL")
    if len(page.agreement_jobs) == 1 and page.continuation is None:
        bill(page.agreement_jobs[0])  # a quiet shard: bill here rather than send one small job
    else:
        jobs.send_batch((agreement_job.body(), {}) for agreement_job in page.agreement_jobs)
    retries = [
        payment_retry_due(
            agreement_id=r.agreement_id, document_id=r.document_id, attempt=r.attempt, at=job.run_at
        )
        for r in page.payment_retries
    ]
    bootstrap.queue("PAYMENT_QUEUE_URL").send_batch((to_json(r.body), r.attributes) for r in retries)
    if page.continuation is not None:  # sent last: a retried page re-sends jobs, never skips them
        jobs.send_batch([(page.continuation.body(), {})])
    count("AgreementsDue", sum(len(j.agreement_ids) for j in page.agreement_jobs))
    count("PaymentRetriesDue", len(page.payment_retries))
    if page.continuation is None:  # the shard's last page: count the shard done
        completed = finish_shard(bootstrap.billing_table(), job, clock.now())
        if completed is not None:
            count("DailyRunHeartbeat")
            count("DailyRunDurationMs", completed.duration_ms, MetricUnit.Milliseconds)
            logger.info("daily run completed", extra={"duration_ms": completed.duration_ms})


def bill(job: AgreementJob) -> None:
    table = bootstrap.billing_table()
    series = config.number_series()
    amounts: Counter[tuple[str, str]] = Counter()  # (metric, currency) -> minor units, for the job
    for agreement_id in job.agreement_ids:
        billed = bill_agreement(table, agreement_id, job.run_at, series)
        if billed.ignored_events:
            count("StaleEventsIgnored", billed.ignored_events)
        if billed.number_conflicts:
            count("DocumentNumberConflicts", billed.number_conflicts)
        document = billed.document
        if document is None:
            continue
        count("InvoicesIssued" if document.kind == "invoice" else "CreditNotesIssued")
        metric = "InvoicedAmountMinor" if document.kind == "invoice" else "CreditedAmountMinor"
        amounts[(metric, document.currency)] += abs(document.total_minor)
        # DEBUG: every document is in the event store (`billing events query`) and counted above;
        # a line per document would be 40 % of an invoice's log bytes (docs/PERFORMANCE.md).
        logger.debug(
            f"{document.kind.replace('_', ' ')} issued",
            extra={
                "agreement_id": agreement_id,
                "document_id": document.document_id,
                "number": document.number,
                "total_minor": document.total_minor,
                "currency": document.currency,
            },
        )
    for (metric, currency), amount in sorted(amounts.items()):
        count_by(metric, amount, "currency", currency)  # one data point per currency and job


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_sqs_batch(event, record_handler, park=reject)
