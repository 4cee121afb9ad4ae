"""The accounting export: a pull consumer that drains its queue into JSON Lines on S3.

Messages are deleted only after the object is written. The object key is
derived from the batch's event ids, so a batch retried after a crash between
the write and the delete overwrites its own object instead of adding a copy;
consumers of the export deduplicate by event id in any case.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.domain.errors import BadInput
from billing.ports import ObjectStore, PullQueue

MESSAGES_PER_OBJECT = 1000
LONG_POLL_SECONDS = 5  # each receive waits this long for a message (long polling asks every SQS server)
EMPTY_RECEIVES = 3  # the queue is drained after this many empty answers in a row

Park = Callable[[dict[str, Any], BadInput], None]


@dataclass(frozen=True, slots=True)
class Batch:
    exported: int
    exhausted: bool  # the queue answered empty as often as the export waits for


class AccountingExport:
    """Drains the accounting queue into objects of up to `limit` events.

    `wait_seconds` is each receive's long poll; the queue counts as drained after
    `empty_receives` empty answers in a row (one empty answer proves nothing: a
    short poll samples a subset of the servers).
    """

    def __init__(
        self,
        queue: PullQueue,
        bucket: ObjectStore,
        park: Park,
        *,
        wait_seconds: int = LONG_POLL_SECONDS,
        empty_receives: int = EMPTY_RECEIVES,
        limit: int = MESSAGES_PER_OBJECT,
    ) -> None:
        self.queue = queue
        self.bucket = bucket
        self.park = park
        self.wait_seconds = wait_seconds
        self.empty_receives = max(1, empty_receives)
        self.limit = limit

    def export_batch(self, now: datetime, has_time: Callable[[], bool] = lambda: True) -> Batch:
        """Receive up to `limit` messages, write them as one object, delete them.

        A body that is not a JSON object is parked rather than written: left on the
        queue it would fail every export until its receive count sent the whole
        batch, good messages included, to the DLQ.
        """
        messages, exhausted = self._receive(has_time)
        if not messages:
            return Batch(0, exhausted)
        events = {}
        for message in messages:
            try:
                event = json.loads(message["Body"])
                if not isinstance(event, dict):
                    raise ValueError("not a JSON object")
            except ValueError as error:
                self.park(message, BadInput("invalid_json", f"not a billing event ({error})"))
                continue
            events[str(event.get("id", message["MessageId"]))] = event
        if events:
            self._write(now, events)
        self.queue.delete([m["ReceiptHandle"] for m in messages])
        return Batch(len(messages), exhausted)

    def drain(self, now: Callable[[], datetime], has_time: Callable[[], bool]) -> int:
        """Export batches until the queue is drained or the invocation runs out of time."""
        total = 0
        while has_time():
            batch = self.export_batch(now(), has_time)
            total += batch.exported
            if batch.exhausted:
                break
        return total

    def _write(self, now: datetime, events: dict[str, dict[str, Any]]) -> None:
        ids = sorted(events)
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
        key = f"exports/{now:%Y/%m/%d}/{digest}.jsonl"
        body = "".join(json.dumps(events[i], separators=(",", ":"), sort_keys=True) + "\n" for i in ids)
        self.bucket.put(key, body.encode(), "application/x-ndjson")

    def _receive(self, has_time: Callable[[], bool]) -> tuple[list[dict[str, Any]], bool]:
        messages: list[dict[str, Any]] = []
        empty = 0
        while len(messages) < self.limit and has_time():
            got = self.queue.receive(min(10, self.limit - len(messages)), self.wait_seconds)
            if got:
                empty = 0
                messages += got
                continue
            empty += 1
            if empty >= self.empty_receives:
                return messages, True
        return messages, False
