"""The published event contracts (schemas/, docs/asyncapi.yaml) against the code that parses and builds them.

1. Drift: the checked-in files are exactly what `python -m billing_local.contracts --write` writes now.
2. Inbound: a message validates against its type's schema iff `parse_event` accepts it, for every
   sample in the repository and for generated valid and broken events. The deliberate gaps
   (what a JSON Schema cannot say, or what needs the agreement's state) are listed in GAPS and
   checked to be exactly that: the schema says one thing, the parser another.
3. Outbound: every event the builders make from real engine output validates; broken ones do not.
4. AsyncAPI: it references every schema, every event channel of template.yaml, their filter
   policies and queues, and only things that exist.

The tests read the checked-in files (what consumers get); test 1 ties them to the code.
"""

import calendar
import copy
import json
import os
import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator

from billing.domain.agreements import (
    EVENT_TYPES,
    MAX_AMOUNT_MINOR,
    MAX_DATE,
    MAX_EMAIL_LENGTH,
    MAX_EVENT_BYTES,
    MAX_EVENT_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_INTERVAL_COUNT,
    MAX_VERSION,
    MIN_DATE,
    admit,
    fold,
    known_timezones,
    parse_event,
)
from billing.domain.agreements.parse import read_value
from billing.domain.agreements.shapes import CE_KNOWN, LOCAL_DATE, TIME_RE
from billing.domain.billing_events import (
    AGREEMENT_CLOSED,
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    OUTBOUND_TYPES,
    PAYMENT_RETRY_DUE,
    BillingEvent,
    document_issued,
    payment_outcome,
    payment_retry_due,
)
from billing.domain.currencies import MINOR_UNITS
from billing.domain.engine import bill
from billing.domain.errors import BadInput
from billing.domain.periods import INTERVALS
from billing_local import contracts
from billing_local.cfn.language_extensions import expand
from billing_local.cfn.loader import load_yaml

