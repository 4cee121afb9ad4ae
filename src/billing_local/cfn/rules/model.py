"""What the template rules ask of a rendered template (Fn::ForEach expanded, SAM translated).

Plain functions over the template dict: resources of a type, properties, dead-letter queues (found
by use, not by name), alarms on a metric, IAM statements, queue consumers, policy statements
across ``Fn::If`` branches. The rules (wiring, security, observability, deploy) are built on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from billing_local.cfn.references import target_id

__all__ = [
    "Template",
    "alarm_dimension_target",
    "alarms",
    "as_list",
    "branches",
    "dead_letter_queues",
    "dead_letter_targets",
    "find_alarms",
    "fires_on_any",
    "function_timeout",
    "iam_statements",
    "number",
    "props",
    "queue_consumers",
    "resources",
    "role_grants",
    "statements",
    "target_id",
    "work_queues",
]

Template = dict[str, Any]
LAMBDA_DEFAULT_TIMEOUT = 3


def resources(template: Template, *types: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") in types
    }


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties = resource.get("Properties")
    return properties if isinstance(properties, dict) else {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def dead_letter_targets(template: Template) -> Iterator[tuple[str, Any]]:
    """(who points at it, the dead-letter target value) for every failure destination."""
    for logical_id, queue in resources(template, "AWS::SQS::Queue").items():
        redrive = props(queue).get("RedrivePolicy")
        if isinstance(redrive, dict):
            yield logical_id, redrive.get("deadLetterTargetArn")
    for logical_id, subscription in resources(template, "AWS::SNS::Subscription").items():
        redrive = props(subscription).get("RedrivePolicy")
        if isinstance(redrive, dict):
            yield logical_id, redrive.get("deadLetterTargetArn")
    for logical_id, mapping in resources(template, "AWS::Lambda::EventSourceMapping").items():
        yield (
            logical_id,
            ((props(mapping).get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        )
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        yield logical_id, (props(function).get("DeadLetterConfig") or {}).get("TargetArn")
    for logical_id, config in resources(template, "AWS::Lambda::EventInvokeConfig").items():
        yield (
            logical_id,
            ((props(config).get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
        )
    for logical_id, schedule in resources(template, "AWS::Scheduler::Schedule").items():
        yield logical_id, ((props(schedule).get("Target") or {}).get("DeadLetterConfig") or {}).get("Arn")


def dead_letter_queues(template: Template) -> set[str]:
    """Queues something uses as a dead-letter target (a DLQ is defined by its use, not its name)."""
    queues = set(resources(template, "AWS::SQS::Queue"))
    return {target_id(value) for _, value in dead_letter_targets(template) if target_id(value) in queues} - {
        None
    }  # type: ignore[return-value]


def work_queues(template: Template) -> set[str]:
    return set(resources(template, "AWS::SQS::Queue")) - dead_letter_queues(template)


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::CloudWatch::Alarm")


def alarm_dimension_target(alarm: dict[str, Any], name: str) -> str | None:
    for dimension in as_list(props(alarm).get("Dimensions")):
        if isinstance(dimension, dict) and dimension.get("Name") == name:
            return target_id(dimension.get("Value"))
    return None


def find_alarms(
    template: Template, namespace: str, metric: str, dimension: str, target: str
) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in alarms(template).values()
        if props(alarm).get("Namespace") == namespace
        and props(alarm).get("MetricName") == metric
        and alarm_dimension_target(alarm, dimension) == target
    ]


def fires_on_any(alarm: dict[str, Any]) -> bool:
    """The alarm fires on a single occurrence (> 0, or >= 1)."""
    p = props(alarm)
    threshold = number(p.get("Threshold"))
    operator = p.get("ComparisonOperator")
    return (operator == "GreaterThanThreshold" and threshold == 0) or (
        operator == "GreaterThanOrEqualToThreshold" and threshold == 1
    )


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def function_timeout(function: dict[str, Any]) -> int:
    return int(props(function).get("Timeout", LAMBDA_DEFAULT_TIMEOUT))


def iam_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owning resource, statement) for every identity policy statement in the template."""
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        for policy in as_list(props(role).get("Policies")):
            for statement in as_list((policy.get("PolicyDocument") or {}).get("Statement")):
                yield logical_id, statement
    for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy").items():
        for statement in as_list((props(policy).get("PolicyDocument") or {}).get("Statement")):
            yield logical_id, statement


def role_grants(template: Template, role_id: str, action: str) -> set[str]:
    """Logical ids of the resources a role's statements (incl. attached stack policies) allow `action` on."""
    role = resources(template, "AWS::IAM::Role").get(role_id)
    if role is None:
        return set()
    owners = {role_id} | {target_id(arn) for arn in as_list(props(role).get("ManagedPolicyArns"))} - {None}
    granted: set[str] = set()
    for owner, statement in iam_statements(template):
        if (
            owner in owners
            and statement.get("Effect") == "Allow"
            and action in as_list(statement.get("Action"))
        ):
            granted |= {target_id(r) for r in as_list(statement.get("Resource"))} - {None}  # type: ignore[arg-type]
    return granted


def queue_consumers(template: Template) -> dict[str, set[str]]:
    """Queue -> functions receiving from it: event source mappings and pull consumers (role grants)."""
    queues = set(resources(template, "AWS::SQS::Queue"))
    consumers: dict[str, set[str]] = {queue: set() for queue in queues}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        queue = target_id(props(mapping).get("EventSourceArn"))
        consumer = target_id(props(mapping).get("FunctionName"))
        if queue in queues and consumer:
            consumers[queue].add(consumer)
    for function_id, function in resources(template, "AWS::Lambda::Function").items():
        role = target_id(props(function).get("Role"))
        if role:
            for queue in role_grants(template, role, "sqs:ReceiveMessage") & queues:
                consumers[queue].add(function_id)
    return consumers


def branches(node: Any) -> Iterator[Any]:
    """Every value a node can take: both sides of each Fn::If, AWS::NoValue dropped."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, when_true, when_false = node["Fn::If"]
        yield from branches(when_true)
        yield from branches(when_false)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def statements(document: Any) -> Iterator[dict[str, Any]]:
    """The statements of a policy document, across conditional branches."""
    for doc in branches(document):
        for listed in branches((doc or {}).get("Statement")):
            for statement in as_list(listed):
                yield from (s for s in branches(statement) if isinstance(s, dict))
