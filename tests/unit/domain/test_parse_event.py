"""Contract §1: strict CloudEvents 1.0 structured mode, every bad input with its code and field."""

import copy
import json
from datetime import date

import pytest
from domain_builders import amended, cancelled, created

from billing.domain.agreements import MAX_EVENT_BYTES, Plan, message_body, parse_event
from billing.domain.errors import BadInput

CONTRACT_EXAMPLE = {
    "specversion": "1.0",
    "id": "0d6f1c1e-4f4e-4d55-9a55-2f0a8d1c7e11",
    "source": "urn:example:purchases",
    "type": "agreement.created",
    "time": "2026-01-31T10:15:00Z",
    "subject": "agr-1001",
    "datacontenttype": "application/json",
    "data": {
        "agreement_id": "agr-1001",
        "customer_id": "cus-77",
        "version": 1,
        "start_date": "2026-01-31",
        "timezone": "Europe/Berlin",
        "plan": {"amount_minor": 1999, "currency": "EUR", "interval": "month", "interval_count": 1},
        "payment_method": "pm_ok",
        "customer_email": "ana@example.com",
    },
}


def test_the_contract_example_parses():
    e = parse_event(json.dumps(CONTRACT_EXAMPLE))
    assert e.event_id == "0d6f1c1e-4f4e-4d55-9a55-2f0a8d1c7e11"
    assert (e.type, e.agreement_id, e.version) == ("agreement.created", "agr-1001", 1)
    assert e.start_date == date(2026, 1, 31)
    assert e.effective_date is None
    assert e.timezone == "Europe/Berlin"
    assert e.plan == Plan(1999, "EUR", "month", 1)
    assert (e.customer_id, e.payment_method, e.customer_email) == ("cus-77", "pm_ok", "ana@example.com")
    assert e.time == "2026-01-31T10:15:00Z"
    assert len(e.fingerprint) == 64


@pytest.mark.parametrize("form", ["str", "bytes", "mapping"])
def test_accepts_str_bytes_and_mappings(form):
    raw = {"str": json.dumps(CONTRACT_EXAMPLE), "bytes": json.dumps(CONTRACT_EXAMPLE).encode()}.get(
        form, CONTRACT_EXAMPLE
    )
    assert parse_event(raw).agreement_id == "agr-1001"


def test_amended_and_cancelled_parse():
    a = parse_event(amended(payment_method="pm_new"))
    assert (a.effective_date, a.plan, a.payment_method) == (
        date(2026, 3, 16),
        Plan(2000, "JPY", "month", 1),
        "pm_new",
    )
    c = parse_event(cancelled())
    assert (c.type, c.effective_date, c.plan) == ("agreement.cancelled", date(2026, 3, 11), None)


def test_optional_fields_default():
    e = parse_event(created(tz=None))
    assert e.timezone == "UTC"
    raw = created()
    raw["data"]["timezone"] = None
    raw["data"]["customer_email"] = None
    e = parse_event(raw)
    assert (e.timezone, e.customer_email) == ("UTC", None)
    assert parse_event(amended()).payment_method is None


def test_extensions_and_unknown_data_fields_are_allowed():
    raw = created()
    raw["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    raw["partitionkey"] = "agr-1"
    raw["attempt"] = 3
    raw["replayed"] = True
    raw["data"]["coupon"] = {"code": "X"}
    raw["data"]["plan"]["trial_days"] = 7
    base = parse_event(created())
    e = parse_event(raw)
    assert e.fingerprint == base.fingerprint


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (10**12, True), (10**12 + 1, False), (-1, False)],
)
def test_amount_bounds(value, ok):
    raw = created()
    raw["data"]["plan"]["amount_minor"] = value
    if ok:
        assert parse_event(raw).plan.amount_minor == value
    else:
        with pytest.raises(BadInput) as info:
            parse_event(raw)
        assert (info.value.code, info.value.field) == ("out_of_range", "data.plan.amount_minor")


