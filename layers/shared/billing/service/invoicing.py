"""The daily run: find what is due, then bill each agreement by recompute-and-diff.

The scheduler sends one job per shard of the sparse due index; generators read
the shards a page at a time in parallel and fan the due agreements out as jobs
of 25. Only due items are read, so the work grows with the due agreements, not
with all agreements, and no single invocation has to read a whole day. The generator recomputes each agreement
from its stored events and documents and commits the difference in one
transaction, guarded by the agreement's revision: two generators on the same
agreement (a redelivered job, an overlapping run) serialize, and a period is
never issued twice.

Each invoice applies the agreement's credit balance first (domain/settlement.py); the run that
leaves a cancelled agreement with nothing more to bill closes it (`billing.agreement.closed`), which
the payment side settles into a refund. Both move with the document, in its transaction.

Each document takes the next legal number of its series in that same transaction (the
series' counter moves from n - 1 to n only if the document commits): no number is burned
by a crash or a retry, and none is taken twice. A lost race for a number re-reads the
series only, not the agreement.

The run's progress is counted per shard: the scheduler records how many shards
the run has, the generator that finishes a shard's last page counts it (once,
however often the page is delivered), and the one that counts the last shard
marks the run complete (once): only then is the run reported done.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from itertools import batched
from typing import Any

from billing.domain.agreements import fold, parse_event
from billing.domain.billing_events import BillingEvent, agreement_closed, document_issued, iso_instant
from billing.domain.engine import Document, bill, local_date, midnight_utc, next_bill_date
from billing.domain.errors import BadInput
from billing.domain.numbering import DEFAULT_SERIES_COUNT, series_for
from billing.domain.settlement import CreditAccount, settle_run
from billing.ports import AgreementStore, BillingView, RunLedger, SequenceTaken, StaleState

AGREEMENTS_PER_JOB = 25
DUE_PAGE = 500  # due-index items one shard job reads before handing on a continuation
_MAX_TRIES = 5
# Numbers are taken by optimistic concurrency: under the daily run's contention a commit may lose the
# race for its series' next number several times (docs/SCALE.md); each retry re-reads one item.
_MAX_NUMBER_TRIES = 50


@dataclass(frozen=True, slots=True)
class PaymentRetry:
    agreement_id: str
    document_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ShardJob:
    """Read one page of one due-index shard; the page hands on a continuation if there is more."""

    run_at: datetime
    shard: int
    cursor: dict[str, Any] | None = None

    def body(self) -> str:
        return json.dumps({"run_at": iso_instant(self.run_at), "shard": self.shard, "cursor": self.cursor})


@dataclass(frozen=True, slots=True)
class AgreementJob:
    """Bill these agreements at `run_at`."""

    run_at: datetime
    agreement_ids: tuple[str, ...]

    def body(self) -> str:
        return json.dumps({"run_at": iso_instant(self.run_at), "agreement_ids": list(self.agreement_ids)})


@dataclass(frozen=True, slots=True)
class DuePage:
    agreement_jobs: list[AgreementJob]
    payment_retries: list[PaymentRetry]
    continuation: ShardJob | None


def shard_jobs(shards: int, run_at: datetime) -> list[ShardJob]:
    """The daily run's fan-out: one job per due-index shard, read in parallel by the generators."""
    return [ShardJob(run_at, shard) for shard in range(shards)]


@dataclass(frozen=True, slots=True)
class RunCompleted:
    run_at: datetime
    duration_ms: int


def start_run(runs: RunLedger, jobs: list[ShardJob], now: datetime) -> None:
    """Record the run's shard count and start before its jobs go out."""
    run_at = {job.run_at for job in jobs}
    if len(run_at) != 1:
        raise ValueError("one run's shard jobs share one run instant")
    runs.start_run(iso_instant(run_at.pop()), len(jobs), iso_instant(now))


def finish_shard(runs: RunLedger, job: ShardJob, now: datetime) -> RunCompleted | None:
    """Count the job's shard as done (after its last page); the run when this completed it, else None."""
    run_at = iso_instant(job.run_at)
    tally = runs.shard_done(run_at, job.shard)
    if tally is None or tally.completed_at is not None or tally.shards_done < tally.shards_expected:
        return None
    if not runs.complete_run(run_at, iso_instant(now)):
        return None  # another generator counted the last shard at the same time and completed it
    started = datetime.fromisoformat(tally.started_at.replace("Z", "+00:00"))
    return RunCompleted(job.run_at, max(0, int((now - started).total_seconds() * 1000)))


