"""The accounting export: a pull consumer that drains its queue into JSON Lines on S3.

Messages are deleted only after the object is written. The object key is
derived from the batch's event ids, so a batch retried after a crash between
the write and the delete overwrites its own object instead of adding a copy;
consumers of the export deduplicate by event id in any case.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from itertools import batched
from typing import Any

MESSAGES_PER_OBJECT = 1000


def export_batch(
    sqs: Any, s3: Any, queue_url: str, bucket: str, now: datetime, limit: int = MESSAGES_PER_OBJECT
) -> int:
    """Receive up to `limit` messages, write them as one object, delete them. Returns how many."""
    messages = _receive(sqs, queue_url, limit)
    if not messages:
        return 0
    events = {}
    for message in messages:
        event = json.loads(message["Body"])
        events[str(event.get("id", message["MessageId"]))] = event
    ids = sorted(events)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
    key = f"exports/{now:%Y/%m/%d}/{digest}.jsonl"
    body = "".join(json.dumps(events[i], separators=(",", ":"), sort_keys=True) + "\n" for i in ids)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson")
    for chunk in batched(messages, 10, strict=False):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
    return len(messages)


def drain(export: Callable[[], int], has_time: Callable[[], bool]) -> int:
    """Export batches until the queue is empty or the invocation runs out of time."""
    total = 0
    while has_time():
        exported = export()
        total += exported
        if exported == 0:
            break
    return total


def _receive(sqs: Any, queue_url: str, limit: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < limit:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - len(messages)), WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            break
        messages += got
    return messages
