"""Lambda event filtering (FilterCriteria): the EventBridge-style pattern subset Lambda supports."""

import contextlib
import json
from typing import Any

_MISSING: Any = object()


def parse_filters(filter_criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    filters = (filter_criteria or {}).get("Filters") or []
    patterns = []
    for item in filters:
        pattern = item.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    return patterns


def sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What an SQS filter sees: the record, with a JSON body parsed (plain text stays a string).

    A body Lambda cannot parse as JSON (not JSON, or nested too deeply to decode) is matched as the
    plain text it is, never an error: a hostile body must not stop the poller.
    """
    view = dict(record)
    with contextlib.suppress(ValueError, TypeError, RecursionError):
        view["body"] = json.loads(record["body"])
    return view


def matches_any(patterns: list[dict[str, Any]], event: Any) -> bool:
    """Lambda keeps a record if it matches any filter (no filters: keep everything)."""
    return not patterns or any(matches(p, event) for p in patterns)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        present = isinstance(event, dict) and key in event
        value = event[key] if present else _MISSING
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not _leaf(expected, value):
                return False
        else:
            raise ValueError(f"filter pattern values must be lists or objects, got {expected!r}")
    return True


def _leaf(conditions: list[Any], value: Any) -> bool:
    present = value is not _MISSING
    values = value if isinstance(value, list) else [value]
    for condition in conditions:
        if isinstance(condition, dict):
            if "exists" in condition:
                if bool(condition["exists"]) == present:
                    return True
                continue
            if present and any(_operator(condition, v) for v in values):
                return True
        elif present and any(_equal(condition, v) for v in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _operator(condition: dict[str, Any], value: Any) -> bool:
    ((name, arg),) = condition.items()
    if name == "prefix":
        if isinstance(arg, dict):  # {"prefix": {"equals-ignore-case": "x"}}
            return isinstance(value, str) and value.lower().startswith(str(arg["equals-ignore-case"]).lower())
        return isinstance(value, str) and value.startswith(arg)
    if name == "suffix":
        if isinstance(arg, dict):
            return isinstance(value, str) and value.lower().endswith(str(arg["equals-ignore-case"]).lower())
        return isinstance(value, str) and value.endswith(arg)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if name == "anything-but":
        if isinstance(arg, dict):
            return not _operator(arg, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_equal(e, value) for e in excluded)
    if name == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        checks = list(arg)
        for op, bound in zip(checks[::2], checks[1::2], strict=True):
            if not _compare(op, float(value), float(bound)):
                return False
        return True
    raise ValueError(f"unsupported filter operator {name!r}")


def _compare(op: str, value: float, bound: float) -> bool:
    match op:
        case "=":
            return value == bound
        case "<":
            return value < bound
        case "<=":
            return value <= bound
        case ">":
            return value > bound
        case ">=":
            return value >= bound
    raise ValueError(f"unsupported numeric operator {op!r}")
