"""Contract §2 billing rules, table-driven: events delivered on given days, runs, documents issued."""

from datetime import UTC, date, datetime, timedelta

import pytest
from domain_builders import (
    PROPERTY,
    amended,
    cancelled,
    created,
    d,
    days,
    ev,
    net_by_period,
    run_days,
    state_of,
)
from hypothesis import given
from hypothesis import strategies as st

from billing.domain.agreements import known_timezones
from billing.domain.engine import (
    Document,
    Line,
    bill,
    bill_and_next,
    clear_cache,
    document_id,
    local_date,
    midnight_utc,
    next_bill_date,
    period_amount,
)
from billing.domain.errors import BadInput


def deliveries(*pairs):
    out = {}
    for day, raw in pairs:
        out.setdefault(d(day), []).append(ev(raw))
    return out


def summary(docs):
    return [
        (
            doc.issue_date.isoformat(),
            [(ln.period_start.isoformat(), ln.period_end.isoformat(), ln.amount_minor) for ln in doc.lines],
        )
        for doc in docs
    ]


def every_day(first, last, skip=()):
    skip = {d(s) for s in skip}
    return [x for x in days(d(first), d(last)) if x not in skip]


CASES = [
    pytest.param(
        # The contract's worked example: JPY 1000/month, cancelled effective Mar 11 after the March invoice.
        deliveries(("2026-03-01", created()), ("2026-03-12", cancelled(version=2, effective="2026-03-11"))),
        every_day("2026-03-01", "2026-05-31"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-03-12", [("2026-03-01", "2026-04-01", -677)]),
        ],
        id="worked-example-credit-note-677",
    ),
    pytest.param(
        deliveries(("2026-01-31", created(start="2026-01-31", amount=3100, currency="EUR"))),
        every_day("2026-01-31", "2026-05-31"),
        [
            ("2026-01-31", [("2026-01-31", "2026-02-28", 3100)]),
            ("2026-02-28", [("2026-02-28", "2026-03-31", 3100)]),
            ("2026-03-31", [("2026-03-31", "2026-04-30", 3100)]),
            ("2026-04-30", [("2026-04-30", "2026-05-31", 3100)]),
            ("2026-05-31", [("2026-05-31", "2026-06-30", 3100)]),
        ],
        id="month-end-anchor-non-leap",
    ),
    pytest.param(
        deliveries(("2024-01-31", created(start="2024-01-31", amount=3100, currency="EUR"))),
        every_day("2024-01-31", "2024-03-31"),
        [
            ("2024-01-31", [("2024-01-31", "2024-02-29", 3100)]),
            ("2024-02-29", [("2024-02-29", "2024-03-31", 3100)]),
            ("2024-03-31", [("2024-03-31", "2024-04-30", 3100)]),
        ],
        id="month-end-anchor-leap",
    ),
    pytest.param(
        deliveries(
            ("2024-02-29", created(start="2024-02-29", amount=12000, currency="USD", interval="year"))
        ),
        [d(x) for x in ("2024-02-29", "2025-02-27", "2025-02-28", "2026-02-28", "2028-02-28", "2028-02-29")],
        [
            ("2024-02-29", [("2024-02-29", "2025-02-28", 12000)]),
            ("2025-02-28", [("2025-02-28", "2026-02-28", 12000)]),
            ("2026-02-28", [("2026-02-28", "2027-02-28", 12000)]),
            ("2028-02-28", [("2027-02-28", "2028-02-29", 12000)]),  # 2027 run missed: caught up
            ("2028-02-29", [("2028-02-29", "2029-02-28", 12000)]),
        ],
        id="yearly-from-feb-29",
    ),
    pytest.param(
        deliveries(
            ("2026-04-01", created(start="2026-04-01", amount=10000, currency="KWD")),
            ("2026-04-01", cancelled(version=2, effective="2026-04-08")),
        ),
        every_day("2026-04-01", "2026-06-01"),
        [("2026-04-01", [("2026-04-01", "2026-05-01", 2333)])],  # 10.000 KWD * 7/30 = 2333.33 fils
        id="kwd-proration",
    ),
    pytest.param(
        deliveries(
            ("2026-04-01", created(start="2026-04-01", amount=15, currency="KWD", interval="day", count=2)),
            ("2026-04-01", cancelled(version=2, effective="2026-04-02")),
        ),
        every_day("2026-04-01", "2026-04-10"),
        [("2026-04-01", [("2026-04-01", "2026-04-03", 8)])],  # 7.5 fils rounds half up
        id="kwd-half-rounds-up",
    ),
    pytest.param(
        deliveries(
            ("2026-02-01", created(start="2026-02-01", amount=1000)),
            ("2026-02-20", cancelled(version=2, effective="2026-02-15")),
        ),
        every_day("2026-02-01", "2026-03-31"),
        [
            ("2026-02-01", [("2026-02-01", "2026-03-01", 1000)]),
            ("2026-02-20", [("2026-02-01", "2026-03-01", -500)]),  # 1000 * 14/28 exactly
        ],
        id="jpy-exact-half-month",
    ),
    pytest.param(
        deliveries(("2026-02-20", created()), ("2026-02-25", cancelled(version=2, effective="2026-03-11"))),
        every_day("2026-02-20", "2026-04-30"),
        [("2026-03-01", [("2026-03-01", "2026-04-01", 323)])],
        id="cancellation-known-before-the-period-is-invoiced",
    ),
    pytest.param(
        deliveries(("2026-02-25", cancelled(version=2, effective="2026-03-11")), ("2026-03-05", created())),
        every_day("2026-02-20", "2026-04-30"),
        [("2026-03-05", [("2026-03-01", "2026-04-01", 323)])],
        id="cancellation-arriving-before-creation",
    ),
    pytest.param(
        deliveries(("2026-03-01", created()), ("2026-03-05", cancelled(version=2, effective="2026-03-01"))),
        every_day("2026-03-01", "2026-04-30"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-03-05", [("2026-03-01", "2026-04-01", -1000)]),
        ],
        id="cancellation-effective-on-start-date-credits-everything",
    ),
    pytest.param(
        deliveries(("2026-02-01", created()), ("2026-02-02", cancelled(version=2, effective="2026-03-01"))),
        every_day("2026-02-01", "2026-04-30"),
        [],
        id="cancellation-effective-on-start-date-known-in-advance",
    ),
    pytest.param(
        deliveries(("2026-02-01", created()), ("2026-02-02", cancelled(version=2, effective="2026-01-15"))),
        every_day("2026-02-01", "2026-04-30"),
        [],
        id="cancellation-before-the-start-date",
    ),
    pytest.param(
        deliveries(("2026-03-01", created()), ("2026-03-15", cancelled(version=2, effective="2026-05-01"))),
        every_day("2026-03-01", "2026-06-30"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-04-01", [("2026-04-01", "2026-05-01", 1000)]),
        ],
        id="cancellation-on-a-boundary-bills-no-later-period",
    ),
    pytest.param(
        deliveries(
            ("2026-02-28", created(amount=3100, currency="EUR")),
            ("2026-02-28", amended(version=2, effective="2026-03-16", amount=6200, currency="EUR")),
        ),
        every_day("2026-02-28", "2026-04-01"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 4700)]),  # 3100*15/31 + 6200*16/31
            ("2026-04-01", [("2026-04-01", "2026-05-01", 6200)]),
        ],
        id="amendment-known-in-advance",
    ),
    pytest.param(
        deliveries(
            ("2026-02-28", created(amount=3100, currency="EUR")),
            ("2026-03-20", amended(version=2, effective="2026-03-16", amount=6200, currency="EUR")),
        ),
        every_day("2026-02-28", "2026-04-01"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 3100)]),
            ("2026-03-20", [("2026-03-01", "2026-04-01", 1600)]),
            ("2026-04-01", [("2026-04-01", "2026-05-01", 6200)]),
        ],
        id="amendment-arriving-late",
    ),
    pytest.param(
        deliveries(
            ("2026-03-01", created()),
            ("2026-03-05", amended(version=3, effective="2026-03-20", amount=3000)),
            ("2026-03-25", amended(version=2, effective="2026-03-10", amount=2000)),
        ),
        every_day("2026-03-01", "2026-04-01"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-03-05", [("2026-03-01", "2026-04-01", 774)]),  # 613 + 1161 - 1000
            ("2026-03-25", [("2026-03-01", "2026-04-01", 322)]),  # 290 + 645 + 1161 - 1774
            ("2026-04-01", [("2026-04-01", "2026-05-01", 3000)]),
        ],
        id="two-amendments-out-of-order",
    ),
    pytest.param(
        deliveries(("2026-01-15", created(start="2026-01-15", currency="EUR"))),
        [d("2026-01-15"), d("2026-04-20")],
        [
            ("2026-01-15", [("2026-01-15", "2026-02-15", 1000)]),
            (
                "2026-04-20",
                [
                    ("2026-02-15", "2026-03-15", 1000),
                    ("2026-03-15", "2026-04-15", 1000),
                    ("2026-04-15", "2026-05-15", 1000),
                ],
            ),
        ],
        id="skipped-runs-monthly-catch-up-on-one-document",
    ),
    pytest.param(
        deliveries(("2026-03-01", created(amount=100, interval="day"))),
        every_day("2026-03-01", "2026-03-06", skip=["2026-03-03", "2026-03-04", "2026-03-05"]),
        [
            ("2026-03-01", [("2026-03-01", "2026-03-02", 100)]),
            ("2026-03-02", [("2026-03-02", "2026-03-03", 100)]),
            (
                "2026-03-06",
                [
                    ("2026-03-03", "2026-03-04", 100),
                    ("2026-03-04", "2026-03-05", 100),
                    ("2026-03-05", "2026-03-06", 100),
                    ("2026-03-06", "2026-03-07", 100),
                ],
            ),
        ],
        id="skipped-runs-daily",
    ),
    pytest.param(
        deliveries(
            ("2026-01-01", created(start="2026-01-01")),
            ("2026-03-10", amended(version=2, effective="2026-02-01", amount=2000)),
            ("2026-03-10", amended(version=3, effective="2026-03-01", amount=0)),
        ),
        every_day("2026-01-01", "2026-03-31"),
        [
            ("2026-01-01", [("2026-01-01", "2026-02-01", 1000)]),
            ("2026-02-01", [("2026-02-01", "2026-03-01", 1000)]),
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-03-10", [("2026-02-01", "2026-03-01", 1000), ("2026-03-01", "2026-04-01", -1000)]),
        ],
        id="zero-total-document-is-an-invoice",
    ),
    pytest.param(
        deliveries(
            ("2026-03-01", created()),
            ("2026-03-12", cancelled(version=2, effective="2026-03-11")),
            ("2026-03-13", amended(version=3, effective="2026-03-01", amount=5000)),
        ),
        every_day("2026-03-01", "2026-04-30"),
        [
            ("2026-03-01", [("2026-03-01", "2026-04-01", 1000)]),
            ("2026-03-12", [("2026-03-01", "2026-04-01", -677)]),
        ],
        id="versions-above-the-cancellation-are-ignored",
    ),
    pytest.param(
        deliveries(
            ("2026-03-01", amended(version=2, effective="2026-03-01", amount=5000)),
            ("2026-03-03", created()),
        ),
        every_day("2026-03-01", "2026-03-05"),
        [("2026-03-03", [("2026-03-01", "2026-04-01", 5000)])],
        id="nothing-billed-until-created-is-known",
    ),
]


