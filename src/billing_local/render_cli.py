"""`billing render`: document pages, locally from a scenario or from a deployed stack.

    billing render --scenario tests/fixtures/scenarios/worked_example.json --out .pages
    billing render --stack recurring-billing-dev --agreement agr-1001 doc_… --out invoice.html

The first renders every document the scenario issues (the pure engine, as `billing preview`, and
the layer's renderer) into DIR/<number>.html and prints what it wrote; the second invokes the
stack's DocumentPageFunction for one stored document and writes the page (or prints it). Mistakes
print one line on stderr and exit 2, like every `billing` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

EXAMPLE = "billing render --scenario tests/fixtures/scenarios/worked_example.json --out .pages"


class _Mistake(Exception):
    """A mistake in what the user asked for (one line, exit 2)."""


def register(sub: Any) -> None:
    help_ = (
        "Render document pages (HTML): every document of a scenario, locally, or one stored document "
        "of a deployed stack (invokes its DocumentPageFunction)."
    )
    p: argparse.ArgumentParser = sub.add_parser(
        "render",
        help=help_,
        description=help_,
        epilog=f"examples:\n  {EXAMPLE}\n"
        "  billing render --stack recurring-billing-dev --agreement agr-1001 DOC_ID --out page.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", type=Path, help="scenario JSON (CONTRACT §5): render its documents")
    source.add_argument("--stack", help="a deployed stack: render one stored document")
    p.add_argument("document_id", nargs="?", help="with --stack: the document's id")
    p.add_argument("--agreement", help="with --stack: the document's agreement id")
    p.add_argument("--customer", help="with --stack: answer only if the agreement is this customer's")
    p.add_argument("--region", default=None)
    p.add_argument("--out", type=Path, help="a directory (--scenario) or a file (--stack; default stdout)")
    p.add_argument("--issuer-name", help="issuer printed on local pages (default: the template's default)")
    p.add_argument("--issuer-address", help='its address, lines separated by "|"')
    p.add_argument("--issuer-tax-id", help="its tax id")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.scenario is not None:
            return _local(args)
        return _deployed(args)
    except _Mistake as error:
        print(f"billing: error: {error}", file=sys.stderr)
        return 2


def _local(args: argparse.Namespace) -> int:
    from billing import config
    from billing_local.pages import scenario_pages, write_pages
    from billing_local.preview import ScenarioError, load_scenario

    if args.out is None:
        raise _Mistake("--scenario needs --out DIR (one page per document is written there)")
    if args.out.exists() and not args.out.is_dir():
        raise _Mistake(f"{args.out}: not a directory")
    if not args.scenario.is_file():
        raise _Mistake(f"{args.scenario}: no such file")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        raise _Mistake(str(error)) from None
    default = config.issuer()
    issuer = config.issuer_from(
        args.issuer_name or default.name,
        args.issuer_address or "|".join(default.address),
        args.issuer_tax_id or default.tax_id,
    )
    pages = scenario_pages(scenario, issuer)
    paths = write_pages(pages, args.out)
    listing = [
        {"number": p.document.get("number"), "kind": p.document["kind"], "path": str(path)}
        for p, path in zip(pages, paths, strict=True)
    ]
    print(json.dumps({"pages": listing}, indent=2))
    return 0


def _deployed(args: argparse.Namespace) -> int:
    if not args.document_id or not args.agreement:
        raise _Mistake("--stack needs the document id and --agreement AGREEMENT_ID")
    request = {"agreement_id": args.agreement, "document_id": args.document_id}
    if args.customer:
        request["customer_id"] = args.customer
    answer = _invoke(args.stack, args.region, request)
    if "error" in answer:
        raise _Mistake(f"{answer['error']}: {answer.get('message', '')}")
    html = str(answer["html"])
    if args.out is None:
        sys.stdout.write(html)
    else:
        args.out.write_bytes(html.encode("utf-8"))
        summary = {k: answer.get(k) for k in ("number", "kind", "sha256", "bytes")}
        print(json.dumps(summary | {"path": str(args.out)}, indent=2))
    return 0


def _invoke(stack: str, region: str | None, request: dict[str, str]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # Wait for the function's whole timeout (10 s) and never send the request twice.
    waiting = Config(read_timeout=20, connect_timeout=10, retries={"total_max_attempts": 1})
    try:
        cfn = boto3.client("cloudformation", region_name=region)
        resource = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="DocumentPageFunction")
        name = resource["StackResourceDetail"]["PhysicalResourceId"]
        lambda_ = boto3.client("lambda", region_name=region, config=waiting)
        response = lambda_.invoke(FunctionName=name, Payload=json.dumps(request).encode())
    except (BotoCoreError, ClientError) as error:
        raise _Mistake(f"cannot reach stack {stack!r}: {error}") from None
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(answer, dict):
        raise _Mistake(f"DocumentPageFunction failed: {json.dumps(answer)[:300]}")
    return answer
