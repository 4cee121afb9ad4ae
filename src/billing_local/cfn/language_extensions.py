"""Expand the ``AWS::LanguageExtensions`` transform offline, as CloudFormation does before SAM.

template.yaml builds its repeated parts (a DLQ and its alarm, a work queue and its age alarm,
a function's log group and alarms) with ``Fn::ForEach``. CloudFormation expands those with the
``AWS::LanguageExtensions`` transform before ``AWS::Serverless-2016-10-31`` runs; aws-sam-translator
does not know the transform, so whoever translates the template locally (the embedded AWS, the
template tests, the checkov input) calls :func:`expand` first::

    from billing_local.cfn.language_extensions import expand
    plain = expand(template)            # parameter defaults
    plain = expand(template, {"Stage": "prod"})

What is expanded, following the CloudFormation documentation of the transform:

* ``Fn::ForEach::<LoopName>: [Identifier, Collection, {OutputKey: OutputValue}]`` wherever a
  mapping may hold it (Resources, Outputs, Conditions, resource properties), nested loops too.
  In an output key ``${Identifier}`` is replaced by the item and ``&{Identifier}`` by the item with
  every non-alphanumeric character removed. In output values ``{"Ref": Identifier}`` becomes the
  item and ``${Identifier}`` is replaced inside ``Fn::Sub`` strings. The collection is a list (whose
  items may be ``Ref``s to parameters) or an intrinsic that resolves to one (``Ref`` to a
  ``CommaDelimitedList`` parameter, ``Fn::FindInMap``).
* ``Ref`` and ``Fn::GetAtt`` whose logical id is itself an intrinsic (``{"Ref": {"Fn::Sub":
  "${Name}Queue"}}``), which the transform allows: the inner function is resolved to a plain id.
* ``Fn::FindInMap`` whose keys are literals, loop identifiers or parameters (with the optional
  ``{"DefaultValue": ...}`` fourth argument): replaced by the mapped value.
* ``Fn::Length`` of a list (or of a list parameter): replaced by the number.
* ``Fn::ToJsonString``: replaced by compact JSON text; values that are still intrinsics at deploy
  time (``Ref``, ``Fn::GetAtt``, ...) become variables of an equivalent ``Fn::Sub``.
* ``DeletionPolicy`` / ``UpdateReplacePolicy`` given as a parameter ``Ref`` or ``Fn::FindInMap``.

``AWS::LanguageExtensions`` is then removed from ``Transform``. Parameter values are the
template's defaults, overridden by ``parameters``; only the constructs above read them, every
other ``Ref`` to a parameter is left for the next stage (SAM, the local runtime) as CloudFormation
would. The input is never modified.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from .parameters import known_parameters

__all__ = ["TRANSFORM", "LanguageExtensionsError", "expand", "uses_language_extensions"]

TRANSFORM = "AWS::LanguageExtensions"
_FOR_EACH = "Fn::ForEach::"
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")


class LanguageExtensionsError(ValueError):
    """The template uses a language extension in a way CloudFormation would reject."""


def uses_language_extensions(template: Mapping[str, Any]) -> bool:
    """Whether the template declares the AWS::LanguageExtensions transform."""
    transform = template.get("Transform")
    if isinstance(transform, str):
        return transform == TRANSFORM
    return isinstance(transform, list) and TRANSFORM in transform


def expand(template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of ``template`` with the language extensions expanded into plain CloudFormation."""
    result = copy.deepcopy(dict(template))
    expander = _Expander(result, parameters or {})
    for section in ("Conditions", "Resources", "Outputs"):
        if isinstance(result.get(section), dict):
            result[section] = expander.walk(result[section], {})
    for resource in (result.get("Resources") or {}).values():
        if isinstance(resource, dict):
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                if policy in resource:
                    resource[policy] = expander.resolve_policy(resource[policy], policy)
    _drop_transform(result)
    leftover = _find_for_each(result)
    if leftover:
        raise LanguageExtensionsError(f"Fn::ForEach outside Conditions/Resources/Outputs: {leftover}")
    return result


