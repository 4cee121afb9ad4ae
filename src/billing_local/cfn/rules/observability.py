"""Observability rules (E91xx): an alarm on every DLQ, work queue and function, alarms that notify
someone, log groups with retention for every function."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule

from billing_local.cfn.rules.lint import CheckRule
from billing_local.cfn.rules.model import (
    Template,
    alarms,
    as_list,
    dead_letter_queues,
    find_alarms,
    fires_on_any,
    props,
    resources,
    target_id,
    work_queues,
)

ALARM_TOPIC = "AlarmTopic"


def dead_letter_queues_without_alarm(template: Template) -> list[str]:
    """Every DLQ has an alarm firing on one visible message."""
    problems = []
    for queue in sorted(dead_letter_queues(template)):
        found = find_alarms(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue)
        if not any(fires_on_any(alarm) for alarm in found):
            problems.append(
                f"{queue}: no ApproximateNumberOfMessagesVisible alarm firing on the first message"
            )
    return problems


def work_queues_without_age_alarm(template: Template) -> list[str]:
    return [
        f"{queue}: no ApproximateAgeOfOldestMessage alarm"
        for queue in sorted(work_queues(template))
        if not find_alarms(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue)
    ]


def functions_without_alarms(template: Template) -> list[str]:
    problems = []
    for function in sorted(resources(template, "AWS::Lambda::Function")):
        for metric in ("Errors", "Throttles"):
            if not find_alarms(template, "AWS/Lambda", metric, "FunctionName", function):
                problems.append(f"{function}: no {metric} alarm")
    return problems


def alarms_not_notifying(template: Template) -> list[str]:
    """Every alarm notifies AlarmTopic, which e-mails someone."""
    problems = [
        f"{alarm_id}: AlarmActions does not include {ALARM_TOPIC}"
        for alarm_id, alarm in sorted(alarms(template).items())
        if ALARM_TOPIC not in {target_id(action) for action in as_list(props(alarm).get("AlarmActions"))}
    ]
    if ALARM_TOPIC not in resources(template, "AWS::SNS::Topic"):
        problems.append(f"{ALARM_TOPIC}: missing")
    elif not any(
        target_id(props(sub).get("TopicArn")) == ALARM_TOPIC and props(sub).get("Protocol") == "email"
        for sub in resources(template, "AWS::SNS::Subscription").values()
    ):
        problems.append(f"{ALARM_TOPIC}: no e-mail subscription, the alarms reach no one")
    return problems


def _log_group_function(log_group: dict[str, Any]) -> str | None:
    """The function a log group named /aws/lambda/<function name> belongs to."""
    name = props(log_group).get("LogGroupName")
    if isinstance(name, dict) and "Fn::Sub" in name:
        sub = name["Fn::Sub"]
        if isinstance(sub, str) and sub.startswith("/aws/lambda/${") and sub.endswith("}"):
            return sub[len("/aws/lambda/${") : -1]
        if (
            isinstance(sub, list)
            and len(sub) == 2
            and isinstance(sub[0], str)
            and sub[0].startswith("/aws/lambda/${")
        ):
            variable = sub[0][len("/aws/lambda/${") : -1]
            return target_id((sub[1] or {}).get(variable))
    return None


def functions_without_log_retention(template: Template) -> list[str]:
    groups = resources(template, "AWS::Logs::LogGroup")
    owned = {_log_group_function(group): group for group in groups.values()}
    problems = []
    for function in sorted(resources(template, "AWS::Lambda::Function")):
        group = owned.get(function)
        if group is None:
            problems.append(f"{function}: no /aws/lambda/<name> log group in the template")
        elif props(group).get("RetentionInDays") is None:
            problems.append(f"{function}: its log group has no RetentionInDays")
    return problems


class DeadLetterQueueAlarm(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9101"
    shortdesc = "DLQ without an alarm on its first message"
    description = "Every DLQ has an alarm firing on one visible message"
    tags = ("sqs", "cloudwatch")
    check = staticmethod(dead_letter_queues_without_alarm)


class QueueAgeAlarm(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9102"
    shortdesc = "Work queue without an age alarm"
    description = "Every work queue has an ApproximateAgeOfOldestMessage alarm"
    tags = ("sqs", "cloudwatch")
    check = staticmethod(work_queues_without_age_alarm)


class FunctionAlarms(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9103"
    shortdesc = "Function without Errors/Throttles alarms"
    description = "Every function has an Errors and a Throttles alarm"
    tags = ("lambda", "cloudwatch")
    check = staticmethod(functions_without_alarms)


class AlarmsNotify(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9104"
    shortdesc = "Alarm that notifies no one"
    description = "Every alarm notifies AlarmTopic, which e-mails someone"
    tags = ("cloudwatch", "sns")
    check = staticmethod(alarms_not_notifying)


class FunctionLogRetention(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9105"
    shortdesc = "Function without a log group with retention"
    description = "Every function has a /aws/lambda/<name> log group with RetentionInDays"
    tags = ("lambda", "logs")
    check = staticmethod(functions_without_log_retention)
