"""Contract §2 fold rules and the ingest rule (`admit`)."""

import itertools
from datetime import date

import pytest
from domain_builders import amended, cancelled, created, ev

from billing.domain.agreements import PriceStep, admit, fold
from billing.domain.errors import BadInput


def codes(result):
    return sorted((e.event_id, exc.code) for e, exc in result.ignored)


def test_nothing_until_created_is_known():
    result = fold([ev(amended()), ev(cancelled())])
    assert result.state is None
    assert result.ignored == ()
    assert fold([]).state is None


def test_created_sets_start_timezone_plan_and_payment_method():
    st = fold([ev(created(tz="Europe/Berlin", amount=1999, currency="EUR"))]).state
    assert (st.start_date, st.timezone, st.currency, st.interval, st.interval_count) == (
        date(2026, 3, 1),
        "Europe/Berlin",
        "EUR",
        "month",
        1,
    )
    assert st.prices == (PriceStep(date(2026, 3, 1), 1999),)
    assert (st.payment_method, st.customer_id, st.customer_email) == ("pm_ok", "cus-1", "ana@example.com")
    assert (st.cancel_date, st.version, st.created_version) == (None, 1, 1)


def test_fold_is_order_insensitive_and_dedupes():
    events = [
        ev(created()),
        ev(amended(version=2, effective="2026-04-10", amount=1500, payment_method="pm_two")),
        ev(amended(version=3, effective="2026-05-01", amount=500)),
        ev(cancelled(version=4, effective="2026-07-15")),
    ]
    expected = fold(events)
    for perm in itertools.permutations(events):
        assert fold([*perm, *perm[:2]]) == expected
    st = expected.state
    assert st.prices == (
        PriceStep(date(2026, 3, 1), 1000),
        PriceStep(date(2026, 4, 10), 1500),
        PriceStep(date(2026, 5, 1), 500),
    )
    assert (st.cancel_date, st.payment_method, st.version) == (date(2026, 7, 15), "pm_two", 4)


def test_price_in_effect_is_the_highest_version_effective_on_or_before_the_date():
    # v3 (effective Mar 10) outranks v2 (effective Mar 20) from Mar 10 on: v2 never applies.
    st = fold(
        [
            ev(created()),
            ev(amended(version=3, effective="2026-03-10", amount=3000)),
            ev(amended(version=2, effective="2026-03-20", amount=2000)),
        ]
    ).state
    assert st.prices == (PriceStep(date(2026, 3, 1), 1000), PriceStep(date(2026, 3, 10), 3000))
    assert [st.price_on(date(2026, 3, day)) for day in (1, 9, 10, 19, 20, 31)] == [1000] * 2 + [3000] * 4
    # In version order the other way round, both apply in turn.
    st = fold(
        [
            ev(created()),
            ev(amended(version=2, effective="2026-03-10", amount=2000)),
            ev(amended(version=3, effective="2026-03-20", amount=3000)),
        ]
    ).state
    assert [s.amount_minor for s in st.prices] == [1000, 2000, 3000]


def test_amendment_before_start_applies_from_start_and_equal_prices_are_merged():
    st = fold(
        [
            ev(created(version=1)),
            ev(amended(version=2, effective="2026-01-01", amount=1200)),
            ev(amended(version=3, effective="2026-04-01", amount=1200)),
        ]
    ).state
    assert st.prices == (PriceStep(date(2026, 3, 1), 1200),)


def test_amendment_with_a_lower_version_than_created_never_wins():
    st = fold([ev(created(version=5)), ev(amended(version=2, effective="2026-04-01", amount=1))]).state
    assert st.prices == (PriceStep(date(2026, 3, 1), 1000),)
    assert st.version == 5


def test_events_above_a_known_cancellation_are_ignored():
    result = fold(
        [
            ev(created()),
            ev(cancelled(version=2, effective="2026-05-01")),
            ev(amended(version=3, effective="2026-04-01", amount=5)),
            ev(cancelled(version=4, effective="2026-06-01")),
        ]
    )
    assert result.state.cancel_date == date(2026, 5, 1)
    assert result.state.prices == (PriceStep(date(2026, 3, 1), 1000),)
    assert codes(result) == [("agr-1-v3", "after_cancellation"), ("agr-1-v4", "after_cancellation")]


def test_cancellation_below_the_creation_voids_the_agreement():
    result = fold([ev(cancelled(version=1, effective="2026-04-01")), ev(created(version=2))])
    assert result.state is not None
    assert result.state.cancel_date == result.state.start_date == date(2026, 3, 1)
    assert codes(result) == [("agr-1-v2", "after_cancellation")]


