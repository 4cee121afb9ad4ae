"""`python -m billing_local.bench` (`make bench`): run every measurement, print the tables and write
`.bench/results.json` (docs/PERFORMANCE.md explains every figure)."""

from __future__ import annotations

import argparse
import json
import os
import shutil

# subprocess: git, on a fixed argument list, never through a shell.
import subprocess  # nosec B404
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billing_local.bench import OUT_DIR, ROOT
from billing_local.bench.cold_start import built_layer, directory_bytes, measure_cold_imports
from billing_local.bench.report import goal_status, print_tables, summarise
from billing_local.bench.runs import RunMeasurement, bench_scenario, run_pipeline

DESCRIPTION = "`make bench` (`python -m billing_local.bench`): cost and throughput, measured."


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)

    from rich.console import Console

    console = Console(stderr=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count()},
    }
    run = _pipeline(console, args)
    results |= summarise(run)
    results |= _layer_and_imports(console, args, run)
    results |= _engine(console, args)
    results |= _rendered_documents(console)
    results["goals"] = goal_status(results)
    results["bench_seconds"] = round(time.perf_counter() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print_tables(Console(), results)
    from billing_local.bench.render import print_table

    print_table(Console(), results["rendered_documents"])
    Console().print(f"written to {args.out}")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m billing_local.bench", description=DESCRIPTION)
    parser.add_argument("--agreements", type=int, default=800, help="generated agreements (default 800)")
    parser.add_argument("--days", type=int, default=31, help="days of daily runs (default 31)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="cold-import rounds (default 3)")
    parser.add_argument("--engine-agreements", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=OUT_DIR / "results.json")
    parser.add_argument("--skip-imports", action="store_true", help="skip the cold-import measurement")
    return parser.parse_args(argv)


def _pipeline(console: Any, args: argparse.Namespace) -> RunMeasurement:
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("pipeline on the embedded AWS", total=args.days)
        return run_pipeline(
            bench_scenario(args.agreements, args.days, args.seed),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _layer_and_imports(console: Any, args: argparse.Namespace, run: RunMeasurement) -> dict[str, Any]:
    console.print("shared layer: checking the sam build output")
    layer, state = built_layer()
    results: dict[str, Any] = {
        "layer_unzipped_bytes": directory_bytes(layer) if layer else None,
        "layer": {"path": str(layer) if layer else None, "state": state, "built_by": "make sam-build"},
    }
    if not args.skip_imports:
        console.print(f"cold imports: {args.rounds} rounds of fresh interpreters")
        source = layer / "python" if layer else ROOT / "layers" / "shared"
        imports = measure_cold_imports(run.code_dirs, run.environments, source, rounds=args.rounds)
        results["cold_import_ratio_max"] = imports["max"]
        results["cold_imports"] = imports | {"layer": str(source)}
    return results


def _engine(console: Any, args: argparse.Namespace) -> dict[str, Any]:
    from billing_local.preview import benchmark

    console.print("engine benchmark (billing preview)")
    engine = {mix: benchmark(args.engine_agreements, 365, seed=1, mix=mix) for mix in ("mixed", "monthly")}
    return {"engine_documents_per_second": engine["mixed"]["documents_per_second"], "engine": engine}


def _rendered_documents(console: Any) -> dict[str, Any]:
    from billing_local.bench import render

    console.print("rendered documents: render time, and pages on request on the embedded AWS")
    return {"rendered_documents": render.measure()}


def _git_commit() -> str | None:
    git = shutil.which("git")
    if not git:
        return None
    done = subprocess.run(  # noqa: S603  # nosec B603
        [git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
