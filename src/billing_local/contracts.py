"""The published event contracts, generated from the code: JSON Schemas and an AsyncAPI document.

    .venv/bin/python -m billing_local.contracts --write   # rewrite schemas/ and docs/asyncapi.yaml
    .venv/bin/python -m billing_local.contracts --check   # exit 1 listing the files that drifted

Outputs (checked in; tests/unit/test_contracts.py fails when they drift):

- ``schemas/inbound/<type>.json``: agreement.created, agreement.amended, agreement.cancelled;
- ``schemas/outbound/<type>.json``: billing.invoice.issued, billing.credit_note.issued,
  billing.payment.succeeded, billing.payment.failed;
- ``schemas/internal/billing.payment.retry_due.json``: the daily run's command to the payment
  queue (``x-internal``: not for outside consumers);
- ``docs/asyncapi.yaml``: AsyncAPI 3.0, the topics, the subscribed queues and their DLQs.

Every schema is JSON Schema draft 2020-12 and self-contained (its ``$defs`` carry the shared
CloudEvents 1.0 envelope). It is also read the same by draft-07 validators (no keyword next to a
``$ref``), which is what AsyncAPI's default schema format is.

Derived, not restated:

- inbound: which data fields each type reads, which are required and which may be ``null`` are
  found by probing ``parse_event`` with a valid event (drop a field, give it a wrong type, give it
  ``null``); so are the envelope's required and optional attributes, the plan's fields and the
  time zone's default. Bounds, lengths, enums and patterns come from the domain's constants
  (``MAX_AMOUNT_MINOR``, ``MAX_INTERVAL_COUNT``, ``MAX_VERSION``, ``MIN_DATE``/``MAX_DATE``,
  ``MAX_ID_LENGTH``, ``MAX_EVENT_ID_LENGTH``, ``MAX_EMAIL_LENGTH``, ``INTERVALS``, ``EVENT_TYPES``,
  the generated currency table, the tzdata zone names, the CloudEvents attribute names and the
  parser's regexes);
- outbound: the field names of each payload from the builders' output (``document_issued``,
  ``payment_outcome``, ``payment_retry_due``, ``Document.to_json``, ``Line``), optional fields
  from building with and without them, kinds and sources from the constants, the id formats from
  ``event_id``/``document_id``, the SNS message attributes and their values from
  ``BillingEvent.attributes``; the examples are real engine output (the contract's worked example);
- AsyncAPI: topics, subscriptions, filter policies, raw delivery, queues, DLQs, visibility
  timeouts and receive counts, which function receives from or sends to which channel, and the
  functions' descriptions from template.yaml (through the runtime's loader and the language
  extensions); stack names and regions from samconfig.toml; the version from pyproject.toml.

Stated here (the tests check them against the parser and the builders): each field's JSON type
and description, the lower bounds the parser writes as literals (0, 1), the calendar, clock and
identifier patterns, and the role of each function in the AsyncAPI operations.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from billing.domain import agreements as _agreements
from billing.domain.agreements import (
    AGREEMENT_AMENDED,
    AGREEMENT_CANCELLED,
    AGREEMENT_CREATED,
    CONFLICT,
    EVENT_TYPES,
    MAX_AMOUNT_MINOR,
    MAX_DATE,
    MAX_EMAIL_LENGTH,
    MAX_EVENT_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_INTERVAL_COUNT,
    MAX_VERSION,
    MIN_DATE,
    PLAN_CHANGE_NOT_ALLOWED,
    Plan,
    fold,
    known_timezones,
    parse_event,
)
from billing.domain.billing_events import (
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    OUTBOUND_TYPES,
    PAYMENT_FAILED,
    PAYMENT_RETRY_DUE,
    PAYMENT_SUCCEEDED,
    SOURCE,
    BillingEvent,
    document_issued,
    event_id,
    payment_outcome,
    payment_retry_due,
)
from billing.domain.currencies import ISO4217_PUBLISHED, MINOR_UNITS
from billing.domain.engine import CREDIT_NOTE, INVOICE, Document, Line, bill, document_id
from billing.domain.errors import BadInput
from billing.domain.periods import INTERVALS
from billing_local.emulator.template import load_yaml
from billing_local.language_extensions import expand

__all__ = [
    "ASYNCAPI_PATH",
    "DIALECT",
    "INTERNAL_TYPES",
    "REPO",
    "SCHEMA_PATHS",
    "drifted",
    "main",
    "render",
    "write",
]

# The repository this module lives in (an editable install); else the current directory.
REPO = next(
    (p for p in (Path(__file__).resolve().parents[2], Path.cwd()) if (p / "template.yaml").is_file()),
    Path.cwd(),
)
DIALECT = "https://json-schema.org/draft/2020-12/schema"
INTERNAL_TYPES = (PAYMENT_RETRY_DUE,)
SCHEMA_PATHS: dict[str, str] = {
    **{t: f"schemas/inbound/{t}.json" for t in EVENT_TYPES},
    **{t: f"schemas/outbound/{t}.json" for t in OUTBOUND_TYPES},
    **{t: f"schemas/internal/{t}.json" for t in INTERNAL_TYPES},
}
ASYNCAPI_PATH = "docs/asyncapi.yaml"
WRITE_COMMAND = ".venv/bin/python -m billing_local.contracts --write"
_GENERATED = f"GENERATED by `{WRITE_COMMAND}` from the code's models; do not edit."

# The parser's own CloudEvents rules (module-private names, read on purpose: the schema is theirs).
_CE_KNOWN: frozenset[str] = _agreements._CE_KNOWN
_EXTENSION_NAME: re.Pattern[str] = _agreements._EXTENSION_NAME
_JSON_MEDIA_RE: re.Pattern[str] = _agreements._JSON_MEDIA_RE
_EMAIL_RE: re.Pattern[str] = _agreements._EMAIL_RE

# Codes a rejected agreement message can carry (parse_event's docstring, plus the ingest rule's).
REJECTION_CODES = (
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
    CONFLICT,
    PLAN_CHANGE_NOT_ALLOWED,
)
REJECTION_REASON_MAX = 1024  # billing.adapters.messaging.Queue.park truncates the reason there

# --------------------------------------------------------------------------- patterns


def _full(pattern: str) -> str:
    """Anchor `pattern` for JSON Schema.

    ``$(?!\\n)`` is plain ``$`` in ECMA-262 (the dialect JSON Schema patterns are written in);
    the lookahead keeps validators built on Python's ``re``, whose ``$`` also matches before a
    final newline, as strict.
    """
    return f"^(?:{pattern})$(?!\\n)"


def _group(pattern: str) -> str:
    return f"(?:{pattern})" if "|" in pattern else pattern


def digits_range(low: str, high: str) -> str:
    """A regex for the decimal strings of one width from `low` to `high` inclusive ("2000", "2199")."""
    if len(low) != len(high) or not (low.isdigit() and high.isdigit()) or low > high:
        raise ValueError(f"bad range {low!r}..{high!r}")
    if low == high:
        return low
    if len(low) == 1:
        return f"[{low}-{high}]"
    rest = len(low) - 1
    if low[0] == high[0]:
        return low[0] + _group(digits_range(low[1:], high[1:]))
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + _group(digits_range(low[1:], "9" * rest)))
        first += 1
    tail = None
    if high[1:] != "9" * rest:
        tail = high[0] + _group(digits_range("0" * rest, high[1:]))
        last -= 1
    if first <= last:
        head = str(first) if first == last else f"[{first}-{last}]"
        parts.append(head + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    if tail is not None:
        parts.append(tail)
    return "|".join(parts)


# The Gregorian leap rule on four digits: divisible by 4 and not by 100, or divisible by 400.
LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8])"
)
ANY_YEAR = "(?!0000)[0-9]{4}"  # what Python's date accepts: 0001..9999


def calendar_date(year: str) -> str:
    """YYYY-MM-DD, a real calendar date (Feb 29 in leap years only), the year matching `year`."""
    return f"(?=(?:{year})-)(?:[0-9]{{4}}-(?:{_MONTH_DAY})|{LEAP_YEAR}-02-29)"


def _year_range(low: date, high: date) -> str:
    if (low.month, low.day) != (1, 1) or (high.month, high.day) != (12, 31):
        raise NotImplementedError(
            f"the date range {low}..{high} does not span whole years: extend contracts._year_range"
        )
    return digits_range(f"{low.year:04d}", f"{high.year:04d}")


LOCAL_DATE = calendar_date(_year_range(MIN_DATE, MAX_DATE))
ANY_DATE = calendar_date(ANY_YEAR)
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
# RFC 3339 date-time (what CloudEvents' `time` is), as the parser reads it: upper or lower case
# T and Z, any number of fraction digits, an offset below 24 hours.
RFC3339 = f"{ANY_DATE}[Tt]{_CLOCK}(?:\\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
UTC_INSTANT = f"{ANY_DATE}T{_CLOCK}Z"  # billing_events.iso_instant
# Printable, no surrounding white space (the parser's `_identifier`, as far as a regex can say it).
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
IDENTIFIER = f"[^\\s{_CONTROL}](?:[^{_CONTROL}]*[^\\s{_CONTROL}])?"


def caseless(pattern: str) -> str:
    """Rewrite a simple regex so that it matches ASCII letters in either case (no flags in JSON Schema)."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c.isascii() and c.isalpha() and pattern[i + 1 : i + 2] == "-" and pattern[i + 2 : i + 3]:
                low, high = c, pattern[i + 2]
                out.append(f"{low.lower()}-{high.lower()}{low.upper()}-{high.upper()}")
                i += 3
                continue
            elif c.isascii() and c.isalpha():
                out.append(c.lower() + c.upper())
            else:
                out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c.isascii() and c.isalpha():
            out.append(f"[{c.lower()}{c.upper()}]")
        elif c == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3].isalpha():
            raise NotImplementedError(f"caseless(): inline group {pattern[i : i + 4]!r} in {pattern!r}")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def char_class(chars: Iterable[str]) -> str:
    """A character class for a set of characters; runs of 3+ ASCII letters or digits become ranges."""

    def one(c: str) -> str:
        return "\\" + c if c in "\\]^-[" else c

    def rank(c: str) -> int:  # consecutive code points of the same kind can form a range
        return 0 if not (c.isascii() and c.isalnum()) else 1 if c.isdigit() else 2 if c.isupper() else 3

    points = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(points):
        j = i
        kind = rank(chr(points[i]))
        while (
            kind
            and j + 1 < len(points)
            and points[j + 1] == points[j] + 1
            and rank(chr(points[j + 1])) == kind
        ):
            j += 1
        if j - i >= 2:
            parts.append(f"{chr(points[i])}-{chr(points[j])}")
        else:
            parts.extend(one(chr(p)) for p in points[i : j + 1])
        i = j + 1
    return "[" + "".join(parts) + "]"


