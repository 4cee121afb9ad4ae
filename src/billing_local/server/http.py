"""The little HTTP the server's own routes need: a reply, JSON and XML bodies, the request's signer."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_reply(status: int, value: Any) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, json.dumps(value).encode())


def signing_scope(authorization: str) -> tuple[str, str] | None:
    """(region, service) of a SigV4 request, from its Authorization header's credential scope."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    return (match.group("region"), match.group("service")) if match else None


STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
}
