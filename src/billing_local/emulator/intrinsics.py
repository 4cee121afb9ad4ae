"""CloudFormation intrinsic functions, conditions, mappings and parameters."""

import base64
import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

ACCOUNT_ID = "123456789012"


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


def effective_parameters(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Parameter values: overrides, else defaults; typed like CloudFormation does for Ref."""
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
        ptype = str(spec.get("Type", "String"))
        if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
            values[name] = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",")]
        else:
            values[name] = str(raw) if not isinstance(raw, bool) else str(raw).lower()
    return values


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) mentioned by Ref, GetAtt and Sub inside a value."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                    found.add(str(target))
                elif key == "Fn::Sub":
                    text = arg if isinstance(arg, str) else arg[0]
                    local = set() if isinstance(arg, str) else set(arg[1])
                    for name in _SUB_VARIABLE.findall(text):
                        if not name.startswith("!"):
                            head = name.split(".", 1)[0]
                            if head not in local:
                                found.add(head)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


class Resolver:
    """Evaluates intrinsics against parameters, pseudo parameters, conditions and resources.

    ``ref`` and ``get_att`` are called for logical ids of resources (they may create the
    resource on first use).
    """

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, Any],
        *,
        region: str,
        stack_name: str,
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.mappings: dict[str, Any] = template.get("Mappings") or {}
        self.condition_defs: dict[str, Any] = template.get("Conditions") or {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # -- conditions ---------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.condition_defs:
                raise TemplateError(f"unknown condition {name}")
            if name in self._evaluating:
                raise TemplateError(f"condition {name} refers to itself")
            self._evaluating.add(name)
            try:
                self._conditions[name] = bool(self._eval_condition(self.condition_defs[name]))
            finally:
                self._evaluating.discard(name)
        return self._conditions[name]

    def _eval_condition(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1 and "Condition" in node:
            return self.condition(node["Condition"])
        value = self.resolve(node)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"condition does not evaluate to a boolean: {node!r}")

    def is_enabled(self, resource: dict[str, Any]) -> bool:
        name = resource.get("Condition")
        return True if name is None else self.condition(name)

    # -- intrinsics ---------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic in ``node``; keys whose value is AWS::NoValue are dropped."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        out: dict[str, Any] = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _fn_ref(self, name: Any) -> Any:
        name = self.resolve(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(str(name))

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, attribute = arg.split(".", 1)
        else:
            logical_id, attribute = arg[0], self.resolve(arg[1])
            if len(arg) > 2:
                attribute = ".".join([attribute, *arg[2:]])
        return self._get_att(str(logical_id), str(attribute))

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, local = arg, {}
        else:
            text, variables = arg[0], arg[1] or {}
            local = {k: self.resolve(v) for k, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return _stringify(local[name])
            if name in self.pseudo or name in self.parameters:
                return _stringify(self._fn_ref(name))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return _stringify(self._get_att(logical_id, attribute))
            return _stringify(self._ref(name))

        return _SUB_VARIABLE.sub(substitute, text)

    def _fn_join(self, arg: Any) -> str:
        delimiter, items = arg
        values = self.resolve(items)
        return str(self.resolve(delimiter)).join(_stringify(v) for v in values)

    def _fn_select(self, arg: Any) -> Any:
        index, items = self.resolve(arg[0]), self.resolve(arg[1])
        return items[int(index)]

    def _fn_split(self, arg: Any) -> list[str]:
        delimiter, text = self.resolve(arg[0]), self.resolve(arg[1])
        return str(text).split(str(delimiter))

    def _fn_if(self, arg: Any) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = (self.resolve(v) for v in arg)
        return _stringify(left) == _stringify(right)

    def _fn_not(self, arg: Any) -> bool:
        return not self._eval_condition(arg[0])

    def _fn_and(self, arg: Any) -> bool:
        return all(self._eval_condition(a) for a in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self._eval_condition(a) for a in arg)

    def _fn_condition(self, arg: Any) -> bool:
        return self.condition(str(arg))

    def _fn_find_in_map(self, arg: Any) -> Any:
        name, top, second = (self.resolve(v) for v in arg[:3])
        try:
            return self.mappings[name][_stringify(top)][_stringify(second)]
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {name}/{top}/{second}") from None

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.pseudo["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_to_json_string(self, arg: Any) -> str:
        return json.dumps(self.resolve(arg), separators=(",", ":"))

    def _fn_length(self, arg: Any) -> int:
        return len(self.resolve(arg))

    def _fn_unsupported(self, arg: Any) -> Any:
        raise TemplateError(f"intrinsic not supported locally: {arg!r}")

    _FUNCTIONS: ClassVar[dict[str, Callable[["Resolver", Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ToJsonString": _fn_to_json_string,
        "Fn::Length": _fn_length,
        "Fn::ImportValue": _fn_unsupported,
        "Fn::Cidr": _fn_unsupported,
    }


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