# --------------------------------------------------------------------------- probing the parser

# The contract's own example (CONTRACT §1), kept once, as the body upstream publishes.
_CREATED: dict[str, Any] = json.loads((REPO / "events/agreement_topic/agreement-created.json").read_text())
_AMENDED = {
    "specversion": "1.0",
    "id": "6a1e2b3c-0000-4000-8000-000000000002",
    "source": "urn:example:purchases",
    "type": AGREEMENT_AMENDED,
    "time": "2026-02-10T09:00:00Z",
    "subject": "agr-1001",
    "datacontenttype": "application/json",
    "data": {
        "agreement_id": "agr-1001",
        "version": 2,
        "effective_date": "2026-02-15",
        "plan": {"amount_minor": 2999, "currency": "EUR", "interval": "month", "interval_count": 1},
        "payment_method": "pm_ok",
    },
}
_CANCELLED = {
    "specversion": "1.0",
    "id": "6a1e2b3c-0000-4000-8000-000000000003",
    "source": "urn:example:purchases",
    "type": AGREEMENT_CANCELLED,
    "time": "2026-03-20T09:00:00Z",
    "subject": "agr-1001",
    "datacontenttype": "application/json",
    "data": {"agreement_id": "agr-1001", "version": 3, "effective_date": "2026-04-10"},
}
INBOUND_EXAMPLES: dict[str, dict[str, Any]] = {
    AGREEMENT_CREATED: _CREATED,
    AGREEMENT_AMENDED: _AMENDED,
    AGREEMENT_CANCELLED: _CANCELLED,
}
_WRONG = ["a value of the wrong type"]  # no field the parser reads is an array


def _rejected(event: Mapping[str, Any]) -> BadInput | None:
    try:
        parse_event(event)
    except BadInput as error:
        return error
    return None


def _copy(event: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(event))
    return result


@dataclasses.dataclass(frozen=True)
class _Fields:
    required: tuple[str, ...]
    optional: tuple[str, ...]  # read when present; null is the same as absent

    @property
    def read(self) -> tuple[str, ...]:
        return self.required + self.optional


def _probe(event: Mapping[str, Any], path: tuple[str, ...], candidates: Iterable[str]) -> _Fields:
    """Which of `candidates` (keys of the object at `path`) the parser reads, requires or lets be null."""
    if _rejected(event) is not None:
        raise ValueError(f"the probe's base event is refused: {_rejected(event)}")

    def variant(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        copy = _copy(event)
        change(_lookup(copy, path))
        return copy

    required: list[str] = []
    optional: list[str] = []
    for name in candidates:
        if _rejected(variant(lambda obj, n=name: obj.__setitem__(n, _WRONG))) is None:
            if name in _lookup(event, path):
                raise ValueError(f"{'.'.join((*path, name))} is in the example but the parser ignores it")
            continue  # not read for this type
        if _rejected(variant(lambda obj, n=name: obj.pop(n, None))) is not None:
            required.append(name)
            continue
        if _rejected(variant(lambda obj, n=name: obj.__setitem__(n, None))) is not None:
            raise ValueError(f"{name}: optional, yet null is refused: teach contracts.py about it")
        optional.append(name)
    return _Fields(tuple(required), tuple(optional))


def _lookup(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    target: Any = event
    for key in path:
        target = target[key]
    return target


def _data_candidates(example: Mapping[str, Any]) -> list[str]:
    """The data fields an agreement event can carry: AgreementEvent.content() minus its type."""
    return [k for k in parse_event(example).content() if k != "type"]


# --------------------------------------------------------------------------- schema fragments


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


def _identifier_def(max_length: int, what: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": _full(IDENTIFIER),
        "description": (
            f"{what}: 1 to {max_length} characters, printable (no control characters), "
            "without leading or trailing white space."
        ),
    }


def _timezone_def() -> dict[str, Any]:
    zones = known_timezones()
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max(len(z) for z in zones),
        "pattern": _full(char_class("".join(zones)) + "+"),
        "description": (
            "An IANA time zone name, case-sensitive (canonical or link), e.g. Europe/Berlin. The "
            "schema checks the shape only; the parser also requires the name to be in the tz "
            "database it ships (the tzdata package): an unknown name is rejected with "
            "unknown_timezone."
        ),
        "examples": ["Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "UTC"],
    }


def _currency_def() -> dict[str, Any]:
    return {
        "enum": sorted(MINOR_UNITS),
        "description": (
            "An active ISO 4217 code with a minor unit (List One as published on "
            f"{ISO4217_PUBLISHED}; funds without a minor unit such as XAU, XDR, XTS, XXX are "
            "refused), upper case."
        ),
    }


def _local_date_def() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "date",
        "minLength": 10,
        "maxLength": 10,
        "pattern": _full(LOCAL_DATE),
        "description": (
            f"An ISO calendar date YYYY-MM-DD, local to the agreement's time zone, from {MIN_DATE} "
            f"through {MAX_DATE}."
        ),
    }


def _date_def() -> dict[str, Any]:
    return {"type": "string", "format": "date", "pattern": _full(ANY_DATE), "description": "YYYY-MM-DD."}


def _plan_def() -> dict[str, Any]:
    fields = {
        "amount_minor": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_AMOUNT_MINOR,
            "description": (
                "The price of one full period, in whole minor units of the currency (cents for EUR, "
                "yen for JPY, fils for KWD)."
            ),
        },
        "currency": _ref("currency"),
        "interval": {"enum": list(INTERVALS), "description": "The unit of a period."},
        "interval_count": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_INTERVAL_COUNT,
            "description": "How many intervals one period lasts (e.g. month × 3 = quarterly).",
        },
    }
    plan = _probe(_CREATED, ("data", "plan"), [f.name for f in dataclasses.fields(Plan)])  # every Plan field
    _same_keys("plan", fields, plan.read)
    return {
        "type": "object",
        "required": list(plan.required),
        "properties": {name: fields[name] for name in plan.read},
        "description": "A price plan. Unknown fields inside it are ignored.",
    }


