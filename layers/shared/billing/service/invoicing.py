"""The daily run: find what is due, then bill each agreement by recompute-and-diff.

The scheduler only reads the sparse due index, so its work grows with the due
agreements, not with all agreements. The generator recomputes each agreement
from its stored events and documents and commits the difference in one
transaction, guarded by the agreement's revision: two generators on the same
agreement (a redelivered job, an overlapping run) serialize, and a period is
never issued twice.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import batched

from billing.adapters.dynamo import BillingTable, BillingView, StaleState
from billing.domain.agreements import fold, parse_event
from billing.domain.billing_events import BillingEvent, document_issued, iso_instant
from billing.domain.engine import Document, bill, local_date, midnight_utc, next_bill_date
from billing.domain.errors import BadInput

AGREEMENTS_PER_JOB = 25
_MAX_TRIES = 5


@dataclass(frozen=True, slots=True)
class PaymentRetry:
    agreement_id: str
    document_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class DueWork:
    agreement_ids: list[str]
    payment_retries: list[PaymentRetry]


def find_due(table: BillingTable, run_at: datetime) -> DueWork:
    """Everything due at `run_at`, across every shard of the due index."""
    upto = iso_instant(run_at)
    agreements: list[str] = []
    retries: list[PaymentRetry] = []
    for shard in range(table.shards):
        for agreement_id, due_key in table.due(shard, upto):
            _, kind, *rest = due_key.split("#")
            if kind == "PAY":
                retries.append(PaymentRetry(agreement_id, rest[0], int(rest[1])))
            else:
                agreements.append(agreement_id)
    return DueWork(agreements, retries)


def parse_job(body: str) -> tuple[datetime, list[str]]:
    """An invoice job (see `job_bodies`): its run instant and agreement ids (BadInput otherwise)."""
    try:
        job = json.loads(body)
        run_at = datetime.fromisoformat(job["run_at"].replace("Z", "+00:00"))
        agreement_ids = [str(a) for a in job["agreement_ids"]]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadInput("invalid_job", f"not an invoice job ({type(error).__name__}: {error})") from None
    if run_at.tzinfo is None:
        raise BadInput("invalid_job", "run_at must be a UTC instant", "run_at")
    return run_at, agreement_ids


def job_bodies(agreement_ids: list[str], run_at: datetime) -> Iterator[str]:
    """Invoice jobs: one message per AGREEMENTS_PER_JOB agreements (fewer messages, fewer invocations)."""
    for chunk in batched(agreement_ids, AGREEMENTS_PER_JOB, strict=False):
        yield json.dumps({"run_at": iso_instant(run_at), "agreement_ids": list(chunk)})


@dataclass(frozen=True, slots=True)
class Billed:
    document: Document | None
    ignored_events: int


def bill_agreement(table: BillingTable, agreement_id: str, run_at: datetime) -> Billed:
    """Issue what is due for one agreement at `run_at` (nothing if it is up to date)."""
    for _ in range(_MAX_TRIES):
        view = table.billing_view(agreement_id)
        if view.rev == 0:
            return Billed(None, 0)  # no event of this agreement was ever stored
        if view.last_run_at is not None and view.last_run_at > iso_instant(run_at):
            return Billed(None, 0)  # a later run already covered this agreement
        document, events, next_due, ignored = _recompute(view, run_at)
        try:
            table.commit_run(
                view, run_at=iso_instant(run_at), document=document, events=events, next_due_at=next_due
            )
        except StaleState:
            continue
        return Billed(document, ignored)
    raise RuntimeError(f"agreement {agreement_id} kept changing during the run; the job will be retried")


def _recompute(
    view: BillingView, run_at: datetime
) -> tuple[Document | None, list[BillingEvent], str | None, int]:
    folded = fold(parse_event(stored.body) for stored in view.inbound)
    state = folded.state
    if state is None:
        return None, [], None, len(folded.ignored)  # nothing is billed until agreement.created is known
    today = local_date(run_at, state.timezone)
    document = bill(state, view.documents, today)
    issued = (*view.documents, document) if document else view.documents
    upcoming = next_bill_date(state, issued, today)
    next_due = iso_instant(midnight_utc(upcoming, state.timezone)) if upcoming else None
    events = []
    if document is not None:
        events.append(
            document_issued(
                document, customer_id=state.customer_id, payment_method=state.payment_method, at=run_at
            )
        )
    return document, events, next_due, len(folded.ignored)
