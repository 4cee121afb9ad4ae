"""Turn one CloudEvents 1.0 structured-mode message into an `AgreementEvent` (contract §1).

The syntactic checks are the declarations of `shapes.py`, walked field by field in their
order; the semantic ones (`shapes.Named`) are `rules.check_named`. The first problem found is
raised as BadInput with a code, a field (a dotted path) and a one-line reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from ..errors import BadInput
from .model import (
    AGREEMENT_AMENDED,
    AGREEMENT_CREATED,
    MAX_EVENT_BYTES,
    AgreementAmended,
    AgreementCancelled,
    AgreementCreated,
    AgreementEvent,
    content,
    fingerprint,
)
from .rules import check_named
from .shapes import (
    CE_KNOWN,
    CLOUDEVENT,
    DATA,
    DATE_RE,
    TIME_RE,
    Boolean,
    Choice,
    Const,
    Field,
    Identifier,
    Integer,
    Kind,
    LocalDate,
    Named,
    Obj,
    Pattern,
    Text,
    Timestamp,
)

__all__ = ["json_type", "lone_surrogate", "message_body", "parse_event", "read_value"]

# A JSON text that may hold a lone surrogate: a \uD800-\uDFFF escape (pairs are checked after decoding).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def message_body(event: str | Mapping[str, Any]) -> str:
    """The message body `event` is published as: the one text preview, simulate and the pipeline
    read and measure (the size limit is on its UTF-8 bytes).

    A JSON object is written compact and in UTF-8, without \\u escapes for non-ASCII (what
    publishers send; `json.dumps`' default spaces and escapes make the same event larger, up to
    three times for non-ASCII text); a string is the body itself. A lone
    surrogate has no UTF-8 encoding: it travels as its JSON escape (\\ud800), the one form a
    message can carry it in, and the parser refuses it there like any other (invalid_field, with
    its path).
    """
    if isinstance(event, Mapping):
        try:
            text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        except RecursionError:
            raise BadInput("invalid_json", "nested too deeply") from None
        except (TypeError, ValueError) as exc:
            raise BadInput("invalid_json", f"not representable as JSON: {exc}") from None
    else:
        text = event
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def _decode(raw: str | bytes | bytearray | memoryview) -> str:
    if isinstance(raw, str):
        size = len(raw.encode("utf-8"))  # a message_body: UTF-8 text
        if size > MAX_EVENT_BYTES:
            raise BadInput("too_large", f"{size} bytes, more than {MAX_EVENT_BYTES}")
        return raw
    data = bytes(raw)
    if len(data) > MAX_EVENT_BYTES:
        raise BadInput("too_large", f"{len(data)} bytes, more than {MAX_EVENT_BYTES}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("invalid_json", f"not UTF-8: {exc.reason} at byte {exc.start}") from None


def _load_json(raw: str | bytes | bytearray | memoryview) -> Any:
    text = _decode(raw)
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise BadInput("invalid_json", "nested too deeply") from None
    except ValueError as exc:
        raise BadInput("invalid_json", str(exc)) from None
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogate(value)
    return value


def lone_surrogate(node: Any, path: str = "") -> tuple[str, str] | None:
    """(path, code point) of the first string (key or value) holding a lone UTF-16 surrogate.

    JSON's \\uD800-\\uDFFF escapes decode to such code points unless they come as a valid pair; a
    string holding one is not Unicode text (it cannot be encoded as UTF-8, stored or forwarded).
    """
    if isinstance(node, str):
        found = _SURROGATE.search(node)
        return None if found is None else (path, f"U+{ord(found.group()):04X}")
    children: list[tuple[str, Any, Any]]
    if isinstance(node, Mapping):
        children = [(_child(path, key), key, value) for key, value in node.items()]
    elif isinstance(node, (list, tuple)):
        children = [(f"{path}[{i}]", None, value) for i, value in enumerate(node)]
    else:
        return None
    for where, key, value in children:
        found_here = lone_surrogate(key, where) if isinstance(key, str) else None
        found_here = found_here or lone_surrogate(value, where)
        if found_here is not None:
            return found_here
    return None


def _child(path: str, key: Any) -> str:
    name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{path}.{name}" if path else name


def _refuse_lone_surrogate(value: Any) -> None:
    try:
        found = lone_surrogate(value)
    except RecursionError:
        raise BadInput("invalid_json", "nested too deeply") from None
    if found is not None:
        where, point = found
        raise BadInput(
            "invalid_field",
            f"holds a lone surrogate ({point}), which is not Unicode text: "
            "\\ud800-\\udfff escapes must come in pairs",
            where or None,
        )


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages ("string", "object", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


# --------------------------------------------------------------------------- walking the shapes


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadInput("invalid_field", f"must be a string, got {json_type(value)}", field)
    return value


def _identifier(kind: Identifier, value: Any, field: str) -> str:
    text = _text(value, field)
    if not text:
        raise BadInput("invalid_field", "must not be empty", field)
    if len(text) > kind.max_length:
        raise BadInput("invalid_field", f"longer than {kind.max_length} characters", field)
    if not text.isprintable() or text != text.strip():
        raise BadInput("invalid_field", "must be printable, without leading or trailing spaces", field)
    return text


def _integer(kind: Integer, value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput("invalid_field", f"must be an integer, got {json_type(value)}", field)
    if not kind.low <= value <= kind.high:
        raise BadInput("out_of_range", f"{value} is not between {kind.low} and {kind.high}", field)
    return int(value)


def _local_date(kind: LocalDate, value: Any, field: str) -> date:
    text = _text(value, field)
    if not DATE_RE.fullmatch(text):
        raise BadInput("invalid_date", f"{text!r} is not an ISO date YYYY-MM-DD", field)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput("invalid_date", f"{text!r} is not a calendar date", field) from None
    if not kind.low <= day <= kind.high:
        raise BadInput("out_of_range", f"{text} is not between {kind.low} and {kind.high}", field)
    return day


def _timestamp(value: Any, field: str) -> str:
    text = _text(value, field)
    if not TIME_RE.fullmatch(text):
        raise BadInput("invalid_field", f"{text!r} is not an RFC 3339 timestamp", field)
    try:
        datetime.fromisoformat(text.upper())
    except ValueError:
        raise BadInput("invalid_field", f"{text!r} is not an RFC 3339 timestamp", field) from None
    return text


def _object(kind: Obj, value: Any, field: str) -> Any:
    if not isinstance(value, Mapping):
        raise BadInput("invalid_field", f"must be an object, got {json_type(value)}", field)
    values = {f.name: _field(f, value, f"{field}.{f.name}") for f in kind.fields}
    return values if kind.record is None else kind.record(**values)


def _string(kind: Text | Choice | Pattern, value: Any, field: str) -> str:
    text = _text(value, field)
    if isinstance(kind, Text):
        if len(text) < kind.min_length:
            raise BadInput("invalid_field", "must not be empty", field)
    elif isinstance(kind, Choice):
        if text not in kind.values:
            raise BadInput("invalid_field", f"{text!r} is not one of {', '.join(kind.values)}", field)
    elif (kind.max_length is not None and len(text) > kind.max_length) or not kind.regex.fullmatch(text):
        raise BadInput("invalid_field", kind.refusal.format(value=text), field)
    return text


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise BadInput("invalid_field", f"must be true or false, got {json_type(value)}", field)
    return value


def _const(kind: Const, value: Any, field: str) -> str:
    if value != kind.value:
        raise BadInput("unsupported_specversion", f"{value!r} is not supported (only {kind.value!r})", field)
    return kind.value


def read_value(kind: Kind, value: Any, field: str) -> Any:
    """Check a present (not null) `value` against `kind`; returns it as the model holds it."""
    match kind:  # the most frequent kinds first
        case Identifier():
            return _identifier(kind, value, field)
        case Integer():
            return _integer(kind, value, field)
        case Text() | Choice() | Pattern():
            return _string(kind, value, field)
        case LocalDate():
            return _local_date(kind, value, field)
        case Named():
            text = _text(value, field)
            check_named(kind.rule, text, field)
            return text
        case Obj():
            return _object(kind, value, field)
        case Timestamp():
            return _timestamp(value, field)
        case Boolean():
            return _boolean(value, field)
        case Const():
            return _const(kind, value, field)


def _field(spec: Field, obj: Mapping[str, Any], field: str) -> Any:
    value = obj.get(spec.name)
    if value is None and not isinstance(spec.kind, Const):  # a constant must be itself, not null
        if spec.required:
            raise BadInput("missing_field", "required", field)
        return spec.default
    return read_value(spec.kind, value, field)


def _envelope(obj: Mapping[str, Any]) -> dict[str, Any]:
    """CloudEvents 1.0 structured-mode checks; returns the attributes the declaration reads."""
    if "specversion" not in obj:
        raise BadInput(
            "not_cloudevent", "no specversion: not a CloudEvents structured-mode message", "specversion"
        )
    attributes: dict[str, Any] = {}
    for spec in CLOUDEVENT.attributes:
        attributes[spec.name] = _field(spec, obj, spec.name)
        if spec.name == CLOUDEVENT.tag and attributes[spec.name] not in DATA:
            tag = attributes[spec.name]
            raise BadInput("unknown_type", f"{tag!r} is not one of {', '.join(DATA)}", spec.name)
    if CLOUDEVENT.binary in obj:
        raise BadInput("invalid_field", "data must be a JSON object, not data_base64", CLOUDEVENT.binary)
    for key, value in obj.items():
        if key in CE_KNOWN:
            continue
        if not isinstance(key, str) or not CLOUDEVENT.extension_name.fullmatch(key):
            raise BadInput(
                "invalid_field", "extension attribute names are lower-case letters and digits", str(key)
            )
        if value is not None and not isinstance(value, (str, int)):
            got = json_type(value)
            raise BadInput(
                "invalid_field", f"an extension attribute is a string, integer or boolean, not {got}", key
            )
    return attributes


_PAYLOADS: Final = {type_: Field(CLOUDEVENT.payload, shape) for type_, shape in DATA.items()}


def parse_event(raw: str | bytes | Mapping[str, Any]) -> AgreementEvent:
    """Validate one CloudEvents 1.0 JSON message (structured mode) against contract §1.

    Accepts the message body (str or bytes) or a JSON object or string to be published: those are
    read as `message_body` publishes them (so preview's verdict is the pipeline's).
    Unknown CloudEvents extension attributes are allowed; unknown fields inside
    `data` are ignored, but every known field must have the right type and range.
    Raises BadInput with one of: too_large, invalid_json, not_cloudevent,
    unsupported_specversion, unknown_type, missing_field, invalid_field,
    out_of_range, invalid_date, unknown_currency, unknown_timezone.
    """
    if isinstance(raw, (str, Mapping)):
        obj: Any = _load_json(message_body(raw))  # what the pipeline reads, whoever calls
    elif isinstance(raw, (bytes, bytearray, memoryview)):
        obj = _load_json(raw)
    else:
        raise BadInput("not_cloudevent", f"a CloudEvent is a JSON object, got {json_type(raw)}")
    if not isinstance(obj, Mapping):
        raise BadInput("not_cloudevent", f"a CloudEvent is a JSON object, got {json_type(obj)}")
    head = _envelope(obj)
    type_ = head[CLOUDEVENT.tag]
    data: dict[str, Any] = _field(_PAYLOADS[type_], obj, CLOUDEVENT.payload)
    return _record(type_, head["id"], head["time"], data)


def _record(type_: str, event_id: str, time: str | None, data: dict[str, Any]) -> AgreementEvent:
    header: dict[str, Any] = {"event_id": event_id, "time": time}
    header["fingerprint"] = fingerprint(content(type_, data))
    if type_ == AGREEMENT_CREATED:
        return AgreementCreated(**header, **data)
    if type_ == AGREEMENT_AMENDED:
        return AgreementAmended(**header, **data)
    return AgreementCancelled(**header, **data)
