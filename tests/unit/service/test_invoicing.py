"""The daily run's billing on the fake table: issue, catch up, credit on cancel, retry a stale commit."""

import json
from datetime import date
from typing import Any

import pytest
from fakes import FakeBillingTable, due_shard
from service_builders import agreement_event, at, created, send

from billing.domain.errors import BadInput
from billing.ports import BillingView, Payment, StaleState
from billing.service import invoicing
from billing.service.invoicing import (
    AGREEMENTS_PER_JOB,
    AgreementJob,
    ShardJob,
    bill_agreement,
    parse_job,
    read_due_page,
    shard_jobs,
)


def test_the_first_run_issues_the_invoice_with_its_event_and_next_due(table: FakeBillingTable) -> None:
    send(table, created("agr-1"))
    billed = bill_agreement(table, "agr-1", at("2026-03-01"))
    assert billed.document is not None
    assert (billed.document.kind, billed.document.total_minor) == ("invoice", 1000)
    assert table.event_types("agr-1") == ["billing.invoice.issued"]
    assert table.agreements["agr-1"].due == "2026-04-01T00:00:00Z#AGREEMENT"
    assert bill_agreement(table, "agr-1", at("2026-03-01")).document is None  # nothing twice
    assert len(table.documents("agr-1")) == 1


def test_an_agreement_never_stored_bills_nothing(table: FakeBillingTable) -> None:
    assert bill_agreement(table, "nobody", at("2026-03-01")).document is None
    assert table.commits == 0


def test_a_missed_month_is_caught_up_by_the_next_run(table: FakeBillingTable) -> None:
    send(table, created("agr-cu"))
    first = bill_agreement(table, "agr-cu", at("2026-04-02"))  # no run on Mar 1 or Apr 1
    assert first.document is not None
    assert first.document.total_minor == 2000  # March and April in one invoice
    assert bill_agreement(table, "agr-cu", at("2026-04-03")).document is None


def test_a_retroactive_cancellation_issues_a_credit_note(table: FakeBillingTable) -> None:
    send(table, created("agr-cn"))
    bill_agreement(table, "agr-cn", at("2026-03-01"))
    send(table, agreement_event("agreement.cancelled", "agr-cn", 2, effective_date="2026-03-10"))
    credit = bill_agreement(table, "agr-cn", at("2026-03-02")).document
    assert credit is not None and credit.kind == "credit_note"
    assert credit.total_minor == -(1000 - round(1000 * 9 / 31))
    assert sorted(table.event_types("agr-cn")) == [
        "billing.agreement.closed",
        "billing.credit_note.issued",
        "billing.invoice.issued",
    ]
    assert table.agreements["agr-cn"].due is None  # nothing left to bill: off the due index


def test_a_commit_from_a_stale_read_is_refused_by_the_fake(table: FakeBillingTable) -> None:
    send(table, created("agr-race"))
    stale = table.billing_view("agr-race")
    bill_agreement(table, "agr-race", at("2026-03-01"))
    with pytest.raises(StaleState):
        table.commit_run(stale, run_at="2026-03-01T00:05:00Z", document=None, events=[], next_due_at=None)


def test_a_stale_commit_is_retried_and_issues_once(table: FakeBillingTable) -> None:
    """Another generator commits between our read and our commit: ours is refused, we read again and
    find nothing left to issue."""
    send(table, created("agr-race"))
    read, commit = table.billing_view, table.commit_run
    other: list[object] = []
    refused: list[StaleState] = []

    def read_then_let_the_other_run(agreement_id: str) -> BillingView:
        view = read(agreement_id)
        if not other:
            other.append(None)
            other[0] = bill_agreement(table, agreement_id, at("2026-03-01")).document
        return view

    def commit_and_note(view: BillingView, **kwargs: Any) -> None:
        try:
            commit(view, **kwargs)
        except StaleState as error:
            refused.append(error)
            raise

    table.billing_view = read_then_let_the_other_run  # type: ignore[method-assign]
    table.commit_run = commit_and_note  # type: ignore[method-assign]
    mine = bill_agreement(table, "agr-race", at("2026-03-01"))
    assert mine.document is None and other[0] is not None
    assert len(refused) == 1
    assert len(table.documents("agr-race")) == 1


def test_a_job_of_an_older_run_issues_nothing_after_a_newer_run(table: FakeBillingTable) -> None:
    send(table, created("agr-old"))
    assert bill_agreement(table, "agr-old", at("2026-04-01")).document is not None
    assert bill_agreement(table, "agr-old", at("2026-03-01")).document is None


def test_a_due_page_fans_out_agreement_jobs_and_hands_on_a_continuation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(invoicing, "DUE_PAGE", 40)
    table = FakeBillingTable(shards=1)
    for n in range(60):
        send(table, created(f"agr-{n:02d}", start="2026-02-01"))
    send(table, created("agr-later", start="2026-03-02"))  # due after the run instant
    pages, agreements = [], []
    job: ShardJob | None = ShardJob(at("2026-03-01"), 0)
    while job is not None:
        page = read_due_page(table, job)
        pages.append([len(j.agreement_ids) for j in page.agreement_jobs])
        agreements += [a for j in page.agreement_jobs for a in j.agreement_ids]
        job = page.continuation
    assert pages == [[AGREEMENTS_PER_JOB, 15], [20]]
    assert sorted(agreements) == [f"agr-{n:02d}" for n in range(60)]


def test_payment_retries_come_out_of_the_due_page(table: FakeBillingTable) -> None:
    payment = Payment("agr-p", "doc-1", 1000, "EUR", "pm_insufficient_funds", "retrying", 1, date(2026, 3, 1))
    table.commit_payment(payment, previous_attempts=0, retry_at="2026-03-02T00:00:00Z", events=[])
    page = read_due_page(table, ShardJob(at("2026-03-02"), _shard(table, "agr-p")))
    [retry] = page.payment_retries
    assert (retry.agreement_id, retry.document_id, retry.attempt) == ("agr-p", "doc-1", 2)
    assert page.agreement_jobs == [] and page.continuation is None


def test_jobs_round_trip_and_bad_jobs_are_bad_input() -> None:
    jobs = shard_jobs(3, at("2026-03-01"))
    assert [j.shard for j in jobs] == [0, 1, 2]
    assert parse_job(jobs[1].body()) == jobs[1]
    job = AgreementJob(at("2026-03-01"), ("a", "b"))
    assert parse_job(job.body()) == job
    for bad in ("nope", json.dumps({"agreement_ids": ["a"]}), json.dumps({"run_at": "2026-03-01T00:05:00"})):
        with pytest.raises(BadInput):
            parse_job(bad)


def _shard(table: FakeBillingTable, agreement_id: str) -> int:
    return due_shard(agreement_id, table.shards)