ROOT = Path(__file__).resolve().parents[2]
PROPERTY = settings(
    max_examples=int(os.environ.get("BILLING_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALL_TYPES = (*EVENT_TYPES, *OUTBOUND_TYPES, *contracts.INTERNAL_TYPES)


@cache
def published(type_: str) -> dict[str, Any]:
    return json.loads((ROOT / contracts.SCHEMA_PATHS[type_]).read_text(encoding="utf-8"))


@cache
def validator(type_: str, *, formats: bool = False, draft7: bool = False) -> Any:
    cls = Draft7Validator if draft7 else Draft202012Validator
    return cls(published(type_), format_checker=cls.FORMAT_CHECKER if formats else None)


@cache
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load((ROOT / contracts.ASYNCAPI_PATH).read_text(encoding="utf-8"))


def schema_accepts(raw: str | dict[str, Any], **options: bool) -> bool:
    """The schema's verdict on a message body: decode it, pick its type's schema, validate."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return False
    if not isinstance(raw, dict) or raw.get("type") not in EVENT_TYPES:
        return False
    return validator(raw["type"], **options).is_valid(raw)


def parser_verdict(raw: str | dict[str, Any]) -> BadInput | None:
    try:
        parse_event(raw if isinstance(raw, str) else json.dumps(raw))
    except BadInput as error:
        return error
    return None


def assert_agree(raw: str | dict[str, Any]) -> None:
    rejected = parser_verdict(raw)
    assert schema_accepts(raw) == (rejected is None), f"parser: {rejected or 'accepted'}; event: {raw!r}"


# --------------------------------------------------------------------------- 1. drift


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return contracts.render()


def test_checked_in_contracts_are_what_the_generator_writes_now(generated):
    stale = contracts.drifted(generated, ROOT)
    assert not stale, (
        f"the published contracts drifted from the code: {stale}. "
        f"Run `{contracts.WRITE_COMMAND}`, review the diff and commit it."
    )


def test_check_lists_drifted_and_stray_files_and_write_repairs_them(generated, tmp_path, capsys):
    contracts.write(generated, tmp_path)
    assert contracts.drifted(generated, tmp_path) == []
    schema_file = tmp_path / contracts.SCHEMA_PATHS[INVOICE_ISSUED]
    schema_file.write_text(schema_file.read_text().replace('"minimum": 0', '"minimum": 1'))
    (tmp_path / "schemas" / "outbound" / "billing.gone.json").write_text("{}")
    (tmp_path / contracts.ASYNCAPI_PATH).unlink()
    expected = [
        contracts.SCHEMA_PATHS[INVOICE_ISSUED],
        contracts.ASYNCAPI_PATH,
        "schemas/outbound/billing.gone.json",
    ]
    assert sorted(contracts.drifted(generated, tmp_path)) == sorted(expected)

    assert contracts.main(["--check", "--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert all(f"drifted: {path}" in err for path in expected) and contracts.WRITE_COMMAND in err
    assert contracts.main(["--write", "--dest", str(tmp_path)]) == 0
    assert contracts.main(["--check", "--dest", str(tmp_path)]) == 0
    assert not (tmp_path / "schemas" / "outbound" / "billing.gone.json").exists()


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_each_schema_is_a_valid_2020_12_schema_that_draft_07_reads_the_same(type_):
    schema = published(type_)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == contracts.DIALECT and schema["title"] == type_

    def refs_with_siblings(node: Any, path: str = "") -> list[str]:
        found = []
        if isinstance(node, dict):
            if "$ref" in node and len(node) > 1:
                found.append(path)
            for key, value in node.items():
                found += refs_with_siblings(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                found += refs_with_siblings(value, f"{path}/{i}")
        return found

    assert refs_with_siblings(schema) == [], "draft-07 (AsyncAPI's default) ignores keywords next to $ref"
    for example in schema["examples"]:
        assert validator(type_).is_valid(example)
        assert validator(type_, formats=True, draft7=True).is_valid(example)
        if type_ in EVENT_TYPES:
            assert parser_verdict(example) is None


def test_internal_command_is_marked_internal_and_public_ones_are_not():
    assert published(PAYMENT_RETRY_DUE).get("x-internal") is True
    assert contracts.SCHEMA_PATHS[PAYMENT_RETRY_DUE].startswith("schemas/internal/")
    assert not any(published(t).get("x-internal") for t in (*EVENT_TYPES, *OUTBOUND_TYPES))


# --------------------------------------------------------------------------- 2. inbound: schema iff parser


def inbound_samples() -> list[tuple[str, str]]:
    """(where, raw body) for every agreement message checked into the repository."""
    found: list[tuple[str, str]] = []
    for path in sorted((ROOT / "events" / "agreement_topic").glob("*.json")):
        found.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "events" / "agreement_projector").glob("*.json")):
        for i, record in enumerate(json.loads(path.read_text(encoding="utf-8"))["Records"]):
            found.append((f"{path.relative_to(ROOT).as_posix()}#Records[{i}]", record["body"]))
    for path in sorted((ROOT / "tests" / "fixtures" / "scenarios").glob("*.json")):
        for i, delivery in enumerate(json.loads(path.read_text(encoding="utf-8"))["deliveries"]):
            event = delivery["event"]
            body = event if isinstance(event, str) else json.dumps(event)
            found.append((f"{path.relative_to(ROOT).as_posix()}#deliveries[{i}]", body))
    return found


INBOUND_SAMPLES = inbound_samples()


def test_the_samples_include_good_and_bad_input():
    verdicts = [parser_verdict(raw) is None for _, raw in INBOUND_SAMPLES]
    assert len(verdicts) >= 10 and any(verdicts) and not all(verdicts)


@pytest.mark.parametrize(("where", "raw"), INBOUND_SAMPLES, ids=[w for w, _ in INBOUND_SAMPLES])
def test_every_inbound_sample_validates_iff_the_parser_accepts_it(where, raw):
    rejected = parser_verdict(raw)
    for options in ({}, {"formats": True}, {"draft7": True}):
        assert schema_accepts(raw, **options) == (rejected is None), (where, options, rejected)


# Strategies for agreement events: every field within the contract, and optional fields absent,
# null or present.
ABSENT = object()
ID_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from("éßж日本€Ω")


def identifiers(max_length: int = MAX_ID_LENGTH) -> st.SearchStrategy[str]:
    short = st.text(ID_CHARS | st.just(" "), min_size=1, max_size=24).map(str.strip).filter(bool)
    longest = st.text(ID_CHARS, min_size=max_length - 1, max_size=max_length)
    return st.one_of(short, short, longest)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), st.none(), strategy)


def iso_dates(low: date = MIN_DATE, high: date = MAX_DATE) -> st.SearchStrategy[str]:
    return st.dates(low, high).map(date.isoformat)


OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=23, minutes=59))]
)


@st.composite
def rfc3339(draw) -> str:
    moment = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=OFFSETS))
    text = moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "microseconds"])))
    text = text.replace("+00:00", "Z") if draw(st.booleans()) else text
    return text.lower() if draw(st.booleans()) else text


PLANS = st.fixed_dictionaries(
    {
        "amount_minor": st.integers(0, MAX_AMOUNT_MINOR),
        "currency": st.sampled_from(sorted(MINOR_UNITS)),
        "interval": st.sampled_from(INTERVALS),
        "interval_count": st.integers(1, MAX_INTERVAL_COUNT),
    }
)
EMAILS = st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True)
ZONES = st.sampled_from(sorted(known_timezones()))
MEDIA = st.sampled_from(
    ["application/json", "APPLICATION/JSON", "application/cloudevents+json; charset=utf-8"]
)
DATA_FIELDS = {"agreement_id", "version", "start_date", "effective_date", "timezone", "plan"} | {
    "customer_id",
    "payment_method",
    "customer_email",
}


def data_strategy(type_: str) -> st.SearchStrategy[dict[str, Any]]:
    common = {"agreement_id": identifiers(), "version": st.integers(1, MAX_VERSION)}
    if type_ == "agreement.created":
        required = {**common, "customer_id": identifiers(), "start_date": iso_dates(), "plan": PLANS}
        required["payment_method"] = identifiers()
        extra = {"timezone": optional(ZONES), "customer_email": optional(EMAILS)}
    elif type_ == "agreement.amended":
        required = {**common, "effective_date": iso_dates(), "plan": PLANS}
        extra = {"payment_method": optional(identifiers())}
    else:
        required = {**common, "effective_date": iso_dates()}
        extra = {}
    read = set(required) | set(extra)
    # Fields this type does not read (another type's, or new ones) are ignored, whatever they hold.
    ignored = {name: optional(st.integers() | st.text(max_size=5)) for name in sorted(DATA_FIELDS - read)}
    ignored["note"] = optional(st.text(max_size=10))
    return st.fixed_dictionaries({**required, **extra, **ignored})


@st.composite
def valid_events(draw) -> dict[str, Any]:
    type_ = draw(st.sampled_from(EVENT_TYPES))
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(identifiers(MAX_EVENT_ID_LENGTH)),
        "source": draw(st.text(min_size=1, max_size=20)),
        "type": type_,
        "time": draw(optional(rfc3339())),
        "subject": draw(optional(st.text(min_size=1, max_size=10))),
        "dataschema": draw(optional(st.just("https://example.com/schemas/agreement.json"))),
        "datacontenttype": draw(optional(MEDIA)),
        "data": draw(data_strategy(type_)),
    }
    names = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True).filter(lambda n: n not in CE_KNOWN)
    values = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    event |= draw(st.dictionaries(names, values, max_size=2))
    return strip_absent(event)


def strip_absent(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_absent(v) for k, v in node.items() if v is not ABSENT}
    return node


def _set(path: tuple[str, ...], value: Any):
    def change(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: tuple[str, ...]):
    def change(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1], None)

    return change


def required_paths(event: dict[str, Any]) -> list[tuple[str, ...]]:
    schema = published(event["type"])
    envelope = schema["$defs"]["cloudevent"]["required"]
    data = schema["properties"]["data"]["required"]
    paths = [(name,) for name in envelope] + [("data", name) for name in data]
    if "plan" in data:
        paths += [("data", "plan", name) for name in schema["$defs"]["plan"]["required"]]
    return paths


def wrong_dates() -> st.SearchStrategy[str]:
    outside = st.one_of(
        iso_dates(date(1, 1, 1), MIN_DATE - timedelta(days=1)),
        iso_dates(MAX_DATE + timedelta(days=1), date.max),
    )
    malformed = st.sampled_from(
        ["2026-02-29", "2100-02-29", "2026-13-01", "2026-04-31", "2026-1-01", "20260101"]
    )
    return outside | malformed | st.just("2026-01-01T00:00:00Z") | st.integers()


@st.composite
def mutation(draw, event: dict[str, Any]):
    """One way to break (or, for a type swap or an unknown field, keep) a valid event."""
    data = event["data"]
    has_plan = "plan" in published(event["type"])["properties"]["data"]["properties"]
    date_field = (
        "start_date" if "start_date" in data and event["type"] == "agreement.created" else "effective_date"
    )
    ids = [("id",), ("data", "agreement_id")] + [
        ("data", f) for f in ("customer_id", "payment_method") if f in data
    ]
    choices = [
        lambda: _drop(draw(st.sampled_from(required_paths(event)))),
        lambda: _set(
            ("data", "version"), draw(st.integers(max_value=0) | st.integers(min_value=MAX_VERSION + 1))
        ),
        lambda: _set(("data", "version"), draw(st.sampled_from(["1", True, 1.5, None, [1]]))),
        lambda: _set(("data", date_field), draw(wrong_dates())),
        lambda: _set(
            draw(st.sampled_from(ids)), draw(st.sampled_from(["", " a", "a ", "a\tb", "a\x00b", "a\x85"]))
        ),
        lambda: _set(("data", "agreement_id"), "x" * (MAX_ID_LENGTH + 1)),
        lambda: _set(("id",), "x" * (MAX_EVENT_ID_LENGTH + 1)),
        lambda: _set(("specversion",), draw(st.sampled_from(["0.3", "1", "1.0.0", 1.0, None]))),
        lambda: _set(("type",), draw(st.sampled_from([*EVENT_TYPES, "agreement.paused", "", 5]))),
        lambda: _set(("data_base64",), draw(st.sampled_from(["e30=", None]))),
        lambda: _set((draw(st.sampled_from(["Ext", "ex-t", "ex_t"])),), "x"),
        lambda: _set(("ext",), draw(st.sampled_from([1.5, {}, [], {"a": 1}]))),
        lambda: _set(("time",), draw(st.sampled_from(BAD_TIMES))),
        lambda: _set(("datacontenttype",), draw(st.sampled_from(["text/plain", "application/xml", "", 5]))),
        lambda: _set(("subject",), draw(st.sampled_from(["", 5]))),
        lambda: _set(("source",), draw(st.sampled_from(["", None, 5]))),
        lambda: _set(("data",), draw(st.sampled_from([None, [], "x", 5]))),
        lambda: _set(("data", "note"), draw(st.integers() | st.text(max_size=5))),  # ignored: still valid
    ]
    if has_plan:
        choices += [
            lambda: _set(("data", "plan"), draw(st.sampled_from([None, [], "monthly", 5]))),
            lambda: _set(
                ("data", "plan", "amount_minor"),
                draw(st.integers(max_value=-1) | st.integers(min_value=MAX_AMOUNT_MINOR + 1)),
            ),
            lambda: _set(("data", "plan", "amount_minor"), draw(st.sampled_from(["100", True, 1.5, None]))),
            lambda: _set(
                ("data", "plan", "currency"),
                draw(
                    st.sampled_from(["eur", "XAU", "XXX", "XTS", "DEM", "EURO", "", 978])
                    | st.text(min_size=3, max_size=3).filter(lambda c: c not in MINOR_UNITS)
                ),
            ),
            lambda: _set(
                ("data", "plan", "interval"),
                draw(
                    st.sampled_from(["months", "Month", "quarter", "", None, 1])
                    | st.text(max_size=6).filter(lambda i: i not in INTERVALS)
                ),
            ),
            lambda: _set(
                ("data", "plan", "interval_count"),
                draw(st.integers(max_value=0) | st.integers(min_value=MAX_INTERVAL_COUNT + 1) | st.just("1")),
            ),
        ]
    if event["type"] == "agreement.created":
        choices += [
            lambda: _set(("data", "timezone"), draw(st.sampled_from(["", 5, [], "Europe/Berlin ", " UTC"]))),
            lambda: _set(
                ("data", "customer_email"),
                draw(
                    st.sampled_from(["no-at-sign", "a@b@c", "a b@c", "@b", "a@", 5, "a@b\n"])
                    | st.just("a@" + "b" * (MAX_EMAIL_LENGTH - 1))
                ),
            ),
        ]
    return draw(st.sampled_from(choices))()


BAD_TIMES = [
    "2026-01-01 00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:60:00Z",
    "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00.Z",
    "0000-01-01T00:00:00Z",
    "2026-01-01",
    "2026-01-01T00:00:00Z\n",
    "",
    5,
]


@PROPERTY
@given(valid_events())
def test_generated_valid_events_pass_both_the_schema_and_the_parser(event):
    assert parser_verdict(event) is None, parser_verdict(event)
    assert schema_accepts(event), list(validator(event["type"]).iter_errors(event))[:1]


@PROPERTY
@given(st.data())
def test_schema_and_parser_agree_on_broken_events(data):
    event = copy.deepcopy(data.draw(valid_events()))
    change = data.draw(mutation(event))
    change(event)
    assert_agree(event)


# What a JSON Schema cannot check, or what needs the agreement's state. Each entry: (name, change
# to the contract's example, the parser's code or None when the parser accepts). The schema's
# verdict is the opposite of the parser's: that is the gap, documented in every inbound schema's
# description and in docs/EVENTS.md.
GAPS = [
    ("time zone not in the tz database", _set(("data", "timezone"), "Mars/Olympus"), "unknown_timezone"),
    ("integer written with a fraction", _set(("data", "version"), 1.0), "invalid_field"),
    (
        "identifier with a non-printable character",
        _set(("data", "agreement_id"), "agr\u200b1"),
        "invalid_field",
    ),
    (
        "identifier with a non-ASCII space inside",
        _set(("data", "customer_id"), "cus\u00a077"),
        "invalid_field",
    ),
    ("message larger than MAX_EVENT_BYTES", _set(("data", "note"), "x" * MAX_EVENT_BYTES), "too_large"),
    (
        "string with a lone surrogate",
        _set(("data", "customer_email"), "ana\ud800@example.com"),
        "invalid_field",
    ),
]


@pytest.mark.parametrize(("name", "change", "code"), GAPS, ids=[g[0] for g in GAPS])
def test_known_gaps_between_schema_and_parser(name, change, code):
    event = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.created"])
    change(event)
    rejected = parser_verdict(event)
    assert (rejected.code if rejected else None) == code
    assert schema_accepts(event) == (code is not None), f"{name}: the gap is closed; update GAPS and the docs"


def test_duplicate_keys_are_a_gap_too():
    """A JSON parser keeps one of two equal keys before any schema sees them; parse_event refuses."""
    raw = json.dumps(contracts.INBOUND_EXAMPLES["agreement.cancelled"])
    raw = raw.replace('"version": 3', '"version": 3, "version": 4')
    assert parser_verdict(raw).code == "invalid_json"
    assert schema_accepts(raw)


def test_state_rules_are_outside_both_and_enforced_at_ingest():
    """Plan changes and conflicts need the agreement's other events: both accept, `admit` refuses."""
    created = parse_event(contracts.INBOUND_EXAMPLES["agreement.created"])
    amended = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.amended"])
    amended["data"]["plan"]["currency"] = "USD"
    assert schema_accepts(amended) and parser_verdict(amended) is None
    with pytest.raises(BadInput) as info:
        admit([created], parse_event(amended))
    assert info.value.code == "plan_change_not_allowed"

    conflict = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.created"])
    conflict["data"]["plan"]["amount_minor"] = 1
    assert schema_accepts(conflict)
    with pytest.raises(BadInput) as info:
        admit([created], parse_event(conflict))
    assert info.value.code == "conflict"


# The hand-written patterns, exhaustively against the parser's own checks.


@given(st.integers(0, 9999), st.integers(0, 9999), st.integers(0, 9999))
@PROPERTY
def test_digits_range_matches_exactly_the_numbers_in_the_range(a, b, n):
    low, high = sorted((a, b))
    pattern = re.compile(f"^(?:{contracts.digits_range(f'{low:04d}', f'{high:04d}')})$")
    for value in (n, low, high, low - 1, high + 1):
        if 0 <= value <= 9999:
            assert bool(pattern.match(f"{value:04d}")) == (low <= value <= high), (low, high, value)


def test_leap_year_pattern_is_the_gregorian_rule():
    pattern = re.compile(f"^{contracts.LEAP_YEAR}$")
    assert [y for y in range(10000) if pattern.match(f"{y:04d}")] == [
        y for y in range(10000) if calendar.isleap(y)
    ]


def test_local_date_pattern_accepts_exactly_what_the_parser_does():
    pattern = re.compile(published("agreement.created")["$defs"]["localDate"]["pattern"])
    years = [1999, 2000, 2001, 2024, 2026, 2096, 2099, 2100, 2104, 2196, 2199, 2200]
    for year in years:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    read_value(LOCAL_DATE, text, "d")
                    accepted = True
                except BadInput:
                    accepted = False
                assert bool(pattern.search(text)) == accepted, text


@st.composite
def timestamps(draw) -> str:
    year = draw(st.integers(0, 9999))
    parts = [draw(st.integers(0, high)) for high in (13, 32, 25, 61, 61)]
    text = f"{year:04d}-{parts[0]:02d}-{parts[1]:02d}{draw(st.sampled_from('Tt '))}"
    text += f"{parts[2]:02d}:{parts[3]:02d}:{parts[4]:02d}"
    text += draw(st.sampled_from(["", ".5", ".123456789", "."]))
    offset = draw(st.sampled_from(["Z", "z", "", "+", "-"]))
    if offset in "+-" and offset:
        offset += f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 59)):02d}"
    return text + offset


