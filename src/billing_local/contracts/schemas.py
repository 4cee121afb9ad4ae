"""The inbound JSON Schemas, written by walking the parser's own declarations (agreements.shapes).

Each declared kind becomes one schema fragment; a kind with a name (identifier, localDate,
timezone, plan, currency, the CloudEvents envelope) becomes a `$defs` entry that the fields
refer to. Field names, JSON types, required fields, defaults, bounds, lengths, enums and the
parser's regexes come from the declarations; patterns for what the parser checks with code
(calendar dates, RFC 3339, printable identifiers, time zone names) are written from the kinds'
parameters by `patterns`; the prose is here.
"""

from __future__ import annotations

import re
from typing import Any

from billing.domain.agreements import CONFLICT, MAX_EVENT_BYTES, PLAN_CHANGE_NOT_ALLOWED
from billing.domain.agreements.model import CONTENT_FIELDS
from billing.domain.agreements.rules import known_timezones
from billing.domain.agreements.shapes import (
    CLOUDEVENT,
    DATA,
    Boolean,
    Choice,
    Const,
    Field,
    Identifier,
    Integer,
    Kind,
    LocalDate,
    Named,
    Obj,
    Pattern,
    Text,
    Timestamp,
)
from billing.domain.currencies import ISO4217_PUBLISHED, MINOR_UNITS

from .common import DIALECT, GENERATED, nullable, prune_defs, ref, schema_id
from .examples import INBOUND_EXAMPLES
from .patterns import ANY_DATE, IDENTIFIER, RFC3339, calendar_date, caseless, char_class, full, year_range

__all__ = [
    "INBOUND_DESCRIPTIONS",
    "REJECTION_CODES",
    "REJECTION_REASON_MAX",
    "currency_def",
    "date_def",
    "envelope_def",
    "identifier_def",
    "inbound_schema",
]

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

# What each declared field means, by name (the declarations say what it is, not what it is for).
_FIELD_TEXT = {
    "specversion": "CloudEvents specification version.",
    "source": "Who published the event (a URI).",
    "type": "The event type.",
    "time": "When the occurrence happened, RFC 3339.",
    "subject": "What the event is about.",
    "dataschema": "A URI of the schema `data` adheres to (not dereferenced).",
    "datacontenttype": "The media type of `data`: JSON (application/json or a +json type), any case.",
    "data": "The payload; its schema depends on the type.",
    "version": "Assigned by the producer, strictly increasing per agreement.",
    "customer_email": "Where the customer's documents go.",
    "amount_minor": (
        "The price of one full period, in whole minor units of the currency (cents for EUR, "
        "yen for JPY, fils for KWD)."
    ),
    "interval": "The unit of a period.",
    "interval_count": "How many intervals one period lasts (e.g. month × 3 = quarterly).",
    "tax_rate": (
        'The tax percentage, a decimal string from "0" to "100" with at most four decimals '
        '("19", "7.7", "8.875"); absent means 0. An amendment changes it from its effective_date.'
    ),
    "tax_inclusive": (
        "true: amount_minor already includes the tax; false (the default): the tax is added to it."
    ),
}
_IDENTIFIER_TEXT = {
    "eventId": "Unique per event; a re-delivery carries the same id",
    "identifier": "An identifier",
}
_OBJECT_TEXT = {"plan": "A price plan. Unknown fields inside it are ignored."}

