"""The HTML page of one issued document (contract §4 "Rendered documents").

`render_page(document, issuer=…, customer=…)` takes the document exactly as it was published (the
`data.document` object of `billing.invoice.issued` / `billing.credit_note.issued`) and returns one
self-contained HTML page: issuer, customer, title, number, issue date, a row per line (period,
net, tax rate, tax, amount), then subtotal, tax per rate and total, and for a line that takes money
back the invoice it corrects.

- Every text from outside (ids, names, e-mail, configuration) is escaped (`html.escape`) and put
  in a `<bdi>`, so neither markup nor right-to-left overrides in a customer's name change the page.
- One inline stylesheet, no scripts, no external resources, and a Content-Security-Policy that
  allows exactly that stylesheet (by its hash): the page shows the same offline, in a mail
  client or printed, and a slip in escaping could still not run anything.
- Deterministic: the bytes depend only on the arguments (no clock, no locale, no random ids), so
  rendering the stored document again, after a replay or on another machine, gives the same page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from billing.domain.engine import CREDIT_NOTE, Document, Line
from billing.domain.money import minor_unit_exponent

from . import formatting as fmt
from .sources import Customer, Issuer, Reference, corrected

__all__ = ["CONTENT_TYPE", "CSS", "TITLES", "render_page"]

CONTENT_TYPE: Final = "text/html; charset=utf-8"
TITLES: Final = {"invoice": "Invoice", CREDIT_NOTE: "Credit note"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

CSS: Final = """\
@page{size:A4;margin:14mm}
*{box-sizing:border-box}
html{background:#eef1f5}
body{margin:0;padding:40px 16px;color:#1f2933;font:14px/1.5 "Helvetica Neue",Helvetica,Arial,\
"Liberation Sans","DejaVu Sans",sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sheet{max-width:840px;margin:0 auto;background:#fff;padding:48px 56px 40px;border-radius:6px;\
border-top:6px solid #1e3a8a;box-shadow:0 1px 3px rgba(15,23,42,.12),0 12px 32px rgba(15,23,42,.08)}
.credit_note .sheet{border-top-color:#9a3412}
.notice{margin:-24px 0 28px;padding:8px 12px;border:1px dashed #b45309;border-radius:4px;\
background:#fffbeb;color:#92400e;font-weight:600;text-align:center}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:40px}
.issuer-name{margin:0 0 6px;font-size:20px;font-weight:700;color:#102a43}
address{font-style:normal;color:#52606d}
.tax-id{margin:6px 0 0;color:#52606d}
.heading{text-align:right}
h1{margin:0 0 14px;font-size:30px;line-height:1.1;font-weight:700;letter-spacing:.01em;color:#1e3a8a}
.credit_note h1{color:#9a3412}
dl{display:grid;grid-template-columns:auto auto;gap:3px 16px;margin:0}
.facts dt{text-align:right}
dt{color:#7b8794;font-size:11px;font-weight:600;letter-spacing:.08em;text-transform:uppercase;\
padding-top:2px}
dd{margin:0;font-weight:600}
.parties{display:flex;justify-content:space-between;gap:40px;margin-top:40px;padding:20px 0;\
border-top:1px solid #e4e7eb;border-bottom:1px solid #e4e7eb}
h2{margin:0 0 8px;color:#7b8794;font-size:11px;font-weight:600;letter-spacing:.08em;\
text-transform:uppercase}
.parties p{margin:0}
.customer-name{font-size:16px;font-weight:700}
.muted{color:#52606d}
.document-id{font:600 12px/1.9 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;\
color:#52606d}
.corrects{margin:24px 0 0;padding:12px 16px;background:#fff7ed;border-left:4px solid #9a3412;\
border-radius:0 4px 4px 0}
table{width:100%;border-collapse:collapse}
.lines{margin-top:32px}
.lines th{padding:8px 10px;border-bottom:2px solid #102a43;color:#52606d;font-size:11px;\
font-weight:600;letter-spacing:.08em;text-transform:uppercase;text-align:left}
.lines td{padding:11px 10px;border-bottom:1px solid #e4e7eb;vertical-align:top}
.lines tbody tr:nth-child(even) td{background:#f8fafc}
.num{text-align:right!important;font-variant-numeric:tabular-nums;white-space:nowrap}
.ref{display:block;color:#7b8794;font-size:12px}
.summary{display:flex;justify-content:flex-end;margin-top:20px}
.totals{width:auto;min-width:360px}
.totals th{padding:6px 10px;text-align:left;font-weight:400;color:#52606d}
.totals td{padding:6px 10px}
.totals .total th,.totals .total td{padding-top:12px;border-top:2px solid #102a43;color:#102a43;\
font-size:18px;font-weight:700}
.totals .due th,.totals .due td{font-weight:700;color:#102a43}
footer{margin-top:40px;padding-top:16px;border-top:1px solid #e4e7eb;color:#7b8794;font-size:12px}
footer p{margin:0 0 4px}
@media (max-width:640px){body{padding:0}.sheet{padding:28px 20px;border-radius:0}\
header,.parties{flex-direction:column;gap:20px}.heading{text-align:left}.facts dt{text-align:left}\
.totals{min-width:0;width:100%}.lines th,.lines td{padding:8px 4px}.document-id{word-break:break-all}\
.ref bdi{white-space:nowrap}}
@media print{html,body{background:#fff}body{padding:0}.sheet{max-width:none;padding:0;\
border-radius:0;box-shadow:none;border-top-width:4px}.lines tbody tr{break-inside:avoid}}
"""
_CSP: Final = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'"
)


def render_page(
    document: Mapping[str, Any],
    *,
    issuer: Issuer,
    customer: Customer,
    earlier: Sequence[Mapping[str, Any]] = (),
    notice: str | None = None,
) -> str:
    """The page of `document` (as published); `earlier` are the agreement's documents issued before
    it (as published, in issue order), from which a line that takes money back names the invoice it
    corrects; `notice` is a banner (a test stage's pages say they are not real documents).

    Raises BadInput when `document` is not a published document object."""
    doc = Document.from_json(document, seq=1)
    refs = corrected(doc, [Document.from_json(d, seq=1) for d in earlier])
    title = TITLES[doc.kind]
    label = f"{title} {doc.number}" if doc.number else title
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="robots" content="noindex, nofollow">',
        f"<title>{_t(label)} · {_t(issuer.name)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        f'<body class="{doc.kind}">',
        f'<main class="sheet" data-document-id="{_t(doc.document_id)}">',
        *([f'<p class="notice" role="note">{_t(notice)}</p>'] if notice else []),
        _header(doc, issuer, title),
        _parties(doc, customer),
        *_corrects(doc, refs),
        _lines(doc, refs),
        _summary(doc, document),
        _footer(doc),
        "</main>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _t(value: str) -> str:
    """Text from outside, safe in HTML text and in a quoted attribute."""
    return html.escape(_CONTROL.sub(" ", value), quote=True)


def _bdi(value: str, cls: str = "") -> str:
    attribute = f' class="{cls}"' if cls else ""
    return f"<bdi{attribute}>{_t(value)}</bdi>"


def _time(value: date) -> str:
    return f'<time datetime="{value.isoformat()}">{fmt.day(value)}</time>'


def _header(doc: Document, issuer: Issuer, title: str) -> str:
    address = "<br>".join(_t(line) for line in issuer.address)
    facts = [("Number", _bdi(doc.number or "—", "number")), ("Issue date", _time(doc.issue_date))]
    facts.append(("Currency", _t(doc.currency)))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return (
        '<header><div class="issuer">'
        f'<p class="issuer-name">{_bdi(issuer.name)}</p>'
        f"<address>{address}</address>"
        f'<p class="tax-id">Tax ID {_bdi(issuer.tax_id)}</p>'
        "</div>"
        f'<div class="heading"><h1>{title}</h1><dl class="facts">{rows}</dl></div>'
        "</header>"
    )


def _parties(doc: Document, customer: Customer) -> str:
    who = [f'<p class="customer-name">{_bdi(customer.name or customer.customer_id or "—")}</p>']
    if customer.name and customer.customer_id:
        who.append(f'<p class="muted">Customer {_bdi(customer.customer_id)}</p>')
    if customer.email:
        who.append(f'<p class="muted">{_bdi(customer.email)}</p>')
    reference = (
        f"<dt>Agreement</dt><dd>{_bdi(doc.agreement_id)}</dd>"
        f"<dt>Document ID</dt><dd>{_bdi(doc.document_id, 'document-id')}</dd>"
    )
    heading = "Credit to" if doc.kind == CREDIT_NOTE else "Bill to"
    return (
        '<section class="parties">'
        f'<div class="customer"><h2>{heading}</h2>{"".join(who)}</div>'
        f'<div class="reference"><h2>Reference</h2><dl>{reference}</dl></div>'
        "</section>"
    )


def _corrects(doc: Document, refs: tuple[tuple[Reference, ...], ...]) -> list[str]:
    """A credit note says first which invoices it corrects (when they are known)."""
    if doc.kind != CREDIT_NOTE:
        return []
    unique = list(dict.fromkeys(ref for line_refs in refs for ref in line_refs))
    if not unique:
        return ['<p class="corrects">This credit note corrects earlier invoices of this agreement.</p>']
    named = ", ".join(f"{_bdi(r.label)} of {_time(r.issue_date)}" for r in unique)
    noun = "invoice" if len(unique) == 1 else "invoices"
    return [f'<p class="corrects">This credit note corrects {noun} {named}.</p>']


def _lines(doc: Document, refs: tuple[tuple[Reference, ...], ...]) -> str:
    head = (
        '<thead><tr><th scope="col">Period</th><th scope="col" class="num">Net</th>'
        '<th scope="col" class="num">Tax rate</th><th scope="col" class="num">Tax</th>'
        '<th scope="col" class="num">Amount</th></tr></thead>'
    )
    rows = [_row(line, doc.currency, line_refs) for line, line_refs in zip(doc.lines, refs, strict=True)]
    return f'<table class="lines">{head}<tbody>{"".join(rows)}</tbody></table>'


def _row(line: Line, currency: str, refs: tuple[Reference, ...]) -> str:
    first, last = fmt.period(line.period_start, line.period_end)
    period = f"{_time(first)} – {_time(last)}"
    if refs:
        period += f'<span class="ref">corrects {", ".join(_bdi(r.label) for r in refs)}</span>'
    cells = [
        f'<td class="period">{period}</td>',
        f'<td class="num net">{fmt.amount(line.net_minor, currency)}</td>',
        f'<td class="num rate">{fmt.rate(line.tax_rate)}</td>',
        f'<td class="num tax">{fmt.amount(line.tax_minor, currency)}</td>',
        f'<td class="num amount">{fmt.amount(line.amount_minor, currency)}</td>',
    ]
    return f'<tr class="line">{"".join(cells)}</tr>'


def _summary(doc: Document, published: Mapping[str, Any]) -> str:
    """Subtotal, the tax of each rate (on its net), the total; and what settlement added, if any."""
    money = doc.currency
    rows = [("subtotal", "Subtotal", doc.subtotal_minor, "")]
    for rate, (net, tax) in _per_rate(doc.lines).items():
        rows.append(("tax", f"Tax {fmt.rate(rate)} on {fmt.money(net, money)}", tax, f' data-rate="{rate}"'))
    rows.append(("total", "Total", doc.total_minor, ""))
    # Settlement (contract §4) may add these to an invoice: shown when the published document has them.
    applied, due = _int(published, "credit_applied_minor"), _int(published, "amount_due_minor")
    if applied:
        rows.append(("credit", "Credit applied", -applied, ""))
    if due is not None and (due != doc.total_minor or applied):
        rows.append(("due", "Amount due", due, ""))
    body = "".join(
        f'<tr class="{cls}"{extra}><th scope="row">{name}</th>'
        f'<td class="num">{fmt.money(value, money)}</td></tr>'
        for cls, name, value, extra in rows
    )
    return f'<div class="summary"><table class="totals"><tbody>{body}</tbody></table></div>'


def _int(published: Mapping[str, Any], key: str) -> int | None:
    value = published.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _per_rate(lines: Sequence[Line]) -> dict[str, tuple[int, int]]:
    sums: dict[str, tuple[int, int]] = {}
    for line in lines:
        net, tax = sums.get(line.tax_rate, (0, 0))
        sums[line.tax_rate] = (net + line.net_minor, tax + line.tax_minor)
    return dict(sorted(sums.items(), key=lambda item: fmt.rate_key(item[0])))


def _footer(doc: Document) -> str:
    digits = minor_unit_exponent(doc.currency)
    decimals = "no decimals" if digits == 0 else f"{digits} decimal{'s' if digits > 1 else ''}"
    notes = [
        f"All amounts in {_t(doc.currency)} ({decimals}). Each period includes both dates shown.",
    ]
    if doc.kind == CREDIT_NOTE:
        notes.append(
            "The credited amount is set against your next invoices, or refunded to your payment method "
            "when the agreement ends."
        )
    notes.append(f"Please quote {_bdi(doc.number or doc.document_id)} with any question about this document.")
    return "<footer>" + "".join(f"<p>{note}</p>" for note in notes) + "</footer>"