@given(timestamps())
@PROPERTY
def test_rfc3339_pattern_accepts_what_the_parser_does(text):
    pattern = re.compile(
        published("agreement.created")["$defs"]["cloudevent"]["properties"]["time"]["pattern"]
    )
    try:
        parsed = bool(TIME_RE.fullmatch(text)) and datetime.fromisoformat(text.upper())
        accepted = bool(parsed)
    except ValueError:
        accepted = False
    assert bool(pattern.search(text)) == accepted


def test_every_known_time_zone_matches_the_time_zone_pattern():
    schema = published("agreement.created")["$defs"]["timezone"]
    pattern = re.compile(schema["pattern"])
    assert all(pattern.search(zone) and len(zone) <= schema["maxLength"] for zone in known_timezones())
    assert all(example in known_timezones() for example in schema["examples"])


# --------------------------------------------------------------------------- 3. outbound


def outbound_validator(type_: str) -> Any:
    return validator(type_, formats=True)


def assert_valid(event: BillingEvent) -> None:
    errors = [e.message for e in outbound_validator(event.type).iter_errors(event.body)]
    assert not errors, (event.type, errors[:3], event.body)
    headers = asyncapi()["components"]["messages"][contracts.message_id(event.type)]["headers"]
    attributes = event.attributes
    assert Draft202012Validator(headers).is_valid(attributes), (event.type, attributes)


