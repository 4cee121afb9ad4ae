"""Parameter values: samconfig overrides, explicit overrides, defaults; typed as CloudFormation does."""

import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


def is_list_type(kind: str) -> bool:
    return kind == "CommaDelimitedList" or kind.startswith("List<")


def split_list(raw: Any) -> list[Any]:
    """A list parameter's value: a list as is, a string split on commas."""
    return list(raw) if isinstance(raw, list) else [item.strip() for item in str(raw).split(",")]


def effective_parameters(declared: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value (override, else default; strict); typed like CloudFormation does for Ref."""
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(raw) not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={raw!r} not in AllowedValues {allowed}")
        if is_list_type(str(spec.get("Type", "String"))):
            values[name] = split_list(raw)
        else:
            values[name] = str(raw) if not isinstance(raw, bool) else str(raw).lower()
    return values


def known_parameters(declared: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter values known before deploy (lenient): no value, or an SSM parameter, is left out.

    Lists are split; other values keep the type YAML gave them (what the language extensions read).
    """
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        value = overrides.get(name, spec.get("Default") if isinstance(spec, dict) else None)
        if value is None:
            continue
        kind = str(spec.get("Type", "String")) if isinstance(spec, dict) else "String"
        if kind.startswith("AWS::SSM::Parameter"):
            continue  # resolved by CloudFormation from SSM at deploy time: unknown here
        values[name] = split_list(value) if is_list_type(kind) else value
    return values


def samconfig_overrides(path: Path, env: str = "default", command: str = "deploy") -> dict[str, str]:
    """The ``parameter_overrides`` of one samconfig.toml environment (a list or a shell-quoted string)."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    raw = config[env][command]["parameters"].get("parameter_overrides", [])
    items = raw if isinstance(raw, list) else shlex.split(raw)
    return dict(item.split("=", 1) for item in items)