def _drop_transform(template: dict[str, Any]) -> None:
    transform = template.get("Transform")
    if transform == TRANSFORM:
        del template["Transform"]
    elif isinstance(transform, list) and TRANSFORM in transform:
        rest = [t for t in transform if t != TRANSFORM]
        if not rest:
            del template["Transform"]
        else:
            template["Transform"] = rest[0] if len(rest) == 1 else rest


def _find_for_each(node: Any, path: str = "") -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_FOR_EACH):
                return f"{path}/{key}"
            found = _find_for_each(value, f"{path}/{key}")
            if found:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _find_for_each(value, f"{path}/{index}")
            if found:
                return found
    return None


class _Expander:
    def __init__(self, template: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        self._mappings: dict[str, Any] = template.get("Mappings") or {}
        self._parameters = known_parameters(template.get("Parameters") or {}, overrides)

    # ------------------------------------------------------------------ the walk
    def walk(self, node: Any, env: Mapping[str, str]) -> Any:
        if isinstance(node, list):
            return [self.walk(item, env) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            handler = self._INTRINSICS.get(key)
            if handler is not None:
                return handler(self, value, env)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_FOR_EACH):
                for new_key, new_value in self._for_each(key, value, env):
                    if new_key in out:
                        raise LanguageExtensionsError(f"{key} produces {new_key!r}, which already exists")
                    out[new_key] = new_value
                continue
            new_key = _substitute_key(key, env) if isinstance(key, str) else key
            if new_key in out:
                raise LanguageExtensionsError(f"duplicate key {new_key!r} after Fn::ForEach expansion")
            out[new_key] = self.walk(value, env)
        return out

    def _for_each(self, key: str, spec: Any, env: Mapping[str, str]) -> list[tuple[str, Any]]:
        if not (isinstance(spec, list) and len(spec) == 3):
            raise LanguageExtensionsError(f"{key}: expected [Identifier, Collection, Fragment]")
        identifier, collection, fragment = spec
        if not isinstance(identifier, str) or not identifier:
            raise LanguageExtensionsError(f"{key}: the identifier must be a non-empty string")
        if identifier in self._parameters or identifier in env:
            raise LanguageExtensionsError(
                f"{key}: identifier {identifier!r} shadows a parameter or outer identifier"
            )
        if not isinstance(fragment, dict):
            raise LanguageExtensionsError(f"{key}: the fragment must be a mapping of OutputKey: OutputValue")
        items = self._collection(key, collection, env)
        produced: list[tuple[str, Any]] = []
        for item in items:
            expanded = self.walk(fragment, {**env, identifier: item})
            produced.extend(expanded.items())
        return produced

    def _collection(self, key: str, collection: Any, env: Mapping[str, str]) -> list[str]:
        value = self.walk(collection, env)
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self._parameters:
            value = self._parameters[value["Ref"]]
        if not isinstance(value, list):
            raise LanguageExtensionsError(f"{key}: the collection does not resolve to a list: {value!r}")
        items: list[str] = []
        for item in value:
            if isinstance(item, dict) and set(item) == {"Ref"} and item["Ref"] in self._parameters:
                item = self._parameters[item["Ref"]]
            if not isinstance(item, str):
                raise LanguageExtensionsError(f"{key}: collection items must be strings, got {item!r}")
            items.append(item)
        return items

    # ------------------------------------------------------------------ intrinsics
    def _ref(self, value: Any, env: Mapping[str, str]) -> Any:
        if isinstance(value, dict):
            value = self._as_string(self.walk(value, env), "Ref")
        if isinstance(value, str) and value in env:
            return env[value]
        return {"Ref": value}

    def _sub(self, value: Any, env: Mapping[str, str]) -> Any:
        if isinstance(value, str):
            text = _substitute_sub(value, env)
            return text if "${" not in text else {"Fn::Sub": text}
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            return {"Fn::Sub": [_substitute_sub(value[0], env), self.walk(value[1], env)]}
        return {"Fn::Sub": self.walk(value, env)}

    def _get_att(self, value: Any, env: Mapping[str, str]) -> Any:
        if isinstance(value, list):
            resolved = [self.walk(item, env) for item in value]
            resolved = [_collapse_sub(item) for item in resolved]
            return {"Fn::GetAtt": resolved}
        return {"Fn::GetAtt": self.walk(value, env)}

    def _find_in_map(self, value: Any, env: Mapping[str, str]) -> Any:
        args = self.walk(value, env)
        if not isinstance(args, list) or len(args) not in (3, 4):
            return {"Fn::FindInMap": args}
        map_name, top, second = (self._literal(arg) for arg in args[:3])
        if map_name is None or top is None or second is None:
            return {"Fn::FindInMap": args}
        found = self._mappings.get(map_name, {}).get(top, {})
        if isinstance(found, dict) and second in found:
            return copy.deepcopy(found[second])
        if len(args) == 4:
            default = args[3]
            if not (isinstance(default, dict) and set(default) == {"DefaultValue"}):
                raise LanguageExtensionsError(
                    f"Fn::FindInMap: 4th argument must be {{DefaultValue: ...}}: {default!r}"
                )
            return default["DefaultValue"]
        raise LanguageExtensionsError(f"Fn::FindInMap: no {map_name}/{top}/{second} in Mappings")

    def _length(self, value: Any, env: Mapping[str, str]) -> Any:
        resolved = self.walk(value, env)
        if isinstance(resolved, dict) and set(resolved) == {"Ref"} and resolved["Ref"] in self._parameters:
            resolved = self._parameters[resolved["Ref"]]
        if isinstance(resolved, list):
            return len(resolved)
        return {"Fn::Length": resolved}

    def _to_json_string(self, value: Any, env: Mapping[str, str]) -> Any:
        resolved = self.walk(value, env)
        if isinstance(resolved, str):
            return resolved  # CloudFormation accepts a string and returns it unchanged
        variables: dict[str, Any] = {}
        template = _placeholders(resolved, variables)
        if not variables:  # all literal: plain JSON text, nothing to escape
            return json.dumps(resolved, separators=(",", ":"), ensure_ascii=False)
        return {"Fn::Sub": [json.dumps(template, separators=(",", ":"), ensure_ascii=False), variables]}

    _INTRINSICS: ClassVar[dict[str, Any]] = {
        "Ref": _ref,
        "Fn::Sub": _sub,
        "Fn::GetAtt": _get_att,
        "Fn::FindInMap": _find_in_map,
        "Fn::Length": _length,
        "Fn::ToJsonString": _to_json_string,
    }

    # ------------------------------------------------------------------ helpers
    def _literal(self, value: Any) -> str | None:
        value = _collapse_sub(value)
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"Ref"}:
            resolved = self._parameters.get(value["Ref"])
            return resolved if isinstance(resolved, str) else None
        return None

    def _as_string(self, value: Any, where: str) -> str:
        value = _collapse_sub(value)
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self._parameters:
            value = self._parameters[value["Ref"]]
        if not isinstance(value, str):
            raise LanguageExtensionsError(
                f"{where}: the intrinsic does not resolve to a logical id: {value!r}"
            )
        return value

    def resolve_policy(self, value: Any, where: str) -> Any:
        resolved = self.walk(value, {})
        if isinstance(resolved, dict) and set(resolved) == {"Ref"} and resolved["Ref"] in self._parameters:
            resolved = self._parameters[resolved["Ref"]]
        if not isinstance(resolved, str):
            raise LanguageExtensionsError(f"{where}: does not resolve to a policy name: {resolved!r}")
        return resolved


def _substitute_key(key: str, env: Mapping[str, str]) -> str:
    for identifier, item in env.items():
        key = key.replace("${" + identifier + "}", item)
        key = key.replace("&{" + identifier + "}", _NOT_ALPHANUMERIC.sub("", item))
    return key


def _substitute_sub(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        return env[name] if name in env else match.group(0)

    return _SUB_VARIABLE.sub(replace, text)


def _collapse_sub(value: Any) -> Any:
    """``{"Fn::Sub": "text"}`` without variables is just ``"text"``."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        if "${" not in text:
            return text
    return value


def _placeholders(node: Any, variables: dict[str, Any]) -> Any:
    """Replace intrinsics by ``${VarN}`` (and escape literal ``${``) for Fn::ToJsonString."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, _),) = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                name = f"ToJsonVar{len(variables)}"
                variables[name] = node
                return "${" + name + "}"
        return {k: _placeholders(v, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [_placeholders(item, variables) for item in node]
    if isinstance(node, str):
        return node.replace("${", "${!")
    return node