def agreement_events(plan: dict[str, Any], start: date, amend: tuple[int, int] | None, cancel: int | None):
    created = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.created"])
    created["data"] |= {"start_date": start.isoformat(), "plan": plan}
    events = [created]
    if amend is not None:
        amended = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.amended"])
        amended["data"] |= {
            "effective_date": (start + timedelta(days=amend[0])).isoformat(),
            "plan": {**plan, "amount_minor": amend[1]},
        }
        events.append(amended)
    if cancel is not None:
        cancelled = copy.deepcopy(contracts.INBOUND_EXAMPLES["agreement.cancelled"])
        cancelled["data"]["effective_date"] = (start + timedelta(days=cancel)).isoformat()
        events.append(cancelled)
    return [parse_event(e) for e in events]


@PROPERTY
@given(
    plan=st.fixed_dictionaries(
        {
            "amount_minor": st.integers(0, MAX_AMOUNT_MINOR),
            "currency": st.sampled_from(sorted(MINOR_UNITS)),
            "interval": st.sampled_from(INTERVALS),
            "interval_count": st.integers(1, 3),
        }
    ),
    start=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    amend=st.none() | st.tuples(st.integers(0, 60), st.integers(0, MAX_AMOUNT_MINOR)),
    cancel=st.none() | st.integers(0, 60),
    days=st.lists(st.integers(0, 90), min_size=1, max_size=4),
)
def test_every_event_built_from_engine_output_validates(plan, start, amend, cancel, days):
    """Bill with the creation only, then with everything known (late amendment, cancellation)."""
    events = agreement_events(plan, start, amend, cancel)
    early, final = fold(events[:1]).state, fold(events).state
    assert early is not None and final is not None
    issued = []
    runs = sorted(days)
    for i, offset in enumerate(runs):
        state = early if i < len(runs) // 2 else final
        at = datetime.combine(start + timedelta(days=offset), datetime.min.time(), UTC)
        document = bill(state, issued, at.date())
        if document is None:
            continue
        document = document.numbered(f"{'INV' if document.kind == 'invoice' else 'CN'}-{at.year}-03", i + 1)
        issued.append(document)
        event = document_issued(
            document, customer_id=state.customer_id, payment_method=state.payment_method, at=at
        )
        assert_valid(event)
        if document.chargeable:
            pay = {"document_id": document.document_id, "agreement_id": document.agreement_id, "at": at}
            pay |= {"amount_minor": document.total_minor, "currency": document.currency}
            assert_valid(payment_outcome(succeeded=True, attempts=1, reason=None, **pay))
            assert_valid(payment_outcome(succeeded=False, attempts=4, reason="insufficient_funds", **pay))
            assert_valid(payment_outcome(succeeded=False, attempts=1, reason=None, **pay))
            retry = payment_retry_due(
                agreement_id=document.agreement_id, document_id=document.document_id, attempt=2, at=at
            )
            assert_valid(retry)


