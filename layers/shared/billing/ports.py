"""The ports: what the services need from storage, messaging and the gateway, as small Protocols.

The services (billing.service) are written against these and the domain only;
billing.adapters implements them on DynamoDB, SNS, SQS and S3, and tests/fakes.py
in memory with the same conditional semantics. The records the stores hand
back, and the errors their conditional writes raise, live here too.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

from billing.domain.billing_events import BillingEvent
from billing.domain.engine import Document
from billing.domain.payments import PaymentGateway
from billing.domain.settlement import CreditAccount, Refund

__all__ = [
    "REDRIVEN_ATTRIBUTE",
    "REJECTION_ATTRIBUTES",
    "AgreementStore",
    "BillingStore",
    "BillingView",
    "DeadLetterQueue",
    "EventIdTaken",
    "EventStore",
    "Gateway",
    "ObjectStore",
    "Payment",
    "PaymentSide",
    "PaymentStore",
    "Publisher",
    "PullQueue",
    "Rejection",
    "RejectionLog",
    "RunLedger",
    "RunTally",
    "SettlementAccount",
    "SettlementStore",
    "SettlementView",
    "StaleState",
    "StoredInbound",
    "VersionTaken",
    "WorkQueue",
]

# Message attributes a consumer adds when it parks bad input on its DLQ (dropped again on a redrive).
REJECTION_ATTRIBUTES = ("rejection_code", "rejection_reason", "rejection_key")
# Added by a redrive to parked bad input it sends back (the rejection code it had): that copy left
# the DLQ, so a consumer that parks each bad body once parks it again if it is still refused.
REDRIVEN_ATTRIBUTE = "redriven_rejection"

Gateway = PaymentGateway  # the payment gateway port is the domain's own


class StaleState(Exception):
    """The agreement changed since it was read (another writer won): read again and redo."""


class SequenceTaken(StaleState):
    """Another document took the next number of the series first: read the series again, renumber."""


class VersionTaken(Exception):
    """An inbound event with this agreement and version is already stored."""


class EventIdTaken(Exception):
    """An inbound event with this id and other content is already stored (for any agreement)."""


@dataclass(frozen=True, slots=True)
class StoredInbound:
    version: int
    event_id: str
    fingerprint: str
    body: str


@dataclass(frozen=True, slots=True)
class BillingView:
    """What the generator needs of one agreement, read in one Query."""

    agreement_id: str
    inbound: tuple[StoredInbound, ...]
    documents: tuple[Document, ...]
    rev: int
    last_run_at: str | None
    credit: CreditAccount = field(default_factory=CreditAccount)


@dataclass(frozen=True, slots=True)
class Payment:
    agreement_id: str
    document_id: str
    amount_minor: int
    currency: str
    payment_method: str
    status: str  # pending | retrying | succeeded | failed
    attempts: int
    first_attempt_on: date


@dataclass(frozen=True, slots=True)
class SettlementAccount:
    """The payment side's record of a closed agreement: what it owes (as of its latest closure) and
    its refunds. `ver` guards every change (optimistic concurrency)."""

    agreement_id: str
    currency: str
    payment_method: str
    owed_minor: int
    closure: int
    refunds: tuple[Refund, ...]
    ver: int


@dataclass(frozen=True, slots=True)
class SettlementView:
    """What settling an agreement reads, in one consistent Query: its account (None until the
    agreement is closed) and every payment of its invoices."""

    account: SettlementAccount | None
    payments: tuple[Payment, ...]

    @property
    def collected_minor(self) -> int:
        return sum(p.amount_minor for p in self.payments if p.status == "succeeded")


@dataclass(frozen=True, slots=True)
class Rejection:
    """One distinct rejected input (keyed by its body): how often it came, and when it was parked."""

    key: str
    code: str
    reason: str
    event_id: str | None
    seen: int
    first_seen: str
    last_seen: str
    parked_at: str | None


@dataclass(frozen=True, slots=True)
class RunTally:
    """The progress of one daily run after a shard was counted."""

    shards_done: int
    shards_expected: int
    started_at: str
    completed_at: str | None


class AgreementStore(Protocol):
    """Agreements: their inbound events, what the generator reads and commits, the due index."""

    def inbound_events(self, agreement_id: str) -> list[StoredInbound]: ...

    def record_inbound(self, agreement_id: str, stored: StoredInbound, received_at: str, due_at: str) -> None:
        """Store the event once per version, claim its id system-wide and mark the agreement due,
        atomically: VersionTaken if the version is stored already (checked first), EventIdTaken if
        the id is claimed by other content (another agreement's event)."""
        ...

    def billing_view(self, agreement_id: str) -> BillingView: ...

    def last_sequence(self, series: str) -> int:
        """The sequence of the series' last committed document (0 for a new series), read consistently."""
        ...

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
        """Commit document, events, next due instant and credit account (None: unchanged) together,
        if the agreement is still at `view.rev` (StaleState otherwise) and the document's number is
        the next of its series (SequenceTaken otherwise): a number is taken only by a committed
        document."""
        ...

    def due_page(
        self, shard: int, upto: str, cursor: dict[str, Any] | None, limit: int
    ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """(agreement id, due key) pairs due at or before `upto` in one shard, and the next cursor."""
        ...


class PaymentStore(Protocol):
    def payment(self, agreement_id: str, document_id: str) -> Payment | None: ...

    def commit_payment(
        self,
        payment: Payment,
        *,
        previous_attempts: int,
        retry_at: str | None,
        events: Sequence[BillingEvent],
    ) -> None:
        """Record an attempt and its events once, if the stored attempt count is still
        `previous_attempts` (StaleState otherwise: a redelivery)."""
        ...


class SettlementStore(Protocol):
    """Closed agreements and their refunds (contract §4 "Settlement"), beside their payments."""

    def settlement(self, agreement_id: str) -> SettlementView:
        """The account and the payments, read consistently after the caller's own write."""
        ...

    def record_closure(self, account: SettlementAccount) -> bool:
        """Store a closure unless one as recent is stored (then False: a redelivery or an older one)."""
        ...

    def save_refund(
        self, account: SettlementAccount, refund: Refund, events: Sequence[BillingEvent] = ()
    ) -> None:
        """Add or update one refund (and its events) if the account is still at `account.ver`
        (StaleState otherwise: another settle got there first)."""
        ...


class PaymentSide(PaymentStore, SettlementStore, Protocol):
    """What the payment processor writes: payments, settlements, refunds."""


class EventStore(Protocol):
    """The billing events recorded with the state they describe (the outbox), as stored items."""

    def events_between(self, first_day: date, last_day: date) -> Iterator[dict[str, Any]]: ...

    def events_of(self, agreement_id: str) -> list[dict[str, Any]]: ...


class RunLedger(Protocol):
    """The progress of the daily runs: started by the scheduler, counted per shard by the generators."""

    def start_run(self, run_at: str, shards: int, started_at: str) -> None:
        """Record a run and how many shards it has (a second start of the same run changes nothing)."""
        ...

    def shard_done(self, run_at: str, shard: int) -> RunTally | None:
        """Count a shard as done (a shard counted twice counts once); None if the run is unknown."""
        ...

    def complete_run(self, run_at: str, completed_at: str) -> bool:
        """Mark the run complete; True only for the one caller that did."""
        ...


class RejectionLog(Protocol):
    """The record of each distinct rejected input, so that it is parked (and found) once."""

    def note_rejection(
        self, key: str, *, code: str, reason: str, event_id: str | None, seen_at: str
    ) -> Rejection:
        """Count one more delivery of rejected input `key` (the first creates the record): one
        atomic update, so concurrent copies are all counted. Returns the record after it."""
        ...

    def mark_parked(self, key: str, parked_at: str) -> None: ...

    def rejection(self, key: str) -> Rejection | None: ...


class BillingStore(
    AgreementStore, PaymentStore, SettlementStore, EventStore, RunLedger, RejectionLog, Protocol
):
    """Everything BillingTable holds."""


@runtime_checkable
class Publisher(Protocol):
    """The billing topic (runtime-checkable: a replay tells a topic from a queue)."""

    def publish_batch(self, messages: Sequence[tuple[str, str, dict[str, str]]]) -> list[str]:
        """Publish (id, body, attributes); return the ids that failed."""
        ...


class WorkQueue(Protocol):
    """A queue the services send to."""

    def send_batch(self, messages: Iterable[tuple[str, dict[str, str]]]) -> int:
        """Send (body, attributes); raise if any was not accepted."""
        ...


class PullQueue(Protocol):
    """A queue a service drains itself (the accounting export, a DLQ redrive).

    Messages are SQS-shaped dicts: `Body`, `MessageId`, `ReceiptHandle`, `MessageAttributes`,
    `Attributes` (`SentTimestamp`).
    """

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None
    ) -> list[dict[str, Any]]:
        """Up to `max_messages`, waiting up to `wait_seconds` for the first (may answer empty although
        messages wait: SQS samples its servers)."""
        ...

    def delete(self, receipt_handles: Sequence[str]) -> None: ...

    def release(self, receipt_handles: Sequence[str]) -> None:
        """Make received messages visible again at once (visibility timeout 0, in batches). A handle
        that is no longer valid (the message was received again since) is passed over."""
        ...

    def send_message(self, body: str, message_attributes: dict[str, dict[str, Any]]) -> None:
        """Send one message with SQS-shaped attributes (kept as they are: data types, binary values)."""
        ...


class DeadLetterQueue(Protocol):
    def park(self, body: str, attributes: dict[str, str], code: str, reason: str) -> None:
        """Put rejected input on this queue at once, with `rejection_code` and `rejection_reason`."""
        ...


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...
