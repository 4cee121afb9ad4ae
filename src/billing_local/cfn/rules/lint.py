"""The adapter between a check over the rendered template and cfn-lint's rule interface.

A check is ``check(template) -> list[str]``: one message per violation, each starting with the
logical id it is about. :class:`CheckRule` is the mixin every rule class puts before
``CloudFormationLintRule``: its ``match`` renders the template as CloudFormation deploys it and turns
each message into a ``RuleMatch`` on that resource. The mixin is not itself a cfn-lint rule, so
cfn-lint, which instantiates every rule class it finds in a module, never instantiates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from cfnlint.rules import RuleMatch

from billing_local.cfn.render import render

Template = dict[str, Any]
Check = Callable[[Template], list[str]]
RENDERED_TRANSFORMS = ("AWS::Serverless-2016-10-31", "AWS::LanguageExtensions")
_LEADING_ID = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=8)
def rendered_file(path: str, mtime: float) -> Template:
    """The rendered template of a file (cached per file and modification time; do not modify it)."""
    return render(Path(path))


def plain_template(cfn: Any) -> Template:
    """The template the checks read: rendered by billing_local.cfn when the file declares a transform
    (Fn::ForEach, SAM), else the template cfn-lint holds (already plain CloudFormation)."""
    declared = cfn.transform_pre.get("Transform") or []
    filename = getattr(cfn, "filename", None)
    if any(t in RENDERED_TRANSFORMS for t in declared) and filename and Path(filename).is_file():
        path = Path(filename).resolve()
        return rendered_file(str(path), path.stat().st_mtime)
    template: Template = cfn.template
    return template


def path_of(message: str, template: Template) -> list[str]:
    """Where a message points: the resource whose logical id starts it, else the Resources section."""
    found = _LEADING_ID.match(message)
    if found and found.group(0) in (template.get("Resources") or {}):
        return ["Resources", found.group(0)]
    return ["Resources"]


def matches(cfn: Any, check: Check) -> list[RuleMatch]:
    template = plain_template(cfn)
    return [RuleMatch(path_of(message, template), message) for message in check(template)]


class CheckRule:
    """Mixin for a cfn-lint rule made of one check: ``class R(CheckRule, CloudFormationLintRule)``."""

    check: Check

    def match(self, cfn: Any) -> list[RuleMatch]:
        return matches(cfn, type(self).check)


def problems(rule: Any, template: Template, filename: str | None = None) -> list[str]:
    """The messages of one cfn-lint rule on a template dict (as cfn-lint would report them)."""
    from cfnlint.template import Template as LintTemplate

    return [match.message for match in rule.match(LintTemplate(filename, template))]