def _same_keys(where: str, schemas: Mapping[str, Any], names: Iterable[str]) -> None:
    missing = [n for n in names if n not in schemas]
    if missing:
        raise KeyError(f"{where}: no schema for {missing}: add them to billing_local/contracts.py")


# --------------------------------------------------------------------------- CloudEvents envelope


# CloudEvents 1.0's own order of the attributes (the order they are listed in the schemas).
_CE_ORDER = (
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
)


@functools.cache
def _envelope_fields() -> _Fields:
    names = sorted(_CE_KNOWN, key=lambda k: (_CE_ORDER.index(k) if k in _CE_ORDER else len(_CE_ORDER), k))
    # `type` decides the data's schema, so it cannot be probed with a wrong value: it is required.
    attrs = _probe(_CREATED, (), [k for k in names if k != "type"])
    required = [k for k in names if k == "type" or k in attrs.required]
    return _Fields(tuple(required), attrs.optional)


def _envelope_def() -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode envelope as parse_event checks it (shared by every type)."""
    known = sorted(_CE_KNOWN)
    attrs = _envelope_fields()
    schemas: dict[str, Any] = {
        "specversion": {"const": "1.0", "description": "CloudEvents specification version."},
        "id": _ref("eventId"),
        "source": {"type": "string", "minLength": 1, "description": "Who published the event (a URI)."},
        "type": {"type": "string", "minLength": 1, "description": "The event type."},
        "time": {
            "type": "string",
            "format": "date-time",
            "pattern": _full(RFC3339),
            "description": "When the occurrence happened, RFC 3339.",
        },
        "subject": {"type": "string", "minLength": 1, "description": "What the event is about."},
        "dataschema": {
            "type": "string",
            "minLength": 1,
            "description": "A URI of the schema `data` adheres to (not dereferenced).",
        },
        "datacontenttype": {
            "type": "string",
            "pattern": _full(caseless(_JSON_MEDIA_RE.pattern)),
            "description": "The media type of `data`: JSON (application/json or a +json type), any case.",
        },
        "data": {"description": "The payload; its schema depends on the type."},
    }
    _same_keys("envelope", schemas, attrs.read)
    properties = {name: schemas[name] for name in attrs.required}
    properties |= {name: _nullable(schemas[name]) for name in attrs.optional}
    properties["data_base64"] = False
    names = {"pattern": _full(_EXTENSION_NAME.pattern)}
    if not all(_EXTENSION_NAME.fullmatch(k) for k in known):
        names = {"anyOf": [{"enum": known}, names]}
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0, structured mode (the whole event is one JSON object). Extension "
            "attributes are allowed: lower-case letters and digits, with a string, integer, "
            "boolean or null value. Binary data (data_base64) is not."
        ),
        "required": list(attrs.required),
        "properties": properties,
        "propertyNames": names,
        "additionalProperties": {"type": ["string", "integer", "boolean", "null"]},
    }


# --------------------------------------------------------------------------- inbound schemas

_INBOUND_DESCRIPTIONS = {
    AGREEMENT_CREATED: (
        "An agreement starts: its customer, start date, time zone and plan. Nothing is billed for "
        "an agreement until its agreement.created is known."
    ),
    AGREEMENT_AMENDED: (
        "From effective_date on, the agreement's price is plan.amount_minor (and its payment "
        "method payment_method, when given). plan.currency, plan.interval and plan.interval_count "
        "must equal the agreement's: an amendment that changes them is rejected at ingest "
        "(plan_change_not_allowed), a rule that needs the agreement's state, which this schema "
        "cannot check."
    ),
    AGREEMENT_CANCELLED: (
        "Billing ends at effective_date (the part of a period from that date on costs nothing); "
        "events with a higher version are ignored."
    ),
}
_GAPS = (
    "What this schema cannot check, and the parser does: the message is at most "
    f"{_agreements.MAX_EVENT_BYTES} bytes of UTF-8 JSON without duplicate keys; integers are "
    "written without a fraction (JSON Schema counts 1.0 as an integer, the parser refuses it); "
    "identifiers are printable in the sense of Unicode (the schema refuses control characters "
    "only); a time zone name is in the tz database; and the rules that need the agreement's "
    "state: an id or version seen before with other content is a conflict, an amendment must "
    "keep the currency and interval."
)


def _inbound_field_schemas() -> dict[str, Any]:
    return {
        "agreement_id": _ref("identifier"),
        "customer_id": _ref("identifier"),
        "payment_method": _ref("identifier"),
        "version": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_VERSION,
            "description": "Assigned by the producer, strictly increasing per agreement.",
        },
        "start_date": _ref("localDate"),
        "effective_date": _ref("localDate"),
        "timezone": _ref("timezone"),
        "plan": _ref("plan"),
        "customer_email": {
            "type": "string",
            "maxLength": MAX_EMAIL_LENGTH,
            "pattern": _full(_EMAIL_RE.pattern),
            "description": "Where the customer's documents go.",
        },
    }


def _field_notes(name: str, example: Mapping[str, Any]) -> dict[str, Any]:
    """Annotations that come from parsing: the default of an optional field."""
    data = {k: v for k, v in example["data"].items() if k != name}
    parsed = parse_event({**example, "data": data})
    default = parsed.content().get(name)
    return {} if default is None else {"default": default}


def inbound_schema(type_: str) -> dict[str, Any]:
    if type_ not in INBOUND_EXAMPLES:
        raise KeyError(
            f"{type_}: add a valid example to contracts.INBOUND_EXAMPLES (the parser is probed with it)"
        )
    example = INBOUND_EXAMPLES[type_]
    data = _probe(example, ("data",), _data_candidates(example))
    fields = _inbound_field_schemas()
    _same_keys(type_, fields, data.read)
    properties: dict[str, Any] = {}
    for name in (n for n in _data_candidates(example) if n in data.read):
        schema = fields[name]
        if name in data.optional:
            notes = _field_notes(name, example)
            schema = _nullable(schema) | notes
            if "default" in notes:
                schema["description"] = f"Optional; absent or null means {notes['default']}."
        properties[name] = schema
    defs = {
        "cloudevent": _envelope_def(),
        "eventId": _identifier_def(
            MAX_EVENT_ID_LENGTH, "Unique per event; a re-delivery carries the same id"
        ),
        "identifier": _identifier_def(MAX_ID_LENGTH, "An identifier"),
        "localDate": _local_date_def(),
        "timezone": _timezone_def(),
        "plan": _plan_def(),
        "currency": _currency_def(),
    }
    schema = {
        "$schema": DIALECT,
        "$id": _schema_id(type_),
        "$comment": _GENERATED,
        "title": type_,
        "description": f"{_INBOUND_DESCRIPTIONS[type_]} Published by the upstream purchase system to "
        f"AgreementTopic. {_GAPS}",
        "allOf": [_ref("cloudevent")],
        "type": "object",
        "required": ["data"],
        "properties": {
            "type": {"const": type_},
            "data": {
                "type": "object",
                "description": "Unknown fields are ignored; a null optional field is the same as absent.",
                "required": list(data.required),
                "properties": properties,
            },
        },
        "examples": [example],
        "$defs": defs,
    }
    return _prune_defs(schema)


def _schema_id(type_: str) -> str:
    return f"urn:recurring-billing:schema:{type_}"


def _prune_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """Keep the $defs reachable from the schema itself (each file carries only what it uses)."""
    defs = schema["$defs"]

    def refs(node: Any) -> set[str]:
        if isinstance(node, dict):
            found = {node["$ref"].removeprefix("#/$defs/")} if "$ref" in node else set()
            return found.union(*(refs(v) for k, v in node.items() if k != "$defs"))
        if isinstance(node, list):
            return set().union(*(refs(v) for v in node))
        return set()

    reachable: set[str] = set()
    todo = refs(schema)
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo |= refs(defs[name])
    schema["$defs"] = {k: v for k, v in defs.items() if k in reachable}
    return schema


# --------------------------------------------------------------------------- outbound samples

_RUN_1 = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
_RUN_2 = datetime(2026, 3, 12, 0, 5, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class _Samples:
    """Real builder output: the contract's worked example and the payments that follow."""

    invoice: BillingEvent
    credit_note: BillingEvent
    zero_invoice: BillingEvent
    succeeded: BillingEvent
    failed: BillingEvent
    failed_without_reason: BillingEvent
    retry: BillingEvent

    def of_type(self, type_: str) -> list[BillingEvent]:
        events = (getattr(self, f.name) for f in dataclasses.fields(self))
        return [e for e in events if e.type == type_]


