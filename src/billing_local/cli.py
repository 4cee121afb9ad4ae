"""`billing`: preview, simulate and invoke locally; redrive, replay and query a deployed stack or the
local one (`billing up`, with its test clock: `billing clock`).

Errors a user can make (a missing file, a malformed scenario, an unknown
function, a request the function refuses) print one line on stderr and exit 2;
a function that fails prints one line and exits 1; never a traceback.
"""

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from billing_local import render_cli

EXAMPLES = """examples:
  billing preview tests/fixtures/scenarios/worked_example.json
  billing simulate --agreements 300 --days 40
  billing simulate --scenario tests/fixtures/scenarios/worked_example.json --chaos 7
  billing invoke agreement_projector --event events/agreement_projector/sqs-agreement-created.json
  billing redrive --stack recurring-billing-dev --queue payment --max 100 --dry-run
  billing events query --stack recurring-billing-dev --from 2026-03-01 --type billing.invoice.issued
  billing replay --stack recurring-billing-dev --from 2026-03-01 --to 2026-03-31 --target accounting
  billing doctor --stack recurring-billing-dev
  billing up --start 2026-01-30T00:00:00Z
  billing clock advance 1d
  billing events query --endpoint-url http://127.0.0.1:4566 --from 2026-01-31
"""


class UserError(Exception):
    """A mistake in what the user asked for: reported in one line, exit code 2."""


class FunctionFailed(Exception):
    """The invoked function ran and failed (Lambda's FunctionError): reported in one line, exit code 1."""


def _one_line(text: object, limit: int = 1000) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    # Powertools warns when an invocation emitted no metric (a dry run, a duplicate): expected.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"billing: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except FunctionFailed as error:
        print(f"billing: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


class _Parser(argparse.ArgumentParser):
    """A usage error is one line and exit 2, like every other user error (its subcommands' too:
    argparse builds them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="billing",
        description="Recurring billing: preview the engine, simulate the pipeline on an embedded AWS, "
        "invoke a handler, and operate a deployed stack (redrive, replay, query events).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _preview_parser(sub)
    _simulate_parser(sub)
    _invoke_parser(sub)
    _redrive_parser(sub)
    _replay_parser(sub)
    _events_parser(sub)
    _doctor_parser(sub)
    render_cli.register(sub)
    _local_stack_parsers(sub)
    return parser


def _subparser(sub: Any, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


# -- preview ---------------------------------------------------------------------


def _preview_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "preview",
        "Print the documents a scenario's runs issue, from the pure billing engine (no AWS).",
        "billing preview tests/fixtures/scenarios/worked_example.json",
    )
    p.add_argument("scenario", type=Path, help="scenario JSON (CONTRACT §5)")
    p.set_defaults(func=cmd_preview)


def cmd_preview(args: argparse.Namespace) -> int:
    from billing_local.preview import ScenarioError, load_scenario, preview

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        raise UserError(str(error)) from None
    print(json.dumps(preview(scenario), indent=2))
    return 0


# -- simulate --------------------------------------------------------------------


def _simulate_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "simulate",
        "Run a scenario, or a generated workload, through the whole pipeline on the embedded AWS "
        "(template.yaml's real wiring on moto, in-process).",
        "billing simulate --agreements 300 --days 40",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--scenario", type=Path, help="scenario JSON (CONTRACT §5); prints JSON documents")
    source.add_argument("--agreements", type=int, default=None, help="generate N agreements (default 300)")
    p.add_argument("--days", type=int, default=40, help="days of daily runs for a generated workload")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated workload")
    p.add_argument("--chaos", type=int, metavar="SEED", help="inject faults drawn from this seed")
    p.add_argument("--template", type=Path, default=Path("template.yaml"))
    p.add_argument("--json", action="store_true", help="print the JSON result (default for --scenario)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from billing_local.preview import ScenarioError, load_scenario, parse_scenario
    from billing_local.sim.simulate import Simulation
    from billing_local.sim.workload import generate

    _require_file(args.template)
    try:
        if args.scenario is not None:
            scenario = load_scenario(args.scenario)
        else:
            agreements = 300 if args.agreements is None else args.agreements
            if agreements < 1 or args.days < 1:
                raise UserError("--agreements and --days must be at least 1")
            scenario = parse_scenario(generate(agreements, args.days, seed=args.seed))
    except ScenarioError as error:
        raise UserError(str(error)) from None
    if args.scenario is not None or args.json:
        result = Simulation(scenario, template=args.template, chaos_seed=args.chaos).run()
        print(json.dumps(result, indent=2))
        return 0 if result.get("invariants", {}).get("all_hold", True) else 1
    from billing_local.sim.report import run_with_progress

    return run_with_progress(scenario, template=args.template, chaos_seed=args.chaos)


# -- invoke ----------------------------------------------------------------------


def _invoke_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "invoke",
        "Run one handler with a sample event on the embedded AWS: the Docker-free `sam local invoke`.",
        "billing invoke agreement_projector --event events/agreement_projector/sqs-agreement-created.json",
    )
    p.add_argument(
        "function", help="logical id (AgreementProjectorFunction) or folder name (agreement_projector)"
    )
    p.add_argument("--event", "-e", type=Path, required=True, help="event JSON file")
    p.add_argument("--template", type=Path, default=Path("template.yaml"))
    _endpoint_arg(p, "invoke the function of `billing up` there instead")
    p.add_argument("--stack", help="with --endpoint-url: the stack (default: the local stack)")
    p.add_argument("--region", default=None)
    p.set_defaults(func=cmd_invoke)


def cmd_invoke(args: argparse.Namespace) -> int:
    from billing_local.stack import local_cloud

    event = _read_json(args.event)
    if args.endpoint_url:
        return _invoke_deployed(args, _logical_id(args.function), event)
    _require_file(args.template)
    with local_cloud(args.template) as cloud:
        try:
            function = cloud.resolve_function(args.function)
        except KeyError:
            names = ", ".join(cloud.function_names())
            raise UserError(f"unknown function {args.function!r}; one of: {names}") from None
        try:
            result = cloud.invoke(function, event)
        except Exception as error:  # the handler raised: Lambda answers FunctionError, so do we
            raise FunctionFailed(f"{function} failed: {type(error).__name__}: {error}") from None
    print(json.dumps(_answer(result), indent=2, default=str))
    return 0


def _answer(body: Any) -> Any:
    """A function's answer; the operator functions' refusal (`{"error": {"code", "reason"}}`) is the
    user's mistake: one line, exit 2 (the function did nothing)."""
    error = body.get("error") if isinstance(body, dict) and len(body) == 1 else None
    if isinstance(error, dict) and "code" in error and "reason" in error:
        raise UserError(f"request refused ({error['code']}): {error['reason']}")
    return body


# -- operations on a deployed stack ----------------------------------------------


def _stack_args(p: argparse.ArgumentParser, local: bool = True) -> None:
    help_ = "the deployed stack (samconfig: recurring-billing-<stage>)"
    if not local:
        p.add_argument("--stack", required=True, help=help_)
    else:
        p.add_argument("--stack", help=help_ + "; with --endpoint-url, default: the local stack")
        _endpoint_arg(p, "the stack of `billing up` there (e.g. http://127.0.0.1:4566)")
    p.add_argument("--region", default=None)


def _endpoint_arg(p: argparse.ArgumentParser, help_: str) -> None:
    p.add_argument("--endpoint-url", help=help_)


def _logical_id(function: str) -> str:
    """agreement_projector -> AgreementProjectorFunction; a logical id stays as it is."""
    if "_" in function or function.islower():
        function = "".join(part.capitalize() for part in function.split("_"))
    return function if function.endswith("Function") else function + "Function"


def _redrive_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "redrive",
        "Move messages from a DLQ back to its source queue (invokes the stack's DlqRedriveFunction).",
        "billing redrive --stack recurring-billing-dev --queue payment --max 100 --dry-run",
    )
    _stack_args(p)
    p.add_argument(
        "--queue", required=True, help="the DLQ to redrive: agreement, invoice-job, payment or accounting"
    )
    p.add_argument("--type", action="append", dest="types", help="only this event type (repeatable)")
    p.add_argument("--min-age", type=int, default=0, help="only messages at least this many seconds old")
    p.add_argument("--max", type=int, dest="max_messages", help="move at most N messages")
    p.add_argument("--dry-run", action="store_true", help="count what would move, move nothing")
    p.add_argument(
        "--include-rejected",
        action="store_true",
        help="also move bad input parked with a rejection reason (after a fix that accepts it)",
    )
    p.set_defaults(func=cmd_redrive)