def test_dates_and_counts_at_the_edges_are_accepted():
    assert parse_event(created(start="2000-01-01", count=120)).start_date == date(2000, 1, 1)
    assert parse_event(created(start="2199-12-31", count=1)).start_date == date(2199, 12, 31)
    assert parse_event(created(start="2024-02-29", interval="year")).start_date == date(2024, 2, 29)


def test_fingerprint_is_the_content_not_the_id_or_time():
    a = created()
    b = copy.deepcopy(a)
    b["id"] = "another-id"
    b["time"] = "2026-02-01T00:00:00+01:00"
    b["source"] = "urn:example:other"
    assert parse_event(a).fingerprint == parse_event(b).fingerprint
    c = created(amount=1001)
    assert parse_event(a).fingerprint != parse_event(c).fingerprint
    assert parse_event(created(tz=None)).fingerprint == parse_event(created(tz="UTC")).fingerprint


def _mutate(base, path, value):
    raw = copy.deepcopy(base)
    *parents, last = path
    node = raw
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


DELETE = object()
C, A, X = created(), amended(), cancelled()

BAD = [
    # (id, raw, code, field)
    ("not json", "{not json", "invalid_json", None),
    ("empty body", "", "invalid_json", None),
    ("NaN", json.dumps(C).replace('"version": 1', '"version": NaN'), "invalid_json", None),
    ("duplicate key", '{"specversion": "1.0", "specversion": "1.0"}', "invalid_json", None),
    ("not utf-8", b'{"id": "\xff"}', "invalid_json", None),
    ("array", "[1, 2]", "not_cloudevent", None),
    ("string", '"agreement.created"', "not_cloudevent", None),
    ("python list", [1], "not_cloudevent", None),
    ("no specversion", _mutate(C, ["specversion"], DELETE), "not_cloudevent", "specversion"),
    ("specversion 0.3", _mutate(C, ["specversion"], "0.3"), "unsupported_specversion", "specversion"),
    ("specversion number", _mutate(C, ["specversion"], 1.0), "unsupported_specversion", "specversion"),
    ("no id", _mutate(C, ["id"], DELETE), "missing_field", "id"),
    ("empty id", _mutate(C, ["id"], ""), "invalid_field", "id"),
    ("numeric id", _mutate(C, ["id"], 7), "invalid_field", "id"),
    ("no source", _mutate(C, ["source"], DELETE), "missing_field", "source"),
    ("no type", _mutate(C, ["type"], DELETE), "missing_field", "type"),
    ("unknown type", _mutate(C, ["type"], "agreement.paused"), "unknown_type", "type"),
    ("bad time", _mutate(C, ["time"], "yesterday"), "invalid_field", "time"),
    ("time without offset", _mutate(C, ["time"], "2026-01-31T10:15:00"), "invalid_field", "time"),
    ("impossible time", _mutate(C, ["time"], "2026-02-30T10:15:00Z"), "invalid_field", "time"),
    ("xml content", _mutate(C, ["datacontenttype"], "application/xml"), "invalid_field", "datacontenttype"),
    ("data_base64", _mutate(C, ["data_base64"], "e30="), "invalid_field", "data_base64"),
    ("extension name", _mutate(C, ["Trace-Id"], "x"), "invalid_field", "Trace-Id"),
    ("extension object", _mutate(C, ["trace"], {"a": 1}), "invalid_field", "trace"),
    ("no data", _mutate(C, ["data"], DELETE), "missing_field", "data"),
    ("data string", _mutate(C, ["data"], "{}"), "invalid_field", "data"),
    ("no agreement_id", _mutate(C, ["data", "agreement_id"], DELETE), "missing_field", "data.agreement_id"),
    ("empty agreement_id", _mutate(C, ["data", "agreement_id"], ""), "invalid_field", "data.agreement_id"),
    (
        "agreement_id padded",
        _mutate(C, ["data", "agreement_id"], " a "),
        "invalid_field",
        "data.agreement_id",
    ),
    (
        "agreement_id control",
        _mutate(C, ["data", "agreement_id"], "a\nb"),
        "invalid_field",
        "data.agreement_id",
    ),
    (
        "agreement_id too long",
        _mutate(C, ["data", "agreement_id"], "a" * 129),
        "invalid_field",
        "data.agreement_id",
    ),
    ("no version", _mutate(C, ["data", "version"], DELETE), "missing_field", "data.version"),
    ("version string", _mutate(C, ["data", "version"], "1"), "invalid_field", "data.version"),
    ("version float", _mutate(C, ["data", "version"], 1.5), "invalid_field", "data.version"),
    ("version bool", _mutate(C, ["data", "version"], True), "invalid_field", "data.version"),
    ("version zero", _mutate(C, ["data", "version"], 0), "out_of_range", "data.version"),
    ("version negative", _mutate(C, ["data", "version"], -3), "out_of_range", "data.version"),
    ("no customer_id", _mutate(C, ["data", "customer_id"], DELETE), "missing_field", "data.customer_id"),
    ("no start_date", _mutate(C, ["data", "start_date"], DELETE), "missing_field", "data.start_date"),
    ("start_date slash", _mutate(C, ["data", "start_date"], "2026/03/01"), "invalid_date", "data.start_date"),
    ("start_date compact", _mutate(C, ["data", "start_date"], "20260301"), "invalid_date", "data.start_date"),
    (
        "start_date Feb 30",
        _mutate(C, ["data", "start_date"], "2026-02-30"),
        "invalid_date",
        "data.start_date",
    ),
    (
        "start_date Feb 29 2026",
        _mutate(C, ["data", "start_date"], "2026-02-29"),
        "invalid_date",
        "data.start_date",
    ),
    (
        "start_date datetime",
        _mutate(C, ["data", "start_date"], "2026-03-01T00:00:00Z"),
        "invalid_date",
        "data.start_date",
    ),
    ("start_date number", _mutate(C, ["data", "start_date"], 20260301), "invalid_field", "data.start_date"),
    ("start_date 1999", _mutate(C, ["data", "start_date"], "1999-12-31"), "out_of_range", "data.start_date"),
    ("start_date 2200", _mutate(C, ["data", "start_date"], "2200-01-01"), "out_of_range", "data.start_date"),
    (
        "unknown timezone",
        _mutate(C, ["data", "timezone"], "Mars/Olympus"),
        "unknown_timezone",
        "data.timezone",
    ),
    (
        "lower-case timezone",
        _mutate(C, ["data", "timezone"], "europe/berlin"),
        "unknown_timezone",
        "data.timezone",
    ),
    ("offset timezone", _mutate(C, ["data", "timezone"], "+02:00"), "unknown_timezone", "data.timezone"),
    (
        "path timezone",
        _mutate(C, ["data", "timezone"], "../../etc/passwd"),
        "unknown_timezone",
        "data.timezone",
    ),
    ("timezone number", _mutate(C, ["data", "timezone"], 1), "invalid_field", "data.timezone"),
    ("no plan", _mutate(C, ["data", "plan"], DELETE), "missing_field", "data.plan"),
    ("plan array", _mutate(C, ["data", "plan"], []), "invalid_field", "data.plan"),
    (
        "no amount",
        _mutate(C, ["data", "plan", "amount_minor"], DELETE),
        "missing_field",
        "data.plan.amount_minor",
    ),
    (
        "amount string",
        _mutate(C, ["data", "plan", "amount_minor"], "1000"),
        "invalid_field",
        "data.plan.amount_minor",
    ),
    (
        "amount decimal",
        _mutate(C, ["data", "plan", "amount_minor"], 10.5),
        "invalid_field",
        "data.plan.amount_minor",
    ),
    (
        "amount too big",
        _mutate(C, ["data", "plan", "amount_minor"], 10**12 + 1),
        "out_of_range",
        "data.plan.amount_minor",
    ),
    (
        "amount negative",
        _mutate(C, ["data", "plan", "amount_minor"], -1),
        "out_of_range",
        "data.plan.amount_minor",
    ),
    ("no currency", _mutate(C, ["data", "plan", "currency"], DELETE), "missing_field", "data.plan.currency"),
    (
        "unknown currency",
        _mutate(C, ["data", "plan", "currency"], "XYZ"),
        "unknown_currency",
        "data.plan.currency",
    ),
    (
        "lower-case currency",
        _mutate(C, ["data", "plan", "currency"], "jpy"),
        "unknown_currency",
        "data.plan.currency",
    ),
    ("gold", _mutate(C, ["data", "plan", "currency"], "XAU"), "unknown_currency", "data.plan.currency"),
    (
        "withdrawn currency",
        _mutate(C, ["data", "plan", "currency"], "DEM"),
        "unknown_currency",
        "data.plan.currency",
    ),
    ("no interval", _mutate(C, ["data", "plan", "interval"], DELETE), "missing_field", "data.plan.interval"),
    (
        "bad interval",
        _mutate(C, ["data", "plan", "interval"], "fortnight"),
        "invalid_field",
        "data.plan.interval",
    ),
    (
        "plural interval",
        _mutate(C, ["data", "plan", "interval"], "months"),
        "invalid_field",
        "data.plan.interval",
    ),
    (
        "count zero",
        _mutate(C, ["data", "plan", "interval_count"], 0),
        "out_of_range",
        "data.plan.interval_count",
    ),
    (
        "count 121",
        _mutate(C, ["data", "plan", "interval_count"], 121),
        "out_of_range",
        "data.plan.interval_count",
    ),
    (
        "count string",
        _mutate(C, ["data", "plan", "interval_count"], "1"),
        "invalid_field",
        "data.plan.interval_count",
    ),
    (
        "no payment_method",
        _mutate(C, ["data", "payment_method"], DELETE),
        "missing_field",
        "data.payment_method",
    ),
    (
        "payment_method empty",
        _mutate(C, ["data", "payment_method"], ""),
        "invalid_field",
        "data.payment_method",
    ),
    (
        "email not email",
        _mutate(C, ["data", "customer_email"], "ana"),
        "invalid_field",
        "data.customer_email",
    ),
    ("email number", _mutate(C, ["data", "customer_email"], 5), "invalid_field", "data.customer_email"),
    (
        "amended no effective",
        _mutate(A, ["data", "effective_date"], DELETE),
        "missing_field",
        "data.effective_date",
    ),
    (
        "amended bad effective",
        _mutate(A, ["data", "effective_date"], "2026-13-01"),
        "invalid_date",
        "data.effective_date",
    ),
    ("amended no plan", _mutate(A, ["data", "plan"], DELETE), "missing_field", "data.plan"),
    (
        "amended bad currency",
        _mutate(A, ["data", "plan", "currency"], "ABC"),
        "unknown_currency",
        "data.plan.currency",
    ),
    (
        "amended payment number",
        _mutate(A, ["data", "payment_method"], 3),
        "invalid_field",
        "data.payment_method",
    ),
    (
        "cancelled no effective",
        _mutate(X, ["data", "effective_date"], DELETE),
        "missing_field",
        "data.effective_date",
    ),
    (
        "cancelled 2300",
        _mutate(X, ["data", "effective_date"], "2300-01-01"),
        "out_of_range",
        "data.effective_date",
    ),
    ("cancelled no version", _mutate(X, ["data", "version"], DELETE), "missing_field", "data.version"),
]