@pytest.mark.parametrize(("events", "runs", "expected"), CASES)
def test_billing_rules(events, runs, expected):
    docs = run_days(events, runs)
    assert summary(docs) == expected
    for i, doc in enumerate(docs, start=1):
        assert doc.seq == i
        assert doc.document_id == document_id(doc.agreement_id, i)
        assert doc.total_minor == sum(line.amount_minor for line in doc.lines)
        assert doc.kind == ("invoice" if doc.total_minor >= 0 else "credit_note")
    # The same runs again, without the memo, issue exactly the same documents.
    clear_cache()
    assert run_days(events, runs) == docs


def test_worked_example_document_shape():
    st = state_of(created(), cancelled(version=2, effective="2026-03-11"))
    invoice = bill(state_of(created()), [], d("2026-03-01"))
    note = bill(st, [invoice], d("2026-03-12"))
    assert note.to_json() == {
        "document_id": document_id("agr-1", 2),
        "kind": "credit_note",
        "agreement_id": "agr-1",
        "issue_date": "2026-03-12",
        "currency": "JPY",
        "subtotal_minor": -677,
        "tax_minor": 0,
        "total_minor": -677,
        "lines": [
            {
                "period_start": "2026-03-01",
                "period_end": "2026-04-01",
                "tax_rate": "0",
                "net_minor": -677,
                "tax_minor": 0,
                "amount_minor": -677,
            }
        ],
    }
    assert (invoice.chargeable, note.chargeable) == (True, False)
    assert Document.from_json(note.to_json(), seq=2) == note