INBOUND_DESCRIPTIONS = {
    "agreement.created": (
        "An agreement starts: its customer, start date, time zone and plan. Nothing is billed for "
        "an agreement until its agreement.created is known."
    ),
    "agreement.amended": (
        "From effective_date on, the agreement's price is plan.amount_minor (and its payment "
        "method payment_method, when given). plan.currency, plan.interval and plan.interval_count "
        "must equal the agreement's: an amendment that changes them is rejected at ingest "
        "(plan_change_not_allowed), a rule that needs the agreement's state, which this schema "
        "cannot check."
    ),
    "agreement.cancelled": (
        "Billing ends at effective_date (the part of a period from that date on costs nothing); "
        "events with a higher version are ignored."
    ),
}
_GAPS = (
    "What this schema cannot check, and the parser does: the message is at most "
    f"{MAX_EVENT_BYTES} bytes of UTF-8 JSON without duplicate keys; integers are "
    "written without a fraction (JSON Schema counts 1.0 as an integer, the parser refuses it); "
    "identifiers are printable in the sense of Unicode (the schema refuses control characters "
    "only); strings are Unicode text (a lone surrogate escape such as \\ud800 is refused); a "
    "time zone name is in the tz database; and the rules that need the agreement's "
    "state: an id or version seen before with other content is a conflict, an amendment must "
    "keep the currency and interval."
)

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


def _listed(fields: tuple[Field, ...], order: tuple[str, ...]) -> list[Field]:
    """Fields in the published order (`order`; others after, as declared)."""
    return sorted(fields, key=lambda f: order.index(f.name) if f.name in order else len(order))


def _text(name: str) -> str:
    if name not in _FIELD_TEXT:
        raise KeyError(f"{name}: describe it in billing_local/contracts/schemas.py (_FIELD_TEXT)")
    return _FIELD_TEXT[name]


# --------------------------------------------------------------------------- named definitions


def identifier_def(kind: Identifier, what: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": kind.max_length,
        "pattern": full(IDENTIFIER),
        "description": (
            f"{what}: 1 to {kind.max_length} characters, printable (no control characters), "
            "without leading or trailing white space."
        ),
    }


def _timezone_def() -> dict[str, Any]:
    zones = known_timezones()
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max(len(z) for z in zones),
        "pattern": full(char_class("".join(zones)) + "+"),
        "description": (
            "An IANA time zone name, case-sensitive (canonical or link), e.g. Europe/Berlin. The "
            "schema checks the shape only; the parser also requires the name to be in the tz "
            "database it ships (the tzdata package): an unknown name is rejected with "
            "unknown_timezone."
        ),
        "examples": ["Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", "UTC"],
    }


def currency_def() -> dict[str, Any]:
    return {
        "enum": sorted(MINOR_UNITS),
        "description": (
            "An active ISO 4217 code with a minor unit (List One as published on "
            f"{ISO4217_PUBLISHED}; funds without a minor unit such as XAU, XDR, XTS, XXX are "
            "refused), upper case."
        ),
    }


def _local_date_def(kind: LocalDate) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "date",
        "minLength": 10,
        "maxLength": 10,
        "pattern": full(calendar_date(year_range(kind.low, kind.high))),
        "description": (
            f"An ISO calendar date YYYY-MM-DD, local to the agreement's time zone, from {kind.low} "
            f"through {kind.high}."
        ),
    }


def date_def() -> dict[str, Any]:
    return {"type": "string", "format": "date", "pattern": full(ANY_DATE), "description": "YYYY-MM-DD."}


