"""The AsyncAPI message components: one per event type (its schema, an example, the SNS
attributes of billing events) and the rejected-input message parked on dead-letter queues."""

from __future__ import annotations

import re
from typing import Any

from billing.domain.agreements import EVENT_TYPES

from .billing_schemas import OUTBOUND_DESCRIPTIONS, message_attributes
from .common import INTERNAL_TYPES, SCHEMA_PATHS
from .examples import INBOUND_EXAMPLES, samples
from .schemas import INBOUND_DESCRIPTIONS, REJECTION_CODES, REJECTION_REASON_MAX

__all__ = ["REJECTED", "component_id", "message", "message_id", "rejected_message"]

REJECTED = "RejectedInput"


def message_id(type_: str) -> str:
    """`billing.credit_note.issued` -> `BillingCreditNoteIssued` (AsyncAPI keys have no dots)."""
    return "".join(part.capitalize() for part in re.split(r"[._]", type_))


def component_id(type_: str) -> str:
    return REJECTED if type_ == REJECTED else message_id(type_)


def message(type_: str) -> dict[str, Any]:
    direction = "inbound" if type_ in EVENT_TYPES else "internal" if type_ in INTERNAL_TYPES else "outbound"
    message: dict[str, Any] = {
        "name": type_,
        "title": type_,
        "summary": (INBOUND_DESCRIPTIONS | OUTBOUND_DESCRIPTIONS)[type_].split(". ")[0].rstrip(".") + ".",
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


def rejected_message() -> dict[str, Any]:
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
                    "description": (
                        "One line: `<code>: <field>: <message>`; characters that are not printable "
                        "(NUL, other controls, lone surrogates) are written as \\uXXXX."
                    ),
                    "examples": [
                        "unknown_currency: data.plan.currency: 'XYZ' is not an active ISO 4217 currency code"
                    ],
                },
            },
        },
        "payload": {"description": "The refused message body, unchanged."},
    }
