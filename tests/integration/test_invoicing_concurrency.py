"""Two generators on one agreement (a redelivered job, an overlapping run) never issue a period twice."""

from datetime import UTC, datetime

import pytest
from support import Pipeline, agreement_event

from billing.adapters.dynamo import BillingTable
from billing.ports import StaleState
from billing.service.invoicing import bill_agreement

RUN = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)


@pytest.fixture
def table(pipeline: Pipeline) -> BillingTable:
    pipeline.publish(agreement_event("agreement.created", "agr-race", 1, start_date="2026-03-01"))
    return BillingTable(pipeline.cloud.physical_id("BillingTable"), shards=32)


def test_a_commit_from_a_stale_read_is_refused(pipeline: Pipeline, table: BillingTable) -> None:
    stale = table.billing_view("agr-race")
    assert bill_agreement(table, "agr-race", RUN).document is not None
    with pytest.raises(StaleState):
        table.commit_run(stale, run_at="2026-03-01T00:05:00Z", document=None, events=[], next_due_at=None)


def test_interleaved_generators_issue_one_document(pipeline: Pipeline, table: BillingTable) -> None:
    """The first generator reads, the second runs to completion, then the first commits: it must lose
    its transaction, read again, and find nothing left to issue."""
    read = table.billing_view
    other_done = []

    def read_then_let_the_other_run(agreement_id: str):  # type: ignore[no-untyped-def]
        view = read(agreement_id)
        if not other_done:
            other_done.append(bill_agreement(BillingTable(table.name, table.shards), agreement_id, RUN))
        return view

    table.billing_view = read_then_let_the_other_run  # type: ignore[method-assign]
    first = bill_agreement(table, "agr-race", RUN)

    assert other_done[0].document is not None
    assert first.document is None
    [document] = pipeline.documents("agr-race")
    assert document["document_id"] == other_done[0].document.document_id


def test_a_job_for_an_older_run_issues_nothing_after_a_newer_run(
    pipeline: Pipeline, table: BillingTable
) -> None:
    later = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert bill_agreement(table, "agr-race", later).document is not None
    assert bill_agreement(table, "agr-race", RUN).document is None
    assert len(pipeline.documents("agr-race")) == 1