def _worked_example() -> tuple[Document, Document, str, str]:
    created = {
        **_CREATED,
        "data": {
            **_CREATED["data"],
            "agreement_id": "agr-1001",
            "start_date": "2026-03-01",
            "timezone": "Asia/Tokyo",
            "plan": {"amount_minor": 1000, "currency": "JPY", "interval": "month", "interval_count": 1},
        },
    }
    cancelled = {**_CANCELLED, "data": {**_CANCELLED["data"], "version": 2, "effective_date": "2026-03-11"}}
    first = fold([parse_event(created)]).state
    later = fold([parse_event(created), parse_event(cancelled)]).state
    if first is None or later is None:
        raise ValueError("the worked example does not fold")
    invoice = bill(first, [], _RUN_1.date())
    if invoice is None:
        raise ValueError("the worked example issues no invoice")
    credit = bill(later, [invoice], _RUN_2.date())
    if credit is None:
        raise ValueError("the worked example issues no credit note")
    return invoice, credit, first.customer_id, first.payment_method


@functools.cache
def samples() -> _Samples:
    invoice, credit, customer, method = _worked_example()
    zero = dataclasses.replace(
        invoice,
        total_minor=0,
        lines=(
            invoice.lines[0],
            Line(invoice.lines[0].period_start, invoice.lines[0].period_end, -invoice.total_minor),
        ),
    )
    payment = {
        "agreement_id": invoice.agreement_id,
        "document_id": invoice.document_id,
        "amount_minor": invoice.total_minor,
        "currency": invoice.currency,
    }
    return _Samples(
        invoice=document_issued(invoice, customer_id=customer, payment_method=method, at=_RUN_1),
        credit_note=document_issued(credit, customer_id=customer, payment_method=method, at=_RUN_2),
        zero_invoice=document_issued(zero, customer_id=customer, payment_method=method, at=_RUN_1),
        succeeded=payment_outcome(succeeded=True, attempts=1, reason=None, at=_RUN_1, **payment),
        failed=payment_outcome(
            succeeded=False, attempts=4, reason="insufficient_funds", at=_RUN_2, **payment
        ),
        failed_without_reason=payment_outcome(succeeded=False, attempts=1, reason=None, at=_RUN_1, **payment),
        retry=payment_retry_due(
            agreement_id=invoice.agreement_id, document_id=invoice.document_id, attempt=2, at=_RUN_2
        ),
    )


# --------------------------------------------------------------------------- outbound schemas


def _document_id_pattern() -> str:
    probe = document_id("probe", 1)
    prefix = probe.rstrip("0123456789abcdef")
    pattern = f"{re.escape(prefix)}[0-9a-f]{{{len(probe) - len(prefix)}}}"
    if not prefix or not all(re.fullmatch(pattern, document_id(a, n)) for a, n in (("x", 2), ("agr-1", 99))):
        raise ValueError(f"unexpected document id shape {probe!r}: teach contracts.py about it")
    return pattern


def _event_id_pattern() -> str:
    version = uuid.UUID(event_id("probe")).version
    return f"[0-9a-f]{{8}}-[0-9a-f]{{4}}-{version}[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-[0-9a-f]{{12}}"


def _line_amount() -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": -MAX_AMOUNT_MINOR,
        "maximum": MAX_AMOUNT_MINOR,
        "not": {"const": 0},
        "description": (
            "What this document adds to the period (never 0): the period's amount under the state "
            "known now minus what earlier documents issued for it; negative for a reduction."
        ),
    }


def _document_fields(kind: str) -> dict[str, Any]:
    total: dict[str, Any] = {"type": "integer", "description": "The sum of the lines' amount_minor."}
    if kind == INVOICE:
        total |= {"minimum": 0}
    else:
        total |= {"maximum": -1}
    return {
        "document_id": {
            "type": "string",
            "pattern": _full(_document_id_pattern()),
            "description": "Deterministic: the same agreement and sequence number give the same id.",
        },
        "kind": {"const": kind},
        "agreement_id": _ref("identifier"),
        "issue_date": {
            "allOf": [_ref("date")],
            "description": "The agreement's local date of the run that issued the document.",
        },
        "currency": _ref("currency"),
        "total_minor": total,
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": _ref("line"),
            "description": "One line per period whose amount changed, ordered by period_start.",
        },
    }


def _line_def() -> dict[str, Any]:
    fields = {
        "period_start": {"allOf": [_ref("date")], "description": "First day of the period."},
        "period_end": {"allOf": [_ref("date")], "description": "Day after the last day of the period."},
        "amount_minor": _line_amount(),
    }
    names = [f.name for f in dataclasses.fields(Line)]
    written = list(samples().invoice.body["data"]["document"]["lines"][0])
    if sorted(names) != sorted(written):
        raise ValueError(f"Line fields {names} differ from Line.to_json() keys {written}")
    _same_keys("line", fields, written)
    return {
        "type": "object",
        "description": "A period [period_start, period_end) and what this document charges for it.",
        "required": written,
        "properties": {n: fields[n] for n in written},
    }


