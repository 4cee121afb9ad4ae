"""The outbound JSON Schemas (billing events and the internal retry command), read from the
builders' real output: the field names of each payload from `examples.samples()`, optional fields
from building with and without them, kinds and sources from the constants, the id formats from
``event_id``/``document_id``, the SNS message attributes from ``BillingEvent.attributes``."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from typing import Any

from billing.domain.agreements import MAX_AMOUNT_MINOR
from billing.domain.agreements.shapes import EVENT_ID, IDENTIFIER, TAX_RATE_RE
from billing.domain.billing_events import (
    AGREEMENT_CLOSED,
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    PAYMENT_FAILED,
    PAYMENT_RETRY_DUE,
    PAYMENT_SUCCEEDED,
    REFUND_FAILED,
    REFUND_SUCCEEDED,
    SOURCE,
    BillingEvent,
    event_id,
)
from billing.domain.engine import CREDIT_NOTE, INVOICE, Line, document_id
from billing.domain.numbering import NUMBER_RE, SERIES_RE

from .common import DIALECT, GENERATED, INTERNAL_TYPES, prune_defs, ref, same_keys, schema_id
from .examples import samples
from .patterns import UTC_INSTANT, full
from .schemas import currency_def, date_def, envelope_def, identifier_def

__all__ = ["OUTBOUND_DESCRIPTIONS", "message_attributes", "outbound_schema"]


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


def _minor(description: str, *, bound: int | None = None) -> dict[str, Any]:
    """Minor units; a line is bounded by its period's price, a document's sums are not (catch-up)."""
    bounds = {} if bound is None else {"minimum": -bound, "maximum": bound}
    return {"type": "integer", **bounds, "description": description}


def _line_fields() -> dict[str, Any]:
    return {
        "period_start": {"allOf": [ref("date")], "description": "First day of the period."},
        "period_end": {"allOf": [ref("date")], "description": "Day after the last day of the period."},
        "tax_rate": {
            "type": "string",
            "pattern": full(TAX_RATE_RE.pattern),
            "description": 'The tax percentage of this line, canonical ("19", "7.7", "0").',
        },
        "net_minor": _minor(
            "What this document adds to the period's net at this rate: the expected net under the "
            "state known now minus what earlier documents issued for it; negative for a reduction.",
            bound=MAX_AMOUNT_MINOR,
        ),
        "tax_minor": _minor(
            "The same difference for the tax at this rate (rounded half up per piece).",
            bound=MAX_AMOUNT_MINOR,
        ),
        "amount_minor": _minor(
            "net_minor + tax_minor (a line differs in its net, its tax or both).", bound=2 * MAX_AMOUNT_MINOR
        ),
    }


def _document_fields(kind: str) -> dict[str, Any]:
    total: dict[str, Any] = {
        "type": "integer",
        "description": "subtotal_minor + tax_minor (the sum of the lines' amount_minor).",
    }
    settlement: dict[str, Any] = {}
    if kind == INVOICE:
        total |= {"minimum": 0}
        settlement = {
            "credit_applied_minor": {
                "type": "integer",
                "minimum": 0,
                "description": "The agreement's credit balance this invoice used (at most its total).",
            },
            "amount_due_minor": {
                "type": "integer",
                "minimum": 0,
                "description": "total_minor - credit_applied_minor: what is charged (nothing when 0).",
            },
        }
    else:
        total |= {"maximum": -1}
    return settlement | {
        "document_id": {
            "type": "string",
            "pattern": full(_document_id_pattern()),
            "description": "Deterministic: the same agreement and sequence number give the same id.",
        },
        "kind": {"const": kind},
        "agreement_id": ref("identifier"),
        "issue_date": {
            "allOf": [ref("date")],
            "description": "The agreement's local date of the run that issued the document.",
        },
        "currency": ref("currency"),
        "number": {
            "type": "string",
            "pattern": full(NUMBER_RE.pattern),
            "description": (
                "The legal number, <series>-<sequence>: unique, gap-free within its series, assigned "
                "when the document is committed; a re-send carries the same one."
            ),
        },
        "series": {
            "type": "string",
            "pattern": full(SERIES_RE.pattern),
            "description": "INV (invoices) or CN (credit notes), the issue year, then the lane.",
        },
        "sequence": {"type": "integer", "minimum": 1, "description": "1, 2, 3, ... within the series."},
        "subtotal_minor": _minor("The sum of the lines' net_minor."),
        "tax_minor": _minor("The sum of the lines' tax_minor."),
        "total_minor": total,
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": ref("line"),
            "description": (
                "One line per (period, tax rate) whose net or tax changed, by period_start, then rate."
            ),
        },
    }


def _line_def() -> dict[str, Any]:
    fields = _line_fields()
    names = [*(f.name for f in dataclasses.fields(Line)), "amount_minor"]  # amount_minor: a property
    written = list(samples().invoice.body["data"]["document"]["lines"][0])
    if sorted(names) != sorted(written):
        raise ValueError(f"Line fields {names} differ from Line.to_json() keys {written}")
    same_keys("line", fields, written)
    return {
        "type": "object",
        "description": (
            "A period [period_start, period_end) at one tax rate, and what this document charges for it."
        ),
        "not": {  # a line changes the net, the tax or both: never neither
            "required": ["net_minor", "tax_minor"],
            "properties": {"net_minor": {"const": 0}, "tax_minor": {"const": 0}},
        },
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
    same_keys(where, fields, names)
    required = [n for n in names if all(n in body for body in bodies)]
    return {
        "type": "object",
        "description": description,
        "required": required,
        "properties": {n: fields[n] for n in names},
    }


def _closed_fields() -> dict[str, Any]:
    identifier = ref("identifier")
    return {
        "agreement_id": identifier,
        "currency": ref("currency"),
        "payment_method": identifier,
        "closure": {
            "type": "integer",
            "minimum": 1,
            "description": "1 for the first closure; a later adjustment closes the agreement again.",
        },
        "owed_minor": _minor("What the agreement owes in all: the sum of its documents' totals."),
        "credit_released_minor": {
            "type": "integer",
            "minimum": 0,
            "description": "The credit balance the closure released (now 0); refunded if it was paid.",
        },
    }


def _refund_fields() -> dict[str, Any]:
    identifier = ref("identifier")
    return {
        "refund_id": {
            "type": "string",
            "pattern": full(".+:refund-[1-9][0-9]*"),
            "description": "<agreement_id>:refund-<n>: also the gateway's idempotency key.",
        },
        "agreement_id": identifier,
        "amount_minor": {
            "type": "integer",
            "minimum": 1,
            "description": "Money paid back: at most what was collected and not yet refunded.",
        },
        "currency": ref("currency"),
        "reason": {
            "type": "string",
            "minLength": 1,
            "description": "Why the refund failed, as the gateway says it.",
        },
    }


def _outbound_data(type_: str, events: list[BillingEvent]) -> dict[str, Any]:
    bodies = [e.body["data"] for e in events]
    identifier = ref("identifier")
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
                "description": "The invoice's amount due, in minor units (only amounts above 0 are charged).",
            },
            "currency": ref("currency"),
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
    if type_ == AGREEMENT_CLOSED:
        return _object(type_, bodies, _closed_fields(), "A cancelled agreement with nothing more to bill.")
    if type_ in (REFUND_SUCCEEDED, REFUND_FAILED):
        what = "paid back" if type_ == REFUND_SUCCEEDED else "refused by the gateway (a person must act)"
        return _object(type_, bodies, _refund_fields(), f"The outcome of one refund: {what}.")
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


OUTBOUND_DESCRIPTIONS = {
    INVOICE_ISSUED: (
        "A document with a total ≥ 0 was issued. Chargeable invoices (amount due > 0, after the credit "
        "balance) are charged to the payment method; one covered by credit or netting out to 0 is not."
    ),
    CREDIT_NOTE_ISSUED: (
        "A document with a total < 0 was issued: its amount goes to the agreement's credit balance, "
        "which later invoices apply first and a closure releases (refunded if it was paid)."
    ),
    PAYMENT_SUCCEEDED: "The gateway took the invoice's amount due.",
    AGREEMENT_CLOSED: (
        "A cancelled agreement has nothing more to bill: what it owes in all and the credit released. "
        "The payment side refunds what was collected beyond what is owed."
    ),
    REFUND_SUCCEEDED: "Money collected beyond what the agreement owes was paid back.",
    REFUND_FAILED: "A refund was refused by the gateway; it is not retried into a second payout.",
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
            "pattern": full(_event_id_pattern()),
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
            "pattern": full(UTC_INSTANT),
            "description": "When it was recorded, UTC, to the second.",
        },
        "subject": {
            "allOf": [ref("identifier")],
            "description": "The agreement_id the event is about (SNS attribute agreement_id too).",
        },
        "datacontenttype": {"const": "application/json"},
        "data": data,
    }
    names = [k for k in events[0].body if k != "specversion"]
    same_keys(type_, envelope, names)
    defs = {
        "cloudevent": envelope_def(),
        "eventId": identifier_def(EVENT_ID, "Unique per event"),
        "identifier": identifier_def(IDENTIFIER, "An identifier"),
        "date": date_def(),
        "currency": currency_def(),
        "line": _line_def(),
    }
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": schema_id(type_),
        "$comment": GENERATED,
        "title": type_,
        "description": (
            f"{OUTBOUND_DESCRIPTIONS[type_]} Delivered at least once, in no particular order; "
            "deduplicate on `id`. Fields may be added to `data` without a new type: ignore the ones "
            "you do not know."
        ),
        "allOf": [ref("cloudevent")],
        "type": "object",
        "required": [k for k in events[0].body if all(k in e.body for e in events)],
        "properties": {"specversion": {"const": "1.0"}, **{k: envelope[k] for k in names}},
        "examples": [events[0].body],
        "$defs": defs,
    }
    if type_ in INTERNAL_TYPES:
        schema["x-internal"] = True
    return prune_defs(schema)


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
            '"true" for an invoice with an amount due above 0 (the payment queue\'s filter), else "false".'
        )
    return {
        "type": "object",
        "description": "SNS message attributes (DataType String): what subscription filter policies match.",
        "required": [n for n in names if all(n in attrs for attrs in seen)],
        "properties": properties,
    }
