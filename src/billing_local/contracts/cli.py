"""`python -m billing_local.contracts --write | --check`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import REPO, WRITE_COMMAND
from .files import drifted, render, write

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m billing_local.contracts",
        description="Generate the JSON Schemas (schemas/) and the AsyncAPI document (docs/asyncapi.yaml).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the files that differ")
    mode.add_argument("--check", action="store_true", help="exit 1 listing the files that would change")
    parser.add_argument(
        "--dest", type=Path, default=REPO, help="where the files live (default: this repository)"
    )
    args = parser.parse_args(argv)
    files = render()
    if args.write:
        for path in write(files, args.dest):
            print(f"wrote {path}" if path in files else f"removed {path}")
        return 0
    stale = drifted(files, args.dest)
    for path in stale:
        print(f"drifted: {path}", file=sys.stderr)
    if stale:
        print(f"run `{WRITE_COMMAND}` and commit the result", file=sys.stderr)
        return 1
    return 0