def test_the_generators_samples_cover_every_type_and_validate():
    samples = contracts.samples()
    for type_ in (*OUTBOUND_TYPES, PAYMENT_RETRY_DUE):
        assert samples.of_type(type_), type_
        for event in samples.of_type(type_):
            assert_valid(event)


def _broken(event: BillingEvent, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(event.body)
    _set(path, value)(body)
    return body


@pytest.mark.parametrize(
    ("sample", "path", "value"),
    [
        ("invoice", ("data", "document", "total_minor"), -1),
        ("invoice", ("data", "document", "kind"), "credit_note"),
        ("credit_note", ("data", "document", "total_minor"), 0),
        ("invoice", ("data", "document", "lines"), []),
        ("invoice", ("data", "document", "currency"), "XXX"),
        ("invoice", ("data", "document", "document_id"), "doc_1"),
        ("invoice", ("id",), "not-a-uuid"),
        ("invoice", ("time",), "2026-03-01T00:05:00+01:00"),
        ("invoice", ("source",), "urn:example:purchases"),
        ("invoice", ("type",), CREDIT_NOTE_ISSUED),
        ("succeeded", ("data", "amount_minor"), 0),
        ("succeeded", ("data", "attempts"), 0),
        ("failed", ("data", "reason"), ""),
        ("retry", ("data", "attempt"), 1),
    ],
)
def test_broken_outbound_events_do_not_validate(sample, path, value):
    event = getattr(contracts.samples(), sample)
    assert outbound_validator(event.type).is_valid(event.body)
    assert not outbound_validator(event.type).is_valid(_broken(event, path, value))


def test_a_zero_line_does_not_validate():
    event = contracts.samples().invoice
    body = copy.deepcopy(event.body)
    body["data"]["document"]["lines"][0] |= {"net_minor": 0, "tax_minor": 0, "amount_minor": 0}
    assert not outbound_validator(INVOICE_ISSUED).is_valid(body)


def test_an_unnumbered_document_does_not_validate():
    body = copy.deepcopy(contracts.samples().invoice.body)
    del body["data"]["document"]["number"]
    assert not outbound_validator(INVOICE_ISSUED).is_valid(body)


# Known defects of the Lambda test events in events/ (not generated; owned with the functions):
# their billing events carry a made-up document id, shorter than document_id() ever makes.
def outbound_samples() -> list[Any]:
    """(where, body, attributes) of the billing events checked into events/ (Lambda test events)."""
    found = []
    for path in sorted((ROOT / "events").glob("*/*.json")):
        records = json.loads(path.read_text(encoding="utf-8")).get("Records", [])
        for i, record in enumerate(records):
            if "body" in record:
                body = record["body"]
                attributes = {k: v["stringValue"] for k, v in record.get("messageAttributes", {}).items()}
            elif "dynamodb" in record:
                image = record["dynamodb"]["NewImage"]
                body = image["body"]["S"]
                attributes = {k: v["S"] for k, v in image["attributes"]["M"].items()}
            else:
                continue
            try:
                event = json.loads(body)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") in ALL_TYPES[len(EVENT_TYPES) :]:
                where = f"{path.relative_to(ROOT).as_posix()}#Records[{i}]"
                found.append(pytest.param(where, event, attributes, id=where))
    return found


@pytest.mark.parametrize(("where", "event", "attributes"), outbound_samples())
def test_outbound_samples_in_events_validate(where, event, attributes):
    errors = [e.message for e in outbound_validator(event["type"]).iter_errors(event)]
    assert not errors, (where, errors)
    headers = asyncapi()["components"]["messages"][contracts.message_id(event["type"])]["headers"]
    assert Draft202012Validator(headers).is_valid(attributes), (where, attributes)


# --------------------------------------------------------------------------- 4. AsyncAPI


@cache
def template() -> dict[str, Any]:
    return expand(load_yaml(ROOT / "template.yaml"))["Resources"]


def ref_name(node: Any) -> str:
    if isinstance(node, dict) and "Ref" in node:
        return node["Ref"]
    return node["Fn::GetAtt"][0]


def template_channels() -> dict[str, Any]:
    """Topics with a queue subscribed, those queues, and the queues' dead-letter queues."""
    resources = template()
    subscriptions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    to_queues = [s for s in subscriptions if s["Protocol"] == "sqs"]
    channels = {ref_name(s["TopicArn"]) for s in to_queues} | {ref_name(s["Endpoint"]) for s in to_queues}
    for queue in list(channels):
        redrive = resources[queue]["Properties"].get("RedrivePolicy")
        if redrive:
            channels.add(ref_name(redrive["deadLetterTargetArn"]))
    return {name: resources[name] for name in channels}


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for key, value in node.items():
            if key not in ("examples",):
                found += all_refs(value)
        return found
    if isinstance(node, list):
        return [r for item in node for r in all_refs(item)]
    return []


def test_asyncapi_references_every_schema_and_only_existing_ones():
    doc = asyncapi()
    assert doc["asyncapi"].startswith("3.")
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "schemas").rglob("*.json")}
    external = {r for r in all_refs(doc) if not r.startswith("#")}
    referenced = {(ROOT / "docs" / r).resolve().relative_to(ROOT).as_posix() for r in external}
    assert referenced == files == set(contracts.SCHEMA_PATHS.values())
    for ref in all_refs(doc):
        if ref.startswith("#"):
            resolve(doc, ref)  # raises when dangling
    for mid, message in doc["components"]["messages"].items():
        for example in message.get("examples", []):
            if "headers" in example:
                assert Draft202012Validator(message["headers"]).is_valid(example["headers"]), mid
            if "$ref" in message["payload"]:
                type_ = message["name"]
                assert validator(type_).is_valid(example["payload"]), mid


