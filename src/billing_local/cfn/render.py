"""Render template.yaml as CloudFormation deploys it: language extensions expanded, SAM translated.

Used by the template rules (billing_local.cfn.rules, run by cfn-lint) and by `make security`,
which runs checkov on the rendered template (checkov reads neither Fn::ForEach nor what SAM
generates: roles, event source mappings, schedules). Write the rendered JSON with:

    python -m billing_local.cfn.render --out .aws-sam/rendered/template.json [--param Stage=prod]
    python -m billing_local.cfn.render --out prod.json --config-env prod   # samconfig.toml's overrides
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import ROOT, TEMPLATE
from .loader import load_yaml
from .parameters import samconfig_overrides
from .sam import to_cloudformation


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written (Fn::ForEach loops, SAM resources)."""
    return load_yaml(path)


def render(path: Path = TEMPLATE, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """template.yaml -> plain CloudFormation (no Fn::ForEach, no AWS::Serverless resources)."""
    return to_cloudformation(load(path), parameters, base=path.parent, source=str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config-env", help="start from this samconfig.toml environment's overrides")
    parser.add_argument("--param", action="append", default=[], help="Name=Value parameter override")
    args = parser.parse_args(argv)
    parameters: dict[str, str] = {}
    if args.config_env:
        parameters.update(samconfig_overrides(ROOT / "samconfig.toml", args.config_env))
    parameters.update(item.split("=", 1) for item in args.param)
    rendered = render(args.template, parameters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rendered, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(rendered.get('Resources', {}))} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
