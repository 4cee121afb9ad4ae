"""What `make run` shows: a progress bar over simulated days, a summary table, and an HTML report."""

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from billing_local.preview import Scenario
from billing_local.sim import html_report
from billing_local.sim.simulate import DayReport, Simulation

REPORTS = Path(".reports")


def run_with_progress(scenario: Scenario, *, template: Path, chaos_seed: int | None) -> int:
    console = Console()
    simulation = Simulation(scenario, template=template, chaos_seed=chaos_seed)
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[day]} · {task.fields[documents]} deliveries"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("days", total=len(simulation.timeline()), day="", documents=0)
        delivered = 0

        def on_day(report: DayReport) -> None:
            nonlocal delivered
            delivered += report.delivered
            progress.update(task, advance=1, day=report.day.isoformat(), documents=delivered)

        simulation.on_day = on_day
        result = simulation.run()
    rows = summary_rows(scenario, result)
    table = Table(title=f"Simulation summary ({time.monotonic() - started:.1f} s)", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = html_report.write(REPORTS / f"simulation-{stamp}.html", result, simulation.days, rows)
    console.print(f"report: [bold]{path.resolve()}[/bold]")
    invariants = result.get("invariants", {})
    if not invariants.get("all_hold", True):
        console.print(f"[red]invariants do not hold:[/red] {invariants}")
        return 1
    return 0


def summary_rows(scenario: Scenario, result: dict[str, Any]) -> list[tuple[str, Any]]:
    documents = result["documents"]
    kinds = Counter(d["kind"] for d in documents)
    amounts: dict[str, int] = defaultdict(int)
    taxes: dict[str, int] = defaultdict(int)
    for d in documents:
        amounts[d["currency"]] += d["total_minor"]
        taxes[d["currency"]] += d["tax_minor"]
    payments = Counter(p["status"] for p in result["payments"])
    agreements = {
        e["data"].get("agreement_id")
        for _, e in scenario.deliveries
        if isinstance(e, dict) and isinstance(e.get("data"), dict)  # bad input may have no data at all
    }
    rows: list[tuple[str, Any]] = [
        ("agreements", len(agreements)),
        ("agreement events delivered", len(scenario.deliveries)),
        ("invoices", kinds.get("invoice", 0)),
        ("credit notes", kinds.get("credit_note", 0)),
    ]
    rows += [(f"invoiced {c} (minor units, tax included)", amounts[c]) for c in sorted(amounts)]
    rows += [(f"tax {c} (minor units)", taxes[c]) for c in sorted(taxes) if taxes[c]]
    rows += _settlement_rows(result)
    rows += [(f"payments {status}", n) for status, n in sorted(payments.items())]
    rows.append(("payments retried (soft declines)", sum(1 for p in result["payments"] if p["attempts"] > 1)))
    rows.append(("charges taken by the gateway", sum(p["charges"] for p in result["payments"])))
    rows.append(("bad input parked", len(result.get("parked", []))))
    rows.append(("publishes refused by SNS (upstream saw the error)", len(result.get("refused", []))))
    rows.append(("distinct bad inputs (rejection records)", len(result.get("rejections", []))))
    if "chaos" in result:
        rows.append(("faults injected", sum(result["chaos"]["faults"].values())))
        rows.append(("messages redriven", result["chaos"]["recovery"].get("redriven", 0)))
    dlq = sum(q["visible"] + q["in_flight"] for name, q in result["queues"].items() if name.endswith("DLQ"))
    rows.append(
        ("messages left in queues", sum(q["visible"] + q["in_flight"] for q in result["queues"].values()))
    )
    rows.append(("messages left in DLQs", dlq))
    rows.append(("invariants hold", result.get("invariants", {}).get("all_hold")))
    return rows


def _settlement_rows(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Credit applied by invoices, refunds paid, and the credit still held (contract §4)."""
    currency = {d["agreement_id"]: d["currency"] for d in result["documents"]}
    applied: dict[str, int] = defaultdict(int)
    for d in result["documents"]:
        applied[d["currency"]] += d.get("credit_applied_minor", 0)
    refunded: dict[str, int] = defaultdict(int)
    for r in result.get("refunds", []):
        if r["status"] == "succeeded":
            refunded[currency[r["agreement_id"]]] += r["amount_minor"]
    held: dict[str, int] = defaultdict(int)
    for entry in result.get("settlement", []):
        held[currency[entry["agreement_id"]]] += entry["credit_balance_minor"]
    covered = sum(
        1
        for d in result["documents"]
        if d["kind"] == "invoice" and d["total_minor"] > 0 == d["amount_due_minor"]
    )
    rows: list[tuple[str, Any]] = [
        (f"credit applied by invoices {c}", applied[c]) for c in sorted(applied) if applied[c]
    ]
    rows.append(("invoices fully covered by credit (not charged)", covered))
    refunds = Counter(r["status"] for r in result.get("refunds", []))
    rows += [(f"refunds {status}", n) for status, n in sorted(refunds.items())]
    rows += [(f"refunded {c}", refunded[c]) for c in sorted(refunded)]
    rows += [(f"credit balance held {c}", held[c]) for c in sorted(held) if held[c]]
    return rows
