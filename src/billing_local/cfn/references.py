"""The one reference walker: which logical ids (and parameters) a template value depends on."""

import re
from typing import Any

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def sub_variables(arg: Any) -> set[str]:
    """The names an ``Fn::Sub`` argument refers to (``${X}``, ``${X.Attr}`` -> X), not its own variables."""
    text = arg if isinstance(arg, str) else arg[0]
    local = set() if isinstance(arg, str) else set(arg[1] or {})
    found: set[str] = set()
    for name in SUB_VARIABLE.findall(text):
        if not name.startswith("!"):
            head = name.split(".", 1)[0]
            if head not in local:
                found.add(head)
    return found


def direct_reference(node: Any) -> set[str]:
    """What one intrinsic node (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``) names itself, without its children."""
    if not (isinstance(node, dict) and len(node) == 1):
        return set()
    ((key, arg),) = node.items()
    if key == "Ref" and isinstance(arg, str):
        return {arg}
    if key == "Fn::GetAtt":
        return {str(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])}
    if key == "Fn::Sub":
        return sub_variables(arg)
    return set()


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) mentioned by Ref, GetAtt and Sub anywhere inside a value."""
    found: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found |= direct_reference(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def target_id(value: Any) -> str | None:
    """The logical id behind {"Ref": X} or {"Fn::GetAtt": [X, attr]} / "X.attr" (None otherwise)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Ref" and isinstance(inner, str):
            return inner
        if key == "Fn::GetAtt":
            if isinstance(inner, list) and inner and isinstance(inner[0], str):
                return inner[0]
            if isinstance(inner, str):
                return inner.split(".", 1)[0]
    return None
