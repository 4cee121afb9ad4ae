"""Load a SAM template (YAML with CloudFormation short-form tags) and translate it offline.

The translator only accepts ``s3://`` code locations, so local ``CodeUri``/``ContentUri``
folders are swapped for placeholder S3 keys before the transform and mapped back after it.
"""

import copy
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

CODE_BUCKET = "billing-local-code"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"

_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Transform": "Fn::Transform",
    "!ToJsonString": "Fn::ToJsonString",
    "!Length": "Fn::Length",
}

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that understands CloudFormation tags and keeps dates as strings."""


def _tag_constructor(function: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if function == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {function: value}

    return construct


for _tag, _function in _TAGS.items():
    _CfnLoader.add_constructor(_tag, _tag_constructor(_function))
_CfnLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        # _CfnLoader is a SafeLoader subclass (adds only the CloudFormation tags).
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506  # nosec B506
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return document


def _transforms(document: dict[str, Any]) -> list[str]:
    transform = document.get("Transform") or []
    return [transform] if isinstance(transform, str) else [str(t) for t in transform]


class _NoManagedPolicies:
    """Offline stand-in for samtranslator's IAM-backed managed policy loader."""

    def load(self) -> dict[str, str]:
        return {}


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


def _rewrite_local_uri(value: Any, base: Path, code_dirs: dict[str, Path]) -> Any:
    if not isinstance(value, str) or value.startswith("s3://"):
        return value
    key = f"code-{len(code_dirs)}"
    code_dirs[key] = (base / value).resolve()
    return f"s3://{CODE_BUCKET}/{key}"


@contextmanager
def _env(**values: str) -> Iterator[None]:
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


_cache: dict[tuple[str, float, str, str, str], TranslatedTemplate] = {}
_cache_lock = threading.Lock()


def translate(path: Path, parameters: dict[str, str], region: str, code_base: Path) -> TranslatedTemplate:
    """Parse and SAM-translate a template; cached per (file, mtime, parameters, region)."""
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
        return TranslatedTemplate(cached.path, copy.deepcopy(cached.cfn), dict(cached.code_dirs))

    document = load_yaml(path)
    if LANGUAGE_EXTENSIONS in _transforms(document):
        # Fn::ForEach & co. are expanded first, as CloudFormation does before the SAM transform.
        from billing_local.language_extensions import expand

        document = expand(document, parameters)
    code_dirs: dict[str, Path] = {}
    globals_function = document.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = _rewrite_local_uri(globals_function["CodeUri"], code_base, code_dirs)
    for resource in document["Resources"].values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = _rewrite_local_uri(props["CodeUri"], code_base, code_dirs)
        elif resource.get("Type") == "AWS::Serverless::LayerVersion" and "ContentUri" in props:
            props["ContentUri"] = _rewrite_local_uri(props["ContentUri"], code_base, code_dirs)

    transforms = _transforms(document)
    unknown = [t for t in transforms if t not in (SAM_TRANSFORM, LANGUAGE_EXTENSIONS)]
    if unknown:
        raise ValueError(f"{path}: transforms not supported locally: {unknown}")
    if SAM_TRANSFORM in transforms:
        from samtranslator.translator.transform import transform  # slow import: only when needed

        with _env(AWS_DEFAULT_REGION=region, AWS_REGION=region):
            cfn = transform(document, dict(parameters), _NoManagedPolicies())
    else:
        cfn = document
    result = TranslatedTemplate(path, json.loads(json.dumps(cfn)), code_dirs)
    with _cache_lock:
        _cache[key] = result
    return TranslatedTemplate(result.path, copy.deepcopy(result.cfn), dict(result.code_dirs))