def test_running_twice_on_the_same_day_issues_nothing():
    st = state_of(created(interval="day"))
    docs = []
    for _ in range(3):
        doc = bill(st, docs, d("2026-03-05"))
        if doc:
            docs.append(doc)
        clear_cache()
    assert len(docs) == 1
    assert len(docs[0].lines) == 5


def test_the_memo_notices_another_history():
    st = state_of(created())
    first = bill(st, [], d("2026-03-01"))
    assert bill(st, [first], d("2026-03-02")) is None  # memoised: settled
    # Same length, another document: recomputed, not trusted.
    other = Document(
        first.document_id,
        "invoice",
        "agr-1",
        d("2026-03-01"),
        "JPY",
        400,
        (Line(d("2026-03-01"), d("2026-04-01"), 400),),
        1,
    )
    assert bill(st, [other], d("2026-03-02")).total_minor == 600
    # Reloaded from storage (equal, not identical): still settled.
    assert bill(st, [Document.from_json(first.to_json(), seq=1)], d("2026-03-03")) is None
    # A shorter history (the store refused the issued document): recomputed.
    assert bill(st, [], d("2026-03-03")).total_minor == 1000


def test_nothing_is_due_before_the_start_date():
    st = state_of(created())
    assert bill(st, [], d("2026-02-28")) is None
    assert next_bill_date(st, [], d("2026-02-28")) == d("2026-03-01")


