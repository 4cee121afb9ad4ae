"""The generated files: every schema and the AsyncAPI document, rendered, compared, written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from billing.domain.agreements import EVENT_TYPES

from .asyncapi import asyncapi
from .billing_schemas import outbound_schema
from .common import ASYNCAPI_PATH, GENERATED, REPO, SCHEMA_PATHS
from .schemas import inbound_schema

__all__ = ["drifted", "render", "schema", "write"]


def schema(type_: str) -> dict[str, Any]:
    return inbound_schema(type_) if type_ in EVENT_TYPES else outbound_schema(type_)


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Block style for multi-line strings; no aliases (every node is written out)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _yaml(document: Any) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# {GENERATED}\n# JSON Schemas of the payloads: schemas/. Prose: docs/EVENTS.md.\n{body}"


def render(repo: Path = REPO) -> dict[str, str]:
    """Every generated file: its path relative to the repository -> its exact text."""
    files = {path: _json(schema(type_)) for type_, path in SCHEMA_PATHS.items()}
    files[ASYNCAPI_PATH] = _yaml(asyncapi(repo))
    return files


def _generated_dirs() -> set[str]:
    return {str(Path(p).parent) for p in SCHEMA_PATHS.values()}


def drifted(files: Mapping[str, str], dest: Path = REPO) -> list[str]:
    """Files whose text differs from `files` (or is missing), and stray files in the schema folders."""
    out = [
        path
        for path, text in files.items()
        if not (dest / path).is_file() or (dest / path).read_text(encoding="utf-8") != text
    ]
    for folder in sorted(_generated_dirs() | {"schemas"}):
        if (dest / folder).is_dir():
            for found in sorted((dest / folder).iterdir()):
                rel = found.relative_to(dest).as_posix()
                if found.is_file() and rel not in files:
                    out.append(rel)
    return out


def write(files: Mapping[str, str], dest: Path = REPO) -> list[str]:
    """Write what differs, remove stray generated files; returns the paths touched."""
    touched = drifted(files, dest)
    for path in touched:
        target = dest / path
        if path in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path], encoding="utf-8")
        else:
            target.unlink()
    return touched