class _Defs:
    """The `$defs` of one schema, in the order the walk first meets them."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def use(self, name: str, build: Any) -> dict[str, str]:
        if name not in self.defs:
            self.defs[name] = None  # holds the place: definitions it refers to come after it
            self.defs[name] = build()
        return ref(name)


# --------------------------------------------------------------------------- walking the kinds


def _string(kind: Text | Pattern, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if isinstance(kind, Text):
        if kind.min_length:
            schema["minLength"] = kind.min_length
    else:
        if kind.max_length is not None:
            schema["maxLength"] = kind.max_length
        pattern = kind.regex.pattern
        schema["pattern"] = full(caseless(pattern) if kind.regex.flags & re.IGNORECASE else pattern)
    return schema | {"description": _text(name)}


def _kind(kind: Kind, name: str, defs: _Defs) -> dict[str, Any]:
    """The schema of a value of `kind` held by the field `name`."""
    match kind:
        case Text() | Pattern():
            return _string(kind, name)
        case Identifier():
            return defs.use(kind.name, lambda: identifier_def(kind, _IDENTIFIER_TEXT[kind.name]))
        case Integer():
            return {"type": "integer", "minimum": kind.low, "maximum": kind.high, "description": _text(name)}
        case LocalDate():
            return defs.use(kind.name, lambda: _local_date_def(kind))
        case Timestamp():
            return {"type": "string", "format": "date-time", "pattern": full(RFC3339)} | {
                "description": _text(name)
            }
        case Choice():
            return {"enum": list(kind.values), "description": _text(name)}
        case Named():
            return defs.use(kind.name, currency_def if kind.rule == "currency" else _timezone_def)
        case Const():
            return {"const": kind.value, "description": _text(name)}
        case Boolean():
            return {"type": "boolean", "description": _text(name)}
        case Obj():
            if kind.name is None:
                raise ValueError(f"{name}: an inline object; give it a name in agreements/shapes.py")
            return defs.use(kind.name, lambda: _named_object(kind, defs))


def _named_object(kind: Obj, defs: _Defs) -> dict[str, Any]:
    fields = list(kind.fields)
    return {
        "type": "object",
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: _field(f, defs) for f in fields},
        "description": _OBJECT_TEXT[str(kind.name)],
    }


def _field(spec: Field, defs: _Defs) -> dict[str, Any]:
    schema = _kind(spec.kind, spec.name, defs)
    if spec.required:
        return schema
    schema = nullable(schema)
    if spec.default is not None:
        schema |= {"default": spec.default}
        schema["description"] = f"Optional; absent or null means {spec.default}."
    return schema


def envelope_def(defs: _Defs | None = None) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode envelope as parse_event checks it (shared by every type)."""
    defs = defs or _Defs()
    attributes = _listed(CLOUDEVENT.attributes, _CE_ORDER)
    payload = {"description": _text(CLOUDEVENT.payload)}
    required = [f for f in attributes if f.required]
    properties: dict[str, Any] = {f.name: _field(f, defs) for f in required} | {CLOUDEVENT.payload: payload}
    properties |= {f.name: _field(f, defs) for f in attributes if not f.required}
    properties[CLOUDEVENT.binary] = False
    known = sorted(CLOUDEVENT.known)
    names: dict[str, Any] = {"pattern": full(CLOUDEVENT.extension_name.pattern)}
    if not all(CLOUDEVENT.extension_name.fullmatch(k) for k in known):
        names = {"anyOf": [{"enum": known}, names]}
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0, structured mode (the whole event is one JSON object). Extension "
            "attributes are allowed: lower-case letters and digits, with a string, integer, "
            "boolean or null value. Binary data (data_base64) is not."
        ),
        "required": [*(f.name for f in required), CLOUDEVENT.payload],
        "properties": properties,
        "propertyNames": names,
        "additionalProperties": {"type": ["string", "integer", "boolean", "null"]},
    }


def inbound_schema(type_: str) -> dict[str, Any]:
    if type_ not in DATA or type_ not in INBOUND_EXAMPLES:
        raise KeyError(f"{type_}: declare it in agreements/shapes.py, add an example to contracts.examples")
    defs = _Defs()
    defs.use(CLOUDEVENT.name, lambda: envelope_def(defs))
    fields = _listed(DATA[type_].fields, CONTENT_FIELDS)
    data = {
        "type": "object",
        "description": "Unknown fields are ignored; a null optional field is the same as absent.",
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: _field(f, defs) for f in fields},
    }
    schema = {
        "$schema": DIALECT,
        "$id": schema_id(type_),
        "$comment": GENERATED,
        "title": type_,
        "description": f"{INBOUND_DESCRIPTIONS[type_]} Published by the upstream purchase system to "
        f"AgreementTopic. {_GAPS}",
        "allOf": [ref(CLOUDEVENT.name)],
        "type": "object",
        "required": [CLOUDEVENT.payload],
        "properties": {CLOUDEVENT.tag: {"const": type_}, CLOUDEVENT.payload: data},
        "examples": [INBOUND_EXAMPLES[type_]],
        "$defs": defs.defs,
    }
    return prune_defs(schema)
