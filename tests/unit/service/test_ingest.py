"""Ingest on the fake table: stored once per version, duplicates and stale versions, bad input."""

import json

import pytest
from fakes import FakeBillingTable
from service_builders import NOW, agreement_event, created, send

from billing.domain.errors import BadInput
from billing.ports import EventIdTaken, StoredInbound, VersionTaken
from billing.service.ingest import Outcome, ingest


def test_a_new_event_is_stored_once_and_marks_the_agreement_due(table: FakeBillingTable) -> None:
    result = send(table, created("agr-1", start="2026-02-01"))
    assert result.outcome is Outcome.STORED
    [stored] = table.inbound_events("agr-1")
    assert (stored.version, stored.event_id) == (1, "agr-1-v1-agreement.created")
    assert json.loads(stored.body)["data"]["agreement_id"] == "agr-1"
    assert table.agreements["agr-1"].due == "2026-02-27T10:00:00Z#AGREEMENT"  # due at once


def test_a_creation_that_starts_later_is_due_at_its_start(table: FakeBillingTable) -> None:
    send(table, created("agr-1", start="2026-03-01", timezone="Europe/Berlin"))
    assert table.agreements["agr-1"].due == "2026-02-28T23:00:00Z#AGREEMENT"


def test_a_duplicate_is_ignored_by_id_or_by_content(table: FakeBillingTable) -> None:
    event = created("agr-dup")
    assert send(table, event).outcome is Outcome.STORED
    assert send(table, event).outcome is Outcome.DUPLICATE
    assert send(table, dict(event, id="another-id")).outcome is Outcome.DUPLICATE
    assert [s.version for s in table.inbound_events("agr-dup")] == [1]
    assert table.agreements["agr-dup"].rev == 1  # nothing written for the duplicates


def test_a_version_after_the_cancellation_is_stored_but_stale(table: FakeBillingTable) -> None:
    send(table, created("agr-st"))
    send(table, agreement_event("agreement.cancelled", "agr-st", 2, effective_date="2026-03-10"))
    late = agreement_event(
        "agreement.amended",
        "agr-st",
        3,
        effective_date="2026-03-20",
        plan={"amount_minor": 2000, "currency": "EUR", "interval": "month", "interval_count": 1},
    )
    assert send(table, late).outcome is Outcome.STALE
    assert [s.version for s in table.inbound_events("agr-st")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        (json.dumps(dict(created(), type="agreement.unknown")), "unknown_type"),
        (
            json.dumps(created(plan={"amount_minor": 1, "currency": "XYZ", "interval": "month"})),
            "unknown_currency",
        ),
    ],
)
def test_bad_input_raises_bad_input_and_stores_nothing(table: FakeBillingTable, body: str, code: str) -> None:
    with pytest.raises(BadInput) as raised:
        ingest(body, table, NOW)
    assert raised.value.code == code
    assert table.agreements == {}


def test_a_conflicting_version_is_bad_input(table: FakeBillingTable) -> None:
    send(table, created("agr-cf"))
    send(table, agreement_event("agreement.cancelled", "agr-cf", 2, "c-a", effective_date="2026-03-10"))
    with pytest.raises(BadInput) as raised:
        send(table, agreement_event("agreement.cancelled", "agr-cf", 2, "c-b", effective_date="2026-03-20"))
    assert raised.value.code == "conflict"


def test_a_concurrent_writer_of_the_same_version_makes_ingest_look_again(table: FakeBillingTable) -> None:
    """The other writer stores the version between our read and our write: we see a duplicate."""
    event = created("agr-race")
    record = table.record_inbound

    def the_other_wins(agreement_id: str, stored: StoredInbound, received_at: str, due_at: str) -> None:
        table.record_inbound = record  # type: ignore[method-assign]
        record(agreement_id, stored, received_at, due_at)
        raise VersionTaken("taken")

    table.record_inbound = the_other_wins  # type: ignore[method-assign]
    assert send(table, event).outcome is Outcome.DUPLICATE
    assert len(table.inbound_events("agr-race")) == 1