def test_asyncapi_has_every_event_channel_of_the_template_with_its_queue_settings():
    doc = asyncapi()
    channels = template_channels()
    assert {"AgreementTopic", "BillingTopic", "AgreementQueue", "PaymentQueue", "AccountingQueue"} <= set(
        channels
    )
    assert set(doc["channels"]) == set(channels)
    for name, resource in channels.items():
        props = resource["Properties"]
        raw_name = props.get("TopicName") or props.get("QueueName")
        address = raw_name["Fn::Sub"].replace("${AWS::StackName}", "{stackName}")
        channel = doc["channels"][name]
        assert channel["address"] == address
        if resource["Type"] == "AWS::SQS::Queue":
            queue = channel["bindings"]["sqs"]["queue"]
            assert queue["name"] == address
            assert queue.get("visibilityTimeout") == props.get("VisibilityTimeout")
            if "RedrivePolicy" in props:
                assert queue["redrivePolicy"]["maxReceiveCount"] == props["RedrivePolicy"]["maxReceiveCount"]


def matches(policy: dict[str, Any] | None, attributes: dict[str, str]) -> bool:
    """SNS attribute matching of exact strings, with `$or` of alternatives."""
    rest = {k: v for k, v in (policy or {}).items() if k != "$or"}
    if "$or" in (policy or {}):
        return any(matches(rest | alt, attributes) for alt in (policy or {})["$or"])
    return all(attributes.get(key) in allowed for key, allowed in rest.items())


