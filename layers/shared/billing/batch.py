"""Partial batch responses for SQS-triggered handlers (`ReportBatchItemFailures`).

Each record is handled on its own; the ids of the records that raised are
returned so SQS retries only those. This is what Powertools' BatchProcessor does
for a synchronous handler, without its import cost (it pulls in asyncio and
every event data class: about 110 ms of a cold start here, see
docs/PERFORMANCE.md).

This loop is also the one place a consumer decides what a failure is: the input's fault
(`input_fault`: parked at once with its reason, never retried) or not (retried by SQS).
"""

from collections.abc import Callable
from typing import Any

from billing.domain.errors import BadInput, input_fault
from billing.observability import logger

Record = dict[str, Any]
Park = Callable[[Record, BadInput], None]


def process_sqs_batch(
    event: dict[str, Any], handle: Callable[[Record], None], park: Park | None = None
) -> dict[str, list[dict[str, str]]]:
    """Handle every record; `park` takes the records whose failure is the input's fault (without
    it, every failure is retried)."""
    failures = []
    for record in event.get("Records", []):
        try:
            handle(record)
        except Exception as error:  # any failure of one record must not fail the others
            if not _parked(record, error, park):
                logger.exception(
                    "record failed; SQS will redeliver it", extra={"message_id": record["messageId"]}
                )
                failures.append({"itemIdentifier": record["messageId"]})
    if failures and len(failures) == len(event.get("Records", [])):
        # Like Powertools: when every record failed, fail the invocation (visible in Errors metrics).
        raise BatchFailed(f"all {len(failures)} records of the batch failed")
    return {"batchItemFailures": failures}


def _parked(record: Record, error: Exception, park: Park | None) -> bool:
    bad = input_fault(error) if park is not None else None
    if park is None or bad is None:
        return False
    try:
        park(record, bad)
    except Exception:  # parking is I/O: if it fails, the record is retried (and parked next time)
        logger.exception("could not park bad input", extra={"message_id": record["messageId"]})
        return False
    return True


class BatchFailed(Exception):
    """Every record of the batch failed (the whole batch is retried)."""
