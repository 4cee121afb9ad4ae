"""Invoice scheduler: the daily EventBridge Scheduler run -> one job per due-index shard.

The run instant is the schedule's own `<aws.scheduler.scheduled-time>`, so a
retried invocation of the same run sends the same jobs (and the generator makes
repeated jobs harmless). The scheduler reads nothing itself: the generators
read the shards in parallel, so the run's length does not grow with the day.
Before the jobs go out it records the run (its shard count and start) in
BillingTable; the generators report the run complete (DailyRunHeartbeat,
DailyRunDurationMs) when its last shard is done.
"""

from datetime import datetime
from typing import Any

from billing import bootstrap, clock, config
from billing.observability import logger, metrics
from billing.service.invoicing import shard_jobs, start_run


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run_at = datetime.fromisoformat(event["run_at"].replace("Z", "+00:00"))
    logger.append_keys(run_at=event["run_at"])
    jobs = shard_jobs(config.due_shards(), run_at)
    start_run(bootstrap.billing_table(), jobs, clock.now())
    sent = bootstrap.queue("INVOICE_JOB_QUEUE_URL").send_batch((job.body(), {}) for job in jobs)
    summary = {"run_at": event["run_at"], "shard_jobs": sent}
    logger.info("daily run started", extra=summary)
    return summary
