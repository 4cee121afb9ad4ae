"""Outbox publisher: BillingTable stream (OUT# items, and payment items with their outcome) -> BillingTopic.

Publishes in batches of 10; a failure reports that record and the ones after
it, so Lambda retries from there (and, after its retries, records the batch on
the OutboxDLQ: the events stay in the event store and can be replayed).
"""

from typing import Any

from billing import bootstrap
from billing.observability import count, logger, metrics
from billing.service.outbox import publish_records


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    failed = publish_records(records, bootstrap.billing_topic())
    count("BillingEventsPublished", len(records) - len(failed))
    if failed:
        logger.warning("billing events not published, will retry", extra={"failed": len(failed)})
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}
