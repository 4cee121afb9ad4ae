"""The `billing` CLI's side of the local stack: the test clock's route, and where the stack is.

stdlib urllib only (the CLI must not need the server's dependencies to talk to it).
"""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import CommandError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
#: A clock step runs every due schedule and the whole pipeline: it can take minutes at scale.
ADVANCE_TIMEOUT_S = 3600
LOOKUP_TIMEOUT_S = 30


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"--endpoint-url {url!r}: not an http(s) URL such as {DEFAULT_ENDPOINT}")
    return url.rstrip("/")


def request(endpoint_url: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    """GET (or POST ``body``) a private route of `billing up`; its JSON answer, or a one-line error."""
    url = _endpoint(endpoint_url) + path
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    # The scheme is checked by _endpoint (http or https only): no file:// or custom scheme is opened.
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise CommandError(_reason(error)) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise CommandError(f"no `billing up` at {endpoint_url} ({reason}): start it first") from None
    except ValueError:
        raise CommandError(f"{endpoint_url} is not a `billing up` server (its answer is not JSON)") from None


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(error.read()).get("error")
    except (ValueError, AttributeError):
        message = None
    if error.code == 404 and not message:
        return f"{error.url} is not a `billing up` server (no test clock there)"
    return str(message or f"HTTP {error.code} from {error.url}")


def clock_now(endpoint_url: str) -> str:
    return str(request(endpoint_url, "/_billing/clock", timeout=ADVANCE_TIMEOUT_S)["now"])


def clock_advance(endpoint_url: str, *, seconds: int | None = None, to: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"to": to} if to is not None else {"seconds": seconds}
    answer: dict[str, Any] = request(endpoint_url, "/_billing/clock", body, timeout=ADVANCE_TIMEOUT_S)
    return answer


@dataclass(frozen=True)
class OperatorTarget:
    """Where the operator commands send their CloudFormation and Lambda calls."""

    stack: str
    region: str | None
    client_options: dict[str, Any] = field(default_factory=dict)  # endpoint_url and credentials


def operator_target(stack: str | None, region: str | None, endpoint_url: str | None) -> OperatorTarget:
    """A deployed stack (``--stack``, AWS as configured), or the stack of `billing up` at
    ``--endpoint-url``: its stack name and region by default, its (any) credentials if none are set."""
    import os

    if endpoint_url is None:
        if not stack:
            raise CommandError("--stack is required (or --endpoint-url for the stack of `billing up`)")
        return OperatorTarget(stack, region)
    options: dict[str, Any] = {"endpoint_url": _endpoint(endpoint_url)}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        options |= {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if stack and region:
        return OperatorTarget(stack, region, options)
    local = request(endpoint_url, "/_billing/stack", timeout=LOOKUP_TIMEOUT_S)
    return OperatorTarget(stack or str(local["stack_name"]), region or str(local["region"]), options)