class TestNextBillDate:
    def test_next_period_start(self):
        st = state_of(created(start="2026-01-31"))
        docs = [bill(st, [], d("2026-01-31"))]
        assert next_bill_date(st, docs, d("2026-01-31")) == d("2026-02-28")
        assert next_bill_date(st, docs, d("2026-02-10")) == d("2026-02-28")

    def test_tomorrow_when_something_is_already_due(self):
        st = state_of(created())
        assert next_bill_date(st, [], d("2026-03-05")) == d("2026-03-06")

    def test_none_when_cancelled_and_settled(self):
        st = state_of(created(), cancelled(version=2, effective="2026-03-11"))
        docs = [bill(st, [], d("2026-03-01"))]
        assert next_bill_date(st, docs, d("2026-03-01")) is None

    def test_a_late_cancellation_is_due_tomorrow_then_settled(self):
        st0 = state_of(created())
        docs = [bill(st0, [], d("2026-03-01"))]
        st = state_of(created(), cancelled(version=2, effective="2026-03-11"))
        assert next_bill_date(st, docs, d("2026-03-12")) == d("2026-03-13")
        doc, nxt = bill_and_next(st, docs, d("2026-03-12"))
        assert (doc.total_minor, nxt) == (-677, None)

    def test_skips_a_free_stretch_to_the_next_priced_period(self):
        st = state_of(created(amount=0), amended(version=2, effective="2026-07-10", amount=900))
        assert bill(st, [], d("2026-03-01")) is None
        assert next_bill_date(st, [], d("2026-03-01")) == d("2026-07-01")
        assert period_amount(st, d("2026-07-01"), d("2026-08-01")) == 639  # 900 * 22/31 = 638.7

    def test_none_for_a_free_plan_forever(self):
        assert next_bill_date(state_of(created(amount=0, interval="day")), [], d("2026-03-01")) is None

    def test_bill_and_next_equals_the_two_calls(self):
        st = state_of(created(interval="week"), amended(version=2, effective="2026-04-02", amount=5))
        docs, docs2 = [], []
        for today in days(d("2026-02-25"), d("2026-05-01")):
            doc, nxt = bill_and_next(st, docs, today)
            if doc:
                docs.append(doc)
            clear_cache()
            doc2 = bill(st, docs2, today)
            if doc2:
                docs2.append(doc2)
            assert nxt == next_bill_date(st, docs2, today)
        assert docs == docs2