def _object(
    where: str, bodies: list[dict[str, Any]], fields: Mapping[str, Any], description: str
) -> dict[str, Any]:
    """An object schema whose properties are the keys the builders wrote (required: in every sample)."""
    names: list[str] = []
    for body in bodies:
        names += [k for k in body if k not in names]
    _same_keys(where, fields, names)
    required = [n for n in names if all(n in body for body in bodies)]
    return {
        "type": "object",
        "description": description,
        "required": required,
        "properties": {n: fields[n] for n in names},
    }


def _outbound_data(type_: str, events: list[BillingEvent]) -> dict[str, Any]:
    bodies = [e.body["data"] for e in events]
    identifier = _ref("identifier")
    document_id_schema = _document_fields(INVOICE)["document_id"]
    if type_ in (INVOICE_ISSUED, CREDIT_NOTE_ISSUED):
        kind = INVOICE if type_ == INVOICE_ISSUED else CREDIT_NOTE
        document = _object(
            "document",
            [b["document"] for b in bodies],
            _document_fields(kind),
            "The document, exactly as `billing preview` prints it.",
        )
        fields = {"document": document, "customer_id": identifier, "payment_method": identifier}
        return _object(type_, bodies, fields, "The issued document and whom it is for.")
    if type_ in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
        fields = {
            "document_id": document_id_schema,
            "agreement_id": identifier,
            "amount_minor": {
                "type": "integer",
                "minimum": 1,
                "description": "The invoice's total, in minor units (only invoices above 0 are charged).",
            },
            "currency": _ref("currency"),
            "attempts": {
                "type": "integer",
                "minimum": 1,
                "description": "How many charges were tried (soft declines are retried on a schedule).",
            },
            "reason": {
                "type": "string",
                "minLength": 1,
                "description": "Why the payment failed, as the gateway says it.",
                "examples": ["insufficient_funds", "stolen_card"],
            },
        }
        what = "succeeded" if type_ == PAYMENT_SUCCEEDED else "failed, for good"
        return _object(type_, bodies, fields, f"The final outcome of charging one invoice: it {what}.")
    if type_ == PAYMENT_RETRY_DUE:
        fields = {
            "agreement_id": identifier,
            "document_id": document_id_schema,
            "attempt": {
                "type": "integer",
                "minimum": 2,
                "description": "The attempt now due (the first attempt is the invoice itself).",
            },
        }
        return _object(type_, bodies, fields, "A soft-declined charge is due again.")
    raise KeyError(type_)


_OUTBOUND_DESCRIPTIONS = {
    INVOICE_ISSUED: (
        "A document with a total ≥ 0 was issued. Chargeable (total > 0) invoices are charged to the "
        "payment method; a zero-total invoice (an adjustment that nets out) is not."
    ),
    CREDIT_NOTE_ISSUED: "A document with a total < 0 was issued (published, never charged or refunded here).",
    PAYMENT_SUCCEEDED: "The gateway took the invoice's total.",
    PAYMENT_FAILED: (
        "The invoice could not be charged: a hard decline at once, or a soft decline after its retries."
    ),
    PAYMENT_RETRY_DUE: (
        "INTERNAL: the daily run's command to the payment queue; not published on BillingTopic and "
        "not part of the public contract."
    ),
}


def outbound_schema(type_: str) -> dict[str, Any]:
    events = samples().of_type(type_)
    if not events:
        raise KeyError(f"{type_}: build a sample of it in contracts.samples() (its fields are read from it)")
    data = _outbound_data(type_, events)
    envelope = {
        "id": {
            "type": "string",
            "format": "uuid",
            "pattern": _full(_event_id_pattern()),
            "description": (
                "Deterministic (a UUIDv5 of what the event is about): a re-send, a replay or a retried "
                "write carries the same id, so consumers deduplicate on it."
            ),
        },
        "source": {"const": SOURCE},
        "type": {"const": type_},
        "time": {
            "type": "string",
            "format": "date-time",
            "pattern": _full(UTC_INSTANT),
            "description": "When it was recorded, UTC, to the second.",
        },
        "subject": {
            "allOf": [_ref("identifier")],
            "description": "The agreement_id the event is about (SNS attribute agreement_id too).",
        },
        "datacontenttype": {"const": "application/json"},
        "data": data,
    }
    names = [k for k in events[0].body if k != "specversion"]
    _same_keys(type_, envelope, names)
    defs = {
        "cloudevent": _envelope_def(),
        "eventId": _identifier_def(MAX_EVENT_ID_LENGTH, "Unique per event"),
        "identifier": _identifier_def(MAX_ID_LENGTH, "An identifier"),
        "date": _date_def(),
        "currency": _currency_def(),
        "line": _line_def(),
    }
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": _schema_id(type_),
        "$comment": _GENERATED,
        "title": type_,
        "description": (
            f"{_OUTBOUND_DESCRIPTIONS[type_]} Delivered at least once, in no particular order; "
            "deduplicate on `id`. Fields may be added to `data` without a new type: ignore the ones "
            "you do not know."
        ),
        "allOf": [_ref("cloudevent")],
        "type": "object",
        "required": [k for k in events[0].body if all(k in e.body for e in events)],
        "properties": {"specversion": {"const": "1.0"}, **{k: envelope[k] for k in names}},
        "examples": [events[0].body],
        "$defs": defs,
    }
    if type_ in INTERNAL_TYPES:
        schema["x-internal"] = True
    return _prune_defs(schema)


def message_attributes(type_: str) -> dict[str, Any]:
    """The SNS message attributes of a billing event type, as a schema (values seen in the samples)."""
    events = samples().of_type(type_)
    seen = [e.attributes for e in events]
    names: list[str] = []
    for attrs in seen:
        names += [k for k in attrs if k not in names]
    properties: dict[str, Any] = {}
    for name in names:
        values = sorted({attrs[name] for attrs in seen if name in attrs})
        if name == "agreement_id":
            properties[name] = {
                "type": "string",
                "description": "The agreement the event is about (its subject).",
            }
        elif len(values) == 1:
            properties[name] = {"type": "string", "const": values[0]}
        else:
            properties[name] = {"type": "string", "enum": values}
    if "chargeable" in properties:
        properties["chargeable"]["description"] = (
            '"true" for an invoice with a total above 0 (the payment queue\'s filter), else "false".'
        )
    return {
        "type": "object",
        "description": "SNS message attributes (DataType String): what subscription filter policies match.",
        "required": [n for n in names if all(n in attrs for attrs in seen)],
        "properties": properties,
    }


# --------------------------------------------------------------------------- template wiring


def _refs(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, ${Name} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(str(value[0] if isinstance(value, list) else value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text))}
                found |= _refs(value[1] if isinstance(value, list) else None)
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return {name for name in found if not name.startswith("AWS::")}


def _one_ref(node: Any, where: str) -> str:
    refs = _refs(node)
    if len(refs) != 1:
        raise ValueError(f"{where}: expected one resource reference, got {sorted(refs)}")
    return refs.pop()


@dataclasses.dataclass(frozen=True)
class Subscription:
    logical_id: str
    topic: str
    protocol: str
    endpoint: str  # a queue's logical id, or the parameter an e-mail address comes from
    raw: bool
    filter_policy: dict[str, Any] | None
    filter_scope: str
    dead_letter_queue: str | None


