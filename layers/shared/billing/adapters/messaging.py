"""SNS and SQS: publish billing events, send jobs, park bad input on a DLQ."""

import json
import re
from collections.abc import Iterable, Sequence
from itertools import batched
from typing import Any

import boto3

from billing.ports import REDRIVEN_ATTRIBUTE

REASON_MAX = 1024  # characters of rejection_reason (docs/EVENTS.md)

# What SQS takes in a message body or attribute value (XML 1.0's characters): #x9 | #xA | #xD |
# #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. Anything else makes it refuse the whole send.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_text(value: str) -> str:
    """`value` with every character SQS refuses escaped as \\uXXXX (NUL, other C0 controls, lone
    surrogates, U+FFFE/U+FFFF); the rest is kept as it is."""
    return _NOT_SQS_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def sns_attributes(attributes: dict[str, str]) -> dict[str, dict[str, str]]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}


class Topic:
    def __init__(self, arn: str, client: Any = None) -> None:
        self.arn = arn
        self._sns = client or boto3.client("sns")

    def publish_batch(self, messages: Sequence[tuple[str, str, dict[str, str]]]) -> list[str]:
        """Publish (id, body, attributes) in batches of 10; return the ids that failed."""
        failed: list[str] = []
        for chunk in batched(messages, 10, strict=False):
            entries = [
                {"Id": str(i), "Message": body, "MessageAttributes": sns_attributes(attrs)}
                for i, (_, body, attrs) in enumerate(chunk)
            ]
            response = self._sns.publish_batch(TopicArn=self.arn, PublishBatchRequestEntries=entries)
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed", [])]
        return failed


class Queue:
    """An SQS queue: the WorkQueue the services send to, and the PullQueue a drain receives from."""

    def __init__(self, url: str, client: Any = None) -> None:
        self.url = url
        self._sqs = client or boto3.client("sqs")

    def send_batch(self, messages: Iterable[tuple[str, dict[str, str]]]) -> int:
        """Send (body, attributes) in batches of 10; raise if any entry failed (the caller retries)."""
        sent = 0
        for chunk in batched(messages, 10, strict=False):
            entries = [
                {"Id": str(i), "MessageBody": body, "MessageAttributes": sns_attributes(attrs)}
                for i, (body, attrs) in enumerate(chunk)
            ]
            response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} messages not accepted by {self.url}")
            sent += len(entries)
        return sent

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_seconds,
            "AttributeNames": ["SentTimestamp"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        messages: list[dict[str, Any]] = self._sqs.receive_message(**kwargs).get("Messages", [])
        return messages

    def delete(self, receipt_handles: Sequence[str]) -> None:
        if len(receipt_handles) == 1:
            self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt_handles[0])
            return
        for chunk in batched(receipt_handles, 10, strict=False):
            self._sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
            )

    def release(self, receipt_handles: Sequence[str]) -> None:
        """Visibility timeout 0, ten per call. Entries SQS refuses (a handle superseded because the
        message was received again) are passed over: the newer handle is released too."""
        for chunk in batched(receipt_handles, 10, strict=False):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(chunk)
                ],
            )

    def send_message(self, body: str, message_attributes: dict[str, dict[str, Any]]) -> None:
        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
        if message_attributes:
            kwargs["MessageAttributes"] = message_attributes
        self._sqs.send_message(**kwargs)

    def park(self, body: str, attributes: dict[str, str], code: str, reason: str) -> None:
        """Put rejected input on this (dead-letter) queue at once, with its reason attached.

        Every attribute value is made one SQS accepts (`sqs_text`), or the park itself would be
        refused and the message retried until it lands on the DLQ without its reason; the reason
        is cut to REASON_MAX characters after that. A redriven message's own marks go;
        `rejection_key`, when given, is the caller's (park once)."""
        replaced = {"rejection_code", "rejection_reason", REDRIVEN_ATTRIBUTE}
        attrs = {k: sqs_text(v) for k, v in attributes.items() if k not in replaced}
        attrs |= {"rejection_code": sqs_text(code), "rejection_reason": sqs_text(reason)[:REASON_MAX]}
        self._sqs.send_message(QueueUrl=self.url, MessageBody=body, MessageAttributes=sns_attributes(attrs))


def lambda_record_attributes(record: dict[str, Any]) -> dict[str, str]:
    """String message attributes of a Lambda SQS record, as a plain dict."""
    return {
        k: v["stringValue"]
        for k, v in record.get("messageAttributes", {}).items()
        if v.get("dataType", "String").startswith("String") and "stringValue" in v
    }


def to_json(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