class TestTime:
    RUN = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)

    def test_far_apart_time_zones_see_different_local_dates_for_one_run(self):
        assert local_date(self.RUN, "Pacific/Auckland") == d("2026-03-01")
        assert local_date(self.RUN, "America/Los_Angeles") == d("2026-02-28")
        assert local_date(self.RUN, "UTC") == d("2026-03-01")
        st_akl = state_of(created(tz="Pacific/Auckland"))
        st_lax = state_of(created(tz="America/Los_Angeles", agreement_id="agr-2"))
        assert bill(st_akl, [], local_date(self.RUN, st_akl.timezone)) is not None
        assert bill(st_lax, [], local_date(self.RUN, st_lax.timezone)) is None
        nxt = next_bill_date(st_lax, [], local_date(self.RUN, st_lax.timezone))
        assert midnight_utc(nxt, st_lax.timezone) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def test_naive_instants_are_refused(self):
        with pytest.raises(ValueError):
            local_date(datetime(2026, 3, 1), "UTC")

    @pytest.mark.parametrize(
        ("local", "zone", "utc"),
        [
            ("2026-03-01", "UTC", "2026-03-01T00:00:00+00:00"),
            ("2026-03-29", "Europe/Berlin", "2026-03-28T23:00:00+00:00"),  # DST starts at 02:00
            ("2026-03-30", "Europe/Berlin", "2026-03-29T22:00:00+00:00"),
            ("2026-03-01", "Pacific/Auckland", "2026-02-28T11:00:00+00:00"),
            ("2026-03-01", "Asia/Kolkata", "2026-02-28T18:30:00+00:00"),
            # Midnight that does not exist: Sao Paulo's DST began at 00:00 on 2018-11-04.
            ("2018-11-04", "America/Sao_Paulo", "2018-11-04T03:00:00+00:00"),
            # A day that never happened in Apia (2011-12-30): the next day's start.
            ("2011-12-30", "Pacific/Apia", "2011-12-30T10:00:00+00:00"),
        ],
    )
    def test_midnight_utc(self, local, zone, utc):
        instant = midnight_utc(d(local), zone)
        assert instant == datetime.fromisoformat(utc)
        assert instant.tzinfo is UTC
        assert local_date(instant, zone) >= d(local)
        assert local_date(instant - timedelta(microseconds=1), zone) < d(local)


@PROPERTY
@given(st.sampled_from(sorted(known_timezones())), st.dates(date(1990, 1, 1), date(2199, 12, 31)))
def test_midnight_utc_is_the_first_instant_of_the_local_day(zone, day):
    """Checked exhaustively for every zone and day of 1990-2040 once; sampled here."""
    instant = midnight_utc(day, zone)
    assert local_date(instant, zone) >= day
    assert local_date(instant - timedelta(microseconds=1), zone) < day


class TestDocuments:
    def test_document_ids_are_deterministic_and_distinct(self):
        assert document_id("agr-1", 1) == document_id("agr-1", 1)
        ids = {document_id(a, s) for a in ("agr-1", "agr-11", "agr-1:1") for s in (1, 2, 11)}
        assert len(ids) == 9
        assert all(i.startswith("doc_") and len(i) == 36 for i in ids)

    def test_lines_are_ordered_by_period_start(self):
        st = state_of(created(interval="week"))
        doc = bill(st, [], d("2026-04-01"))
        starts = [line.period_start for line in doc.lines]
        assert starts == sorted(starts) and len(starts) == 5

    @pytest.mark.parametrize(
        "mutation",
        [
            lambda j: j.update(total_minor=5),
            lambda j: j.update(kind="credit_note"),
            lambda j: j.update(lines=[]),
            lambda j: j.update(issue_date="2026-02-30"),
            lambda j: j["lines"][0].update(amount_minor="1000"),
            lambda j: j.pop("currency"),
        ],
    )
    def test_from_json_refuses_a_malformed_document(self, mutation):
        data = bill(state_of(created()), [], d("2026-03-01")).to_json()
        mutation(data)
        with pytest.raises(BadInput) as info:
            Document.from_json(data, seq=1)
        assert info.value.code == "invalid_field"

    def test_issued_lines_for_a_period_that_does_not_exist_are_credited(self):
        st = state_of(created())
        stray = Document(
            "doc_x",
            "invoice",
            "agr-1",
            d("2026-03-01"),
            "JPY",
            50,
            (Line(d("2026-03-02"), d("2026-04-02"), 50),),
            1,
        )
        doc = bill(st, [stray], d("2026-03-05"))
        assert net_by_period([stray, doc]) == {(d("2026-03-01"), d("2026-04-01")): 1000}

    def test_documents_in_another_currency_are_not_netted(self):
        st = state_of(created())
        other = Document(
            "doc_x",
            "invoice",
            "agr-1",
            d("2026-03-01"),
            "EUR",
            1000,
            (Line(d("2026-03-01"), d("2026-04-01"), 1000),),
            1,
        )
        assert bill(st, [other], d("2026-03-01")).total_minor == 1000

    def test_documents_of_another_agreement_are_a_programming_error(self):
        st = state_of(created())
        other = bill(state_of(created(agreement_id="agr-2")), [], d("2026-03-01"))
        with pytest.raises(ValueError, match="agr-2"):
            bill(st, [other], d("2026-03-01"))