def read_due_page(table: AgreementStore, job: ShardJob) -> DuePage:
    """One page of what is due at the job's instant in its shard, as agreement jobs and payment retries."""
    items, cursor = table.due_page(job.shard, iso_instant(job.run_at), job.cursor, DUE_PAGE)
    agreements: list[str] = []
    retries: list[PaymentRetry] = []
    for agreement_id, due_key in items:
        _, kind, *rest = due_key.split("#")
        if kind == "PAY":
            retries.append(PaymentRetry(agreement_id, rest[0], int(rest[1])))
        else:
            agreements.append(agreement_id)
    jobs = [
        AgreementJob(job.run_at, chunk) for chunk in batched(agreements, AGREEMENTS_PER_JOB, strict=False)
    ]
    continuation = ShardJob(job.run_at, job.shard, cursor) if cursor else None
    return DuePage(jobs, retries, continuation)


def parse_job(body: str) -> ShardJob | AgreementJob:
    """An invoice job message (BadInput if it is not one)."""
    try:
        job = json.loads(body)
        run_at = datetime.fromisoformat(job["run_at"].replace("Z", "+00:00"))
        parsed: ShardJob | AgreementJob
        if "shard" in job:
            parsed = ShardJob(run_at, int(job["shard"]), job.get("cursor"))
        else:
            parsed = AgreementJob(run_at, tuple(str(a) for a in job["agreement_ids"]))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadInput("invalid_job", f"not an invoice job ({type(error).__name__}: {error})") from None
    if run_at.tzinfo is None:
        raise BadInput("invalid_job", "run_at must be a UTC instant", "run_at")
    return parsed


@dataclass(frozen=True, slots=True)
class Billed:
    document: Document | None
    ignored_events: int
    number_conflicts: int = 0  # commits lost to another document taking the series' next number


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a recomputation decided for one agreement, before it is numbered and committed."""

    document: Document | None  # with the credit balance applied
    customer_id: str
    payment_method: str
    next_due_at: str | None
    ignored_events: int
    credit: CreditAccount | None = None
    closed: BillingEvent | None = None  # billing.agreement.closed, when this run closes the agreement


def bill_agreement(
    table: AgreementStore, agreement_id: str, run_at: datetime, series_count: int = DEFAULT_SERIES_COUNT
) -> Billed:
    """Issue what is due for one agreement at `run_at` (nothing if it is up to date)."""
    conflicts = 0
    for _ in range(_MAX_TRIES):
        view = table.billing_view(agreement_id)
        if view.rev == 0:
            return Billed(None, 0)  # no event of this agreement was ever stored
        if view.last_run_at is not None and view.last_run_at > iso_instant(run_at):
            return Billed(None, 0)  # a later run already covered this agreement
        outcome = _recompute(view, run_at)
        for _ in range(_MAX_NUMBER_TRIES):
            document = _numbered(table, outcome.document, series_count)
            try:
                table.commit_run(
                    view,
                    run_at=iso_instant(run_at),
                    document=document,
                    events=_issued_events(outcome, document, run_at),
                    next_due_at=outcome.next_due_at,
                    credit=outcome.credit,
                )
            except SequenceTaken:
                conflicts += 1  # only the number moved on: take the next one, the rest still holds
                continue
            except StaleState:
                break
            return Billed(document, outcome.ignored_events, conflicts)
    raise RuntimeError(f"agreement {agreement_id} kept changing during the run; the job will be retried")


def _numbered(table: AgreementStore, document: Document | None, series_count: int) -> Document | None:
    """The document with the next number of its series (committed with it, or not taken at all)."""
    if document is None:
        return None
    series = series_for(document.kind, document.issue_date, document.agreement_id, series_count)
    return document.numbered(series, table.last_sequence(series) + 1)


def _issued_events(outcome: _Outcome, document: Document | None, run_at: datetime) -> list[BillingEvent]:
    events = []
    if document is not None:
        events.append(
            document_issued(
                document, customer_id=outcome.customer_id, payment_method=outcome.payment_method, at=run_at
            )
        )
    if outcome.closed is not None:
        events.append(outcome.closed)
    return events


def _recompute(view: BillingView, run_at: datetime) -> _Outcome:
    folded = fold(parse_event(stored.body) for stored in view.inbound)
    state = folded.state
    if state is None:  # nothing is billed until agreement.created is known
        return _Outcome(None, "", "", None, len(folded.ignored))
    today = local_date(run_at, state.timezone)
    document = bill(state, view.documents, today)
    issued = (*view.documents, document) if document else view.documents
    upcoming = next_bill_date(state, issued, today)
    next_due = iso_instant(midnight_utc(upcoming, state.timezone)) if upcoming else None
    finished = state.cancel_date is not None and upcoming is None
    settled = settle_run(view.credit, view.documents, document, finished=finished)
    closed = None
    if settled.closure is not None:
        closed = agreement_closed(
            agreement_id=state.agreement_id,
            currency=state.currency,
            payment_method=state.payment_method,
            closure=settled.closure,
            at=run_at,
        )
    return _Outcome(
        settled.document,
        state.customer_id,
        state.payment_method,
        next_due,
        len(folded.ignored),
        settled.account,
        closed,
    )
