"""Lambda's REST API for the stack's functions: Invoke, GetFunction(Configuration), ListFunctions.

moto's Lambda would run a function in Docker; the stack's functions run in-process instead, in the
emulator's handler runner (the same one the event source mappings and schedules use). Requests
for any other function fall through to moto (which knows none: ResourceNotFoundException).
Names are matched as Lambda matches them: the function name, its ARN or partial ARN, with no
qualifier or `$LATEST`.
"""

import base64
import json
import re
import traceback
import uuid
from typing import Any
from urllib.parse import parse_qs

from billing_local.emulator.handlers import LambdaFunction
from billing_local.emulator.resources import attribute_string

from .http import Reply, json_reply
from .runtime import StackRuntime

_ROUTE = re.compile(r"^/2015-03-31/functions/?(?P<name>[^/]*)(?P<rest>/configuration|/invocations)?/?$")
_LOG_TAIL_BYTES = 4096


class LambdaApi:
    """Answers the Lambda API calls that concern the stack's functions; None means "not ours"."""

    def __init__(self, runtime: StackRuntime) -> None:
        self.runtime = runtime
        cloud = runtime.cloud
        self.functions: dict[str, LambdaFunction] = {
            lid: cloud.function(lid) for lid in cloud.function_names()
        }
        self._by_name: dict[str, str] = {}
        for logical_id, function in self.functions.items():
            self._by_name[function.name] = logical_id
            self._by_name[function.arn] = logical_id
            self._by_name[function.arn.split(":", 5)[-1]] = logical_id  # partial ARN: <acct>:function:<n>

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        match = _ROUTE.match(path)
        if match is None:
            return None
        name, rest = match.group("name"), match.group("rest") or ""
        if not name:
            return self._list() if method == "GET" else None
        qualifier = parse_qs(query).get("Qualifier", ["$LATEST"])[0]
        logical_id = self._by_name.get(name.removesuffix(":$LATEST"))  # name:$LATEST is qualified
        if logical_id is None or qualifier != "$LATEST":
            return None
        function = self.functions[logical_id]
        if method == "GET" and rest == "/configuration":
            return json_reply(200, configuration(function))
        if method == "GET" and not rest:
            return json_reply(
                200, {"Configuration": configuration(function), "Code": {"RepositoryType": "S3"}}
            )
        if method == "POST" and rest == "/invocations":
            return self._invoke(logical_id, headers, body)
        return None

    def _list(self) -> Reply:
        return json_reply(200, {"Functions": [configuration(f) for f in self.functions.values()]})

    def _invoke(self, logical_id: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            event = json.loads(body or b"{}")
        except ValueError as error:
            return _error(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {error}"
            )
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return Reply(204, {}, b"")
        if kind == "Event":
            self.runtime.invoke_async(logical_id, event)
            return Reply(202, {}, b"")
        before = len(self.runtime.cloud.logs(logical_id))
        request_id = str(uuid.uuid4())
        reply_headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id}
        try:
            result = self.runtime.invoke(logical_id, event)
            payload = json.dumps(result).encode()
        except Exception as error:  # the function failed: Lambda answers 200 with FunctionError
            reply_headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "requestId": request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                }
            ).encode()
        finally:
            self.runtime.wake()  # what the function sent is for the pollers
        if headers.get("x-amz-log-type") == "Tail":
            lines = self.runtime.cloud.logs(logical_id)[before:]
            tail = "\n".join(lines).encode()[-_LOG_TAIL_BYTES:]
            reply_headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        return Reply(200, {"Content-Type": "application/json", **reply_headers}, payload)


def configuration(function: LambdaFunction) -> dict[str, Any]:
    """GetFunctionConfiguration's answer, from the template's properties."""
    props = function.properties
    variables = (props.get("Environment") or {}).get("Variables") or {}
    config: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": function.arn,
        "Runtime": function.runtime,
        "Role": str(props.get("Role", "")),
        "Handler": function.handler_spec,
        "Timeout": int(function.timeout),
        "MemorySize": function.memory,
        "Version": "$LATEST",
        "PackageType": "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Architectures": list(props.get("Architectures") or ["x86_64"]),
        "Environment": {"Variables": {k: attribute_string(v) for k, v in variables.items()}},
    }
    if props.get("Description"):
        config["Description"] = str(props["Description"])
    return config


def _error(status: int, code: str, message: str) -> Reply:
    reply = json_reply(status, {"Type": "User", "message": message})
    reply.headers["x-amzn-ErrorType"] = code
    return reply


__all__ = ["LambdaApi", "configuration"]