@dataclasses.dataclass(frozen=True)
class Wiring:
    """What template.yaml says about the event channels."""

    resources: dict[str, Any]
    subscriptions: tuple[Subscription, ...]

    @classmethod
    def load(cls, repo: Path = REPO) -> Wiring:
        template = expand(load_yaml(repo / "template.yaml"))
        resources: dict[str, Any] = template["Resources"]
        subs = []
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::SNS::Subscription":
                continue
            props = resource["Properties"]
            redrive = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            subs.append(
                Subscription(
                    logical_id=logical_id,
                    topic=_one_ref(props["TopicArn"], f"{logical_id}.TopicArn"),
                    protocol=props["Protocol"],
                    endpoint=_one_ref(props["Endpoint"], f"{logical_id}.Endpoint"),
                    raw=bool(props.get("RawMessageDelivery", False)),
                    filter_policy=props.get("FilterPolicy"),
                    filter_scope=props.get("FilterPolicyScope", "MessageAttributes"),
                    dead_letter_queue=None if redrive is None else _one_ref(redrive, logical_id),
                )
            )
        return cls(resources, tuple(subs))

    def of_type(self, type_: str) -> list[str]:
        return [k for k, v in self.resources.items() if v.get("Type") == type_]

    @property
    def queue_subscriptions(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.protocol == "sqs"]

    @property
    def topics(self) -> list[str]:
        """Topics some queue subscribes to: the event topics (AlarmTopic only e-mails people)."""
        return list(dict.fromkeys(s.topic for s in self.queue_subscriptions))

    @property
    def queues(self) -> list[str]:
        return list(dict.fromkeys(s.endpoint for s in self.queue_subscriptions))

    def dead_letter_queue(self, queue: str) -> str | None:
        redrive = self.resources[queue]["Properties"].get("RedrivePolicy")
        return None if not redrive else _one_ref(redrive["deadLetterTargetArn"], f"{queue}.RedrivePolicy")

    @property
    def channels(self) -> list[str]:
        dlqs = [d for q in self.queues if (d := self.dead_letter_queue(q)) is not None]
        return [*self.topics, *self.queues, *dict.fromkeys(dlqs)]

    def address(self, logical_id: str) -> str:
        props = self.resources[logical_id]["Properties"]
        name = props.get("TopicName") or props.get("QueueName")
        text = name.get("Fn::Sub") if isinstance(name, dict) else name
        if not isinstance(text, str):
            raise ValueError(f"{logical_id}: name {name!r} is not a plain Fn::Sub")
        address = text.replace("${AWS::StackName}", "{stackName}")
        if "${" in address:
            raise ValueError(f"{logical_id}: name {text!r} has a substitution other than the stack name")
        return address

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: self.resources[k] for k in self.of_type("AWS::Serverless::Function")}

    def sqs_sources(self, function: str) -> list[str]:
        events = self.resources[function]["Properties"].get("Events") or {}
        return [
            _one_ref(e["Properties"]["Queue"], f"{function}.{name}")
            for name, e in events.items()
            if e.get("Type") == "SQS"
        ]

    def env(self, function: str, variable: str) -> set[str]:
        variables = (self.resources[function]["Properties"].get("Environment") or {}).get("Variables") or {}
        if variable not in variables:
            raise KeyError(f"{function} has no environment variable {variable}")
        return _refs(variables[variable])


def matches(
    policy: Mapping[str, Any] | None, attributes: Mapping[str, set[str]]
) -> dict[str, set[str]] | None:
    """Apply an SNS attribute filter policy to the values each attribute can take.

    Returns the narrowed values (None when no message of that kind passes). Only exact string
    matches are supported: a policy with another operator makes the generator stop, so that a
    template change cannot silently describe the wrong messages.
    """
    narrowed = {k: set(v) for k, v in attributes.items()}
    for key, allowed in (policy or {}).items():
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise NotImplementedError(
                f"filter policy {key}: {allowed!r}: only lists of strings are supported"
            )
        values = narrowed.get(key, set()) & set(allowed)
        if not values:
            return None
        narrowed[key] = values
    return narrowed


def _samconfig(repo: Path) -> tuple[list[str], list[str]]:
    with (repo / "samconfig.toml").open("rb") as stream:
        config = tomllib.load(stream)
    stacks, regions = [], []
    for env in config.values():
        if isinstance(env, dict):
            params = env.get("global", {}).get("parameters", {})
            if "stack_name" in params:
                stacks.append(params["stack_name"])
            if "region" in params and params["region"] not in regions:
                regions.append(params["region"])
    return stacks, regions


def _project_version(repo: Path) -> str:
    with (repo / "pyproject.toml").open("rb") as stream:
        return str(tomllib.load(stream)["project"]["version"])


# --------------------------------------------------------------------------- AsyncAPI


def message_id(type_: str) -> str:
    """`billing.credit_note.issued` -> `BillingCreditNoteIssued` (AsyncAPI keys have no dots)."""
    return "".join(part.capitalize() for part in re.split(r"[._]", type_))


REJECTED = "RejectedInput"
_TOPIC_MESSAGES = {"AgreementTopic": EVENT_TYPES, "BillingTopic": OUTBOUND_TYPES}
_CHANNEL_TEXT = {
    "AgreementTopic": "Agreement CloudEvents from the upstream purchase system (its only publisher).",
    "BillingTopic": "Billing CloudEvents out: documents issued, payment outcomes.",
    "AgreementQueue": "Buffers agreement events for the projector.",
    "PaymentQueue": "Charges: chargeable invoices from BillingTopic and the daily run's payment retries.",
    "AccountingQueue": "Every billing event, pulled by the accounting exporter into JSON Lines on S3.",
}
# Roles the template cannot tell: (function, environment variable, action, the messages it sends
# or receives; None = whatever the channel carries).
_ENV_ROLES: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = (
    ("OutboxPublisherFunction", "BILLING_TOPIC_ARN", "send", OUTBOUND_TYPES),
    ("EventReplayFunction", "BILLING_TOPIC_ARN", "send", OUTBOUND_TYPES),
    ("EventReplayFunction", "REPLAY_TARGETS", "send", None),
    ("InvoiceGeneratorFunction", "PAYMENT_QUEUE_URL", "send", (PAYMENT_RETRY_DUE,)),
    ("AccountingExporterFunction", "ACCOUNTING_QUEUE_URL", "receive", None),
)
_UPSTREAM = "UpstreamPublisherArn"


def _short(function: str) -> str:
    return function.removesuffix("Function")


def _message(type_: str) -> dict[str, Any]:
    direction = "inbound" if type_ in EVENT_TYPES else "internal" if type_ in INTERNAL_TYPES else "outbound"
    message: dict[str, Any] = {
        "name": type_,
        "title": type_,
        "summary": (_INBOUND_DESCRIPTIONS | _OUTBOUND_DESCRIPTIONS)[type_].split(". ")[0].rstrip(".") + ".",
        "contentType": "application/json",
        "tags": [{"name": direction}],
        "payload": {"$ref": f"../{SCHEMA_PATHS[type_]}"},
    }
    if type_ in EVENT_TYPES:
        message["examples"] = [{"name": "example", "payload": INBOUND_EXAMPLES[type_]}]
    else:
        headers = message_attributes(type_)
        message["headers"] = headers
        event = samples().of_type(type_)[0]
        example_headers = {k: v for k, v in event.attributes.items() if k in headers["properties"]}
        message["examples"] = [{"name": "example", "headers": example_headers, "payload": event.body}]
    return message


