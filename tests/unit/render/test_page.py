"""The document page as a person reads it: every figure checked against the document in JPY (no
decimals), EUR (2) and KWD (3), credit notes with their sign and what they correct, hostile text
shown as text, no external resource, and the same bytes every time (and on another machine)."""

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from page_reader import Node, check_figures, human, money, parse

from billing.domain.errors import BadInput
from billing.render import Customer, Issuer, render_page
from billing.render.page import CSS
from billing_local.pages import pages_of, scenario_pages
from billing_local.preview import load_scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
ISSUER = Issuer("Example Billing Ltd", ("1 Example Street", "10115 Berlin", "Germany"), "DE000000000")
ANA = Customer("cus-77", "Ana Example", "ana@example.com")


def line(start: str, end: str, net: int, tax: int = 0, rate: str = "0") -> dict[str, Any]:
    return {
        "period_start": start,
        "period_end": end,
        "tax_rate": rate,
        "net_minor": net,
        "tax_minor": tax,
        "amount_minor": net + tax,
    }


def document(currency: str, lines: list[dict[str, Any]], number: str = "INV-2026-03-000001", **extra: Any):
    total = sum(item["amount_minor"] for item in lines)
    return {
        "document_id": "doc_0123456789abcdef0123456789abcdef",
        "kind": "invoice" if total >= 0 else "credit_note",
        "agreement_id": "agr-1001",
        "issue_date": "2026-03-01",
        "currency": currency,
        "number": number,
        "series": number.rsplit("-", 1)[0],
        "sequence": int(number.rsplit("-", 1)[1]),
        "subtotal_minor": sum(item["net_minor"] for item in lines),
        "tax_minor": sum(item["tax_minor"] for item in lines),
        "total_minor": total,
        "lines": lines,
        **extra,
    }


def cells(row: Node) -> tuple[str, str]:
    return row.one("th").text(), row.one("td").text()


def render(doc: dict[str, Any], customer: Customer = ANA, **kwargs: Any) -> str:
    return render_page(doc, issuer=ISSUER, customer=customer, **kwargs)


def test_the_contract_tax_example_in_eur_reads_right() -> None:
    doc = document(
        "EUR",
        [
            line("2026-03-01", "2026-04-01", 1600, 256, "16"),
            line("2026-03-01", "2026-04-01", 1500, 285, "19"),
        ],
    )
    tree = check_figures(render(doc), doc)
    rows = tree.one("table", "lines").all("tr", "line")
    assert [r.one(cls="period").text() for r in rows] == ["1 March 2026 – 31 March 2026"] * 2
    assert [r.one(cls="amount").text() for r in rows] == ["18.56", "17.85"]
    totals = tree.one("table", "totals")
    assert cells(totals.one(cls="total")) == ("Total", "EUR 36.41")
    assert [cells(r) for r in totals.all("tr", "tax")] == [
        ("Tax 16\u00a0% on EUR 16.00", "EUR 2.56"),
        ("Tax 19\u00a0% on EUR 15.00", "EUR 2.85"),
    ]


def test_jpy_has_no_decimals_and_groups_thousands() -> None:
    doc = document("JPY", [line("2026-03-01", "2026-04-01", 1_234_567, 123_457, "10")])
    tree = check_figures(render(doc), doc)
    assert tree.one(cls="net").text() == "1,234,567"
    assert tree.one("table", "totals").one(cls="total").one("td").text() == "JPY 1,358,024"
    assert "(no decimals)" in tree.one("footer").text()


def test_kwd_has_three_decimals() -> None:
    doc = document(
        "KWD", [line("2026-04-01", "2026-05-01", 2333, 117, "5"), line("2026-05-01", "2026-06-01", 10)]
    )
    tree = check_figures(render(doc), doc)
    rows = tree.one("table", "lines").all("tr", "line")
    assert [r.one(cls="net").text() for r in rows] == ["2.333", "0.010"]
    assert [r.one(cls="rate").text() for r in rows] == ["5\u00a0%", "0\u00a0%"]  # rates numerically
    assert tree.one("table", "totals").one(cls="total").one("td").text() == "KWD 2.460"


