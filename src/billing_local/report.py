"""What `make run` shows: a progress bar over simulated days, then a summary table."""

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from billing_local.preview import Scenario
from billing_local.simulate import DayReport, Simulation


def run_with_progress(scenario: Scenario, *, template: Path, chaos_seed: int | None) -> int:
    console = Console()
    simulation = Simulation(scenario, template=template, chaos_seed=chaos_seed)
    days = len(simulation.timeline())
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[day]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("days", total=days, day="")

        def on_day(report: DayReport) -> None:
            progress.update(task, advance=1, day=report.day.isoformat())

        simulation.on_day = on_day
        result = simulation.run()
    console.print(summary_table(scenario, result, time.monotonic() - started))
    dlq_messages = sum(q["visible"] + q["in_flight"] for name, q in result["queues"].items() if "DLQ" in name)
    return 0 if dlq_messages == 0 else 1


def summary_table(scenario: Scenario, result: dict[str, Any], seconds: float) -> Table:
    documents = result["documents"]
    kinds = Counter(d["kind"] for d in documents)
    amounts: dict[str, int] = defaultdict(int)
    for d in documents:
        amounts[d["currency"]] += d["total_minor"]
    payments = Counter(p["status"] for p in result["payments"])
    retried = sum(1 for p in result["payments"] if p["attempts"] > 1)
    table = Table(title=f"Simulation summary ({seconds:.1f} s)", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    agreements = {
        event["data"].get("agreement_id") for _, event in scenario.deliveries if isinstance(event, dict)
    }
    table.add_row("agreements", str(len(agreements)))
    table.add_row("invoices", str(kinds.get("invoice", 0)))
    table.add_row("credit notes", str(kinds.get("credit_note", 0)))
    for currency in sorted(amounts):
        table.add_row(f"net invoiced {currency} (minor units)", str(amounts[currency]))
    for status in sorted(payments):
        table.add_row(f"payments {status}", str(payments[status]))
    table.add_row("payments retried", str(retried))
    for name, depth in sorted(result["queues"].items()):
        table.add_row(f"left in {name}", str(depth["visible"] + depth["in_flight"]))
    return table