def _rejected_message() -> dict[str, Any]:
    return {
        "name": "rejected",
        "title": "Rejected input",
        "summary": "A message its consumer refused as bad input, parked at once with the reason.",
        "description": (
            "The body exactly as it was received (it may not even be JSON). The original message "
            "attributes are kept; rejection_code and rejection_reason are added. Bad input is never "
            "retried: correct it at the source and publish it again, or, after a fix on our side, "
            "redrive it with `billing redrive --include-rejected`."
        ),
        "tags": [{"name": "dead-letter"}],
        "headers": {
            "type": "object",
            "required": ["rejection_code", "rejection_reason"],
            "properties": {
                "rejection_code": {
                    "type": "string",
                    "description": "Machine-readable reason (a metric dimension).",
                    "examples": list(REJECTION_CODES),
                },
                "rejection_reason": {
                    "type": "string",
                    "maxLength": REJECTION_REASON_MAX,
                    "description": "One line: `<code>: <field>: <message>`.",
                    "examples": [
                        "unknown_currency: data.plan.currency: 'XYZ' is not an active ISO 4217 currency code"
                    ],
                },
            },
        },
        "payload": {"description": "The refused message body, unchanged."},
    }


def asyncapi(repo: Path = REPO) -> dict[str, Any]:
    wiring = Wiring.load(repo)
    stacks, regions = _samconfig(repo)
    events = samples()
    channel_messages: dict[str, list[str]] = {}

    def add(channel: str, ids: Iterable[str]) -> None:
        listed = channel_messages.setdefault(channel, [])
        listed += [i for i in ids if i not in listed]

    for topic in wiring.topics:
        if topic not in _TOPIC_MESSAGES:
            raise KeyError(f"{topic}: which messages does it carry? add it to contracts._TOPIC_MESSAGES")
        add(topic, _TOPIC_MESSAGES[topic])
    for sub in wiring.queue_subscriptions:
        passing = []
        for type_ in _TOPIC_MESSAGES[sub.topic]:
            if sub.filter_scope != "MessageAttributes":
                raise NotImplementedError(f"{sub.logical_id}: filter scope {sub.filter_scope}")
            seen = [e.attributes for e in events.of_type(type_)]
            values = {k: {a[k] for a in seen if k in a} for a in seen for k in a}
            if matches(sub.filter_policy, values) is not None:
                passing.append(type_)
        add(sub.endpoint, passing)
    # What a queue gets from its topics (replays to one queue send those); receivers get that and
    # whatever else is sent to the queue, so receiving operations are added after every sender.
    from_topics = {channel: list(types) for channel, types in channel_messages.items()}
    receives: list[tuple[str, str, str, str]] = []  # (operation id, channel, title, description)

    operations: dict[str, Any] = {}

    def operation(
        op_id: str,
        action: str,
        channel: str,
        types: Iterable[str],
        title: str,
        description: str,
        **extra: Any,
    ) -> None:
        if channel not in wiring.channels:
            raise KeyError(f"{op_id}: {channel} is not an event channel of the template")
        carried = list(types)
        add(channel, carried if action == "send" else [])
        operations[op_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": title,
            "description": description,
            "messages": carried,  # types; resolved to references once every channel is known
            **extra,
        }

    # Upstream publishes; billing publishes (outbox, replay); consumers receive.
    policy = next(
        (
            k
            for k in wiring.of_type("AWS::SNS::TopicPolicy")
            if "AgreementTopic" in _refs(wiring.resources[k])
        ),
        None,
    )
    if policy is None or _UPSTREAM not in _refs(wiring.resources[policy]):
        raise ValueError(f"AgreementTopic's policy does not name the {_UPSTREAM} parameter")
    for topic in wiring.topics:
        consumers = [_sns_consumer(wiring, s) for s in wiring.subscriptions if s.topic == topic]
        binding = {"sns": {"consumers": consumers, "bindingVersion": "0.1.0"}}
        if topic == "AgreementTopic":
            operation(
                "UpstreamPublishesToAgreementTopic",
                "send",
                topic,
                _TOPIC_MESSAGES[topic],
                "Upstream publishes agreement events",
                f"The purchase system (the principal in the {_UPSTREAM} parameter; {policy} denies "
                "every other) publishes one CloudEvent per message, at least once, in any order.",
                bindings=binding,
            )
    for function, env, action, types in _ENV_ROLES:
        for channel in sorted(wiring.env(function, env)):
            text = wiring.functions()[function]["Properties"].get("Description", "")
            verb = "SendsTo" if action == "send" else "ReceivesFrom"
            title = f"{_short(function)} {action}s {'to' if action == 'send' else 'from'} {channel}"
            if action == "receive":
                receives.append(
                    (f"{_short(function)}{verb}{channel}", channel, title, f"{function} ({env}): {text}.")
                )
                continue
            carried = types if types is not None else from_topics.get(channel, [])
            extra: dict[str, Any] = {}
            if action == "send" and channel in wiring.topics:
                consumers = [_sns_consumer(wiring, s) for s in wiring.subscriptions if s.topic == channel]
                extra["bindings"] = {"sns": {"consumers": consumers, "bindingVersion": "0.1.0"}}
            operation(
                f"{_short(function)}{verb}{channel}",
                action,
                channel,
                carried,
                title,
                f"{function} ({env}): {text}.",
                **extra,
            )
    for function, resource in wiring.functions().items():
        text = resource["Properties"].get("Description", "")
        for queue in wiring.sqs_sources(function):
            if queue in wiring.channels:
                receives.append(
                    (
                        f"{_short(function)}ReceivesFrom{queue}",
                        queue,
                        f"{_short(function)} receives from {queue}",
                        f"{function} (SQS event source): {text}.",
                    )
                )
        if not _parks_bad_input(repo, resource):
            continue  # no DLQ variable, or code that never uses it (e.g. a pull consumer)
        parked = wiring.env(function, "DEAD_LETTER_QUEUE_URL")
        for dlq in sorted(parked & set(wiring.channels)):
            operation(
                f"{_short(function)}ParksRejectedInputOn{dlq}",
                "send",
                dlq,
                [REJECTED],
                f"{_short(function)} parks bad input on {dlq}",
                f"{function} puts a message it refuses as bad input on {dlq} at once (no retries "
                "burnt), with rejection_code and rejection_reason attributes.",
            )
    for op_id, channel, title, description in receives:
        operation(op_id, "receive", channel, channel_messages.get(channel, []), title, description)
    for queue in wiring.queues:
        dlq = wiring.dead_letter_queue(queue)
        if dlq is not None:
            add(dlq, [m for m in channel_messages.get(queue, []) if m != REJECTED])

    messages: dict[str, Any] = {}
    for carried_types in channel_messages.values():
        for type_ in carried_types:
            if _mid(type_) not in messages:
                messages[_mid(type_)] = _rejected_message() if type_ == REJECTED else _message(type_)
    channels = {
        channel: _channel(wiring, channel, channel_messages.get(channel, [])) for channel in wiring.channels
    }
    for op in operations.values():
        channel = op["channel"]["$ref"].rsplit("/", 1)[1]
        op["messages"] = [{"$ref": f"#/channels/{channel}/messages/{_mid(t)}"} for t in op["messages"]]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Recurring billing: event contracts",
            "version": _project_version(repo),
            "description": _INFO,
        },
        "defaultContentType": "application/json",
        "servers": {
            proto: {
                "host": f"{proto}.{{region}}.amazonaws.com",
                "protocol": proto,
                "description": f"Amazon {proto.upper()} in the stack's region.",
                "variables": {"region": {"enum": regions, "default": regions[0]}},
            }
            for proto in ("sns", "sqs")
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "parameters": {
                "stackName": {
                    "enum": stacks,
                    "default": stacks[0],
                    "description": "The CloudFormation stack of a stage (samconfig.toml).",
                }
            },
            "messages": messages,
        },
    }


