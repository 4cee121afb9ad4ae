"""Load a CloudFormation/SAM template: YAML with the short-form tags (!Ref, !Sub, ...) or JSON."""

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

TAGS = {
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

BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnLoader(BaseLoader):  # type: ignore[misc]
    """SafeLoader that understands CloudFormation tags and keeps dates as strings."""


def tag_constructor(function: str) -> Any:
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


for tag, function_name in TAGS.items():
    CfnLoader.add_constructor(tag, tag_constructor(function_name))
CfnLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


def parse(text: str, source: str = "<template>") -> dict[str, Any]:
    """A template from its text (YAML or JSON: JSON is YAML)."""
    # CfnLoader is a SafeLoader subclass (adds only the CloudFormation tags).
    document = yaml.load(text, Loader=CfnLoader)  # noqa: S506  # nosec B506
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{source}: not a CloudFormation/SAM template (no Resources)")
    return document


def load_yaml(path: Path) -> dict[str, Any]:
    """The template in ``path``, as a plain dict (tags become their long-form intrinsics)."""
    return parse(path.read_text(encoding="utf-8"), str(path))


def transforms(document: dict[str, Any]) -> list[str]:
    """The macros the template declares in ``Transform`` (a string or a list)."""
    transform = document.get("Transform") or []
    return [transform] if isinstance(transform, str) else [str(t) for t in transform]
