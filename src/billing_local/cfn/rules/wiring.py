"""Wiring rules (E90xx): every queue has a DLQ, receive counts and visibility timeouts fit their
consumers, event sources report partial failures, queue policies let exactly their topics in,
schedules have a safety net, functions run the expected runtime and architecture."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from billing_local.cfn.rules.lint import CheckRule
from billing_local.cfn.rules.model import (
    Template,
    as_list,
    function_timeout,
    number,
    props,
    queue_consumers,
    resources,
    target_id,
    work_queues,
)

RUNTIME = "python3.13"
ARCHITECTURES = ["arm64"]
VISIBILITY_FACTOR = 6  # SQS visibility timeout >= 6 x the consuming function's timeout (AWS guidance)
MAX_RECEIVE_COUNT_RANGE = (
    3,
    10,
)  # fewer: no room for a transient error; more: a poison message cycles for hours
SQS_DEFAULT_VISIBILITY = 30


def queues_without_dead_letter_queue(template: Template) -> list[str]:
    """Every SQS queue that is not itself a DLQ has a RedrivePolicy with a DLQ."""
    problems = []
    for queue in sorted(work_queues(template)):
        redrive = props(resources(template, "AWS::SQS::Queue")[queue]).get("RedrivePolicy")
        if not isinstance(redrive, dict) or target_id(redrive.get("deadLetterTargetArn")) is None:
            problems.append(f"{queue}: a work queue without RedrivePolicy.deadLetterTargetArn")
    return problems


def max_receive_counts_out_of_range(template: Template) -> list[str]:
    low, high = MAX_RECEIVE_COUNT_RANGE
    problems = []
    for queue, resource in sorted(resources(template, "AWS::SQS::Queue").items()):
        redrive = props(resource).get("RedrivePolicy")
        if isinstance(redrive, dict):
            count = number(redrive.get("maxReceiveCount"))
            if count is None or not low <= count <= high:
                problems.append(
                    f"{queue}: maxReceiveCount {redrive.get('maxReceiveCount')!r} outside {low}..{high}"
                )
    return problems


def visibility_timeouts_too_short(template: Template) -> list[str]:
    """Work queues: visibility timeout >= 6 x the timeout of every function receiving from them."""
    queues = resources(template, "AWS::SQS::Queue")
    functions = resources(template, "AWS::Lambda::Function")
    problems = []
    for queue, consumers in sorted(queue_consumers(template).items()):
        if queue not in work_queues(template):
            continue  # DLQs are read by the operator's redrive tool, one message at a time
        visibility = int(props(queues[queue]).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY))
        for function in sorted(consumers):
            timeout = function_timeout(functions[function])
            if visibility < VISIBILITY_FACTOR * timeout:
                problems.append(
                    f"{queue}: VisibilityTimeout {visibility} < "
                    f"{VISIBILITY_FACTOR} x {function}'s Timeout {timeout}"
                )
    return problems


def event_sources_without_partial_failures(template: Template) -> list[str]:
    """SQS and stream event sources report partial batch failures; streams also have a failure destination."""
    queues = set(resources(template, "AWS::SQS::Queue"))
    problems = []
    for mapping_id, mapping in sorted(resources(template, "AWS::Lambda::EventSourceMapping").items()):
        p = props(mapping)
        if "ReportBatchItemFailures" not in as_list(p.get("FunctionResponseTypes")):
            problems.append(f"{mapping_id}: FunctionResponseTypes lacks ReportBatchItemFailures")
        if target_id(p.get("EventSourceArn")) not in queues:  # a stream
            if not ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
                problems.append(f"{mapping_id}: stream event source without an on-failure destination")
            if p.get("BisectBatchOnFunctionError") is not True:
                problems.append(f"{mapping_id}: stream event source without BisectBatchOnFunctionError")
    return problems


def queue_policy_gaps(template: Template) -> list[str]:
    """Each queue is governed by exactly one QueuePolicy (a second one would overwrite the first), and
    every SNS subscription's queue (and its subscription DLQ) lets exactly that topic deliver."""
    queues = resources(template, "AWS::SQS::Queue")
    policies = resources(template, "AWS::SQS::QueuePolicy")
    governed: dict[str, list[str]] = {queue: [] for queue in queues}
    for policy_id, policy in policies.items():
        for queue in as_list(props(policy).get("Queues")):
            if target_id(queue) in governed:
                governed[target_id(queue)].append(policy_id)  # type: ignore[index]
    problems = [
        f"{queue}: governed by {len(ids)} queue policies {sorted(ids)}, expected exactly 1"
        for queue, ids in sorted(governed.items())
        if len(ids) != 1
    ]
    for sub_id, sub in sorted(resources(template, "AWS::SNS::Subscription").items()):
        p = props(sub)
        topic = target_id(p.get("TopicArn"))
        needs = []
        if p.get("Protocol") == "sqs":
            needs.append(target_id(p.get("Endpoint")))
        needs.append(target_id((p.get("RedrivePolicy") or {}).get("deadLetterTargetArn")))
        for queue in needs:
            if queue is None or queue not in governed or not governed[queue]:
                continue
            policy = props(policies[governed[queue][0]]).get("PolicyDocument") or {}
            if not any(
                _allows_topic(statement, queue, topic) for statement in as_list(policy.get("Statement"))
            ):
                problems.append(f"{sub_id}: the policy of {queue} does not let {topic} (only) send to it")
    return problems


