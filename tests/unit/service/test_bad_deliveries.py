"""Hostile upstream, as a property (issue 15, "Done when"): bad agreement deliveries of every kind,
beside valid agreements, through the agreement projector's handler (on the fakes) and `billing
preview`.

For every kind, Hypothesis (derandomized: the same examples every run) draws a few bad deliveries
and sends them after the valid agreements' events, and the test asserts that:

- the handler raises nothing and fails no record (nothing is retried);
- each bad delivery is parked at once, with a code and a one-line reason SQS accepts;
- preview rejects the same deliveries with the same codes, in the same order;
- the valid agreements' stored events and documents are those they get without the bad ones
  (in the pipeline, billed on four run days, and in preview).

Events are published as `billing simulate` publishes them (`message_body`): a scenario holds an
event as an object or as its body text, and both forms are drawn. Huge integers and deep nesting
come as text only: no JSON file (so no scenario) can hold them as objects.
"""

import functools
import json
from typing import Any

import pytest
from fakes import FakeBillingTable, FakeQueue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_builders import agreement_event, at, project

from billing.domain.agreements import MAX_EVENT_BYTES, message_body
from billing.service.invoicing import bill_agreement
from billing.service.rejections import rejection_key
from billing_local.preview import parse_scenario, preview

CODES = frozenset(
    {
        "too_large",
        "invalid_json",
        "not_cloudevent",
        "unsupported_specversion",
        "unknown_type",
        "missing_field",
        "invalid_field",
        "out_of_range",
        "invalid_date",
        "unknown_currency",
        "unknown_timezone",
        "conflict",
        "plan_change_not_allowed",
    }
)  # docs/EVENTS.md, "Refused input"
RUN_DAYS = ("2026-03-01", "2026-03-05", "2026-04-01", "2026-04-05")
PLAN = {"amount_minor": 1000, "currency": "EUR", "interval": "month", "interval_count": 1}


def valid_events() -> list[dict[str, Any]]:
    """Two valid agreements: one created, one created then amended (another zone and currency)."""
    return [
        agreement_event(
            "agreement.created",
            "agr-v1",
            1,
            "v1-created",
            start_date="2026-03-01",
            customer_email="zoë@example.com",
        ),
        agreement_event(
            "agreement.created",
            "agr-v2",
            1,
            "v2-created",
            start_date="2026-03-05",
            timezone="Europe/Berlin",
            plan={**PLAN, "currency": "JPY", "amount_minor": 3100},
        ),
        agreement_event(
            "agreement.amended",
            "agr-v2",
            2,
            "v2-amended",
            effective_date="2026-03-20",
            plan={**PLAN, "currency": "JPY", "amount_minor": 6200},
        ),
    ]


def base() -> dict[str, Any]:
    """A valid creation of an agreement no valid event names: each bad kind breaks one thing."""
    return agreement_event("agreement.created", "agr-bad", 1, "bad-1", start_date="2026-03-01")


def setting(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event = base()
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return event


def without(path: tuple[str, ...]) -> dict[str, Any]:
    event = base()
    node = event
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return event


# --------------------------------------------------------------------------- the kinds of bad input
# Each strategy draws (the event as the scenario holds it: an object or the body text, the codes
# it may get). Objects are drawn in either form (`forms`).

Bad = tuple[Any, frozenset[str]]


def forms(events: st.SearchStrategy[dict[str, Any]], codes: set[str]) -> st.SearchStrategy[Bad]:
    """The object, its body as `json.dumps` writes it (spaces, \\u escapes), or compact UTF-8."""
    as_text = st.sampled_from(
        [lambda e: e, json.dumps, lambda e: json.dumps(e, ensure_ascii=False, separators=(",", ":"))]
    )
    return st.tuples(events, as_text).map(lambda p: (p[1](p[0]), frozenset(codes)))


def text(bodies: st.SearchStrategy[str], codes: set[str]) -> st.SearchStrategy[Bad]:
    return bodies.map(lambda body: (body, frozenset(codes)))


VALID_BODY = json.dumps(base())
ATTRIBUTES = ("id", "source", "type")
IDENTIFIERS = (("id",), ("data", "agreement_id"), ("data", "customer_id"), ("data", "payment_method"))
STRINGS = (*IDENTIFIERS, ("source",), ("subject",), ("data", "customer_email"), ("data", "plan", "currency"))
NOT_STRINGS = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({}))

