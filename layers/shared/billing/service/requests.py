"""Strict reading of an operator's request (DlqRedrive, EventReplay, and the `billing` CLI around them).

An operator tool acts on what it is told: a request read loosely ("false" taken as true, an unknown
action taken as a replay, a typo'd key ignored) moves or re-sends what nobody asked for. So every
field is checked before anything is done, and the first problem refuses the whole request with
`InvalidRequest` (a code, the field, a one-line reason), which a handler returns as its answer:

    {"error": {"code": "wrong_type", "field": "dry_run", "reason": "dry_run: expected true or false, ..."}}

Rules: the request is a JSON object whose keys are all known; booleans are JSON booleans; numbers are
JSON integers in range; enumerations are closed; strings and lists are what they say; dates are real
dates written YYYY-MM-DD. `null` is never a value: leave the field out for its default.
"""

import json
import re
from collections.abc import Collection, Iterable
from datetime import date
from typing import Any

MAX_STRING = 256  # an event type, an agreement id, a queue name
MAX_LIST = 50  # event types in one request
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InvalidRequest(ValueError):
    """An operator request that was refused before anything was done."""

    def __init__(self, code: str, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.field = field

    def as_payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "reason": self.reason}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def shown(value: Any) -> str:
    """A value as the request had it, kept short (it goes into a one-line reason)."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    if value is None:
        return "null"
    return names.get(type(value), "an object" if isinstance(value, dict) else type(value).__name__)


class Fields:
    """One request's fields: each read checks its field; unknown keys are refused up front."""

    def __init__(self, request: Any, allowed: Iterable[str]) -> None:
        if not isinstance(request, dict):
            raise InvalidRequest("invalid_request", f"a request is a JSON object, got {_kind(request)}")
        allowed = sorted(allowed)
        for key in request:
            if key not in allowed:
                raise InvalidRequest(
                    "unknown_field", f"unknown field {shown(key)} (known: {', '.join(allowed)})", str(key)
                )
        self.request: dict[str, Any] = request

    def has(self, name: str) -> bool:
        return name in self.request

    def _value(self, name: str, expected: str, required: bool) -> Any:
        if name not in self.request:
            if required:
                raise InvalidRequest("missing_field", f"{name} is required ({expected})", name)
            return None
        value = self.request[name]
        if value is None:
            raise InvalidRequest(
                "wrong_type", f"{name}: expected {expected}, got null (leave it out for the default)", name
            )
        return value

    def _wrong(self, name: str, expected: str, value: Any) -> InvalidRequest:
        return InvalidRequest(
            "wrong_type", f"{name}: expected {expected}, got {_kind(value)} {shown(value)}", name
        )

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._value(name, "true or false", required=False)
        if value is None:
            return default
        if not isinstance(value, bool):  # "false", "no", 0: refused, never guessed
            raise self._wrong(name, "true or false (a JSON boolean)", value)
        return value

    def integer(self, name: str, minimum: int, maximum: int) -> int | None:
        """A JSON integer in [minimum, maximum]; None if the field is absent."""
        expected = f"an integer from {minimum} to {maximum}"
        value = self._value(name, expected, required=False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):  # true is no count; "10" and 1.5 neither
            raise self._wrong(name, expected, value)
        if not minimum <= value <= maximum:
            raise InvalidRequest("out_of_range", f"{name}: expected {expected}, got {value}", name)
        return value

    def string(self, name: str, *, required: bool = False) -> str | None:
        expected = f"a non-empty string of at most {MAX_STRING} characters"
        value = self._value(name, expected, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(name, expected, value)
        if not 0 < len(value) <= MAX_STRING:
            raise InvalidRequest("out_of_range", f"{name}: expected {expected}, got {len(value)}", name)
        return value

    def choice(self, name: str, choices: Collection[str], default: str | None = None) -> str:
        """One of `choices`; without a default the field is required."""
        expected = "one of " + ", ".join(sorted(choices))
        value = self._value(name, expected, required=default is None)
        if value is None:
            if default is None:  # required: _value refused a missing one already
                raise InvalidRequest("missing_field", f"{name}: required", name)
            return default
        if not isinstance(value, str):
            raise self._wrong(name, expected, value)
        if value not in choices:
            raise InvalidRequest("unknown_value", f"{name}: expected {expected}, got {shown(value)}", name)
        return value

    def strings(self, name: str) -> frozenset[str]:
        expected = f"a list of at most {MAX_LIST} non-empty strings"
        value = self._value(name, expected, required=False)
        if value is None:
            return frozenset()
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise self._wrong(name, expected, value)
        for item in value:
            if not isinstance(item, str) or not 0 < len(item) <= MAX_STRING:
                raise InvalidRequest("wrong_type", f"{name}: expected {expected}, has {shown(item)}", name)
        return frozenset(value)

    def day(self, name: str, *, required: bool = False) -> date | None:
        expected = "a date YYYY-MM-DD"
        value = self._value(name, expected, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(name, expected, value)
        try:
            if not _DAY.fullmatch(value):  # fromisoformat also takes 20260301 and week dates
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidRequest(
                "invalid_date", f"{name}: expected {expected}, got {shown(value)}", name
            ) from None
