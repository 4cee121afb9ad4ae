"""In-memory implementations of billing.ports, for service tests that run in milliseconds.

Dict-backed, in the style of cosmicpython's FakeRepository, and honouring the
same conditional semantics as the DynamoDB/SQS adapters: a version stored
twice raises VersionTaken, a commit from a stale read or a second record of
one attempt raises StaleState (and writes nothing), a run's shard counted twice
counts once. `tests/integration` runs the real adapters on moto.
"""

import dataclasses
import itertools
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from billing.domain.billing_events import BillingEvent
from billing.domain.engine import Document
from billing.domain.payments import ChargeRequest, ChargeResult, ChargeStatus, RefundRequest, SandboxGateway
from billing.domain.settlement import CreditAccount, Refund, with_refund
from billing.ports import (
    BillingView,
    EventIdTaken,
    Payment,
    Rejection,
    RunTally,
    SequenceTaken,
    SettlementAccount,
    SettlementView,
    StaleState,
    StoredInbound,
    VersionTaken,
)

STATE = "AGREEMENT"
EVENT_SHARDS = 16


def due_shard(agreement_id: str, shards: int) -> int:
    return zlib.crc32(agreement_id.encode()) % shards


@dataclass
class _Agreement:
    rev: int = 0
    last_run_at: str | None = None
    due: str | None = None  # gsi1sk while due
    inbound: dict[int, StoredInbound] = field(default_factory=dict)
    documents: dict[int, Document] = field(default_factory=dict)
    credit: CreditAccount = field(default_factory=CreditAccount)


@dataclass
class _Run:
    expected: int
    started_at: str
    shards: set[str] = field(default_factory=set)
    completed_at: str | None = None


