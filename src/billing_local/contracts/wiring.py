"""What template.yaml (and samconfig.toml, pyproject.toml) say about the event channels."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from billing_local.cfn.language_extensions import expand
from billing_local.cfn.loader import load_yaml
from billing_local.cfn.references import references

from .common import REPO

__all__ = ["Subscription", "Wiring", "matches", "one_ref", "project_version", "refs", "samconfig"]


def refs(node: Any) -> set[str]:
    """Logical ids a template fragment refers to (Ref, Fn::GetAtt, ${Name} in Fn::Sub)."""
    return {name for name in references(node) if not name.startswith("AWS::")}


def one_ref(node: Any, where: str) -> str:
    found = refs(node)
    if len(found) != 1:
        raise ValueError(f"{where}: expected one resource reference, got {sorted(found)}")
    return found.pop()


@dataclasses.dataclass(frozen=True)
class Subscription:
    logical_id: str
    topic: str
    protocol: str
    endpoint: str  # a queue's logical id, or the parameter an e-mail address comes from
    raw: bool
    filter_policy: dict[str, Any] | None
    filter_scope: str
    dead_letter_queue: str | None


@dataclasses.dataclass(frozen=True)
class Wiring:
    """What template.yaml says about the event channels."""

    resources: dict[str, Any]
    subscriptions: tuple[Subscription, ...]

    @classmethod
    def load(cls, repo: Path = REPO) -> Wiring:
        template = expand(load_yaml(repo / "template.yaml"))
        resources: dict[str, Any] = template["Resources"]
        subs = []
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::SNS::Subscription":
                continue
            props = resource["Properties"]
            redrive = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            subs.append(
                Subscription(
                    logical_id=logical_id,
                    topic=one_ref(props["TopicArn"], f"{logical_id}.TopicArn"),
                    protocol=props["Protocol"],
                    endpoint=one_ref(props["Endpoint"], f"{logical_id}.Endpoint"),
                    raw=bool(props.get("RawMessageDelivery", False)),
                    filter_policy=props.get("FilterPolicy"),
                    filter_scope=props.get("FilterPolicyScope", "MessageAttributes"),
                    dead_letter_queue=None if redrive is None else one_ref(redrive, logical_id),
                )
            )
        return cls(resources, tuple(subs))

    def of_type(self, type_: str) -> list[str]:
        return [k for k, v in self.resources.items() if v.get("Type") == type_]

    @property
    def queue_subscriptions(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.protocol == "sqs"]

    @property
    def topics(self) -> list[str]:
        """Topics some queue subscribes to: the event topics (AlarmTopic only e-mails people)."""
        return list(dict.fromkeys(s.topic for s in self.queue_subscriptions))

    @property
    def queues(self) -> list[str]:
        return list(dict.fromkeys(s.endpoint for s in self.queue_subscriptions))

    def dead_letter_queue(self, queue: str) -> str | None:
        redrive = self.resources[queue]["Properties"].get("RedrivePolicy")
        return None if not redrive else one_ref(redrive["deadLetterTargetArn"], f"{queue}.RedrivePolicy")

    @property
    def channels(self) -> list[str]:
        dlqs = [d for q in self.queues if (d := self.dead_letter_queue(q)) is not None]
        return [*self.topics, *self.queues, *dict.fromkeys(dlqs)]

    def address(self, logical_id: str) -> str:
        props = self.resources[logical_id]["Properties"]
        name = props.get("TopicName") or props.get("QueueName")
        text = name.get("Fn::Sub") if isinstance(name, dict) else name
        if not isinstance(text, str):
            raise ValueError(f"{logical_id}: name {name!r} is not a plain Fn::Sub")
        address = text.replace("${AWS::StackName}", "{stackName}")
        if "${" in address:
            raise ValueError(f"{logical_id}: name {text!r} has a substitution other than the stack name")
        return address

    def functions(self) -> dict[str, dict[str, Any]]:
        return {k: self.resources[k] for k in self.of_type("AWS::Serverless::Function")}

    def sqs_sources(self, function: str) -> list[str]:
        events = self.resources[function]["Properties"].get("Events") or {}
        return [
            one_ref(e["Properties"]["Queue"], f"{function}.{name}")
            for name, e in events.items()
            if e.get("Type") == "SQS"
        ]

    def env(self, function: str, variable: str) -> set[str]:
        variables = (self.resources[function]["Properties"].get("Environment") or {}).get("Variables") or {}
        if variable not in variables:
            raise KeyError(f"{function} has no environment variable {variable}")
        return refs(variables[variable])


def matches(
    policy: Mapping[str, Any] | None, attributes: Mapping[str, set[str]]
) -> dict[str, set[str]] | None:
    """Apply an SNS attribute filter policy to the values each attribute can take.

    Returns the narrowed values (None when no message of that kind passes). Only exact string
    matches (and `$or` of policies) are supported: a policy with another operator makes the
    generator stop, so that a template change cannot silently describe the wrong messages.
    """
    policy = dict(policy or {})
    alternatives = policy.pop("$or", None)
    if alternatives is not None:  # SNS's $or: a message passes if it passes any alternative
        passing = [r for alt in alternatives if (r := matches({**policy, **alt}, attributes)) is not None]
        if not passing:
            return None
        return {k: set().union(*(r.get(k, set()) for r in passing)) for k in attributes}
    narrowed = {k: set(v) for k, v in attributes.items()}
    for key, allowed in policy.items():
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise NotImplementedError(
                f"filter policy {key}: {allowed!r}: only lists of strings are supported"
            )
        values = narrowed.get(key, set()) & set(allowed)
        if not values:
            return None
        narrowed[key] = values
    return narrowed


def samconfig(repo: Path) -> tuple[list[str], list[str]]:
    with (repo / "samconfig.toml").open("rb") as stream:
        config = tomllib.load(stream)
    stacks, regions = [], []
    for env in config.values():
        if isinstance(env, dict):
            params = env.get("global", {}).get("parameters", {})
            if "stack_name" in params:
                stacks.append(params["stack_name"])
            if "region" in params and params["region"] not in regions:
                regions.append(params["region"])
    return stacks, regions


def project_version(repo: Path) -> str:
    with (repo / "pyproject.toml").open("rb") as stream:
        return str(tomllib.load(stream)["project"]["version"])
