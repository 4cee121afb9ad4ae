"""Publish billing events recorded in BillingTable, from its stream, to the billing topic.

The event was committed in the same transaction as the state change it
describes; this is the "relay" half of the transactional outbox. Publishing is
at least once (a retried batch re-publishes with the same CloudEvent ids).
"""

from collections.abc import Sequence
from typing import Any

from billing.ports import Publisher


def outbox_message(record: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(sequence number, CloudEvent JSON, SNS attributes) of a stream record of an item that stores a
    billing event (an `OUT#` item, or a payment item with its final outcome)."""
    image = record["dynamodb"]["NewImage"]
    attributes = {k: v["S"] for k, v in image["attributes"]["M"].items()}
    return record["dynamodb"]["SequenceNumber"], image["body"]["S"], attributes


def publish_records(records: Sequence[dict[str, Any]], topic: Publisher) -> list[str]:
    """Publish the batch; return the sequence numbers to retry (from the first failure on)."""
    messages = [outbox_message(r) for r in records]
    failed = set(topic.publish_batch(messages))
    if not failed:
        return []
    first = next(i for i, (seq, _, _) in enumerate(messages) if seq in failed)
    return [seq for seq, _, _ in messages[first:]]