class FakeBillingTable:
    """BillingTable in memory (a BillingStore)."""

    def __init__(self, shards: int = 4) -> None:
        self.shards = shards
        self.agreements: dict[str, _Agreement] = {}
        self.event_ids: dict[str, str] = {}  # inbound event id -> fingerprint (the id's claim)
        self.series: dict[str, int] = {}  # series -> sequence of its last committed document
        self.outbox: dict[str, dict[str, Any]] = {}  # event id -> the stored item, as the adapter reads it
        self.payments: dict[tuple[str, str], tuple[Payment, str | None]] = {}  # -> (payment, due key)
        self.runs: dict[str, _Run] = {}
        self.accounts: dict[str, SettlementAccount] = {}
        self.rejections: dict[str, Rejection] = {}
        self.commits = 0

    # -- AgreementStore ---------------------------------------------------------------

    def inbound_events(self, agreement_id: str) -> list[StoredInbound]:
        agreement = self.agreements.get(agreement_id, _Agreement())
        return [agreement.inbound[v] for v in sorted(agreement.inbound)]

    def record_inbound(self, agreement_id: str, stored: StoredInbound, received_at: str, due_at: str) -> None:
        agreement = self.agreements.get(agreement_id, _Agreement())
        if stored.version in agreement.inbound:
            raise VersionTaken(f"{agreement_id} v{stored.version}")
        if self.event_ids.get(stored.event_id, stored.fingerprint) != stored.fingerprint:
            raise EventIdTaken(stored.event_id)
        self.agreements[agreement_id] = agreement
        self.event_ids[stored.event_id] = stored.fingerprint
        agreement.inbound[stored.version] = stored
        agreement.rev += 1
        agreement.due = f"{due_at}#{STATE}"

    def billing_view(self, agreement_id: str) -> BillingView:
        agreement = self.agreements.get(agreement_id, _Agreement())
        return BillingView(
            agreement_id=agreement_id,
            inbound=tuple(agreement.inbound[v] for v in sorted(agreement.inbound)),
            documents=tuple(agreement.documents[s] for s in sorted(agreement.documents)),
            rev=agreement.rev,
            last_run_at=agreement.last_run_at,
            credit=agreement.credit,
        )

    def last_sequence(self, series: str) -> int:
        return self.series.get(series, 0)

    def commit_run(
        self,
        view: BillingView,
        *,
        run_at: str,
        document: Document | None,
        events: Sequence[BillingEvent],
        next_due_at: str | None,
        credit: CreditAccount | None = None,
    ) -> None:
        agreement = self.agreements.setdefault(view.agreement_id, _Agreement())
        if agreement.rev != view.rev:
            raise StaleState(f"{view.agreement_id}: rev {agreement.rev}, read at {view.rev}")
        if document is not None and document.seq in agreement.documents:
            raise StaleState(f"document {document.seq} exists")
        if document is not None:
            if document.series is None or document.sequence is None:
                raise ValueError("number the document before committing it")
            last = self.series.get(document.series, 0)
            if last != document.sequence - 1:
                raise SequenceTaken(f"{document.series} is at {last}")
        self._check_new_events(events)
        agreement.rev += 1
        agreement.last_run_at = run_at
        agreement.due = None if next_due_at is None else f"{next_due_at}#{STATE}"
        agreement.credit = credit or agreement.credit
        if document is not None:
            agreement.documents[document.seq] = document
            self.series[document.series or ""] = document.sequence or 0
        self._add_events(view.agreement_id, events)
        self.commits += 1

    def due_page(
        self, shard: int, upto: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        due = sorted(
            (key, agreement_id)
            for agreement_id, key in self._due_keys()
            if due_shard(agreement_id, self.shards) == shard and key <= f"{upto}#~"
        )
        if cursor is not None:
            due = [d for d in due if (d[0], d[1]) > (cursor["gsi1sk"], cursor["pk"])]
        page = due[:limit]
        following = {"gsi1sk": page[-1][0], "pk": page[-1][1]} if len(due) > limit else None
        return [(agreement_id, key) for key, agreement_id in page], following

    def _due_keys(self) -> Iterator[tuple[str, str]]:
        for agreement_id, agreement in self.agreements.items():
            if agreement.due is not None:
                yield agreement_id, agreement.due
        for (agreement_id, _), (_, key) in self.payments.items():
            if key is not None:
                yield agreement_id, key

    # -- PaymentStore -----------------------------------------------------------------

    def payment(self, agreement_id: str, document_id: str) -> Payment | None:
        found = self.payments.get((agreement_id, document_id))
        return found[0] if found else None

    def commit_payment(
        self,
        payment: Payment,
        *,
        previous_attempts: int,
        retry_at: str | None,
        events: Sequence[BillingEvent],
    ) -> None:
        key = (payment.agreement_id, payment.document_id)
        known = self.payments.get(key)
        if known is not None and (previous_attempts == 0 or known[0].attempts != previous_attempts):
            raise StaleState(f"attempt {payment.attempts} of {payment.document_id} is recorded")
        self._check_new_events(events)
        due = None if retry_at is None else f"{retry_at}#PAY#{payment.document_id}#{payment.attempts + 1}"
        self.payments[key] = (payment, due)
        self._add_events(payment.agreement_id, events)

    # -- SettlementStore --------------------------------------------------------------

    def settlement(self, agreement_id: str) -> SettlementView:
        payments = tuple(p for (a, _), (p, _) in sorted(self.payments.items()) if a == agreement_id)
        return SettlementView(self.accounts.get(agreement_id), payments)

    def record_closure(self, account: SettlementAccount) -> bool:
        known = self.accounts.get(account.agreement_id)
        if known is not None and known.closure >= account.closure:
            return False
        refunds = known.refunds if known else ()
        ver = known.ver + 1 if known else 1
        self.accounts[account.agreement_id] = SettlementAccount(
            account.agreement_id,
            account.currency,
            account.payment_method,
            account.owed_minor,
            account.closure,
            refunds,
            ver,
        )
        return True

    def save_refund(
        self, account: SettlementAccount, refund: Refund, events: Sequence[BillingEvent] = ()
    ) -> None:
        known = self.accounts.get(account.agreement_id)
        if known is None or known.ver != account.ver:
            raise StaleState(f"settlement of {account.agreement_id} moved on")
        self._check_new_events(events)
        self.accounts[account.agreement_id] = replace(
            known, refunds=with_refund(known.refunds, refund), ver=known.ver + 1
        )
        self._add_events(account.agreement_id, events)

    # -- EventStore -------------------------------------------------------------------

    def events_between(self, first_day: date, last_day: date) -> Iterator[dict[str, Any]]:
        day = first_day
        while day <= last_day:
            events = [i for i in self.outbox.values() if i["time"][:10] == day.isoformat()]
            yield from sorted(events, key=lambda item: item["gsi2sk"])
            day += timedelta(days=1)

    def events_of(self, agreement_id: str) -> list[dict[str, Any]]:
        items = [i for i in self.outbox.values() if i["pk"] == f"AGR#{agreement_id}"]
        return sorted(items, key=lambda i: (i["time"], i["sk"]))

    def _check_new_events(self, events: Sequence[BillingEvent]) -> None:
        for event in events:
            if event.id in self.outbox:
                raise StaleState(f"event {event.id} exists")

    def _add_events(self, agreement_id: str, events: Sequence[BillingEvent]) -> None:
        for event in events:
            self.outbox[event.id] = {
                "pk": f"AGR#{agreement_id}",
                "sk": f"OUT#{event.id}",
                "type": event.type,
                "time": event.time,
                "body": json.dumps(event.body, separators=(",", ":")),
                "attributes": dict(event.attributes),
                "gsi2sk": f"{event.time}#{event.id}",
            }

    # -- RunLedger --------------------------------------------------------------------

    def start_run(self, run_at: str, shards: int, started_at: str) -> None:
        self.runs.setdefault(run_at, _Run(expected=shards, started_at=started_at))

    def shard_done(self, run_at: str, shard: int) -> RunTally | None:
        run = self.runs.get(run_at)
        if run is None:
            return None
        run.shards.add(str(shard))
        return RunTally(len(run.shards), run.expected, run.started_at, run.completed_at)

    def complete_run(self, run_at: str, completed_at: str) -> bool:
        run = self.runs.get(run_at)
        if run is None or run.completed_at is not None:
            return False
        run.completed_at = completed_at
        return True

    # -- RejectionLog -----------------------------------------------------------------

    def note_rejection(
        self, key: str, *, code: str, reason: str, event_id: str | None, seen_at: str
    ) -> Rejection:
        known = self.rejections.get(key)
        noted = Rejection(
            key=key,
            code=code,
            reason=reason,
            event_id=event_id,
            seen=1 if known is None else known.seen + 1,
            first_seen=seen_at if known is None else known.first_seen,
            last_seen=seen_at,
            parked_at=None if known is None else known.parked_at,
        )
        self.rejections[key] = noted
        return noted

    def mark_parked(self, key: str, parked_at: str) -> None:
        self.rejections[key] = dataclasses.replace(self.rejections[key], parked_at=parked_at)

    def rejection(self, key: str) -> Rejection | None:
        return self.rejections.get(key)

    # -- for assertions ---------------------------------------------------------------

    def documents(self, agreement_id: str) -> list[Document]:
        return list(self.billing_view(agreement_id).documents)

    def event_types(self, agreement_id: str) -> list[str]:
        return [i["type"] for i in self.events_of(agreement_id)]


class FakeTopic:
    """The billing topic: remembers what was published; ids in `failing` are refused."""

    def __init__(self, failing: Iterable[str] = ()) -> None:
        self.published: list[tuple[str, str, dict[str, str]]] = []
        self.failing = set(failing)

    def publish_batch(self, messages: Sequence[tuple[str, str, dict[str, str]]]) -> list[str]:
        failed = [m[0] for m in messages if m[0] in self.failing]
        self.published += [m for m in messages if m[0] not in self.failing]
        return failed


class FakeQueue:
    """An SQS queue in memory: send, receive (with in-flight messages), delete, release, park.

    `empty_answers` makes the first that many receives answer empty although messages wait, as SQS
    short polling does when it samples servers that hold none.
    """

    def __init__(self, empty_answers: int = 0, sent_ms: int = 0) -> None:
        self.visible: dict[str, dict[str, Any]] = {}
        self.in_flight: dict[str, dict[str, Any]] = {}
        self.empty_answers = empty_answers
        self.sent_ms = sent_ms
        self.receives: list[int] = []  # wait_seconds of every receive
        self.releases: list[int] = []  # how many handles each release call made visible
        self.parked: list[tuple[str, dict[str, str], str, str]] = []
        self._ids = itertools.count(1)

    def send_message(self, body: str, message_attributes: dict[str, dict[str, Any]]) -> None:
        n = next(self._ids)
        self.visible[f"m{n}"] = {
            "MessageId": f"m{n}",
            "Body": body,
            "MessageAttributes": message_attributes,
            "Attributes": {"SentTimestamp": str(self.sent_ms)},
        }

    def send(self, body: str, attributes: dict[str, str] | None = None) -> None:
        typed = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
        self.send_message(body, typed)

    def send_batch(self, messages: Iterable[tuple[str, dict[str, str]]]) -> int:
        sent = 0
        for body, attributes in messages:
            self.send(body, attributes)
            sent += 1
        return sent

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None
    ) -> list[dict[str, Any]]:
        self.receives.append(wait_seconds)
        if self.empty_answers > 0:
            self.empty_answers -= 1
            return []
        taken = list(self.visible)[:max_messages]
        messages = []
        for message_id in taken:
            message = self.visible.pop(message_id)
            handle = f"rh-{message_id}-{next(self._ids)}"
            self.in_flight[handle] = message
            messages.append({**message, "ReceiptHandle": handle})
        return messages

    def delete(self, receipt_handles: Sequence[str]) -> None:
        for handle in receipt_handles:
            self.in_flight.pop(handle, None)

    def release(self, receipt_handles: Sequence[str]) -> None:
        self.releases.append(len(receipt_handles))
        for handle in receipt_handles:
            message = self.in_flight.pop(handle, None)
            if message is not None:
                self.visible[message["MessageId"]] = message

    def park(self, body: str, attributes: dict[str, str], code: str, reason: str) -> None:
        self.parked.append((body, attributes, code, reason))

    def bodies(self) -> list[str]:
        return [m["Body"] for m in self.visible.values()]

    def __len__(self) -> int:
        return len(self.visible) + len(self.in_flight)


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (body, content_type)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for body, _ in self.objects.values() for line in body.decode().splitlines()]


class MemoryLedger:
    """The sandbox gateway's ledger in memory."""

    def __init__(self) -> None:
        self.results: dict[str, ChargeResult] = {}
        self.requests: dict[str, ChargeRequest | RefundRequest] = {}

    def get(self, idempotency_key: str) -> ChargeResult | None:
        return self.results.get(idempotency_key)

    def put_if_absent(self, request: ChargeRequest | RefundRequest, result: ChargeResult) -> ChargeResult:
        self.requests.setdefault(request.idempotency_key, request)
        return self.results.setdefault(request.idempotency_key, result)

    def refunded_minor(self) -> int:
        """Money the sandbox paid back."""
        return sum(
            r.amount_minor
            for key, r in self.requests.items()
            if isinstance(r, RefundRequest) and self.results[key].status is ChargeStatus.SUCCEEDED
        )


def sandbox_gateway() -> SandboxGateway:
    return SandboxGateway(MemoryLedger())