def test_cancellation_known_before_creation_applies_once_created():
    result = fold([ev(cancelled(version=2, effective="2026-03-11"))])
    assert result.state is None
    result = fold([ev(cancelled(version=2, effective="2026-03-11")), ev(created())])
    assert result.state.cancel_date == date(2026, 3, 11)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "EUR"}, "data.plan.currency"),
        ({"interval": "year"}, "data.plan.interval"),
        ({"count": 2}, "data.plan.interval_count"),
    ],
)
def test_amendment_changing_currency_or_interval_is_ignored_as_bad_input(change, field):
    bad = ev(amended(version=2, **change))
    result = fold([ev(created()), bad])
    assert result.state.prices == (PriceStep(date(2026, 3, 1), 1000),)
    ((event, exc),) = result.ignored
    assert (event, exc.code, exc.field) == (bad, "plan_change_not_allowed", field)
    # Before the creation is known it cannot be judged, so it waits.
    assert fold([bad]).ignored == ()
    # The ingest rule rejects it at once when the creation is known.
    with pytest.raises(BadInput) as info:
        admit([ev(created())], bad)
    assert (info.value.code, info.value.field) == ("plan_change_not_allowed", field)


def test_payment_method_is_the_highest_version_that_carries_one():
    st = fold(
        [
            ev(created()),
            ev(amended(version=3, effective="2026-03-01", amount=1000, payment_method="pm_three")),
            ev(amended(version=2, effective="2026-09-01", amount=1000, payment_method="pm_two")),
            ev(amended(version=4, effective="2026-10-01", amount=1000)),
        ]
    ).state
    assert st.payment_method == "pm_three"


def test_conflicts_keep_the_first_and_report_the_other():
    first = ev(amended(version=2, amount=2000, event_id="a"))
    other = ev(amended(version=2, amount=9999, event_id="b"))
    result = fold([ev(created()), first, other])
    assert result.state.prices[-1].amount_minor == 2000
    assert [(e.event_id, x.code, x.field) for e, x in result.ignored] == [("b", "conflict", "data.version")]
    # Same id, different content.
    again = ev(amended(version=2, amount=7, event_id="a"))
    result = fold([ev(created()), first, again])
    assert [(e.event_id, x.code, x.field) for e, x in result.ignored] == [("a", "conflict", "id")]


def test_same_content_under_another_id_is_a_duplicate():
    result = fold([ev(created(event_id="x")), ev(created(event_id="y"))])
    assert result.ignored == ()
    assert result.state.version == 1


def test_a_second_creation_is_a_conflict_and_the_lowest_version_wins():
    result = fold([ev(created(version=3, amount=7)), ev(created(version=1, amount=1000))])
    assert result.state.prices == (PriceStep(date(2026, 3, 1), 1000),)
    assert [(e.version, x.code) for e, x in result.ignored] == [(3, "conflict")]


def test_fold_refuses_events_of_two_agreements():
    with pytest.raises(ValueError, match="one agreement"):
        fold([ev(created()), ev(created(agreement_id="agr-2"))])


class TestAdmit:
    def test_new_and_duplicates(self):
        c = ev(created())
        assert admit([], c) == "new"
        assert admit([c], c) == "duplicate"
        assert admit([c], ev(created(event_id="other-id"))) == "duplicate"
        assert admit([c], ev(amended())) == "new"
        # Events of other agreements are not considered.
        assert admit([ev(created(agreement_id="agr-2"))], c) == "new"

    def test_conflicts(self):
        c = ev(created())
        a = ev(amended(version=2, amount=2000))
        with pytest.raises(BadInput) as info:
            admit([c, a], ev(amended(version=2, amount=3000, event_id="z")))
        assert (info.value.code, info.value.field) == ("conflict", "data.version")
        with pytest.raises(BadInput) as info:
            admit([c, a], ev(amended(version=4, amount=3000, event_id=a.event_id)))
        assert (info.value.code, info.value.field) == ("conflict", "id")
        with pytest.raises(BadInput) as info:
            admit([c], ev(created(version=7)))
        assert (info.value.code, info.value.field) == ("conflict", "type")

    def test_events_after_a_cancellation_are_admitted_and_ignored_by_the_fold(self):
        known = [ev(created()), ev(cancelled(version=2))]
        late = ev(amended(version=3))
        assert admit(known, late) == "new"
        assert codes(fold([*known, late])) == [("agr-1-v3", "after_cancellation")]
