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

from billing.domain.errors import BadInput

MESSAGES_PER_OBJECT = 1000


def export_batch(
    sqs: Any,
    s3: Any,
    queue_url: str,
    bucket: str,
    now: datetime,
    park: Callable[[dict[str, Any], BadInput], None],
    limit: int = MESSAGES_PER_OBJECT,
) -> int:
    """Receive up to `limit` messages, write them as one object, delete them. Returns how many.

    A body that is not a JSON object is parked (`park`) rather than written: left on
    the queue it would fail every export until its receive count sent the whole
    batch, good messages included, to the DLQ.
    """
    messages = _receive(sqs, queue_url, limit)
    if not messages:
        return 0
    events = {}
    for message in messages:
        try:
            event = json.loads(message["Body"])
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            park(message, BadInput("invalid_json", f"not a billing event ({error})"))
            continue
        events[str(event.get("id", message["MessageId"]))] = event
    if events:
        _write(s3, bucket, now, events)
    for chunk in batched(messages, 10, strict=False):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
    return len(messages)


def _write(s3: Any, bucket: str, now: datetime, events: dict[str, dict[str, Any]]) -> None:
    ids = sorted(events)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
    key = f"exports/{now:%Y/%m/%d}/{digest}.jsonl"
    body = "".join(json.dumps(events[i], separators=(",", ":"), sort_keys=True) + "\n" for i in ids)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson")


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
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - len(messages)),
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            break
        messages += got
    return messages