def test_the_fake_refuses_a_version_twice(table: FakeBillingTable) -> None:
    stored = StoredInbound(1, "e", "f", "{}")
    table.record_inbound("a", stored, "t", "t")
    with pytest.raises(VersionTaken):
        table.record_inbound("a", stored, "t", "t")


USD_PLAN = {"amount_minor": 2000, "currency": "USD", "interval": "month", "interval_count": 1}


def test_a_creation_refuses_the_held_amendment_it_forbids(table: FakeBillingTable) -> None:
    """An amendment that changes the currency, delivered before its creation, is held (stored): the
    creation makes it invalid, and ingest hands it back to be rejected like any other bad input."""
    held = agreement_event("agreement.amended", "agr-held", 2, effective_date="2026-03-10", plan=USD_PLAN)
    assert send(table, held).outcome is Outcome.STORED  # nothing to check it against yet
    result = send(table, created("agr-held"))
    assert result.outcome is Outcome.STORED
    [(stored, error)] = result.refused
    assert json.loads(stored.body) == held
    assert error.code == "plan_change_not_allowed"
    assert str(error).startswith("plan_change_not_allowed: data.plan.currency: ")


def test_a_redelivered_creation_refuses_the_held_events_again(table: FakeBillingTable) -> None:
    """A crash after storing the creation but before parking what it refused: the retry parks them."""
    held = agreement_event("agreement.amended", "agr-held", 2, effective_date="2026-03-10", plan=USD_PLAN)
    send(table, held)
    send(table, created("agr-held"))
    again = send(table, created("agr-held"))
    assert again.outcome is Outcome.DUPLICATE
    assert [error.code for _, error in again.refused] == ["plan_change_not_allowed"]


def test_a_copy_of_a_refused_held_event_is_rejected_not_a_silent_duplicate(table: FakeBillingTable) -> None:
    held = agreement_event("agreement.amended", "agr-held", 2, effective_date="2026-03-10", plan=USD_PLAN)
    send(table, held)
    send(table, created("agr-held"))
    with pytest.raises(BadInput) as raised:
        send(table, held)  # a redelivery, or a redrive of the parked copy
    assert raised.value.code == "plan_change_not_allowed"


def test_a_valid_held_amendment_is_not_refused(table: FakeBillingTable) -> None:
    plan = {"amount_minor": 1500, "currency": "EUR", "interval": "month", "interval_count": 1}
    send(table, agreement_event("agreement.amended", "agr-ok", 2, effective_date="2026-03-10", plan=plan))
    assert send(table, created("agr-ok")).refused == ()


def test_an_event_id_reused_by_another_agreement_is_a_conflict(table: FakeBillingTable) -> None:
    """Issue 15 item 3: ids are unique per event system-wide, not per agreement."""
    send(table, agreement_event("agreement.created", "agr-000", 1, "agr-000-v1", start_date="2026-03-01"))
    reused = agreement_event("agreement.created", "agr-001", 1, "agr-000-v1", start_date="2026-03-01")
    with pytest.raises(BadInput) as raised:
        send(table, reused)
    assert str(raised.value) == "conflict: id: this event id was already received with different content"
    assert table.inbound_events("agr-001") == []
    assert "agr-001" not in table.agreements  # not marked due either


def test_the_fake_refuses_an_event_id_claimed_with_other_content(table: FakeBillingTable) -> None:
    table.record_inbound("a", StoredInbound(1, "e", "f1", "{}"), "t", "t")
    with pytest.raises(EventIdTaken):
        table.record_inbound("b", StoredInbound(1, "e", "f2", "{}"), "t", "t")
    with pytest.raises(VersionTaken):  # the version is checked first: a re-read decides that one
        table.record_inbound("a", StoredInbound(1, "e", "f2", "{}"), "t", "t")
    table.record_inbound("c", StoredInbound(1, "e", "f1", "{}"), "t", "t")  # same content: no conflict
