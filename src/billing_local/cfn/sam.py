"""The offline SAM transform, and the one rewrite of local code folders it needs.

aws-sam-translator only accepts ``s3://`` code locations, so local ``CodeUri`` / ``ContentUri``
folders become ``s3://local-code/<folder>`` before the transform; :class:`TranslatedTemplate`
maps those placeholders back to the folders (the embedded AWS runs the code from there).
"""

import copy
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .language_extensions import TRANSFORM as LANGUAGE_EXTENSIONS
from .language_extensions import expand
from .loader import load_yaml, transforms

CODE_BUCKET = "local-code"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
DEFAULT_REGION = "us-east-1"


class NoManagedPolicies:
    """Offline stand-in for samtranslator's IAM-backed managed policy loader (no policy is named)."""

    def load(self) -> dict[str, str]:
        return {}


def rewrite_local_uri(value: Any, base: Path, code_dirs: dict[str, Path]) -> Any:
    """A local folder -> ``s3://local-code/<folder>``, remembering the folder; s3:// and intrinsics kept."""
    if not isinstance(value, str) or value.startswith("s3://"):
        return value
    key = value.strip("/")
    code_dirs[key] = (base / value).resolve()
    return f"s3://{CODE_BUCKET}/{key}"


def rewrite_code_uris(document: dict[str, Any], base: Path, code_dirs: dict[str, Path]) -> None:
    """Rewrite, in place, Globals.Function.CodeUri and every function's CodeUri / layer's ContentUri."""
    globals_function = (document.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = rewrite_local_uri(globals_function["CodeUri"], base, code_dirs)
    for resource in (document.get("Resources") or {}).values():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = rewrite_local_uri(props["CodeUri"], base, code_dirs)
        elif resource.get("Type") == "AWS::Serverless::LayerVersion" and "ContentUri" in props:
            props["ContentUri"] = rewrite_local_uri(props["ContentUri"], base, code_dirs)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def to_cloudformation(
    document: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str | None = None,
    base: Path = Path("."),
    code_dirs: dict[str, Path] | None = None,
    source: str = "template",
) -> dict[str, Any]:
    """A template as CloudFormation deploys it: language extensions expanded, code rewritten, SAM run.

    ``document`` is not modified. Parameter overrides reach the expansion and the SAM transform.
    """
    parameters = dict(parameters or {})
    result = copy.deepcopy(dict(document))
    if LANGUAGE_EXTENSIONS in transforms(result):
        # Fn::ForEach & co. are expanded first, as CloudFormation does before the SAM transform.
        result = expand(result, parameters)
    rewrite_code_uris(result, base, code_dirs if code_dirs is not None else {})
    declared = transforms(result)
    unknown = [t for t in declared if t not in (SAM_TRANSFORM, LANGUAGE_EXTENSIONS)]
    if unknown:
        raise ValueError(f"{source}: transforms not supported locally: {unknown}")
    if SAM_TRANSFORM in declared:
        from samtranslator.translator.transform import transform  # slow import: only when needed

        region = region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        with environment(AWS_DEFAULT_REGION=region, AWS_REGION=region):
            result = transform(result, parameters, NoManagedPolicies())
    loaded: dict[str, Any] = json.loads(json.dumps(result))
    return loaded


@dataclass
class TranslatedTemplate:
    """The CloudFormation produced by the SAM transform, plus where each function's code lives."""

    path: Path
    cfn: dict[str, Any]
    code_dirs: dict[str, Path] = field(default_factory=dict)  # placeholder S3 key -> local folder

    def code_dir(self, code: Any) -> Path | None:
        if isinstance(code, dict) and code.get("S3Bucket") == CODE_BUCKET:
            return self.code_dirs.get(str(code.get("S3Key")))
        return None

    def copy(self) -> "TranslatedTemplate":
        return TranslatedTemplate(self.path, copy.deepcopy(self.cfn), dict(self.code_dirs))


_cache: dict[tuple[str, float, str, str, str], TranslatedTemplate] = {}
_cache_lock = threading.Lock()


def translate(path: Path, parameters: dict[str, str], region: str, code_base: Path) -> TranslatedTemplate:
    """Parse and SAM-translate a template file; cached per (file, mtime, parameters, region, code base)."""
    key = (
        str(path.resolve()),
        path.stat().st_mtime,
        json.dumps(parameters, sort_keys=True),
        region,
        str(code_base.resolve()),
    )
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached.copy()
    code_dirs: dict[str, Path] = {}
    cfn = to_cloudformation(
        load_yaml(path), parameters, region=region, base=code_base, code_dirs=code_dirs, source=str(path)
    )
    result = TranslatedTemplate(path, cfn, code_dirs)
    with _cache_lock:
        _cache[key] = result
    return result.copy()