_INFO = """\
What the billing system takes in and sends out. Every message body is one CloudEvents 1.0
JSON object (structured mode); each type's JSON Schema (draft 2020-12) is in schemas/.

- Delivery is at least once and unordered, on every channel: deduplicate on the CloudEvent
  `id` (billing event ids are deterministic, so a re-send or a replay carries the same id).
- Agreement events are ordered by their `data.version`, never by arrival.
- Bad input is parked on the consumer's dead-letter queue at once with `rejection_code`
  and `rejection_reason` message attributes, never retried and never dropped.
- `billing replay` re-sends stored billing events, to the topic or to one queue.

Generated from the code by `python -m billing_local.contracts --write`; see docs/EVENTS.md.
"""


def _parks_bad_input(repo: Path, function: Mapping[str, Any]) -> bool:
    """Whether a function parks refused input on the DLQ its DEAD_LETTER_QUEUE_URL names.

    The template gives the variable to every SQS consumer; the handler's code says whether it uses
    it (through billing.rejections, or the variable itself).
    """
    props = function["Properties"]
    if "DEAD_LETTER_QUEUE_URL" not in ((props.get("Environment") or {}).get("Variables") or {}):
        return False
    code = "".join(p.read_text(encoding="utf-8") for p in sorted((repo / props["CodeUri"]).glob("*.py")))
    return "billing.rejections" in code or "DEAD_LETTER_QUEUE_URL" in code


def _mid(type_: str) -> str:
    return REJECTED if type_ == REJECTED else message_id(type_)


def _sns_consumer(wiring: Wiring, sub: Subscription) -> dict[str, Any]:
    if sub.protocol == "sqs":
        endpoint = {"name": wiring.address(sub.endpoint)}
    else:
        endpoint = {"name": f"the {sub.endpoint} parameter"}
    consumer: dict[str, Any] = {
        "protocol": sub.protocol,
        "endpoint": endpoint,
        "rawMessageDelivery": sub.raw,
    }
    if sub.filter_policy is not None:
        consumer["filterPolicy"] = sub.filter_policy
        consumer["filterPolicyScope"] = sub.filter_scope
    if sub.dead_letter_queue is not None:
        consumer["redrivePolicy"] = {"deadLetterQueue": {"name": wiring.address(sub.dead_letter_queue)}}
    consumer["x-subscription"] = sub.logical_id
    return consumer


def _channel(wiring: Wiring, channel: str, types: list[str]) -> dict[str, Any]:
    resource = wiring.resources[channel]
    address = wiring.address(channel)
    result: dict[str, Any] = {"address": address, "title": channel}
    if resource["Type"] == "AWS::SNS::Topic":
        result["description"] = _CHANNEL_TEXT.get(channel, f"SNS topic {channel}.")
        result["servers"] = [{"$ref": "#/servers/sns"}]
        binding: dict[str, Any] = {
            "sns": {"name": address, "ordering": {"type": "standard"}, "bindingVersion": "0.1.0"}
        }
    else:
        props = resource["Properties"]
        sources = [s for s in wiring.queue_subscriptions if s.endpoint == channel]
        dlq_of = [q for q in wiring.queues if wiring.dead_letter_queue(q) == channel]
        if channel in _CHANNEL_TEXT:
            text = _CHANNEL_TEXT[channel]
        elif dlq_of:
            parked = ", and bad input parked at once with its reason" if REJECTED in types else ""
            text = (
                f"Dead-letter queue of {', '.join(dlq_of)} (and of its SNS subscription): messages that "
                f"failed maxReceiveCount times or could not be delivered{parked}. "
                "`billing redrive` moves them back."
            )
        else:
            text = f"SQS queue {channel}."
        for sub in sources:
            policy = f" with filter policy {json.dumps(sub.filter_policy)}" if sub.filter_policy else ""
            delivery = "the body is the CloudEvent itself" if sub.raw else "the body is SNS's JSON envelope"
            text += f" Subscribed to {sub.topic}{policy}; {delivery}."
        result["description"] = text
        result["servers"] = [{"$ref": "#/servers/sqs"}]
        queue: dict[str, Any] = {"name": address, "fifoQueue": bool(props.get("FifoQueue", False))}
        for key, name in (
            ("VisibilityTimeout", "visibilityTimeout"),
            ("MessageRetentionPeriod", "messageRetentionPeriod"),
        ):
            if key in props:
                queue[name] = props[key]
        dlq = wiring.dead_letter_queue(channel)
        sqs: dict[str, Any] = {"queue": queue}
        if dlq is not None:
            queue["redrivePolicy"] = {
                "deadLetterQueue": {"name": wiring.address(dlq)},
                "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"],
            }
            dlq_props = wiring.resources[dlq]["Properties"]
            sqs["deadLetterQueue"] = {
                "name": wiring.address(dlq),
                "fifoQueue": bool(dlq_props.get("FifoQueue", False)),
                "messageRetentionPeriod": dlq_props.get("MessageRetentionPeriod", 345600),
            }
        binding = {"sqs": {**sqs, "bindingVersion": "0.2.0"}}
    result["parameters"] = {"stackName": {"$ref": "#/components/parameters/stackName"}}
    result["messages"] = {_mid(t): {"$ref": f"#/components/messages/{_mid(t)}"} for t in types}
    result["bindings"] = binding
    return result


# --------------------------------------------------------------------------- files


def schema(type_: str) -> dict[str, Any]:
    return inbound_schema(type_) if type_ in EVENT_TYPES else outbound_schema(type_)


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Block style for multi-line strings; no aliases (every node is written out)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _yaml(document: Any) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# {_GENERATED}\n# JSON Schemas of the payloads: schemas/. Prose: docs/EVENTS.md.\n{body}"


def render(repo: Path = REPO) -> dict[str, str]:
    """Every generated file: its path relative to the repository -> its exact text."""
    files = {path: _json(schema(type_)) for type_, path in SCHEMA_PATHS.items()}
    files[ASYNCAPI_PATH] = _yaml(asyncapi(repo))
    return files


def _generated_dirs() -> set[str]:
    return {str(Path(p).parent) for p in SCHEMA_PATHS.values()}


def drifted(files: Mapping[str, str], dest: Path = REPO) -> list[str]:
    """Files whose text differs from `files` (or is missing), and stray files in the schema folders."""
    out = [
        path
        for path, text in files.items()
        if not (dest / path).is_file() or (dest / path).read_text(encoding="utf-8") != text
    ]
    for folder in sorted(_generated_dirs() | {"schemas"}):
        if (dest / folder).is_dir():
            for found in sorted((dest / folder).iterdir()):
                rel = found.relative_to(dest).as_posix()
                if found.is_file() and rel not in files:
                    out.append(rel)
    return out


def write(files: Mapping[str, str], dest: Path = REPO) -> list[str]:
    """Write what differs, remove stray generated files; returns the paths touched."""
    touched = drifted(files, dest)
    for path in touched:
        target = dest / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path], encoding="utf-8")
        else:
            target.unlink()
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m billing_local.contracts",
        description="Generate the JSON Schemas (schemas/) and the AsyncAPI document (docs/asyncapi.yaml).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the files that differ")
    mode.add_argument("--check", action="store_true", help="exit 1 listing the files that would change")
    parser.add_argument(
        "--dest", type=Path, default=REPO, help="where the files live (default: this repository)"
    )
    args = parser.parse_args(argv)
    files = render()
    if args.write:
        for path in write(files, args.dest):
            print(f"wrote {path}" if path in files else f"removed {path}")
        return 0
    stale = drifted(files, args.dest)
    for path in stale:
        print(f"drifted: {path}", file=sys.stderr)
    if stale:
        print(f"run `{WRITE_COMMAND}` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
