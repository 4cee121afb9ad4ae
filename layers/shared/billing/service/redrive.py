"""Move messages from a dead-letter queue back to its source queue.

SQS's own move task (StartMessageMoveTask) can't filter and moto lacks it, so
this receives, re-sends and deletes by itself: all messages, or those of some
event types, or older than an age, at most N, or a dry run that only counts.
Bodies and attributes are preserved.

Bad input parked with a rejection reason is left alone unless asked for
(`include_rejected`, a JSON `true`): sent back unchanged it would only be rejected
again. It is for after a fix that makes it acceptable (a new currency, a code
change). The contract keeps bad input "where an operator can read it and send it
again": the copy sent back is the event as upstream published it, without the
rejection attributes but with `redriven_rejection` (the old code): the consumer
judges it afresh and, if it is still bad, parks it again with a fresh reason (a
consumer that parks each bad body once, the projector, parks this copy again);
the report says how many of each rejection code were sent back (`rejected`), or
left (`rejected_skipped`).

The request is read strictly (billing.service.requests): anything wrong refuses it
before a single message is received.
"""

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from billing.ports import REDRIVEN_ATTRIBUTE, REJECTION_ATTRIBUTES, PullQueue
from billing.service.requests import Fields

_RECEIVE_VISIBILITY = 60
LONG_POLL_SECONDS = 5  # each receive waits this long for a message (long polling asks every SQS server)
EMPTY_RECEIVES = 3  # the DLQ is drained after this many empty answers in a row
MAX_MESSAGES = 10_000  # per request; more than one invocation (300 s) moves in any case
MAX_AGE_SECONDS = 14 * 24 * 3600  # a DLQ keeps a message 14 days: an older one cannot exist
# The queues of the template's REDRIVE_PAIRS (a tooling test holds them equal): what the CLI checks
# `--queue` against before it calls; the function checks against its own REDRIVE_PAIRS.
QUEUES = ("agreement", "invoice-job", "payment", "accounting")
FIELDS = ("queue", "types", "min_age_seconds", "max_messages", "dry_run", "include_rejected")


@dataclass(frozen=True, slots=True)
class RedriveRequest:
    types: frozenset[str] = frozenset()
    min_age_seconds: int = 0
    max_messages: int | None = None
    dry_run: bool = False
    include_rejected: bool = False


def parse_request(request: Any, queues: Collection[str]) -> tuple[str, RedriveRequest]:
    """The queue to redrive and what to move; InvalidRequest (nothing done) if anything is wrong.

    `{"queue": "payment", "types": [...], "min_age_seconds": 0, "max_messages": 100,
    "dry_run": true, "include_rejected": false}`; only `queue` is required.
    """
    fields = Fields(request, FIELDS)
    queue = fields.choice("queue", queues)
    types = fields.strings("types")
    min_age = fields.integer("min_age_seconds", 0, MAX_AGE_SECONDS)
    return queue, RedriveRequest(
        types=types,
        min_age_seconds=0 if min_age is None else min_age,
        max_messages=fields.integer("max_messages", 1, MAX_MESSAGES),
        dry_run=fields.boolean("dry_run"),
        include_rejected=fields.boolean("include_rejected"),
    )


@dataclass(slots=True)
class RedriveReport:
    examined: int = 0
    matched: int = 0
    moved: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # parked bad input matched, per rejection code
    rejected_skipped: int = 0  # parked bad input left in place (no include_rejected)

    def as_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "matched": self.matched,
            "moved": self.moved,
            "by_type": self.by_type,
            "rejected": self.rejected,
            "rejected_skipped": self.rejected_skipped,
        }


class RedriveInterrupted(RuntimeError):
    """A redrive failed part-way; `report` is what it did until then. What it had received and not
    moved was made visible in the DLQ again before this was raised (unless `release_error` says not)."""

    def __init__(
        self, report: RedriveReport, cause: Exception, unmoved: int, release_error: Exception | None
    ) -> None:
        released = (
            f"the {unmoved} received and not moved are visible in the DLQ again"
            if release_error is None
            else f"the {unmoved} received and not moved reappear within {_RECEIVE_VISIBILITY} s "
            f"(release failed: {type(release_error).__name__}: {release_error})"
        )
        super().__init__(
            f"redrive stopped by {type(cause).__name__}: {cause}; moved {report.moved} of "
            f"{report.examined} examined; {released}"
        )
        self.report = report
        self.release_error = release_error


def message_type(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get("type", {}).get("StringValue")
    if attribute:
        return str(attribute)
    try:
        body = json.loads(message["Body"])
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode (hostile input)
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
        """Move what matches; every message received and not moved is made visible again at once,
        whether the run ends or fails (RedriveInterrupted, with the report so far): an immediate
        rerun examines it again instead of waiting out the receive's visibility timeout."""
        report = RedriveReport()
        unsettled: dict[str, None] = {}  # receipt handles received and not moved, in receive order
        seen: set[str] = set()
        empty = 0
        try:
            while empty < self.empty_receives and has_time():
                if request.max_messages is not None and report.matched >= request.max_messages:
                    break
                messages = self.dlq.receive(10, self.wait_seconds, _RECEIVE_VISIBILITY)
                unsettled.update(dict.fromkeys(m["ReceiptHandle"] for m in messages))
                empty = 0 if messages else empty + 1
                for message in messages:
                    if message["MessageId"] in seen:
                        continue
                    seen.add(message["MessageId"])
                    if self._handle(message, request, now_ms, report):
                        del unsettled[message["ReceiptHandle"]]
        except Exception as error:
            failed_release = self._release(list(unsettled))
            raise RedriveInterrupted(report, error, len(unsettled), failed_release) from error
        failed_release = self._release(list(unsettled))
        if failed_release is not None:
            raise RedriveInterrupted(report, failed_release, len(unsettled), failed_release)
        return report

    def _release(self, handles: list[str]) -> Exception | None:
        """Make `handles` visible again (batched); the error if that failed (they reappear when their
        visibility timeout ends, _RECEIVE_VISIBILITY seconds after the receive)."""
        try:
            if handles:
                self.dlq.release(handles)
        except Exception as error:
            return error
        return None

    def _handle(
        self, message: dict[str, Any], request: RedriveRequest, now_ms: int, report: RedriveReport
    ) -> bool:
        """Examine one message; True if it was moved (sent to the source queue, deleted here)."""
        report.examined += 1
        rejection = rejection_code(message)
        if rejection is not None and not request.include_rejected:
            report.rejected_skipped += 1
            return False
        if not _matches(message, request, now_ms) or (
            request.max_messages is not None and report.matched >= request.max_messages
        ):
            return False
        report.matched += 1
        kind = message_type(message)
        report.by_type[kind] = report.by_type.get(kind, 0) + 1
        if rejection is not None:
            report.rejected[rejection] = report.rejected.get(rejection, 0) + 1
        if request.dry_run:
            return False
        self._move(message)
        report.moved += 1
        return True

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


def rejection_code(message: dict[str, Any]) -> str | None:
    """The code a consumer parked this message with; None if it is not parked bad input."""
    attribute = message.get("MessageAttributes", {}).get("rejection_code")
    if attribute is None:
        return None
    return str(attribute.get("StringValue") or "unknown")


def _matches(message: dict[str, Any], request: RedriveRequest, now_ms: int) -> bool:
    if request.types and message_type(message) not in request.types:
        return False
    sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", now_ms))
    return (now_ms - sent_ms) >= request.min_age_seconds * 1000
