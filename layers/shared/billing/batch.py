"""Partial batch responses for SQS-triggered handlers (`ReportBatchItemFailures`).

Each record is handled on its own; the ids of the records that raised are
returned so SQS retries only those. This is what Powertools' BatchProcessor does
for a synchronous handler, without its import cost (it pulls in asyncio and
every event data class: about 110 ms of a cold start here, see
docs/PERFORMANCE.md).
"""

from collections.abc import Callable
from typing import Any

from billing.observability import logger

Record = dict[str, Any]


def process_sqs_batch(
    event: dict[str, Any], handle: Callable[[Record], None]
) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in event.get("Records", []):
        try:
            handle(record)
        except Exception:  # any failure of one record must not fail the others
            logger.exception(
                "record failed; SQS will redeliver it", extra={"message_id": record["messageId"]}
            )
            failures.append({"itemIdentifier": record["messageId"]})
    if failures and len(failures) == len(event.get("Records", [])):
        # Like Powertools: when every record failed, fail the invocation (visible in Errors metrics).
        raise BatchFailed(f"all {len(failures)} records of the batch failed")
    return {"batchItemFailures": failures}


class BatchFailed(Exception):
    """Every record of the batch failed (the whole batch is retried)."""
