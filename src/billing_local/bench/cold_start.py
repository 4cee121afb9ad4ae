"""Cold starts and the shared layer for `make bench`: each handler module imported in a fresh
interpreter, alternating with a fresh `import boto3` (the ratio of the medians), and the built
layer's unzipped size (`sam build` output, rebuilt when stale).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics

# subprocess: this interpreter and make, on fixed argument lists, never through a shell.
import subprocess  # nosec B404
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from billing_local.bench import OUT_DIR, ROOT

_IMPORT = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "sys.stdout.write(repr(time.perf_counter() - t))"
)
_DUMMY_AWS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",  # a dummy: importing calls nothing
    "AWS_SESSION_TOKEN": "bench",
}


def built_layer(build: bool = True) -> tuple[Path | None, str]:
    """The built shared layer (`sam build` output) and how it was found.

    A missing build, or one whose `billing` package differs from layers/shared/billing (the code
    changed since), is rebuilt with `make sam-build` (cached, about 10 s).
    """
    layer = ROOT / ".aws-sam" / "build" / "SharedLayer"
    source = ROOT / "layers" / "shared" / "billing"
    state = "built" if layer.is_dir() else "missing"
    if state == "built" and _stale(layer / "python" / "billing", source):
        state = "stale"
    make = shutil.which("make")
    if state != "built" and build and make:
        subprocess.run(  # noqa: S603  # nosec B603
            [make, "-C", str(ROOT), "sam-build"], check=False, capture_output=True, timeout=900
        )
        fresh = layer.is_dir() and not _stale(layer / "python" / "billing", source)
        state = "rebuilt" if fresh else f"{state}, sam build failed"
    return (layer if state in ("built", "rebuilt") else None), state


def _stale(built: Path, source: Path) -> bool:
    def sources(root: Path) -> dict[str, bytes]:
        return {
            str(f.relative_to(root)): f.read_bytes()
            for f in root.rglob("*.py")
            if "__pycache__" not in f.parts
        }

    return not built.is_dir() or sources(built) != sources(source)


def directory_bytes(path: Path) -> int:
    """Bytes of every file under `path` (what the layer zip holds, unzipped), caches excluded."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def ratio_of_medians(samples: Iterable[float], baseline: Iterable[float]) -> float:
    """median(samples) / median(baseline): noisy machines shift both alike, the ratio holds."""
    base = statistics.median(list(baseline))
    if base <= 0:
        raise ValueError("baseline median must be positive")
    return statistics.median(list(samples)) / base


def measure_cold_imports(
    code_dirs: Mapping[str, str],
    environments: Mapping[str, Mapping[str, str]],
    layer_python: Path,
    rounds: int = 3,
    seed: int = 1,
) -> dict[str, Any]:
    """Median fresh-interpreter import time of every handler module over the median of a fresh
    `import boto3`, measured alternately (boto3, handler, boto3, handler, ...).

    As on Lambda, the layer and function code carry no bytecode cache (their folders are
    read-only there, so every cold start compiles them): both are copied without `__pycache__`
    and imported with PYTHONDONTWRITEBYTECODE. boto3 and Powertools come from the environment
    with their bytecode, as the runtime's boto3 and the managed Powertools layer do.
    """
    work = OUT_DIR / "imports"
    shutil.rmtree(work, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    layer = work / "layer" / "python"
    shutil.copytree(layer_python, layer, ignore=ignore)
    folders: dict[str, Path] = {}
    for lid, code_dir in sorted(code_dirs.items()):
        folders[lid] = work / "functions" / Path(code_dir).name
        shutil.copytree(code_dir, folders[lid], ignore=ignore)
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")}
    base |= _DUMMY_AWS | {"PYTHONPATH": str(layer)}

    def lambda_env(lid: str) -> dict[str, str]:
        env = {k: v for k, v in environments.get(lid, {}).items() if k != "POWERTOOLS_TRACE_DISABLED"}
        return base | env | {"LAMBDA_TASK_ROOT": str(folders[lid]), "PYTHONDONTWRITEBYTECODE": "1"}

    # Warm-up, not measured: lets the environment's own packages write their bytecode once.
    timed_import("boto3", work, base)
    for lid, folder in folders.items():
        timed_import("app", folder, lambda_env(lid) | {"PYTHONDONTWRITEBYTECODE": ""})
    shutil.rmtree(layer)
    shutil.copytree(layer_python, layer, ignore=ignore)

    rng = random.Random(seed)
    baseline: list[float] = []
    samples: dict[str, list[float]] = {lid: [] for lid in folders}
    for _ in range(rounds):
        order = list(folders)
        rng.shuffle(order)
        for lid in order:
            baseline.append(timed_import("boto3", work, base | {"PYTHONDONTWRITEBYTECODE": "1"}))
            samples[lid].append(timed_import("app", folders[lid], lambda_env(lid)))
    ratios = {lid: round(ratio_of_medians(s, baseline), 3) for lid, s in samples.items()}
    return {
        "rounds": rounds,
        "boto3_median_s": round(statistics.median(baseline), 3),
        "median_s": {lid: round(statistics.median(s), 3) for lid, s in samples.items()},
        "ratio": ratios,
        "worst": max(ratios, key=lambda lid: ratios[lid]),
        "max": max(ratios.values()),
    }


def timed_import(module: str, cwd: Path, env: dict[str, str]) -> float:
    """Seconds a fresh interpreter takes to import `module` (from `cwd`, with exactly `env`)."""
    done = subprocess.run(  # noqa: S603  # nosec B603
        [sys.executable, "-c", _IMPORT.format(module=module)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} in {cwd} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return float(done.stdout.strip())