def test_a_fractional_rate_and_a_large_catch_up_in_usd() -> None:
    lines = [
        line(f"2026-{m:02d}-01", f"2026-{m + 1:02d}-01", 99_999_999, 8_874_999, "8.875") for m in range(1, 10)
    ]
    doc = document("USD", lines)
    tree = check_figures(render(doc), doc)
    assert tree.one("table", "totals").one(cls="subtotal").one("td").text() == "USD 8,999,999.91"


def test_the_contract_worked_example_credit_note_shows_its_sign_and_the_invoice_it_corrects() -> None:
    pages = scenario_pages(load_scenario(SCENARIOS / "worked_example.json"), ISSUER)
    invoice, credit = pages[0], pages[1]
    check_figures(invoice.html, invoice.document)
    tree = check_figures(credit.html, credit.document)
    assert credit.document["total_minor"] == -677
    assert tree.one("h1").text() == "Credit note"
    assert tree.one("title").text() == f"Credit note {credit.document['number']} · Example Billing Ltd"
    assert tree.one("table", "totals").one(cls="total").one("td").text() == "JPY \u2212677"
    assert tree.one(cls="amount").text() == "\u2212677"
    corrects = f"This credit note corrects invoice {invoice.document['number']} of 1 March 2026."
    assert tree.one("p", "corrects").text() == corrects
    assert tree.one(cls="period").one(cls="ref").text() == f"corrects {invoice.document['number']}"
    assert tree.one(cls="customer").one("h2").text() == "Credit to"
    assert "refunded" in tree.one("footer").text()
    # the scenario's customer, from its agreement.created event
    assert tree.one(cls="customer-name").text() == "cus-1"
    assert "ana@example.com" in tree.one(cls="customer").text()


def test_every_fixture_document_reads_right() -> None:
    for path in sorted(SCENARIOS.glob("*.json")):
        for page in scenario_pages(load_scenario(path), ISSUER):
            check_figures(page.html, page.document)


def test_an_invoice_line_that_reverses_a_rate_names_the_invoice_it_corrects() -> None:
    first = document("EUR", [line("2026-03-01", "2026-04-01", 3100, 589, "19")])
    second = document(
        "EUR",
        [
            line("2026-03-01", "2026-04-01", -3100, -589, "19"),
            line("2026-03-01", "2026-04-01", 3100, 651, "21"),
        ],
        number="INV-2026-03-000002",
        issue_date="2026-03-05",
        document_id="doc_ffffffffffffffffffffffffffffffff",
    )
    tree = check_figures(render(second, earlier=[first]), second)
    refs = [r.text() for r in tree.all(cls="ref")]
    assert refs == ["corrects INV-2026-03-000001"]
    assert not tree.all("p", "corrects")  # the sentence is a credit note's


def test_hostile_text_is_shown_as_text_and_never_becomes_markup() -> None:
    hostile = Customer(
        customer_id='cus-"><img src=x onerror=alert(1)>',
        name="<script>alert('pwned')</script> \u202eevil",
        email="a@b.c</p><script>x()</script>",
    )
    issuer = Issuer("<b>Evil</b> & Co", ("<i>line</i>",), '"><script>')
    doc = document("EUR", [line("2026-03-01", "2026-04-01", 100)])
    page = render_page(doc, issuer=issuer, customer=hostile, notice="<script>banner()</script>")
    tree = parse(page)
    assert not tree.all("script") and not tree.all("img") and not tree.all("b") and not tree.all("i")
    assert tree.one(cls="customer-name").text() == "<script>alert('pwned')</script> \u202eevil"
    assert tree.one(cls="customer-name").one("bdi")  # a right-to-left override stays inside its name
    assert 'cus-"><img src=x onerror=alert(1)>' in tree.one(cls="customer").text()
    assert tree.one(cls="issuer-name").text() == "<b>Evil</b> & Co"
    assert tree.one(cls="notice").text() == "<script>banner()</script>"
    assert "<script" not in page


def test_control_characters_never_reach_the_page() -> None:
    doc = document("EUR", [line("2026-03-01", "2026-04-01", 100)])
    page = render(doc, customer=Customer("cus-1", "Ana\x00\x1b[31m Red\x7f"))
    assert parse(page).one(cls="customer-name").text() == "Ana [31m Red"