KINDS: dict[str, st.SearchStrategy[Bad]] = {
    "malformed JSON": text(
        st.one_of(
            st.integers(1, len(VALID_BODY) - 1).map(lambda n: VALID_BODY[:n]),  # truncated
            st.sampled_from(
                [
                    "",
                    "not json",
                    VALID_BODY + "x",
                    VALID_BODY.replace('"', "'"),
                    VALID_BODY.replace('"version": 1', '"version": NaN'),
                    VALID_BODY.replace('"version": 1', '"version": Infinity'),
                    VALID_BODY.replace('"id": "bad-1"', '"id": "bad-1", "id": "bad-2"'),  # duplicate key
                    VALID_BODY.replace('"id": "bad-1"', '"id": "bad-1\\x"'),  # bad escape
                    "{\\ud800" + VALID_BODY[1:],  # a surrogate escape outside any string
                ]
            ),
        ),
        {"invalid_json"},
    ),
    "not a CloudEvent": forms(
        st.one_of(st.just(without(("specversion",))), st.just({"agreement_id": "agr-bad"})),
        {"not_cloudevent"},
    )
    | text(st.sampled_from(["[]", "[1, 2]", "42", '"a string"', "null", "true"]), {"not_cloudevent"}),
    "missing attribute": forms(
        st.sampled_from(ATTRIBUTES).flatmap(
            lambda name: st.sampled_from([without((name,)), setting((name,), None)])
        )
        | st.just(without(("data",))),
        {"missing_field"},
    ),
    "mistyped attribute": forms(
        st.tuples(st.sampled_from([*ATTRIBUTES, "time", "subject", "datacontenttype"]), NOT_STRINGS).map(
            lambda p: setting((p[0],), p[1])
        )
        | NOT_STRINGS.map(lambda v: setting(("data",), v if v != {} else "data")),
        {"invalid_field"},
    ),
    "wrong specversion": forms(
        st.sampled_from(["0.3", "1", "2.0", " 1.0", 1.0, 1]).map(lambda v: setting(("specversion",), v)),
        {"unsupported_specversion"},
    ),
    "unknown type": forms(
        st.sampled_from(["agreement.deleted", "AGREEMENT.CREATED", "agreement.created ", "x"]).map(
            lambda v: setting(("type",), v)
        ),
        {"unknown_type"},
    ),
    "missing data field": forms(
        st.sampled_from(
            [
                ("data", "agreement_id"),
                ("data", "version"),
                ("data", "customer_id"),
                ("data", "start_date"),
                ("data", "plan"),
                ("data", "payment_method"),
                ("data", "plan", "amount_minor"),
                ("data", "plan", "currency"),
                ("data", "plan", "interval"),
                ("data", "plan", "interval_count"),
            ]
        ).flatmap(lambda path: st.sampled_from([without(path), setting(path, None)])),
        {"missing_field"},
    ),
    "mistyped data field": forms(
        st.tuples(
            st.sampled_from(
                [("data", "version"), ("data", "plan", "amount_minor"), ("data", "plan", "interval_count")]
            ),
            st.sampled_from(["1", 1.5, 1.0, True, [1], {"n": 1}]),
        ).map(lambda p: setting(*p))
        | st.sampled_from([("data", "plan"), ("data", "plan", "tax_inclusive")]).map(
            lambda path: setting(path, "yes")
        )
        | st.sampled_from(["weekly", "months", "Month", ""]).map(
            lambda v: setting(("data", "plan", "interval"), v)
        ),
        {"invalid_field"},
    ),
    "out of range": forms(
        st.one_of(
            st.sampled_from([0, -1, 2**63]).map(lambda v: setting(("data", "version"), v)),
            st.sampled_from([-1, 10**12 + 1, 10**30]).map(
                lambda v: setting(("data", "plan", "amount_minor"), v)
            ),
            st.sampled_from([0, 121, -5]).map(lambda v: setting(("data", "plan", "interval_count"), v)),
            st.sampled_from(["1999-12-31", "2200-01-01", "0001-01-01"]).map(
                lambda v: setting(("data", "start_date"), v)
            ),
        ),
        {"out_of_range"},
    ),
    "invalid date": forms(
        st.sampled_from(
            ["2026-02-30", "2026-13-01", "2025-02-29", "20260301", "2026-3-1", "", "tomorrow"]
        ).map(lambda v: setting(("data", "start_date"), v)),
        {"invalid_date"},
    ),
    "invalid time": forms(
        st.sampled_from(["yesterday", "2026-02-30T10:00:00Z", "2026-02-27 10:00", "2026-02-27T10:00:00"]).map(
            lambda v: setting(("time",), v)
        ),
        {"invalid_field"},
    ),
    "unknown currency": forms(
        st.sampled_from(["XYZ", "eur", "EURO", "", "E", "XAU", "€"]).map(
            lambda v: setting(("data", "plan", "currency"), v)
        ),
        {"unknown_currency"},
    ),
    "unknown time zone": forms(
        st.sampled_from(["Mars/Olympus", "europe/berlin", "UTC+1", "Factory", "", "../etc/passwd"]).map(
            lambda v: setting(("data", "timezone"), v)
        ),
        {"unknown_timezone"},
    ),
    "oversize": forms(
        st.tuples(st.integers(1, 4096), st.sampled_from(["x", "é", "€", "😀"])).map(
            lambda p: setting(("data", "note"), p[1] * ((MAX_EVENT_BYTES + p[0]) // len(p[1].encode())))
        ),
        {"too_large"},
    ),
    "lone surrogate": forms(
        st.tuples(st.sampled_from(STRINGS), st.sampled_from(["\ud800", "\udfff", "\udc00x", "a\ud83d"])).map(
            lambda p: setting(p[0], "x" + p[1])
        )
        | st.just(setting(("data", "plan", "memo\udc00"), 1))  # in a key
        | st.just(setting(("trace",), "\ud800")),  # an extension attribute
        {"invalid_field"},
    ),
    "control characters": forms(
        st.tuples(
            st.sampled_from(IDENTIFIERS), st.sampled_from(["\x00", "\x1b", "\n", "\t", "\u200b", "\x7f", " "])
        ).map(lambda p: setting(p[0], "id" + p[1] if p[1] != " " else " id")),
        {"invalid_field"},
    ),
    "bad extension attribute": forms(
        st.sampled_from(["bad\u0000name", "Bad", "bad-name", "bad_name", "", "bäd"]).map(
            lambda name: setting((name,), "v")
        )
        | st.sampled_from([1.5, [1], {"a": 1}]).map(lambda v: setting(("trace",), v))
        | st.just(setting(("data_base64",), "AAAA")),
        {"invalid_field"},
    ),
    "non-JSON content type": forms(
        st.sampled_from(["text/plain", "application/xml", "", "json"]).map(
            lambda v: setting(("datacontenttype",), v)
        ),
        {"invalid_field"},
    ),
    "deep nesting": text(
        st.one_of(
            st.integers(1_000, 32_000).map(lambda n: "[" * n + "]" * n),
            st.integers(1_000, 30_000).map(
                lambda n: VALID_BODY[:-1] + ', "note": ' + "[" * n + "]" * n + "}"
            ),
            st.integers(1_000, 200_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
        ),
        # too deep for the decoder, too large, or (decoded) not an event / an extension of no type
        {"invalid_json", "too_large", "not_cloudevent", "invalid_field"},
    ),
    "huge integer": text(
        st.tuples(st.sampled_from(['"version": 1', '"amount_minor": 1000']), st.integers(25, 20_000)).map(
            lambda p: VALID_BODY.replace(p[0], p[0].split(":")[0] + ": " + "9" * p[1])
        ),
        {"out_of_range", "invalid_json", "too_large"},  # over 4,300 digits Python's JSON refuses it
    ),
    "conflict": forms(
        st.sampled_from(
            [
                # version 1 of agr-v1 again, other content under a new id
                agreement_event("agreement.created", "agr-v1", 1, "c-1", start_date="2026-03-02"),
                # a valid event's id again, other content
                agreement_event("agreement.created", "agr-v1", 1, "v1-created", start_date="2026-03-03"),
                # a second creation of agr-v2
                agreement_event("agreement.created", "agr-v2", 3, "c-3", start_date="2026-03-05"),
            ]
        ),
        {"conflict"},
    ),
    "plan change": forms(
        st.sampled_from([{"currency": "EUR"}, {"interval": "year"}, {"interval_count": 3}]).map(
            lambda change: agreement_event(
                "agreement.amended",
                "agr-v2",
                3,
                "pc-3",
                effective_date="2026-03-25",
                plan={**PLAN, "currency": "JPY", "amount_minor": 6200, **change},
            )
        ),
        {"plan_change_not_allowed"},
    ),
}


# --------------------------------------------------------------------------- the two sides


def pipeline(events: list[Any]) -> tuple[FakeQueue, FakeBillingTable, list[dict[str, Any]]]:
    """Deliver the events' bodies to the projector (SQS batches of up to 10), then bill the valid
    agreements on the run days; (the DLQ, the table, the valid agreements' documents)."""
    table, dlq = FakeBillingTable(), FakeQueue()
    bodies = [message_body(event) for event in events]  # what `billing simulate` publishes
    for start in range(0, len(bodies), 10):
        assert project(table, dlq, *bodies[start : start + 10]) == {"batchItemFailures": []}
    for day in RUN_DAYS:
        for agreement_id in ("agr-v1", "agr-v2"):
            bill_agreement(table, agreement_id, at(day))
    documents = [d.to_json() for agreement_id in ("agr-v1", "agr-v2") for d in table.documents(agreement_id)]
    return dlq, table, documents


def previewed(events: list[Any]) -> dict[str, Any]:
    scenario = {
        "runs": {"from": RUN_DAYS[0], "through": RUN_DAYS[-1]},
        "deliveries": [{"on": "2026-02-27", "event": event} for event in events],
    }
    return preview(parse_scenario(scenario))


@functools.cache
def baseline() -> tuple[dict[str, list[Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """What the valid agreements get on their own: stored events, pipeline and preview documents."""
    _, table, documents = pipeline(valid_events())
    stored = {a: [s.body for s in table.inbound_events(a)] for a in ("agr-v1", "agr-v2")}
    result = previewed(valid_events())
    assert documents and result["documents"] and "rejected" not in result
    return stored, documents, result["documents"]


def sqs_accepts(text: str) -> bool:
    allowed = ((0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))
    return all(any(low <= ord(ch) <= high for low, high in allowed) for ch in text)


def check(bad: list[Bad]) -> None:
    events = [*valid_events(), *(event for event, _ in bad)]
    dlq, table, documents = pipeline(events)

    # Each distinct bad body parked at once (no failed record above), once, in order, with a code and
    # a reason; its copies are counted in its rejection record (issue 15 item 7).
    distinct: dict[str, tuple[Any, frozenset[str], int]] = {}
    for event, allowed in bad:
        body = message_body(event)
        first, kinds, copies = distinct.get(body, (event, allowed, 0))
        distinct[body] = (first, kinds, copies + 1)
    assert len(dlq.parked) == len(distinct), [code for *_, code, _ in dlq.parked]
    codes_by_body = {}
    for (body, _, code, reason), (expected_body, (_, allowed, copies)) in zip(
        dlq.parked, distinct.items(), strict=True
    ):
        assert body == expected_body
        assert code in allowed and code in CODES, (code, reason)
        assert reason.startswith(f"{code}: ") and reason.isprintable() and sqs_accepts(reason), reason
        record = table.rejection(rejection_key(body))
        assert record is not None and record.seen == copies
        codes_by_body[body] = code

    # Preview rejects every delivery, copies too, with the same codes.
    result = previewed(events)
    codes = [codes_by_body[message_body(event)] for event, _ in bad]
    assert [r["reason"].split(":")[0] for r in result.get("rejected", [])] == codes

    # The valid agreements are stored and billed as without the bad deliveries.
    stored, pipeline_documents, preview_documents = baseline()
    assert {a: [s.body for s in table.inbound_events(a)] for a in stored} == stored
    assert documents == pipeline_documents
    assert result["documents"] == preview_documents


# 22 kinds x 12 examples x 1-3 bad deliveries each: about 530 bad deliveries, a few seconds.
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_deliveries_of_every_kind_are_parked_at_once_and_agree_with_preview(kind: str) -> None:
    @settings(
        derandomize=True,
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(KINDS[kind], min_size=1, max_size=3))
    def property_holds(bad: list[Bad]) -> None:
        check(bad)

    property_holds()


@settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(*KINDS.values()), min_size=2, max_size=10))
def test_bad_deliveries_of_mixed_kinds_in_one_stream(bad: list[Bad]) -> None:
    check(bad)


def test_every_kind_of_the_issue_is_drawn() -> None:
    assert len(KINDS) >= 20
    assert {
        "malformed JSON",
        "missing attribute",
        "mistyped attribute",
        "out of range",
        "invalid date",
        "unknown currency",
        "unknown time zone",
        "oversize",
        "lone surrogate",
        "control characters",
        "deep nesting",
        "huge integer",
        "conflict",
    } <= set(KINDS)
