"""What a page shows besides the document itself, found in what the store already holds: the
customer (from the agreement's `agreement.created` event) and, for a line that takes money back,
the earlier invoices that billed its period at its rate. Pure: the callers read the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from billing.domain.engine import INVOICE, Document, Line

__all__ = ["Customer", "Issuer", "Reference", "corrected", "customer_of"]

MAX_TEXT: Final = 200  # a customer-supplied text is cut here on the page (it is not validated upstream)


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues the documents (from configuration: billing.config.issuer)."""

    name: str
    address: tuple[str, ...]
    tax_id: str


@dataclass(frozen=True, slots=True)
class Customer:
    """Whom a document is for, as the agreement's creation names them."""

    customer_id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """An earlier document a line corrects: its printed number (or id, if it has none) and date."""

    label: str
    issue_date: date


def customer_of(agreement_id: str, bodies: Iterable[str | Mapping[str, Any]]) -> Customer:
    """The customer named by the agreement's `agreement.created` event among the stored inbound
    events (CloudEvent JSON bodies or objects). `customer_name` is optional and not part of the
    contract's inbound shape (billing ignores it); a page shows it when upstream sends a string.
    With no creation stored (it cannot be billed then), the customer is unknown: an empty id."""
    for body in bodies:
        event = json.loads(body) if isinstance(body, str) else body
        data = event.get("data") if isinstance(event, Mapping) else None
        if event.get("type") != "agreement.created" or not isinstance(data, Mapping):
            continue
        if data.get("agreement_id") != agreement_id:
            continue
        return Customer(
            customer_id=_text(data.get("customer_id")) or "",
            name=_text(data.get("customer_name")),
            email=_text(data.get("customer_email")),
        )
    return Customer(customer_id="")


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_TEXT]


def corrected(document: Document, earlier: Sequence[Document]) -> tuple[tuple[Reference, ...], ...]:
    """For each line of `document`: the earlier invoices whose lines charged the same (period, rate),
    when this line takes money back (amount < 0); none for a line that charges."""
    return tuple(_references(line, earlier) if line.amount_minor < 0 else () for line in document.lines)


def _references(line: Line, earlier: Sequence[Document]) -> tuple[Reference, ...]:
    found: list[Reference] = []
    for doc in earlier:
        if doc.kind != INVOICE:
            continue
        if any(_same_slot(line, other) and other.amount_minor > 0 for other in doc.lines):
            found.append(Reference(doc.number or doc.document_id, doc.issue_date))
    return tuple(found)


def _same_slot(a: Line, b: Line) -> bool:
    return (a.period_start, a.period_end, a.tax_rate) == (b.period_start, b.period_end, b.tax_rate)
