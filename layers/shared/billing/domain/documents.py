"""Issued documents: invoices and credit notes, their lines, and their JSON form (contract §5).

An invoice also says how much of the agreement's credit balance it used (`credit_applied_minor`,
contract §4 "Settlement") and so what is left to charge (`amount_due_minor`); the engine computes
documents without credit, the settlement step (domain/settlement.py) applies it before commit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from .agreements import canonical_rate
from .agreements.shapes import TAX_RATE_RE
from .errors import BadInput

__all__ = ["CREDIT_NOTE", "INVOICE", "Document", "Line", "document_id"]

INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Line:
    """What one document says about one (period, tax rate): the net and the tax (differences, for an
    adjustment); a line without tax has rate "0" and tax 0."""

    period_start: date
    period_end: date
    net_minor: int
    tax_minor: int = 0
    tax_rate: str = "0"

    @property
    def amount_minor(self) -> int:
        return self.net_minor + self.tax_minor

    def to_json(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "tax_rate": self.tax_rate,
            "net_minor": self.net_minor,
            "tax_minor": self.tax_minor,
            "amount_minor": self.amount_minor,
        }

    @classmethod
    def from_json(cls, item: Any, where: str) -> Line:
        """A `to_json` line; one stored before taxes existed (only amount_minor) is net, at rate "0"."""
        start, end = _json_date(item, "period_start", where), _json_date(item, "period_end", where)
        if isinstance(item, Mapping) and "net_minor" not in item:
            return cls(start, end, _json_int(item, "amount_minor", where))
        rate = _json_str(item, "tax_rate", where)
        if not TAX_RATE_RE.fullmatch(rate) or canonical_rate(rate) != rate:
            raise BadInput("invalid_field", f"{rate!r} is not a canonical tax rate", f"{where}.tax_rate")
        line = cls(start, end, _json_int(item, "net_minor", where), _json_int(item, "tax_minor", where), rate)
        if "amount_minor" in item and item["amount_minor"] != line.amount_minor:
            raise BadInput(
                "invalid_field", "amount_minor is not net_minor + tax_minor", f"{where}.amount_minor"
            )
        return line


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    kind: str  # "invoice" | "credit_note"
    agreement_id: str
    issue_date: date
    currency: str
    total_minor: int
    lines: tuple[Line, ...]
    seq: int  # 1-based index among the agreement's documents
    # The legal number (contract §2 "Document numbers"): given when the document is committed,
    # in the same write; None only on a document the engine has just computed.
    series: str | None = None
    sequence: int | None = None
    # How much of the agreement's credit balance this invoice used (0 on a credit note).
    credit_applied_minor: int = 0

    @property
    def amount_due_minor(self) -> int:
        """What is left to charge once the credit balance is applied."""
        return self.total_minor - self.credit_applied_minor

    @property
    def chargeable(self) -> bool:
        """An invoice with something left to charge; credit notes, zero invoices and invoices fully
        covered by credit are not charged."""
        return self.kind == INVOICE and self.amount_due_minor > 0

    def with_credit(self, applied_minor: int) -> Document:
        if self.kind != INVOICE or not 0 <= applied_minor <= self.total_minor:
            raise ValueError(f"{applied_minor} of credit cannot apply to {self.document_id}")
        if applied_minor == self.credit_applied_minor:
            return self  # most invoices: no credit to apply (a copy would cost ~3 µs each)
        return replace(self, credit_applied_minor=applied_minor)

    @property
    def subtotal_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)

    @property
    def tax_minor(self) -> int:
        return sum(line.tax_minor for line in self.lines)

    @property
    def number(self) -> str | None:
        """The printed legal number, e.g. ``INV-2026-07-000042``."""
        if self.series is None or self.sequence is None:
            return None
        return f"{self.series}-{self.sequence:06d}"

    def numbered(self, series: str, sequence: int) -> Document:
        return replace(self, series=series, sequence=sequence)

    def to_json(self) -> dict[str, Any]:
        """The contract §5 document object (seq is not part of it)."""
        out: dict[str, Any] = {
            "document_id": self.document_id,
            "kind": self.kind,
            "agreement_id": self.agreement_id,
            "issue_date": self.issue_date.isoformat(),
            "currency": self.currency,
        }
        if self.number is not None:
            out |= {"number": self.number, "series": self.series, "sequence": self.sequence}
        out |= {
            "subtotal_minor": self.subtotal_minor,
            "tax_minor": self.tax_minor,
            "total_minor": self.total_minor,
        }
        if self.kind == INVOICE:
            out |= {
                "credit_applied_minor": self.credit_applied_minor,
                "amount_due_minor": self.amount_due_minor,
            }
        return out | {"lines": [line.to_json() for line in self.lines]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], seq: int) -> Document:
        """Read back a `to_json` object; raises BadInput(invalid_field) if it is not one."""
        if not isinstance(data, Mapping):
            raise BadInput("invalid_field", "a document is a JSON object", "document")
        raw_lines = data.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            raise BadInput("invalid_field", "must be a non-empty array", "document.lines")
        lines = tuple(Line.from_json(item, f"document.lines[{i}]") for i, item in enumerate(raw_lines))
        series, sequence = None, None
        if "series" in data:
            series, sequence = _json_str(data, "series", "document"), _json_int(data, "sequence", "document")
        doc = cls(
            document_id=_json_str(data, "document_id", "document"),
            kind=_json_str(data, "kind", "document"),
            agreement_id=_json_str(data, "agreement_id", "document"),
            issue_date=_json_date(data, "issue_date", "document"),
            currency=_json_str(data, "currency", "document"),
            total_minor=_json_int(data, "total_minor", "document"),
            lines=lines,
            seq=seq,
            series=series,
            sequence=sequence,
            credit_applied_minor=_json_int(data, "credit_applied_minor", "document")
            if "credit_applied_minor" in data
            else 0,
        )
        if doc.total_minor != sum(line.amount_minor for line in lines):
            raise BadInput("invalid_field", "total_minor is not the sum of the lines", "document.total_minor")
        if doc.kind != _kind(doc.total_minor):
            raise BadInput(
                "invalid_field", f"{doc.kind!r} does not match total {doc.total_minor}", "document.kind"
            )
        if not 0 <= doc.credit_applied_minor <= max(doc.total_minor, 0):
            raise BadInput(
                "invalid_field",
                "credit applied is not between 0 and the total",
                "document.credit_applied_minor",
            )
        if "amount_due_minor" in data and data["amount_due_minor"] != doc.amount_due_minor:
            raise BadInput(
                "invalid_field", "amount_due_minor is not total - credit applied", "document.amount_due_minor"
            )
        if seq < 1:
            raise ValueError("seq is 1-based")
        return doc


def _json_str(data: Any, key: str, where: str) -> str:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise BadInput("invalid_field", "must be a non-empty string", f"{where}.{key}")
    return value


def _json_int(data: Any, key: str, where: str) -> int:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput("invalid_field", "must be an integer", f"{where}.{key}")
    return value


def _json_date(data: Any, key: str, where: str) -> date:
    value = _json_str(data, key, where)
    if not _DATE_RE.fullmatch(value):
        raise BadInput("invalid_field", f"{value!r} is not an ISO date", f"{where}.{key}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput("invalid_field", f"{value!r} is not a calendar date", f"{where}.{key}") from None


def _kind(total_minor: int) -> str:
    return INVOICE if total_minor >= 0 else CREDIT_NOTE


def document_id(agreement_id: str, seq: int) -> str:
    """Deterministic id of an agreement's `seq`-th document: ``doc_`` + 32 hex of SHA-256.

    The same in preview and in the deployed pipeline; a re-run that issues the
    same document again produces the same id (and the store refuses a second one).
    """
    key = f"{len(agreement_id)}:{agreement_id}:{seq}"  # length-prefixed: unambiguous
    return "doc_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
