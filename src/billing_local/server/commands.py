"""`billing up` and `billing clock` (CONTRACT §6): their arguments and what they do.

Imported when the CLI builds its parser, so nothing heavy at module level.
"""

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import DEFAULT_ENDPOINT
from .errors import CommandError

Subparser = Callable[[Any, str, str, str], argparse.ArgumentParser]
Command = Callable[[argparse.Namespace], int]


def register(sub: Any, subparser: Subparser, on_error: Callable[[str], Exception]) -> None:
    """Add `up` and `clock` to the CLI; a CommandError becomes ``on_error(message)``, raised."""

    def command(function: Command) -> Command:
        def run(args: argparse.Namespace) -> int:
            try:
                return function(args)
            except CommandError as error:
                raise on_error(str(error)) from None

        return run

    up = subparser(
        sub,
        "up",
        "Run the whole stack locally as a server for real clients (AWS CLI, SDKs), with a test clock; "
        "prints export lines (endpoint, region, credentials, outputs) and serves until Ctrl-C.",
        "billing up --port 4566 --start 2026-01-30T00:00:00Z",
    )
    up.add_argument(
        "--port", type=int, default=4566, help="TCP port on 127.0.0.1 (default 4566; 0: any free)"
    )
    up.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 (or localhost) is accepted")
    up.add_argument(
        "--start", metavar="INSTANT", help="the test clock's first instant (RFC 3339 UTC; default now)"
    )
    up.add_argument(
        "--chaos", type=int, metavar="SEED", help="inject simulate --chaos's faults, from this seed"
    )
    up.add_argument(
        "--chaos-until",
        metavar="INSTANT",
        help="the test-clock instant the faults stop, as a deployed fix would (default: never)",
    )
    up.add_argument("--template", type=Path, default=Path("template.yaml"))
    up.add_argument("--json", action="store_true", help="print one JSON object instead of export lines")
    up.add_argument("--logs", action="store_true", help="echo the handlers' logs to stderr")
    up.set_defaults(func=command(cmd_up))

    clock = subparser(
        sub,
        "clock",
        "Read or move the test clock of `billing up` (moving it fires due schedules, settles the queues).",
        "billing clock advance 1d",
    )
    actions = clock.add_subparsers(dest="clock_command", required=True, metavar="ACTION")
    now = subparser(
        actions, "now", "Print the test clock's instant, once the queues are quiet.", "billing clock now"
    )
    advance = subparser(
        actions,
        "advance",
        "Move the test clock forward (never back), firing every schedule that falls due, in order, "
        "and running the queues to quiescence after each; prints what fired and any dead letters.",
        "billing clock advance --to 2026-03-01T00:05:00Z",
    )
    target = advance.add_mutually_exclusive_group(required=True)
    target.add_argument("duration", nargs="?", help="how far: 1d, 6h, 30m, 45s or a sum (1d6h)")
    target.add_argument("--to", metavar="INSTANT", help="up to this RFC 3339 UTC instant")
    for parser in (now, advance):
        parser.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT, help=f"default {DEFAULT_ENDPOINT}")
    now.set_defaults(func=command(cmd_clock_now))
    advance.set_defaults(func=command(cmd_clock_advance))


def cmd_up(args: argparse.Namespace) -> int:
    from .times import parse_instant
    from .up import UpOptions, serve

    try:
        start = parse_instant(args.start) if args.start else None
        chaos_until = parse_instant(args.chaos_until) if args.chaos_until else None
    except ValueError as error:
        raise CommandError(f"--start/--chaos-until: {error}") from None
    if chaos_until is not None and args.chaos is None:
        raise CommandError("--chaos-until needs --chaos SEED")
    options = UpOptions(
        port=args.port,
        host=args.host,
        start=start,
        chaos_seed=args.chaos,
        chaos_until=chaos_until,
        template=args.template,
        as_json=args.json,
        echo_logs=args.logs,
    )
    return serve(options)


def cmd_clock_now(args: argparse.Namespace) -> int:
    from .client import clock_now

    print(clock_now(args.endpoint_url))
    return 0


def cmd_clock_advance(args: argparse.Namespace) -> int:
    from .client import clock_advance
    from .times import format_instant, parse_duration, parse_instant

    try:
        if args.to is not None:
            report = clock_advance(args.endpoint_url, to=format_instant(parse_instant(args.to)))
        else:
            report = clock_advance(
                args.endpoint_url, seconds=int(parse_duration(args.duration).total_seconds())
            )
    except ValueError as error:
        raise CommandError(str(error)) from None
    print(json.dumps(report, indent=2))
    return 0
