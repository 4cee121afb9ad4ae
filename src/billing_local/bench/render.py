"""Rendered documents in `make bench` (docs/PERFORMANCE.md "Rendered documents"): how long a page
takes to render, what a page read costs on request, and what writing every page once to S3 would
cost instead; `python -m billing_local.bench.render` runs this part alone.

- `render_times`: the layer's renderer on sample documents (1, 2 and 12 lines; a credit note with a
  year of earlier invoices), the median of several rounds, in microseconds per page, and the bytes.
- `on_request`: a year of monthly agreements (19 % tax, some cancelled: credit notes) through the
  pipeline on the embedded AWS, then DocumentPageFunction invoked for every stored document, metered
  (AWS requests, DynamoDB read units, items read, local duration).
- `costs`: both delivery paths in dollars per million documents, from the figures above, the prices
  in `prices` and the two assumptions named in ASSUMPTIONS (nothing here is read from AWS).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_local.bench import ROOT, prices

#: What the embedded AWS cannot measure, stated: a warm DynamoDB Query round trip in-region and
#: the handler's fixed work (Powertools logger and metrics line) per invocation; the S3 variant
#: keeps each page for the retention of tax documents and still needs a function per view (to
#: check the caller and presign a URL: no public bucket, no guessable URL).
ASSUMPTIONS: dict[str, float] = {
    "dynamodb_query_ms": 8.0,
    "handler_overhead_ms": 2.0,
    "presign_ms": 2.0,
    "retention_years": 10.0,
    "memory_mb": 256.0,
}
S3_STORAGE_GB_MONTH = 0.023  # S3 Standard, first 50 TB, us-east-1
S3_GET_REQUEST = 0.0004 / 1e3


# ----------------------------------------------------------------------------- render time


def sample_documents() -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Name -> (document as published, the agreement's earlier documents)."""
    months = [(date(2026, m, 1), date(2026 + m // 12, m % 12 + 1, 1)) for m in range(1, 13)]
    invoices = [
        _doc(f"INV-2026-03-{n:06d}", [_line(s, e, 3100, 589, "19")]) for n, (s, e) in enumerate(months, 1)
    ]
    catch_up = _doc("INV-2026-03-000100", [_line(s, e, 3100, 589, "19") for s, e in months])
    tax_example = _doc(
        "INV-2026-03-000101", [_line(*months[2], 1600, 256, "16"), _line(*months[2], 1500, 285, "19")]
    )
    credit = _doc("CN-2026-03-000001", [_line(*months[11], -2100, -399, "19")])
    return {
        "invoice, 1 line": (invoices[0], []),
        "invoice, 2 rates (contract example)": (tax_example, []),
        "catch-up invoice, 12 lines": (catch_up, []),
        "credit note after 12 invoices": (credit, invoices),
    }


def _line(start: date, end: date, net: int, tax: int, rate: str) -> dict[str, Any]:
    return {
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "tax_rate": rate,
        "net_minor": net,
        "tax_minor": tax,
        "amount_minor": net + tax,
    }


def _doc(number: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(line["amount_minor"] for line in lines)
    series, sequence = number.rsplit("-", 1)
    return {
        "document_id": "doc_" + number.lower().replace("-", "")[:32].ljust(32, "0"),
        "kind": "invoice" if total >= 0 else "credit_note",
        "agreement_id": "agr-bench",
        "issue_date": lines[-1]["period_start"],
        "currency": "EUR",
        "number": number,
        "series": series,
        "sequence": int(sequence),
        "subtotal_minor": sum(line["net_minor"] for line in lines),
        "tax_minor": sum(line["tax_minor"] for line in lines),
        "total_minor": total,
        "lines": lines,
    }


def render_times(rounds: int = 7, repeat: int = 300) -> dict[str, dict[str, float]]:
    """Microseconds per page (median of `rounds`, each the mean of `repeat` renders) and page bytes."""
    from billing import config
    from billing.render import Customer, render_page

    issuer, customer = config.issuer(), Customer("cus-bench", "Ana Example", "ana@example.com")
    figures: dict[str, dict[str, float]] = {}
    for name, (document, earlier) in sample_documents().items():

        def once(document: dict[str, Any] = document, earlier: list[dict[str, Any]] = earlier) -> str:
            return render_page(document, issuer=issuer, customer=customer, earlier=earlier)

        page = once()
        figures[name] = {
            "microseconds": round(_median_us(once, rounds, repeat), 1),
            "bytes": len(page.encode("utf-8")),
        }
    return figures


def _median_us(work: Callable[[], object], rounds: int, repeat: int) -> float:
    means = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(repeat):
            work()
        means.append((time.perf_counter_ns() - started) / repeat / 1000)
    return statistics.median(means)


# ----------------------------------------------------------------------------- on request


def on_request(
    agreements: int = 20, months: int = 12, template: Path = ROOT / "template.yaml"
) -> dict[str, Any]:
    """Every stored document's page through DocumentPageFunction on the embedded AWS, metered."""
    from billing_local.bench.meter import Meter
    from billing_local.stack import local_cloud

    start = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    with local_cloud(template, start=start) as cloud:
        documents = _issue_a_year(cloud, agreements, months)
        function = cloud.function("DocumentPageFunction")
        function.load()
        cloud.reset_request_counts()
        meter = Meter(cloud)
        answers = []
        with meter.installed():
            for document in documents:
                request = {"agreement_id": document["agreement_id"], "document_id": document["document_id"]}
                answers.append(cloud.invoke("DocumentPageFunction", request))
        requests = cloud.request_counts_by_function()
        again = [  # outside the meter: a second request gives the same bytes
            cloud.invoke("DocumentPageFunction", {k: d[k] for k in ("agreement_id", "document_id")})
            for d in documents[:10]
        ]
    pages = len(answers)
    if not pages or any("html" not in a for a in answers):
        raise RuntimeError("DocumentPageFunction did not render every stored document")
    page_requests = sum(n for (f, _, _), n in requests.items() if f == "DocumentPageFunction")
    rru = sum(u for (f, _, _), u in meter.read_units.items() if f == "DocumentPageFunction")
    items = sum(n for (f, _, _), n in meter.items_read.items() if f == "DocumentPageFunction")
    durations = meter.durations["DocumentPageFunction"]
    return {
        "agreements": agreements,
        "months": months,
        "pages": pages,
        "credit_notes": sum(1 for a in answers if a["kind"] == "credit_note"),
        "aws_requests_per_page": round(page_requests / pages, 3),
        "dynamodb_rru_per_page": round(rru / pages, 3),
        "items_read_per_page": round(items / pages, 2),
        "page_bytes_mean": round(statistics.mean(a["bytes"] for a in answers)),
        "local_ms_per_page_median": round(1000 * statistics.median(durations), 2),
        "same_page_again": all(x.get("sha256") == y["sha256"] for x, y in zip(again, answers, strict=False)),
        "memory_mb": function.memory,
    }


def _issue_a_year(cloud: Any, agreements: int, months: int) -> list[dict[str, Any]]:
    from billing_local.sim.stack import DAILY_SCHEDULE, read_documents, schedule_id

    daily = schedule_id(cloud, DAILY_SCHEDULE)
    for n in range(agreements):
        cloud.publish("AgreementTopic", json.dumps(_created(f"agr-page-{n}")))
    cloud.drain()
    cancel_month = max(1, months - 1)
    for month, instant in enumerate(_first_days(months), 1):
        cloud.clock.advance_to(instant)
        cloud.fire_schedule(daily, instant)
        cloud.drain()
        if month == cancel_month:  # every other agreement ends mid-month, late: a credit note next run
            for n in range(0, agreements, 2):
                effective = (instant + timedelta(days=9)).date().isoformat()
                cloud.publish("AgreementTopic", json.dumps(_cancelled(f"agr-page-{n}", effective)))
            cloud.drain()
    return [d.to_json() for d in read_documents(cloud.physical_id("BillingTable"))]


def _first_days(months: int) -> Iterator[datetime]:
    for m in range(months + 1):
        yield datetime(2026 + m // 12, m % 12 + 1, 1, 0, 5, tzinfo=UTC)


def _created(agreement_id: str) -> dict[str, Any]:
    plan = {
        "amount_minor": 3100,
        "currency": "EUR",
        "interval": "month",
        "interval_count": 1,
        "tax_rate": "19",
    }
    data = {
        "agreement_id": agreement_id,
        "customer_id": f"cus-{agreement_id}",
        "customer_name": "Ana Example",
        "customer_email": "ana@example.com",
        "version": 1,
        "start_date": "2026-01-01",
        "timezone": "UTC",
        "plan": plan,
        "payment_method": "pm_ok",
    }
    return _event(f"{agreement_id}-v1", "agreement.created", data)


def _cancelled(agreement_id: str, effective: str) -> dict[str, Any]:
    data = {"agreement_id": agreement_id, "version": 2, "effective_date": effective}
    return _event(f"{agreement_id}-v2", "agreement.cancelled", data)


def _event(event_id: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:bench",
        "type": type_,
        "subject": data["agreement_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


# ----------------------------------------------------------------------------- cost


def costs(
    render_us: float, page_bytes: float, rru_per_page: float, a: dict[str, float] = ASSUMPTIONS
) -> dict[str, Any]:
    """Dollars per million documents (issued) and per million page views, for both delivery paths."""
    p = prices.PRICES
    gb = a["memory_mb"] / 1024
    request_ms = math.ceil(a["dynamodb_query_ms"] + a["handler_overhead_ms"] + render_us / 1000)
    view_on_request = p["lambda_request"] + gb * request_ms / 1000 * p["lambda_gb_second_arm64"]
    view_on_request += rru_per_page * p["dynamodb_read_request_unit"]
    # Written once: the generator renders in its own invocation (render time only) and PUTs the page.
    issue_s3 = p["s3_put_request"] + gb * render_us / 1e6 * p["lambda_gb_second_arm64"]
    storage_year = page_bytes / 2**30 * S3_STORAGE_GB_MONTH * 12
    presign_ms = math.ceil(a["presign_ms"] + a["handler_overhead_ms"])
    view_s3 = p["lambda_request"] + gb * presign_ms / 1000 * p["lambda_gb_second_arm64"] + S3_GET_REQUEST
    kept = issue_s3 + storage_year * a["retention_years"]
    extra_per_view = view_on_request - view_s3
    million = 1e6
    return {
        "on_request": {
            "per_million_documents_issued": 0.0,
            "per_million_views": round(view_on_request * million, 3),
            "billed_ms_per_view": request_ms,
        },
        "write_once_s3": {
            "per_million_documents_issued": round(issue_s3 * million, 3),
            "storage_per_million_documents_per_year": round(storage_year * million, 3),
            "per_million_documents_over_retention": round(kept * million, 3),
            "per_million_views": round(view_s3 * million, 3),
        },
        # Views per document above which S3 would be cheaper; None: never (cheaper per view too).
        "break_even_views_per_document": round(kept / extra_per_view, 1) if extra_per_view > 0 else None,
        "assumptions": dict(a),
    }


def measure(agreements: int = 20, months: int = 12) -> dict[str, Any]:
    """Everything above, as `make bench` stores it under `rendered_documents`."""
    times = render_times()
    request = on_request(agreements, months)
    typical = times["invoice, 2 rates (contract example)"]
    return {
        "render": times,
        "on_request": request,
        "cost": costs(typical["microseconds"], request["page_bytes_mean"], request["dynamodb_rru_per_page"]),
    }


def print_table(console: Any, figures: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="rendered documents")
    for column in ("figure", "value"):
        table.add_column(column)
    for name, sample in figures["render"].items():
        table.add_row(f"render µs: {name}", f"{sample['microseconds']} µs, {sample['bytes']:,} bytes")
    request = figures["on_request"]
    table.add_row(
        "on request: AWS requests / RRU per page",
        f"{request['aws_requests_per_page']} / {request['dynamodb_rru_per_page']}",
    )
    table.add_row("on request: local ms per page (median)", str(request["local_ms_per_page_median"]))
    cost = figures["cost"]
    table.add_row(
        "on request: $ per 1M views (nothing at issue)", str(cost["on_request"]["per_million_views"])
    )
    s3 = cost["write_once_s3"]
    table.add_row("S3 once: $ per 1M documents at issue", str(s3["per_million_documents_issued"]))
    table.add_row(
        "S3 once: $ per 1M documents over retention", str(s3["per_million_documents_over_retention"])
    )
    even = cost["break_even_views_per_document"]
    table.add_row("S3 cheaper above views per document", "never" if even is None else str(even))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    from rich.console import Console

    result = measure()
    print_table(Console(), result)
    print(json.dumps(result, indent=2))
