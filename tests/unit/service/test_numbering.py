"""Legal numbers (contract §2 "Document numbers"): gap-free per series, taken only by a committed document."""

from collections import defaultdict
from dataclasses import replace
from datetime import date

import pytest
from fakes import FakeBillingTable
from service_builders import agreement_event, at, created, send

from billing.domain.numbering import NUMBER_RE, series_for
from billing.ports import SequenceTaken
from billing.service.invoicing import bill_agreement


def sequences(table: FakeBillingTable) -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for agreement_id in table.agreements:
        for doc in table.documents(agreement_id):
            found[str(doc.series)].append(int(str(doc.sequence)))
    return {series: sorted(seqs) for series, seqs in found.items()}


def test_documents_are_numbered_1_to_n_per_series_and_kind(table: FakeBillingTable) -> None:
    for i in range(40):
        send(table, created(f"agr-{i}"))
        bill_agreement(table, f"agr-{i}", at("2026-03-01"), series_count=4)
    for i in range(0, 40, 3):
        send(table, agreement_event("agreement.cancelled", f"agr-{i}", 2, effective_date="2026-03-10"))
        bill_agreement(table, f"agr-{i}", at("2026-03-02"), series_count=4)
    found = sequences(table)
    assert {s[:3] for s in found} == {"INV", "CN-"}
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in found.values()), found
    assert sum(len(seqs) for seqs in found.values()) == 40 + 14
    doc = table.documents("agr-0")[0]
    assert doc.series == series_for("invoice", date(2026, 3, 1), "agr-0", 4)
    assert NUMBER_RE.fullmatch(str(doc.number)) and doc.to_json()["number"] == doc.number


def test_a_new_year_starts_a_new_series(table: FakeBillingTable) -> None:
    send(table, created("agr-y", start="2026-12-01"))
    bill_agreement(table, "agr-y", at("2026-12-01"), series_count=1)
    bill_agreement(table, "agr-y", at("2027-01-01"), series_count=1)
    numbers = [doc.number for doc in table.documents("agr-y")]
    assert numbers == ["INV-2026-00-000001", "INV-2027-00-000001"]


def test_a_lost_race_for_the_number_takes_the_next_one_and_burns_none(
    table: FakeBillingTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another generator commits a document of the same series between our read and our commit."""
    send(table, created("agr-a"))
    send(table, created("agr-b"))
    commit = table.commit_run
    raced = []

    def commit_after_a_rival(view, **kwargs):  # type: ignore[no-untyped-def]
        if view.agreement_id == "agr-a" and not raced:
            raced.append(True)
            bill_agreement(table, "agr-b", at("2026-03-01"), series_count=1)  # takes INV-2026-00 #1
        return commit(view, **kwargs)

    monkeypatch.setattr(table, "commit_run", commit_after_a_rival)
    billed = bill_agreement(table, "agr-a", at("2026-03-01"), series_count=1)
    assert billed.number_conflicts == 1
    assert [d.sequence for d in table.documents("agr-b")] == [1]
    assert [d.sequence for d in table.documents("agr-a")] == [2]
    assert sequences(table) == {"INV-2026-00": [1, 2]}


def test_a_crash_before_the_commit_takes_no_number(
    table: FakeBillingTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(table, created("agr-c"))
    send(table, created("agr-d"))
    commit = table.commit_run
    crashed = []

    def crash_once(view, **kwargs):  # type: ignore[no-untyped-def]
        if not crashed:
            crashed.append(True)
            raise ConnectionError("the generator died before its transaction")
        return commit(view, **kwargs)

    monkeypatch.setattr(table, "commit_run", crash_once)
    with pytest.raises(ConnectionError):
        bill_agreement(table, "agr-c", at("2026-03-01"), series_count=1)
    bill_agreement(table, "agr-d", at("2026-03-01"), series_count=1)  # the number agr-c did not commit
    bill_agreement(table, "agr-c", at("2026-03-01"), series_count=1)  # the redelivered job
    assert [d.number for d in table.documents("agr-d")] == ["INV-2026-00-000001"]
    assert [d.number for d in table.documents("agr-c")] == ["INV-2026-00-000002"]


def test_a_rerun_and_the_published_event_keep_the_committed_number(table: FakeBillingTable) -> None:
    send(table, created("agr-r"))
    first = bill_agreement(table, "agr-r", at("2026-03-01")).document
    assert first is not None
    assert bill_agreement(table, "agr-r", at("2026-03-01")).document is None
    (event,) = table.events_of("agr-r")
    assert '"number":"' + str(first.number) + '"' in event["body"]
    assert table.documents("agr-r") == [first]


def test_the_fake_refuses_a_number_that_is_not_the_next_one(table: FakeBillingTable) -> None:
    send(table, created("agr-x"))
    send(table, created("agr-z"))
    billed = bill_agreement(table, "agr-x", at("2026-03-01"), series_count=1)
    assert billed.document is not None
    number_one_again = replace(billed.document, agreement_id="agr-z")
    view = table.billing_view("agr-z")
    with pytest.raises(SequenceTaken):
        table.commit_run(
            view, run_at="2026-03-01T00:05:00Z", document=number_one_again, events=[], next_due_at=None
        )
    assert table.documents("agr-z") == []
