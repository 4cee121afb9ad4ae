"""Invoice scheduler: the daily EventBridge Scheduler run -> invoice jobs and payment retries.

The run instant is the schedule's own `<aws.scheduler.scheduled-time>`, so a
retried invocation of the same run computes the same jobs (and the generator
makes repeated jobs harmless).
"""

import time
from datetime import datetime
from typing import Any

from billing import bootstrap
from billing.adapters.messaging import to_json
from billing.domain.billing_events import payment_retry_due
from billing.observability import MetricUnit, count, logger, metrics
from billing.service.invoicing import find_due, job_bodies


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    run_at = datetime.fromisoformat(event["run_at"].replace("Z", "+00:00"))
    logger.append_keys(run_at=event["run_at"])
    due = find_due(bootstrap.billing_table(), run_at)
    jobs = bootstrap.queue("INVOICE_JOB_QUEUE_URL").send_batch(
        (body, {}) for body in job_bodies(due.agreement_ids, run_at)
    )
    retries = bootstrap.queue("PAYMENT_QUEUE_URL").send_batch(
        (
            to_json(
                payment_retry_due(
                    agreement_id=r.agreement_id, document_id=r.document_id, attempt=r.attempt, at=run_at
                ).body
            ),
            {"type": "billing.payment.retry_due"},
        )
        for r in due.payment_retries
    )
    count("DailyRunHeartbeat")
    count("AgreementsDue", len(due.agreement_ids))
    count("DailyRunDurationMs", (time.monotonic() - started) * 1000, MetricUnit.Milliseconds)
    summary = {
        "run_at": event["run_at"],
        "agreements_due": len(due.agreement_ids),
        "jobs": jobs,
        "payment_retries": retries,
    }
    logger.info("daily run scheduled", extra=summary)
    return summary
