"""The simulation report a person would rather look at than read: one self-contained HTML page.

Charts are inline SVG drawn here (no JavaScript, no network, nothing to install):
documents issued, payment outcomes and Lambda invocations per simulated day, and
what was left in the DLQs; then the summary and the queues at the end.
"""

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from billing_local.sim.simulate import DayReport

PALETTE = ["#2f6fde", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#6c757d", "#c0392b", "#27ae60", "#34495e"]
NAMED = {"invoice": "#2f6fde", "credit note": "#f3a712", "succeeded": "#27ae60", "failed": "#c0392b"}
WIDTH, HEIGHT, PAD = 900, 260, 40


def _colours(names: list[str]) -> list[str]:
    spare = iter(c for c in PALETTE if c not in NAMED.values())
    return [NAMED.get(name) or next(spare, "#999") for name in names]


def stacked_bars(title: str, days: Sequence[date], series: dict[str, list[int]]) -> str:
    """One bar per day, one colour per series (stacked); a legend; the y axis to the tallest bar."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = max([1, *totals])
    step = (WIDTH - 2 * PAD) / max(1, len(days))
    bar = max(1.0, step * 0.8)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT + 40}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{PAD}" y="16" class="title">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" class="axis"/>',
        f'<text x="4" y="{PAD}" class="tick">{top}</text><text x="4" y="{HEIGHT}" class="tick">0</text>',
    ]
    scale = (HEIGHT - PAD) / top
    for i, day in enumerate(days):
        x, y = PAD + i * step, float(HEIGHT)
        for colour, (name, values) in zip(_colours(list(series)), series.items(), strict=False):
            h = values[i] * scale
            if h:
                y -= h
                label = f"{day.isoformat()} {name}: {values[i]}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{html.escape(label)}</title></rect>"
                )
        if i % max(1, len(days) // 10) == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT + 14}" class="tick">{day.strftime("%m-%d")}</text>')
    for j, (colour, name) in enumerate(zip(_colours(list(series)), series, strict=False)):
        parts.append(
            f'<rect x="{PAD + j * 140}" y="{HEIGHT + 24}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{PAD + j * 140 + 14}" y="{HEIGHT + 33}" class="tick">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _per_day(days: Sequence[date], dated: list[tuple[str, str]]) -> dict[str, list[int]]:
    """(day, series name) pairs → counts per series per day."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for day, name in dated:
        counts[name][day] += 1
    return {name: [c[d.isoformat()] for d in days] for name, c in sorted(counts.items())}


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def render(result: dict[str, Any], days: Sequence[DayReport], summary: list[tuple[str, Any]]) -> str:
    dates = [d.day for d in days]
    documents = _per_day(dates, [(d["issue_date"], d["kind"].replace("_", " ")) for d in result["documents"]])
    outcomes = _per_day(
        dates, [(p["settled_on"], p["status"]) for p in result["payments"] if p.get("settled_on")]
    )
    functions = sorted({name for d in days for name in d.invocations})
    invocations = {name: [d.invocations.get(name, 0) for d in days] for name in functions}
    dlq = {"messages in DLQs (end of day)": [d.dlq_messages for d in days]}
    queues = [(name, q["visible"] + q["in_flight"]) for name, q in sorted(result["queues"].items())]
    charts = [
        stacked_bars("Documents issued per day", dates, documents),
        stacked_bars("Payments settled per day (final outcome)", dates, outcomes),
        stacked_bars("Lambda invocations per day", dates, invocations),
        stacked_bars("Dead-letter queues", dates, dlq),
    ]
    chaos = result.get("chaos")
    extra = ""
    if chaos:
        extra = (
            "<h2>Chaos</h2>"
            + _table(sorted(chaos["faults"].items()))
            + _table(sorted(chaos["recovery"].items()))
        )
    if "invariants" in result:
        flags = [(k, v) for k, v in result["invariants"].items() if isinstance(v, bool | int)]
        extra += "<h2>Invariants</h2>" + _table(flags)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billing simulation</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }}
svg {{ width: 100%; margin: 1rem 0 2rem; }} .title {{ font-weight: 600; font-size: 14px; }}
.tick {{ font-size: 10px; fill: #555; }} .axis {{ stroke: #999; }}
table {{ border-collapse: collapse; margin: 0 1rem 1rem 0; display: inline-table; vertical-align: top; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 2px 10px; text-align: left; }} td {{ text-align: right; }}
</style></head><body>
<h1>Billing simulation</h1>
<p>{len(dates)} simulated days, {dates[0] if dates else ""} to {dates[-1] if dates else ""}.
The pipeline ran on the embedded AWS built from <code>template.yaml</code>;
figures are read back from its stores.</p>
{_table(summary)}{_table(queues)}
{"".join(charts)}
{extra}
</body></html>
"""


def write(
    path: Path, result: dict[str, Any], days: Sequence[DayReport], summary: list[tuple[str, Any]]
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result, days, summary), encoding="utf-8")
    return path
