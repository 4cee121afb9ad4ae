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

Where each part comes from:

- ``schemas``: the inbound schemas, by walking the parser's own declarations
  (``billing.domain.agreements.shapes``: fields, JSON types, required, defaults, bounds, lengths,
  enums, the parser's regexes, named types as ``$defs``); ``patterns`` writes the regexes for
  what the parser checks with code (calendar dates in the declared range, RFC 3339, printable
  identifiers, the tzdata zone names); the currency enum is the generated currency table;
- ``billing_schemas``: the outbound schemas, from the builders' real output (``examples.samples``:
  the contract's worked example billed by the engine), the constants and the id formats;
- ``asyncapi`` (with ``wiring``, ``channels``, ``messages``): template.yaml (through the runtime's
  loader and the language extensions), samconfig.toml and pyproject.toml;
- ``files`` and ``cli``: rendering, drift check and writing.

Stated here (the tests check them against the parser and the builders): each field's description,
the lower bounds of the outbound payloads, the identifier patterns, and the role of each function
in the AsyncAPI operations.
"""

from .asyncapi import asyncapi
from .billing_schemas import message_attributes, outbound_schema
from .cli import main
from .common import ASYNCAPI_PATH, DIALECT, INTERNAL_TYPES, REPO, SCHEMA_PATHS, WRITE_COMMAND
from .examples import INBOUND_EXAMPLES, samples
from .files import drifted, render, schema, write
from .messages import REJECTED, message_id
from .patterns import LEAP_YEAR, caseless, char_class, digits_range
from .schemas import REJECTION_CODES, inbound_schema

__all__ = [
    "ASYNCAPI_PATH",
    "DIALECT",
    "INBOUND_EXAMPLES",
    "INTERNAL_TYPES",
    "LEAP_YEAR",
    "REJECTED",
    "REJECTION_CODES",
    "REPO",
    "SCHEMA_PATHS",
    "WRITE_COMMAND",
    "asyncapi",
    "caseless",
    "char_class",
    "digits_range",
    "drifted",
    "inbound_schema",
    "main",
    "message_attributes",
    "message_id",
    "outbound_schema",
    "render",
    "samples",
    "schema",
    "write",
]