def test_asyncapi_carries_every_subscription_and_filter_policy_and_the_messages_that_pass_them():
    doc = asyncapi()
    resources = template()
    consumers = [
        consumer
        for op in doc["operations"].values()
        for consumer in op.get("bindings", {}).get("sns", {}).get("consumers", [])
    ]
    samples = contracts.samples()
    for logical_id, resource in resources.items():
        if (
            resource["Type"] != "AWS::SNS::Subscription"
            or ref_name(resource["Properties"]["TopicArn"]) not in doc["channels"]
        ):
            continue
        props = resource["Properties"]
        mine = [c for c in consumers if c["x-subscription"] == logical_id]
        assert mine, logical_id
        for consumer in mine:
            assert consumer["protocol"] == props["Protocol"]
            assert consumer.get("filterPolicy") == props.get("FilterPolicy")
            assert consumer["rawMessageDelivery"] == props.get("RawMessageDelivery", False)
        if props["Protocol"] != "sqs":
            continue
        queue = ref_name(props["Endpoint"])
        carried = set(doc["channels"][queue]["messages"])
        for type_ in OUTBOUND_TYPES if ref_name(props["TopicArn"]) == "BillingTopic" else ():
            passes = any(matches(props.get("FilterPolicy"), e.attributes) for e in samples.of_type(type_))
            assert (contracts.message_id(type_) in carried) == passes, (queue, type_)
    payment = set(doc["channels"]["PaymentQueue"]["messages"])
    assert payment == {
        contracts.message_id(INVOICE_ISSUED),
        contracts.message_id(PAYMENT_RETRY_DUE),
        contracts.message_id(AGREEMENT_CLOSED),
    }


