"""The simulation report: one SVG chart per figure, values a person can hover, no external resources."""

from datetime import date

from billing_local.sim.html_report import render, stacked_bars
from billing_local.sim.simulate import DayReport

DAYS = [
    DayReport(date(2026, 3, 1), True, 2, 5, {"InvoiceGenerator": 1}, 0),
    DayReport(date(2026, 3, 2), True, 0, 3, {}, 1),
]
RESULT = {
    "documents": [
        {"issue_date": "2026-03-01", "kind": "invoice"},
        {"issue_date": "2026-03-02", "kind": "credit_note"},
    ],
    "payments": [
        {"settled_on": "2026-03-01", "status": "succeeded"},
        {"settled_on": None, "status": "retrying"},
    ],
    "queues": {"PaymentDLQ": {"visible": 1, "in_flight": 0}},
}


def test_bars_stack_per_day_and_carry_their_values() -> None:
    svg = stacked_bars("t", [date(2026, 3, 1), date(2026, 3, 2)], {"a": [2, 0], "b": [1, 3]})
    assert svg.count("<rect") == 3 + 2  # three non-empty bars, two legend swatches
    assert "2026-03-02 b: 3" in svg


def test_the_page_has_every_chart_and_the_summary_and_no_external_resources() -> None:
    page = render(RESULT, DAYS, [("invoices", 1)])
    assert page.count("<svg") == 4
    assert "2026-03-01 invoice: 1" in page and "2026-03-02 credit note: 1" in page
    assert "2026-03-01 succeeded: 1" in page
    assert "<th>PaymentDLQ</th><td>1</td>" in page
    assert "http" not in page.replace("http://www.w3.org", "")
