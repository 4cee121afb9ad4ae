"""`billing up`: the stack on 127.0.0.1 for real clients, until Ctrl-C (SIGINT) or SIGTERM.

The port is bound first (a busy port fails at once, before any work), then template.yaml is stood
up by `billing_local.stack.local_cloud` (the embedded AWS's one translation and wiring), then the
server answers and the export lines are printed. Stopping closes the listening socket first, then
the pollers, then the cloud.
"""

import errno
import json
import re
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from billing_local.cfn.intrinsics import references

from .errors import CommandError
from .times import format_instant

LOCAL_HOSTS = ("127.0.0.1", "localhost")
#: moto accepts any credentials; these are the ones `billing up` prints (as moto's docs use).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class UpOptions:
    port: int = 4566
    host: str = "127.0.0.1"
    start: datetime | None = None
    chaos_seed: int | None = None
    chaos_until: datetime | None = None
    template: Path = Path("template.yaml")
    as_json: bool = False
    echo_logs: bool = False


def check_address(host: str, port: int) -> None:
    if host not in LOCAL_HOSTS:
        raise CommandError(f"billing up binds 127.0.0.1 only (it has no authentication); refused {host!r}")
    if not 0 <= port <= 65535:
        raise CommandError(f"--port {port}: not a TCP port (0-65535)")


def bind(port: int) -> Any:
    """A werkzeug server on 127.0.0.1:port, listening, with a placeholder app until the stack is up."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            """No access log: a script's terminal stays readable (errors are still logged)."""

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT port is not busy
    try:
        listening.bind(("127.0.0.1", port))
        listening.listen(128)
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            raise CommandError(
                f"127.0.0.1:{port} is busy (another `billing up`?): stop it or pick --port"
            ) from None
        raise CommandError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None
    try:  # werkzeug takes the bound socket (it would exit the process itself on a busy port)
        return make_server(
            "127.0.0.1", port, _starting, threaded=True, request_handler=QuietHandler, fd=listening.fileno()
        )
    finally:
        listening.close()  # werkzeug holds its own duplicate


def _starting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1")])
    return [b'{"error": "billing up is still starting"}']


def serve(options: UpOptions, out: TextIO = sys.stdout) -> int:
    """Run until a stop signal (or ``stop`` event in tests); 0 once everything is closed."""
    started = time.perf_counter()
    check_address(options.host, options.port)
    if not options.template.is_file():
        raise CommandError(
            f"{options.template}: no such file (run from the project's root, or pass --template)"
        )
    stop = threading.Event()
    _on_stop_signals(stop.set)
    server = bind(options.port)
    try:
        return _run(server, options, stop, out, started)
    finally:
        server.server_close()


def _run(server: Any, options: UpOptions, stop: threading.Event, out: TextIO, started: float) -> int:
    from billing_local.stack import local_cloud

    from .app import BillingApp
    from .runtime import StackRuntime

    endpoint = f"http://127.0.0.1:{server.port}"
    start = options.start or datetime.now(UTC).replace(microsecond=0)
    cloud = local_cloud(options.template, start=start, echo_logs=sys.stderr if options.echo_logs else None)
    cloud.__enter__()
    runtime = StackRuntime(cloud, chaos_seed=options.chaos_seed, chaos_until=options.chaos_until)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    try:
        app = BillingApp(runtime, endpoint)
        server.app = app
        runtime.start()
        serving.start()
        _announce(app, options, out, time.perf_counter() - started)
        stop.wait()
    finally:
        if serving.is_alive():
            server.shutdown()
        server.server_close()  # nothing listens any more
        stopped = runtime.stop()
        if stopped and runtime.lock.acquire(timeout=3):  # a request still running keeps the cloud
            try:
                cloud.__exit__(None, None, None)
            finally:
                runtime.lock.release()
    print("billing up: stopped", file=sys.stderr)
    return 0


def _on_stop_signals(stop: Callable[[], None]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # in-process tests stop through the event
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop())


# -- what it prints --------------------------------------------------------------------------
def stack_outputs(app: Any) -> dict[str, str]:
    """The stack's outputs an outside client can use (those of resources that are not emulated,
    such as the KMS key or the dashboard, left out), as the client sees them."""
    cloud = app.runtime.cloud
    skipped = {logical_id for logical_id, _ in cloud.skipped}
    template_outputs = cloud.template.get("Outputs") or {}
    return {
        key: app.public(output["Value"])
        for key, output in cloud.outputs().items()
        if not references(template_outputs[key]["Value"]) & skipped
    }


def environment(app: Any) -> dict[str, str]:
    cloud = app.runtime.cloud
    names = {_env_name(key): value for key, value in stack_outputs(app).items()}
    return {
        "AWS_ENDPOINT_URL": app.endpoint,
        "AWS_DEFAULT_REGION": cloud.region,
        **CREDENTIALS,
        "BILLING_STACK": cloud.stack_name,
        **names,
    }


def _env_name(output_key: str) -> str:
    """AgreementTopicArn -> AGREEMENT_TOPIC_ARN, AgreementDLQUrl -> AGREEMENT_DLQ_URL."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", output_key).upper()


def _announce(app: Any, options: UpOptions, out: TextIO, seconds: float) -> None:
    cloud = app.runtime.cloud
    clock = format_instant(app.runtime.now())
    if options.as_json:
        document = {
            "endpoint": app.endpoint,
            "region": cloud.region,
            "credentials": {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
            "stack_name": cloud.stack_name,
            "clock": clock,
            "chaos": app.runtime.chaos_state(),
            "outputs": stack_outputs(app),
            "startup_seconds": round(seconds, 2),
        }
        print(json.dumps(document), file=out, flush=True)
    else:
        lines = [f"export {name}={shlex.quote(value)}" for name, value in environment(app).items()]
        print("\n".join(lines), file=out, flush=True)
    chaos = f", faults from seed {options.chaos_seed}" if options.chaos_seed is not None else ""
    if options.chaos_until is not None:
        chaos += f" until {format_instant(options.chaos_until)}"
    print(
        f"billing up: stack {cloud.stack_name!r} on {app.endpoint} (region {cloud.region}), test clock at "
        f"{clock}{chaos}; ready in {seconds:.1f} s; Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