@pytest.mark.parametrize(("raw", "code", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_rejected_with_code_and_field(raw, code, field):
    with pytest.raises(BadInput) as info:
        parse_event(raw)
    exc = info.value
    assert (exc.code, exc.field) == (code, field), str(exc)
    assert "\n" not in str(exc)
    assert str(exc).startswith(f"{code}: " + (f"{field}: " if field else ""))


def test_oversize_payload_is_too_large_in_every_form():
    raw = created()
    raw["padding"] = "x" * MAX_EVENT_BYTES
    for form in (raw, json.dumps(raw), json.dumps(raw).encode()):
        with pytest.raises(BadInput) as info:
            parse_event(form)
        assert info.value.code == "too_large"


def test_a_payload_just_under_the_limit_is_accepted():
    raw = created()
    size = len(json.dumps(raw, separators=(",", ":")).encode())
    raw["padding"] = "x" * (MAX_EVENT_BYTES - size - len(',"padding":""'))
    body = json.dumps(raw, separators=(",", ":")).encode()
    assert len(body) == MAX_EVENT_BYTES
    assert parse_event(body).agreement_id == "agr-1"


def test_deeply_nested_json_is_invalid_not_a_crash():
    with pytest.raises(BadInput) as info:
        parse_event("[" * 50_000 + "]" * 50_000)
    assert info.value.code in {"invalid_json", "too_large"}
    with pytest.raises(BadInput) as info:
        parse_event("[" * 20_000 + "]" * 20_000)
    assert info.value.code in {"invalid_json", "not_cloudevent"}


# A lone UTF-16 surrogate (a \ud800-\udfff escape not part of a pair) is not Unicode text: it
# cannot be encoded as UTF-8, fingerprinted, stored or forwarded. JSON Schema cannot say so.
LONE_SURROGATES = [
    (("data", "customer_email"), "ana\ud800@example.com", "data.customer_email"),
    (("data", "customer_id"), "cus-\udc00", "data.customer_id"),
    (("source",), "urn:\ud800", "source"),
    (("subject",), "\udfff", "subject"),
    (("trace",), "\ud800", "trace"),  # an extension attribute
    (("data", "note"), ["ok", "\ud800"], "data.note[1]"),  # a field the parser does not read
    (("data", "plan", "memo\ud800"), 1, "data.plan.memo\\ud800"),  # in a key
]


@pytest.mark.parametrize(("path", "value", "field"), LONE_SURROGATES, ids=[f for *_, f in LONE_SURROGATES])
def test_a_lone_surrogate_anywhere_is_bad_input_with_its_path(path, value, field):
    raw = _mutate(C, list(path), value)
    text = json.dumps(raw)  # ensure_ascii: the surrogate travels as an escape
    assert "\\ud" in text
    for form in (text, text.encode(), raw):
        with pytest.raises(BadInput) as info:
            parse_event(form)
        exc = info.value
        assert (exc.code, exc.field) == ("invalid_field", field), str(exc)
        assert "lone surrogate (U+D" in str(exc)
        str(exc).encode("utf-8")  # the reason itself is printable, storable text


def test_a_surrogate_pair_is_one_character_and_accepted():
    raw = _mutate(C, ["data", "customer_id"], "cus-\U0001f600")
    text = json.dumps(raw)
    assert "\\ud83d\\ude00" in text
    assert parse_event(text).customer_id == "cus-\U0001f600"
    assert parse_event(text.encode()).customer_id == "cus-\U0001f600"


def test_a_str_body_holding_a_surrogate_code_point_is_read_as_it_is_published():
    """A str has no UTF-8 encoding while it holds a lone surrogate: it is published (message_body)
    and read with the surrogate as its JSON escape, so every form gets the same code and path."""
    text = json.dumps(C, ensure_ascii=False).replace("urn:example", "urn:\ud800")
    assert message_body(text) == text.replace("\ud800", "\\ud800")
    with pytest.raises(BadInput) as info:
        parse_event(text)
    assert (info.value.code, info.value.field) == ("invalid_field", "source")
    assert "lone surrogate (U+D800)" in str(info.value)
    with pytest.raises(BadInput) as info:
        parse_event("{\ud800" + text[1:])  # outside a string it is not JSON at all
    assert info.value.code == "invalid_json"


def test_an_object_is_published_compact_in_utf8():
    raw = _mutate(C, ["data", "customer_id"], "cus-été-\U0001f600")
    body = message_body(raw)
    assert body == json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    assert message_body(body) == body  # a string is the body itself
    assert parse_event(raw) == parse_event(body) == parse_event(body.encode())