def _allows_topic(statement: dict[str, Any], queue: str, topic: str | None) -> bool:
    if (
        statement.get("Effect") != "Allow"
        or (statement.get("Principal") or {}).get("Service") != "sns.amazonaws.com"
    ):
        return False
    if queue not in {target_id(r) for r in as_list(statement.get("Resource"))}:
        return False
    source = ((statement.get("Condition") or {}).get("ArnEquals") or {}).get("aws:SourceArn")
    return topic in {target_id(s) for s in as_list(source)}


def schedules_without_safety_net(template: Template) -> list[str]:
    problems = []
    for schedule_id, schedule in sorted(resources(template, "AWS::Scheduler::Schedule").items()):
        target = props(schedule).get("Target") or {}
        if not (target.get("DeadLetterConfig") or {}).get("Arn"):
            problems.append(f"{schedule_id}: no DeadLetterConfig")
        if not target.get("RetryPolicy"):
            problems.append(f"{schedule_id}: no RetryPolicy")
    return problems


def runtime_or_architecture_wrong(template: Template) -> list[str]:
    problems = []
    for function, resource in sorted(resources(template, "AWS::Lambda::Function").items()):
        if props(resource).get("Runtime") != RUNTIME:
            problems.append(f"{function}: Runtime {props(resource).get('Runtime')!r}, expected {RUNTIME}")
        if props(resource).get("Architectures") != ARCHITECTURES:
            architectures = props(resource).get("Architectures")
            problems.append(f"{function}: Architectures {architectures!r}, expected {ARCHITECTURES}")
    for layer, resource in sorted(resources(template, "AWS::Lambda::LayerVersion").items()):
        if props(resource).get("CompatibleArchitectures") != ARCHITECTURES:
            problems.append(
                f"{layer}: CompatibleArchitectures {props(resource).get('CompatibleArchitectures')!r}"
            )
        if props(resource).get("CompatibleRuntimes") != [RUNTIME]:
            problems.append(f"{layer}: CompatibleRuntimes {props(resource).get('CompatibleRuntimes')!r}")
    return problems


class QueueDeadLetterQueue(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9001"
    shortdesc = "Work queue without a dead-letter queue"
    description = "Every SQS queue that is not itself a DLQ has a RedrivePolicy with a DLQ"
    tags = ("sqs",)
    check = staticmethod(queues_without_dead_letter_queue)


class MaxReceiveCount(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9002"
    shortdesc = "maxReceiveCount out of range"
    description = "Redrive maxReceiveCount between 3 and 10"
    tags = ("sqs",)
    check = staticmethod(max_receive_counts_out_of_range)


class VisibilityTimeout(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9003"
    shortdesc = "Visibility timeout shorter than 6 x the consumer's timeout"
    description = "Work queues: visibility timeout >= 6 x the timeout of every function receiving from them"
    tags = ("sqs", "lambda")
    check = staticmethod(visibility_timeouts_too_short)


class PartialBatchFailures(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9004"
    shortdesc = "Event source without partial batch failures"
    description = (
        "SQS and stream event sources report partial batch failures; streams also fail to a destination"
    )
    tags = ("lambda",)
    check = staticmethod(event_sources_without_partial_failures)


class QueuePolicies(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9005"
    shortdesc = "Queue policy gaps"
    description = "One QueuePolicy per queue, letting exactly the subscribed topic deliver"
    tags = ("sqs", "sns")
    check = staticmethod(queue_policy_gaps)


class ScheduleSafetyNet(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9006"
    shortdesc = "Schedule without DLQ or retry policy"
    description = "Every schedule has a DeadLetterConfig and a RetryPolicy"
    tags = ("scheduler",)
    check = staticmethod(schedules_without_safety_net)


class RuntimeArchitecture(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9007"
    shortdesc = "Unexpected runtime or architecture"
    description = "Functions and layers: python3.13 on arm64"
    tags = ("lambda",)
    check = staticmethod(runtime_or_architecture_wrong)