def cmd_redrive(args: argparse.Namespace) -> int:
    from billing.service import redrive

    payload = _present(
        queue=args.queue,
        types=args.types or [],
        min_age_seconds=args.min_age,
        max_messages=args.max_messages,
        dry_run=args.dry_run,
        include_rejected=args.include_rejected,
    )
    _checked(redrive.parse_request, payload, redrive.QUEUES)
    return _invoke_deployed(args, "DlqRedriveFunction", payload)


def _present(**fields: Any) -> dict[str, Any]:
    """A request with only the fields given (`null` is never a value: the functions refuse it)."""
    return {name: value for name, value in fields.items() if value is not None}


def _checked(parse: Any, payload: dict[str, Any], names: tuple[str, ...]) -> None:
    """Refuse a bad request before calling the stack, by the function's own validator (one line, exit 2)."""
    from billing.service.requests import InvalidRequest

    try:
        parse(payload, names)
    except InvalidRequest as error:
        raise UserError(f"request refused ({error.code}): {error.reason}") from None


def _query_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", required=True, help="first day (YYYY-MM-DD, UTC)")
    p.add_argument("--to", dest="last", help="last day (default: --from; at most 31 days in all)")
    p.add_argument("--type", action="append", dest="types", help="only this event type (repeatable)")
    p.add_argument("--agreement", help="only this agreement's events")
    p.add_argument("--limit", type=int, help="at most N events (1 to 10000)")


