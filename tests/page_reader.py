"""Read a rendered document page the way a person sees it: parsed with the standard library's
html.parser into a small tree, text taken as a browser shows it (whitespace collapsed), and an
independent oracle for what each figure must read (Decimal, not the renderer's formatting)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from billing.domain.money import minor_unit_exponent

VOID = {"meta", "br", "link", "img", "hr", "input"}
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"[ \t\n\r\f]+", " ", "".join(parts)).strip(" ")

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found: list[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def one(self, tag: str | None = None, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, (tag, cls, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.declarations: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    assert builder.declarations == ["DOCTYPE html"]
    return builder.root


# -- the oracle ------------------------------------------------------------------------------------


def figure(minor: int, currency: str) -> str:
    """What an amount must read: the currency's decimals, comma groups, U+2212 when negative."""
    digits = minor_unit_exponent(currency)
    text = f"{abs(Decimal(minor).scaleb(-digits)):,.{digits}f}"
    return ("\u2212" if minor < 0 else "") + text


def money(minor: int, currency: str) -> str:
    return f"{currency} {figure(minor, currency)}"


def human(day: str | date) -> str:
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def period_text(line: dict[str, Any]) -> str:
    last = date.fromisoformat(line["period_end"]) - timedelta(days=1)
    return f"{human(line['period_start'])} – {human(last)}"


def check_figures(page: str, document: dict[str, Any]) -> Node:
    """Every figure of `document` on `page`, where a person looks for it; returns the tree."""
    tree = parse(page)
    currency = document["currency"]
    title = {"invoice": "Invoice", "credit_note": "Credit note"}[document["kind"]]
    assert tree.one("h1").text() == title
    assert tree.one(cls="number").text() == document["number"]
    issued = tree.one(cls="facts").all("time")
    assert [(t.attrs["datetime"], t.text()) for t in issued] == [
        (document["issue_date"], human(document["issue_date"]))
    ]
    rows = tree.one("table", "lines").one("tbody").all("tr")
    assert len(rows) == len(document["lines"])
    for row, line in zip(rows, document["lines"], strict=True):
        period = row.one(cls="period")
        assert period.text().startswith(period_text(line)), period.text()
        assert row.one(cls="net").text() == figure(line["net_minor"], currency)
        assert row.one(cls="rate").text() == f"{line['tax_rate']}\u00a0%"
        assert row.one(cls="tax").text() == figure(line["tax_minor"], currency)
        assert row.one(cls="amount").text() == figure(line["amount_minor"], currency)
    totals = tree.one("table", "totals")
    assert totals.one(cls="subtotal").one("td").text() == money(document["subtotal_minor"], currency)
    assert totals.one(cls="total").one("td").text() == money(document["total_minor"], currency)
    per_rate: dict[str, list[int]] = {}
    for line in document["lines"]:
        sums = per_rate.setdefault(line["tax_rate"], [0, 0])
        sums[0] += line["net_minor"]
        sums[1] += line["tax_minor"]
    expected = [
        (f"Tax {rate}\u00a0% on {money(net, currency)}", money(tax, currency))
        for rate, (net, tax) in sorted(per_rate.items(), key=lambda kv: Decimal(kv[0]))
    ]
    shown = [(r.one("th").text(), r.one("td").text()) for r in totals.all("tr", "tax")]
    assert shown == expected
    if document.get("credit_applied_minor"):  # settlement: the credit used, and what is left to pay
        assert totals.one(cls="credit").one("td").text() == money(-document["credit_applied_minor"], currency)
        assert totals.one(cls="due").one("td").text() == money(document["amount_due_minor"], currency)
    else:
        assert not totals.all(cls="credit")
    return tree
