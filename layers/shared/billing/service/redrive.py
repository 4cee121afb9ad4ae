"""Move messages from a dead-letter queue back to its source queue.

SQS's own move task (StartMessageMoveTask) can't filter and moto lacks it, so
this receives, re-sends and deletes by itself: all messages, or those of some
event types, or older than an age, at most N, or a dry run that only counts.
Bodies and attributes are preserved.

Bad input parked with a rejection reason is left alone unless asked for
(`include_rejected`): sent back unchanged it would only be rejected again. It is
for after a fix that makes it acceptable (a new currency, a code change); the
rejection attributes are then dropped, and `redriven_rejection` (the old code) added: a
consumer that parks each bad body once (the projector) parks this copy again if it is
still refused.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billing.ports import REDRIVEN_ATTRIBUTE, REJECTION_ATTRIBUTES, PullQueue

_RECEIVE_VISIBILITY = 60
LONG_POLL_SECONDS = 5  # each receive waits this long for a message (long polling asks every SQS server)
EMPTY_RECEIVES = 3  # the DLQ is drained after this many empty answers in a row


@dataclass(frozen=True, slots=True)
class RedriveRequest:
    types: frozenset[str] = frozenset()
    min_age_seconds: int = 0
    max_messages: int | None = None
    dry_run: bool = False
    include_rejected: bool = False


@dataclass(slots=True)
class RedriveReport:
    examined: int = 0
    matched: int = 0
    moved: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "matched": self.matched,
            "moved": self.moved,
            "by_type": self.by_type,
        }


def message_type(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get("type", {}).get("StringValue")
    if attribute:
        return str(attribute)
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return "unparseable"
    return str(body.get("type", "unknown")) if isinstance(body, dict) else "unknown"


class Redrive:
    """Moves matching messages from `dlq` to `source`.

    `wait_seconds` is each receive's long poll; the DLQ counts as drained after
    `empty_receives` empty answers in a row (one empty answer proves nothing: a
    short poll samples a subset of the servers). A message seen again (its
    visibility ran out during a long redrive) is not counted twice.
    """

    def __init__(
        self,
        dlq: PullQueue,
        source: PullQueue,
        *,
        wait_seconds: int = LONG_POLL_SECONDS,
        empty_receives: int = EMPTY_RECEIVES,
    ) -> None:
        self.dlq = dlq
        self.source = source
        self.wait_seconds = wait_seconds
        self.empty_receives = max(1, empty_receives)

    def run(
        self, request: RedriveRequest, now_ms: int, has_time: Callable[[], bool] = lambda: True
    ) -> RedriveReport:
        report = RedriveReport()
        held: list[str] = []  # receipt handles of messages we looked at but leave in the DLQ
        seen: set[str] = set()
        empty = 0
        try:
            while empty < self.empty_receives and has_time():
                if request.max_messages is not None and report.matched >= request.max_messages:
                    break
                messages = self.dlq.receive(10, self.wait_seconds, _RECEIVE_VISIBILITY)
                empty = 0 if messages else empty + 1
                for message in messages:
                    if message["MessageId"] in seen:
                        held.append(message["ReceiptHandle"])
                        continue
                    seen.add(message["MessageId"])
                    self._handle(message, request, now_ms, report, held)
        finally:
            for handle in held:  # make what we skipped visible again at once
                self.dlq.release(handle)
        return report

    def _handle(
        self,
        message: dict[str, Any],
        request: RedriveRequest,
        now_ms: int,
        report: RedriveReport,
        held: list[str],
    ) -> None:
        report.examined += 1
        if not _matches(message, request, now_ms) or (
            request.max_messages is not None and report.matched >= request.max_messages
        ):
            held.append(message["ReceiptHandle"])
            return
        report.matched += 1
        kind = message_type(message)
        report.by_type[kind] = report.by_type.get(kind, 0) + 1
        if request.dry_run:
            held.append(message["ReceiptHandle"])
            return
        self._move(message)
        report.moved += 1

    def _move(self, message: dict[str, Any]) -> None:
        attributes = {
            k: {key: v[key] for key in ("DataType", "StringValue", "BinaryValue") if key in v}
            for k, v in message.get("MessageAttributes", {}).items()
            if k not in REJECTION_ATTRIBUTES
        }
        code = message.get("MessageAttributes", {}).get("rejection_code", {}).get("StringValue")
        if code is not None:  # the consumer parks a body once: this copy has left the DLQ
            attributes[REDRIVEN_ATTRIBUTE] = {"DataType": "String", "StringValue": str(code)}
        self.source.send_message(message["Body"], attributes)
        self.dlq.delete([message["ReceiptHandle"]])


def _matches(message: dict[str, Any], request: RedriveRequest, now_ms: int) -> bool:
    if not request.include_rejected and "rejection_code" in message.get("MessageAttributes", {}):
        return False
    if request.types and message_type(message) not in request.types:
        return False
    sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", now_ms))
    return (now_ms - sent_ms) >= request.min_age_seconds * 1000