def _query_payload(args: argparse.Namespace, action: str) -> dict[str, Any]:
    return _present(
        action=action,
        **{"from": args.first, "to": args.last or args.first},
        types=args.types or [],
        agreement_id=args.agreement,
        limit=args.limit,
    )


def _replay_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "replay",
        "Re-send stored billing events to the whole topic or to one subscriber's queue.",
        "billing replay --stack recurring-billing-dev --from 2026-03-01 --to 2026-03-31 --target accounting",
    )
    _stack_args(p)
    _query_args(p)
    p.add_argument("--target", default="topic", help="topic (every subscriber), payment or accounting")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from billing.service import replay

    payload = _query_payload(args, "replay") | {"target": args.target, "dry_run": args.dry_run}
    _checked(replay.parse_request, payload, replay.TARGET_QUEUES)
    return _invoke_deployed(args, "EventReplayFunction", payload)


def _events_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "events",
        "Query the event store of billing events (invokes the stack's EventReplayFunction).",
        "billing events query --stack recurring-billing-dev --from 2026-03-01 --type billing.invoice.issued",
    )
    events_sub = p.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    q = _subparser(
        events_sub,
        "query",
        "List billing events by time range, type and agreement.",
        "billing events query --stack recurring-billing-dev --from 2026-03-01 --agreement agr-1001",
    )
    _stack_args(q)
    _query_args(q)
    q.set_defaults(func=cmd_events_query)


def cmd_events_query(args: argparse.Namespace) -> int:
    from billing.service import replay

    payload = _query_payload(args, "query")
    _checked(replay.parse_request, payload, replay.TARGET_QUEUES)
    return _invoke_deployed(args, "EventReplayFunction", payload)


def _invoke_deployed(args: argparse.Namespace, logical_id: str, payload: dict[str, Any]) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from billing_local.server.client import operator_target
    from billing_local.server.errors import CommandError

    try:  # a deployed stack, or the stack of `billing up` at --endpoint-url: the same calls
        target = operator_target(args.stack, args.region, args.endpoint_url)
    except CommandError as error:
        raise UserError(str(error)) from None
    stack, region, options = target.stack, target.region, target.client_options
    try:
        cfn = boto3.client("cloudformation", region_name=region, **options)
        resource = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        name = resource["StackResourceDetail"]["PhysicalResourceId"]
        lambda_ = boto3.client("lambda", region_name=region, **options)
        timeout = lambda_.get_function_configuration(FunctionName=name)["Timeout"]
        waiting = boto3.client(
            "lambda", region_name=region, config=operator_invoke_config(timeout), **options
        )
        response = waiting.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    except (BotoCoreError, ClientError) as error:
        raise UserError(f"cannot reach stack {stack!r}: {error}") from None
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        failure = body if isinstance(body, dict) else {}
        kind, message = failure.get("errorType", "Error"), failure.get("errorMessage", body)
        raise FunctionFailed(f"{logical_id} failed: {kind}: {message}")
    print(json.dumps(_answer(body), indent=2))
    return 0


def operator_invoke_config(function_timeout_s: int) -> Any:
    """A client that waits for the whole run and never sends the request twice.

    botocore's defaults (60 s read timeout, retries) would re-invoke a redrive still running after a
    minute: up to five runs, each moving up to `--max` messages. A synchronous invoke returns when
    the function ends, so reading for its timeout plus a margin is always enough.
    """
    from botocore.config import Config

    return Config(
        read_timeout=function_timeout_s + INVOKE_READ_MARGIN_S,
        connect_timeout=10,
        retries={"total_max_attempts": 1},
    )


INVOKE_READ_MARGIN_S = 10


def _doctor_parser(sub: Any) -> None:
    p = _subparser(
        sub,
        "doctor",
        "Before a deploy: check with read-only AWS calls what the stack needs and print what to fix.",
        "billing doctor --stack recurring-billing-dev --region eu-west-1",
    )
    _stack_args(p, local=False)
    p.add_argument("--root", type=Path, default=Path("."), help="the project (template.yaml, samconfig.toml)")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from billing_local import doctor

    _require_file(args.root / "samconfig.toml")
    try:
        target = doctor.target_from_samconfig(args.root, args.stack, args.region)
    except ValueError as error:
        raise UserError(str(error)) from None
    try:
        findings = doctor.run(target, lambda service: boto3.client(service, region_name=target.region))
    except (BotoCoreError, ClientError) as error:
        raise UserError(f"cannot check {target.region}: {error}") from None
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1


# -- the local stack (billing_local.server) --------------------------------------


def _local_stack_parsers(sub: Any) -> None:
    from billing_local.server.commands import register

    register(sub, _subparser, on_error=UserError)


# -- helpers ---------------------------------------------------------------------


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise UserError(f"{path}: no such file (run from the project's root, or pass --template)")


def _read_json(path: Path) -> Any:
    _require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    except RecursionError:
        raise UserError(f"{path}: not JSON this parser can read (nested too deeply)") from None
    except ValueError:  # Python's integer limit: a number with thousands of digits
        limit = sys.get_int_max_str_digits()
        raise UserError(
            f"{path}: not JSON this parser can read (a number of more than {limit} digits)"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
