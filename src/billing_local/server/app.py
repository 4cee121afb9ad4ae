"""The server's WSGI application: moto's, with the stack's own answers in front of it.

- `/_billing/stack`, `/_billing/clock`: the test clock and what the `billing` CLI needs to find the
  stack (private routes, no AWS API has them);
- Lambda's API for the stack's functions (run in-process, see `lambda_api`), CloudFormation's read
  API for the stack (`cloudformation_api`);
- everything else is moto's server (SNS, SQS, DynamoDB, S3, SSM, ...) on the very backends the
  emulator stood the template up on. `/moto-api/` (moto's reset and state routes) is closed: a reset
  would delete the stack from under its handlers.

Every request runs under the runtime's lock and wakes the pollers when it is done.
"""

import io
import json
import traceback
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from .cloudformation_api import CloudFormationApi
from .http import STATUS_TEXT, Reply, json_reply, signing_scope
from .lambda_api import LambdaApi
from .runtime import ClockError, StackRuntime
from .times import format_instant, parse_instant

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class BillingApp:
    def __init__(self, runtime: StackRuntime, endpoint: str) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.runtime = runtime
        self.endpoint = endpoint
        cloud = runtime.cloud
        self._sqs_prefix = f"https://sqs.{cloud.region}.amazonaws.com/"
        self.moto: WsgiApp = DomainDispatcherApplication(create_backend_app)
        self.lambda_api = LambdaApi(runtime)
        self.cloudformation = CloudFormationApi(cloud, self.public)

    def public(self, value: str) -> str:
        """A value as an outside client sees it: queue URLs on this endpoint, as moto's server
        writes them (GetQueueUrl answers the same)."""
        return value.replace(self._sqs_prefix, f"{self.endpoint}/")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self._ours(environ)
        except Exception:  # never a dead connection: the client gets the reason
            reply = json_reply(500, {"error": traceback.format_exc(limit=4)})
        if reply is not None:
            return _send(reply, start_response)
        with self.runtime.lock:
            answer = self.moto(environ, start_response)
            try:
                chunks = list(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        self.runtime.wake()
        return chunks

    def _ours(self, environ: dict[str, Any]) -> Reply | None:
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if path.startswith("/_billing/"):
            return self._private(method, path, _body(environ))
        if path.startswith("/moto-api"):
            return json_reply(404, {"error": "moto's own API is closed on `billing up`"})
        scope = signing_scope(str(environ.get("HTTP_AUTHORIZATION", "")))
        if scope is None or scope[0] != self.runtime.cloud.region:
            return None
        service = scope[1]
        if service == "lambda" and path.startswith("/2015-03-31/functions"):
            body = _body(environ)
            headers = {
                k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")
            }
            query = str(environ.get("QUERY_STRING", ""))
            return self.lambda_api.handle(method, path, query, headers, body)
        if service == "cloudformation" and method == "POST":
            with self.runtime.lock:
                return self.cloudformation.handle(_body(environ))
        return None

    # -- /_billing/ ---------------------------------------------------------------------------
    def _private(self, method: str, path: str, body: bytes) -> Reply:
        runtime = self.runtime
        if path == "/_billing/stack" and method == "GET":
            cloud = runtime.cloud
            return json_reply(
                200,
                {
                    "stack_name": cloud.stack_name,
                    "region": cloud.region,
                    "account_id": cloud.account_id,
                    "endpoint": self.endpoint,
                    "now": format_instant(runtime.now()),
                    "chaos": runtime.chaos_state(),
                },
            )
        if path == "/_billing/clock" and method == "GET":
            runtime.settle()
            return json_reply(200, {"now": format_instant(runtime.now())})
        if path == "/_billing/clock" and method == "POST":
            return self._advance(body)
        return json_reply(404, {"error": f"no route {method} {path}"})

    def _advance(self, body: bytes) -> Reply:
        try:
            request = json.loads(body or b"{}")
            if "to" in request:
                target = parse_instant(str(request["to"]))
            else:
                seconds = int(request["seconds"])
                if seconds < 0:
                    raise ValueError("the test clock never goes back: a duration is never negative")
                target = self.runtime.now() + timedelta(seconds=seconds)
        except (ValueError, KeyError, TypeError) as error:
            return json_reply(400, {"error": f"bad clock request: {error}"})
        try:
            return json_reply(200, self.runtime.advance_to(target))
        except ClockError as error:
            return json_reply(409, {"error": str(error)})


def _body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so moto can read it too if the request is not ours."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _send(reply: Reply, start_response: StartResponse) -> list[bytes]:
    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
    start_response(f"{reply.status} {STATUS_TEXT.get(reply.status, '')}".strip(), list(headers.items()))
    return [reply.body]
