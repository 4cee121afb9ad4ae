"""Executable rules over the rendered template (Fn::ForEach expanded, SAM translated).

Each rule is a small function ``rule(template) -> list[str]`` returning one message per
violation (empty: the rule holds). tests/template/test_rules.py runs every rule on the real
template and on deliberately broken copies, so each rule is proven able to fail.

These are the checks cfn-lint and checkov do not make: a DLQ and an alarm for every queue,
an alarm on every function, alarms that notify someone, visibility timeouts that fit their
consumers, sane maxReceiveCount values, the runtime and architecture, partial batch responses,
no wildcard IAM resources, encryption and log retention everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Template = dict[str, Any]
Rule = Callable[[Template], list[str]]

RUNTIME = "python3.13"
ARCHITECTURES = ["arm64"]
VISIBILITY_FACTOR = 6  # SQS visibility timeout >= 6 x the consuming function's timeout (AWS guidance)
MAX_RECEIVE_COUNT_RANGE = (
    3,
    10,
)  # fewer: no room for a transient error; more: a poison message cycles for hours
ALARM_TOPIC = "AlarmTopic"
LAMBDA_DEFAULT_TIMEOUT = 3
SQS_DEFAULT_VISIBILITY = 30

# (resource logical id, statement Sid) -> why a "*" resource is unavoidable there.
WILDCARD_ALLOWLIST: dict[tuple[str, str], str] = {
    (
        "FunctionBasePolicy",
        "XRayWrite",
    ): "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
}


# ---------------------------------------------------------------- helpers
def resources(template: Template, *types: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") in types
    }


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties = resource.get("Properties")
    return properties if isinstance(properties, dict) else {}


def target_id(value: Any) -> str | None:
    """The logical id behind {"Ref": X} or {"Fn::GetAtt": [X, attr]} / "X.attr"."""
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
    threshold = _number(p.get("Threshold"))
    operator = p.get("ComparisonOperator")
    return (operator == "GreaterThanThreshold" and threshold == 0) or (
        operator == "GreaterThanOrEqualToThreshold" and threshold == 1
    )


def _number(value: Any) -> float | None:
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
        function = target_id(props(mapping).get("FunctionName"))
        if queue in queues and function:
            consumers[queue].add(function)
    for function_id, function in resources(template, "AWS::Lambda::Function").items():
        role = target_id(props(function).get("Role"))
        if role:
            for queue in role_grants(template, role, "sqs:ReceiveMessage") & queues:
                consumers[queue].add(function_id)
    return consumers


# ---------------------------------------------------------------- rules
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
            count = _number(redrive.get("maxReceiveCount"))
            if count is None or not low <= count <= high:
                problems.append(
                    f"{queue}: maxReceiveCount {redrive.get('maxReceiveCount')!r} outside {low}..{high}"
                )
    return problems


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


def wildcard_iam_statements(template: Template) -> list[str]:
    """No Allow statement on Resource "*" (or with Action "*", NotAction, NotResource) unless allowlisted;
    no AWS-managed policies (their statements are out of sight and mostly use "*")."""
    problems = []
    for owner, statement in iam_statements(template):
        sid = str(statement.get("Sid", "?"))
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{owner}/{sid}: NotAction/NotResource in an Allow statement")
        if any(
            a == "*" or (isinstance(a, str) and a.endswith(":*")) for a in as_list(statement.get("Action"))
        ):
            problems.append(f"{owner}/{sid}: wildcard Action {statement.get('Action')!r}")
        if "*" in as_list(statement.get("Resource")) and (owner, sid) not in WILDCARD_ALLOWLIST:
            problems.append(f'{owner}/{sid}: Resource "*" (allowlist it in WILDCARD_ALLOWLIST with a reason)')
    for role_id, role in resources(template, "AWS::IAM::Role").items():
        for arn in as_list(props(role).get("ManagedPolicyArns")):
            if isinstance(arn, str) and ":iam::aws:policy/" in arn:
                problems.append(f"{role_id}: AWS-managed policy {arn}")
    return problems


def unencrypted_resources(template: Template) -> list[str]:
    problems = []
    for queue, resource in sorted(resources(template, "AWS::SQS::Queue").items()):
        if (
            not props(resource).get("KmsMasterKeyId")
            and props(resource).get("SqsManagedSseEnabled") is not True
        ):
            problems.append(f"{queue}: SQS queue not encrypted")
    for topic, resource in sorted(resources(template, "AWS::SNS::Topic").items()):
        if not props(resource).get("KmsMasterKeyId"):
            problems.append(f"{topic}: SNS topic not encrypted with KMS")
    for table, resource in sorted(resources(template, "AWS::DynamoDB::Table").items()):
        sse = props(resource).get("SSESpecification") or {}
        if sse.get("SSEEnabled") is not True or not sse.get("KMSMasterKeyId"):
            problems.append(f"{table}: DynamoDB table not encrypted with the stack's KMS key")
    for bucket, resource in sorted(resources(template, "AWS::S3::Bucket").items()):
        if not (props(resource).get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration"):
            problems.append(f"{bucket}: S3 bucket without default encryption")
    for group, resource in sorted(resources(template, "AWS::Logs::LogGroup").items()):
        if not props(resource).get("KmsKeyId"):
            problems.append(f"{group}: log group not encrypted with KMS")
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


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        queues_without_dead_letter_queue,
        max_receive_counts_out_of_range,
        dead_letter_queues_without_alarm,
        work_queues_without_age_alarm,
        functions_without_alarms,
        alarms_not_notifying,
        visibility_timeouts_too_short,
        runtime_or_architecture_wrong,
        event_sources_without_partial_failures,
        wildcard_iam_statements,
        unencrypted_resources,
        functions_without_log_retention,
        queue_policy_gaps,
        schedules_without_safety_net,
    )
}