def test_the_page_is_self_contained_and_allows_only_its_own_stylesheet() -> None:
    doc = document("EUR", [line("2026-03-01", "2026-04-01", 100)])
    tree = parse(render(doc))
    for node in tree.all():
        assert node.tag not in {"script", "link", "img", "iframe", "object", "embed", "form", "base"}
        assert not {"src", "href", "srcset", "action", "style"} & set(node.attrs), node
        assert not any(name.startswith("on") for name in node.attrs), node
    (style,) = tree.all("style")
    assert style.children == [CSS]
    assert "url(" not in CSS and "@import" not in CSS
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    csp = next(
        m.attrs["content"] for m in tree.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp.startswith(f"default-src 'none'; style-src 'sha256-{digest}'")
    assert tree.one("html").attrs["lang"] == "en"
    assert any(m.attrs.get("charset") == "utf-8" for m in tree.all("meta"))


def test_settlement_figures_are_shown_when_the_document_has_them() -> None:
    doc = document(
        "EUR",
        [line("2026-04-01", "2026-05-01", 1000, 190, "19")],
        credit_applied_minor=677,
        amount_due_minor=513,
    )
    totals = check_figures(render(doc), doc).one("table", "totals")
    assert cells(totals.one(cls="credit")) == ("Credit applied", money(-677, "EUR"))
    assert cells(totals.one(cls="due")) == ("Amount due", "EUR 5.13")
    plain = document("EUR", [line("2026-04-01", "2026-05-01", 1000)])
    assert not check_figures(render(plain), plain).one("table", "totals").all(cls="due")


def test_a_malformed_document_is_bad_input_not_a_page() -> None:
    doc = document("EUR", [line("2026-03-01", "2026-04-01", 100)])
    with pytest.raises(BadInput, match="total_minor"):
        render(doc | {"total_minor": 101})
    with pytest.raises(BadInput, match="unknown_currency"):
        render(doc | {"currency": "XXX"})


def test_two_renders_are_the_same_bytes() -> None:
    pages = [p.html for p in scenario_pages(load_scenario(SCENARIOS / "tax_worked_example.json"), ISSUER)]
    again = [p.html for p in scenario_pages(load_scenario(SCENARIOS / "tax_worked_example.json"), ISSUER)]
    assert pages == again and pages


def test_another_process_locale_and_time_zone_render_the_same_bytes() -> None:
    doc = document("KWD", [line("2026-04-01", "2026-05-01", 1_234_567, 61_728, "5")])
    script = (
        "import json,sys,hashlib;from billing.render import render_page,Issuer,Customer;"
        "d=json.loads(sys.argv[1]);i=Issuer('Example Billing Ltd',('1 Example Street',),'DE000000000');"
        "print(hashlib.sha256(render_page(d,issuer=i,customer=Customer('cus-77','Ana')).encode()).hexdigest())"
    )
    env = os.environ | {"LANG": "de_DE.UTF-8", "LC_ALL": "de_DE.UTF-8", "TZ": "Pacific/Auckland"}
    env |= {"PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(doc)], capture_output=True, text=True, env=env, check=True
    )
    issuer = Issuer("Example Billing Ltd", ("1 Example Street",), "DE000000000")
    here = render_page(doc, issuer=issuer, customer=Customer("cus-77", "Ana"))
    assert done.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


def test_pages_of_documents_uses_each_agreements_own_customer_and_history() -> None:
    created = [
        {
            "type": "agreement.created",
            "data": {"agreement_id": "agr-a", "customer_id": "cus-a", "customer_name": "A"},
        },
        {"type": "agreement.created", "data": {"agreement_id": "agr-b", "customer_id": "cus-b"}},
    ]
    first = document("EUR", [line("2026-03-01", "2026-04-01", 100)]) | {"agreement_id": "agr-a"}
    other = document("EUR", [line("2026-03-01", "2026-04-01", 100)], number="INV-2026-03-000002")
    other |= {"agreement_id": "agr-b"}
    credit = document("EUR", [line("2026-03-01", "2026-04-01", -50)], number="CN-2026-03-000001")
    credit |= {"agreement_id": "agr-b", "issue_date": "2026-03-10"}
    pages = pages_of([first, other, credit], created, ISSUER)
    names = [parse(p.html).one(cls="customer-name").text() for p in pages]
    assert names == ["A", "cus-b", "cus-b"]
    assert (
        parse(pages[2].html)
        .one("p", "corrects")
        .text()
        .startswith("This credit note corrects invoice INV-2026-03-000002")
    )
    assert human("2026-03-10") in pages[2].html
