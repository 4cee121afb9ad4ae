"""Move messages from a dead-letter queue back to its source queue.

SQS's own move task (StartMessageMoveTask) can't filter and moto lacks it, so
this receives, re-sends and deletes by itself: all messages, or those of some
event types, or older than an age, at most N, or a dry run that only counts.
Bodies and attributes are preserved.

Bad input parked with a rejection reason is left alone unless asked for
(`include_rejected`): sent back unchanged it would only be rejected again. It is
for after a fix that makes it acceptable (a new currency, a code change); the
rejection attributes are then dropped.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from billing.adapters.messaging import REJECTION_ATTRIBUTES

_RECEIVE_VISIBILITY = 60


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


def redrive(sqs: Any, dlq_url: str, source_url: str, request: RedriveRequest, now_ms: int) -> RedriveReport:
    report = RedriveReport()
    held: list[str] = []  # receipt handles of messages we looked at but leave in the DLQ
    try:
        while request.max_messages is None or report.matched < request.max_messages:
            messages = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=_RECEIVE_VISIBILITY,
                AttributeNames=["SentTimestamp"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                report.examined += 1
                if not _matches(message, request, now_ms) or (
                    request.max_messages is not None and report.matched >= request.max_messages
                ):
                    held.append(message["ReceiptHandle"])
                    continue
                report.matched += 1
                kind = message_type(message)
                report.by_type[kind] = report.by_type.get(kind, 0) + 1
                if request.dry_run:
                    held.append(message["ReceiptHandle"])
                    continue
                _move(sqs, message, dlq_url, source_url)
                report.moved += 1
    finally:
        for handle in held:  # make what we skipped visible again at once
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


def _matches(message: dict[str, Any], request: RedriveRequest, now_ms: int) -> bool:
    if not request.include_rejected and "rejection_code" in message.get("MessageAttributes", {}):
        return False
    if request.types and message_type(message) not in request.types:
        return False
    sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", now_ms))
    return (now_ms - sent_ms) >= request.min_age_seconds * 1000


def _move(sqs: Any, message: dict[str, Any], dlq_url: str, source_url: str) -> None:
    attributes = {
        k: {key: v[key] for key in ("DataType", "StringValue", "BinaryValue") if key in v}
        for k, v in message.get("MessageAttributes", {}).items()
        if k not in REJECTION_ATTRIBUTES
    }
    kwargs: dict[str, Any] = {"QueueUrl": source_url, "MessageBody": message["Body"]}
    if attributes:
        kwargs["MessageAttributes"] = attributes
    sqs.send_message(**kwargs)
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