def test_asyncapi_operations_cover_upstream_billing_and_consumers():
    doc = asyncapi()
    by_channel: dict[str, set[str]] = {}
    for op in doc["operations"].values():
        channel = op["channel"]["$ref"].rsplit("/", 1)[1]
        by_channel.setdefault(channel, set()).add(op["action"])
        for message in op["messages"]:
            assert message["$ref"].startswith(f"#/channels/{channel}/messages/")
            resolve(doc, message["$ref"])
    assert by_channel["AgreementTopic"] == {"send"}
    assert by_channel["BillingTopic"] == {"send"}
    for queue in ("AgreementQueue", "PaymentQueue", "AccountingQueue"):
        assert "receive" in by_channel[queue], queue
    rejected = doc["components"]["messages"][contracts.REJECTED]["headers"]["properties"]
    assert {"rejection_code", "rejection_reason"} <= set(rejected)
    assert "send" in by_channel["AgreementDLQ"]


# --------------------------------------------------------------------------- docs/EVENTS.md


def test_events_md_examples_validate_and_its_links_exist():
    text = (ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.DOTALL)]
    events = [b for b in blocks if isinstance(b, dict) and "specversion" in b]
    assert {e["type"] for e in events} >= {*EVENT_TYPES, INVOICE_ISSUED, CREDIT_NOTE_ISSUED, AGREEMENT_CLOSED}
    for event in events:
        assert validator(event["type"], formats=True).is_valid(event), event["id"]
        if event["type"] in EVENT_TYPES:
            assert parser_verdict(event) is None, event["id"]
    links = re.findall(r"\]\(((?:\.\./|)[^)#\s]+)\)", text)
    missing = [link for link in links if not (ROOT / "docs" / link).exists()]
    assert not missing
    assert all(path in text for path in contracts.SCHEMA_PATHS.values())
