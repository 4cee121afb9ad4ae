"""One declaration per inbound message shape: the CloudEvents envelope and each type's `data`.

Both the parser (`parse.py` walks these to validate a message) and the published JSON Schemas
(`billing_local.contracts` walks them to write schemas/inbound/) come from here: field names, JSON
types, required or optional (null is the same as absent), defaults, bounds, lengths, enums and
patterns. A field is checked in the order it is declared, and the first problem is the one
reported. What a declaration cannot say (an active currency, a known time zone) is a named rule,
checked by `rules.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final, Literal, NamedTuple

from ..periods import INTERVALS
from .model import (
    AGREEMENT_AMENDED,
    AGREEMENT_CANCELLED,
    AGREEMENT_CREATED,
    MAX_AMOUNT_MINOR,
    MAX_DATE,
    MAX_EMAIL_LENGTH,
    MAX_EVENT_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_INTERVAL_COUNT,
    MAX_VERSION,
    MIN_DATE,
    Plan,
)

__all__ = [
    "CE_KNOWN",
    "CLOUDEVENT",
    "CURRENCY",
    "DATA",
    "DATE_RE",
    "EMAIL_RE",
    "EVENT_ID",
    "EXTENSION_NAME",
    "IDENTIFIER",
    "JSON_MEDIA_RE",
    "LOCAL_DATE",
    "PLAN",
    "TAX_RATE_RE",
    "TIMEZONE",
    "TIME_RE",
    "Boolean",
    "Choice",
    "Const",
    "Envelope",
    "Field",
    "Identifier",
    "Integer",
    "Kind",
    "LocalDate",
    "Named",
    "Obj",
    "Pattern",
    "Text",
    "Timestamp",
]

DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
JSON_MEDIA_RE: Final = re.compile(r"application/([a-z0-9.+-]+\+)?json(\s*;.*)?", re.IGNORECASE)
EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+")
EXTENSION_NAME: Final = re.compile(r"[a-z0-9]+")
# A percentage from "0" to "100", at most four decimals, no sign, exponent or leading zero ("05").
TAX_RATE_RE: Final = re.compile(r"(?:100(?:\.0{1,4})?|[1-9]?[0-9](?:\.[0-9]{1,4})?)")


# --------------------------------------------------------------------------- the vocabulary


class Text(NamedTuple):
    """Any JSON string of at least `min_length` characters."""

    min_length: int = 0


class Identifier(NamedTuple):
    """1 to `max_length` characters, printable (Unicode), no leading or trailing white space."""

    max_length: int
    name: str  # a shared definition (a JSON Schema $defs entry)


class Integer(NamedTuple):
    """A JSON integer (no fraction, not a boolean) from `low` to `high`."""

    low: int
    high: int


class LocalDate(NamedTuple):
    """An ISO calendar date YYYY-MM-DD from `low` to `high`."""

    low: date
    high: date
    name: str


class Timestamp(NamedTuple):
    """An RFC 3339 date-time (upper or lower case T and Z, any fraction, an offset below 24 h)."""


class Choice(NamedTuple):
    """One of `values`, exactly."""

    values: tuple[str, ...]


class Pattern(NamedTuple):
    """A string `regex` matches in full (and at most `max_length` long); else `refusal`."""

    regex: re.Pattern[str]
    refusal: str  # a str.format template; {value!r} is the refused value
    max_length: int | None = None


class Boolean(NamedTuple):
    """A JSON true or false (not a string, not a number)."""


class Named(NamedTuple):
    """A string whose meaning a rule looks up (rules.py): an active currency, a known time zone."""

    rule: Literal["currency", "timezone"]
    name: str


class Const(NamedTuple):
    """Exactly `value`."""

    value: str


class Field(NamedTuple):
    name: str
    kind: Kind
    required: bool = True  # else optional: absent or null gives `default`
    default: Any = None


class Obj(NamedTuple):
    """A JSON object with these fields (unknown ones are ignored); `record` builds the value."""

    fields: tuple[Field, ...]
    name: str | None = None
    record: Callable[..., Any] | None = None


class Envelope(NamedTuple):
    """CloudEvents 1.0 structured mode: attributes, then extensions, then the payload."""

    attributes: tuple[Field, ...]
    tag: str  # the attribute that selects the payload's shape
    payload: str  # the attribute holding the payload (a JSON object)
    binary: str  # the attribute of binary payloads, refused
    extension_name: re.Pattern[str]
    name: str

    @property
    def known(self) -> frozenset[str]:
        return frozenset([*(f.name for f in self.attributes), self.payload])


Kind = Text | Identifier | Integer | LocalDate | Timestamp | Choice | Pattern | Boolean | Named | Const | Obj


# --------------------------------------------------------------------------- the declarations

EVENT_ID: Final = Identifier(MAX_EVENT_ID_LENGTH, "eventId")
IDENTIFIER: Final = Identifier(MAX_ID_LENGTH, "identifier")
LOCAL_DATE: Final = LocalDate(MIN_DATE, MAX_DATE, "localDate")
TIMEZONE: Final = Named("timezone", "timezone")
CURRENCY: Final = Named("currency", "currency")

PLAN: Final = Obj(
    (
        Field("amount_minor", Integer(0, MAX_AMOUNT_MINOR)),
        Field("currency", CURRENCY),
        Field("interval", Choice(INTERVALS)),
        Field("interval_count", Integer(1, MAX_INTERVAL_COUNT)),
        Field(
            "tax_rate",
            Pattern(
                TAX_RATE_RE,
                '{value!r} is not a tax rate: a decimal string from "0" to "100" with at most four decimals',
                max_length=8,
            ),
            required=False,
            default="0",
        ),
        Field("tax_inclusive", Boolean(), required=False, default=False),
    ),
    name="plan",
    record=Plan,
)

CLOUDEVENT: Final = Envelope(
    attributes=(
        Field("specversion", Const("1.0")),
        Field("id", EVENT_ID),
        Field("source", Text(min_length=1)),
        Field("type", Text(min_length=1)),
        Field("time", Timestamp(), required=False),
        Field("subject", Text(min_length=1), required=False),
        Field("dataschema", Text(min_length=1), required=False),
        Field(
            "datacontenttype",
            Pattern(JSON_MEDIA_RE, "{value!r}: data must be JSON (application/json)"),
            required=False,
        ),
    ),
    tag="type",
    payload="data",
    binary="data_base64",
    extension_name=EXTENSION_NAME,
    name="cloudevent",
)
CE_KNOWN: Final = CLOUDEVENT.known

_AGREEMENT: Final = (Field("agreement_id", IDENTIFIER), Field("version", Integer(1, MAX_VERSION)))

# The `data` of each inbound type (the envelope's tag selects one).
DATA: Final[Mapping[str, Obj]] = {
    AGREEMENT_CREATED: Obj(
        (
            *_AGREEMENT,
            Field("customer_id", IDENTIFIER),
            Field("start_date", LOCAL_DATE),
            Field("timezone", TIMEZONE, required=False, default="UTC"),
            Field("plan", PLAN),
            Field("payment_method", IDENTIFIER),
            Field(
                "customer_email",
                Pattern(EMAIL_RE, "not an e-mail address", max_length=MAX_EMAIL_LENGTH),
                required=False,
            ),
        )
    ),
    AGREEMENT_AMENDED: Obj(
        (
            *_AGREEMENT,
            Field("effective_date", LOCAL_DATE),
            Field("plan", PLAN),
            Field("payment_method", IDENTIFIER, required=False),
        )
    ),
    AGREEMENT_CANCELLED: Obj((*_AGREEMENT, Field("effective_date", LOCAL_DATE))),
}
