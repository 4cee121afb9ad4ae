"""Render template.yaml as CloudFormation deploys it: language extensions expanded, SAM translated.

Used by the template rules (tests/template) and by `make security`, which runs checkov on the
rendered template (checkov reads neither Fn::ForEach nor what SAM generates: roles, event source
mappings, schedules). Run as a script to write the rendered JSON:

    python tests/template/template_render.py --out .aws-sam/rendered/template.json [--param Stage=prod]

aws-sam-translator works offline but only with ``s3://`` code locations, so local ``CodeUri`` /
``ContentUri`` folders are rewritten to ``s3://local-code/<folder>`` first.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CODE_BUCKET = "local-code"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """Parse the YAML template with CloudFormation short-form tags (!Ref, !Sub, ...)."""
    from samtranslator.yaml_helper import yaml_parse

    document = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a template")
    return document


def rewrite_code_uris(template: Mapping[str, Any]) -> dict[str, Any]:
    """Local CodeUri/ContentUri folders -> s3:// locations the translator accepts offline."""
    result = copy.deepcopy(dict(template))
    for resource in (result.get("Resources") or {}).values():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            uri = properties.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                properties[key] = f"s3://{CODE_BUCKET}/{uri.strip('/')}"
    return result


class _NoManagedPolicies:
    """The template names no AWS managed policies by name, so there is nothing to look up."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """SAM transform, offline (needs a region: AWS_DEFAULT_REGION defaults to us-east-1 here)."""
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result: dict[str, Any] = transform(
        rewrite_code_uris(template), dict(parameters or {}), _NoManagedPolicies()
    )
    return result


def render(path: Path = TEMPLATE, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """template.yaml -> plain CloudFormation (no Fn::ForEach, no AWS::Serverless resources)."""
    from billing_local.cfn.language_extensions import expand

    return translate(expand(load(path), parameters), parameters)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--param", action="append", default=[], help="Name=Value parameter override")
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.param)
    rendered = render(args.template, parameters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rendered, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(rendered.get('Resources', {}))} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
