"""Every rule holds on the real template, and fails on a deliberately broken copy of it.

The rules are cfn-lint custom rules (billing_local/cfn/rules, ids E9xxx), found here the way
`cfn-lint --append-rules` finds them and run on the broken copies through their ``match``.
"""

from collections.abc import Callable
from typing import Any

import pytest
from cfnlint.helpers import create_rules, load_plugins

from billing_local.cfn.rules import deploy, observability, security, wiring
from billing_local.cfn.rules import model as rules
from billing_local.cfn.rules.lint import problems

Template = dict[str, Any]
RULES_DIR = wiring.__file__.rsplit("/", 1)[0]
RULES = {
    rule.check.__name__: rule for module in (wiring, observability, security) for rule in create_rules(module)
}


def test_cfn_lint_finds_every_rule_in_the_folder() -> None:
    loaded = load_plugins(RULES_DIR)
    ids = [rule.id for rule in loaded]
    deploy_rules = {rule.check.__name__ for rule in create_rules(deploy)}
    assert len(ids) == len(set(ids)) == len(RULES) + len(deploy_rules)
    assert all(rule_id.startswith("E9") for rule_id in ids)
    assert {rule.check.__name__ for rule in loaded} == set(RULES) | deploy_rules


def res(template: Template, logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


def prop(template: Template, logical_id: str) -> dict[str, Any]:
    return res(template, logical_id)["Properties"]


def first_of_type(
    template: Template, kind: str, where: Callable[[dict[str, Any]], bool] = lambda r: True
) -> str:
    return next(k for k, r in template["Resources"].items() if r["Type"] == kind and where(r))


def sqs_mapping(template: Template) -> str:
    return first_of_type(
        template,
        "AWS::Lambda::EventSourceMapping",
        lambda r: (
            rules.target_id(r["Properties"]["EventSourceArn"]) in rules.resources(template, "AWS::SQS::Queue")
        ),
    )


def stream_mapping(template: Template) -> str:
    return first_of_type(
        template,
        "AWS::Lambda::EventSourceMapping",
        lambda r: (
            rules.target_id(r["Properties"]["EventSourceArn"])
            not in rules.resources(template, "AWS::SQS::Queue")
        ),
    )


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_holds_on_the_template(rendered: Template, name: str) -> None:
    assert problems(RULES[name], rendered) == []


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_holds_with_prod_parameters(rendered_prod: Template, name: str) -> None:
    assert problems(RULES[name], rendered_prod) == []


# (rule, how to break the template, a fragment the rule's message must name)
BREAKAGES: list[tuple[str, Callable[[Template], None], str]] = [
    (
        "queues_without_dead_letter_queue",
        lambda t: prop(t, "AgreementQueue").pop("RedrivePolicy"),
        "AgreementQueue",
    ),
    (
        "queues_without_dead_letter_queue",
        lambda t: t["Resources"].__setitem__("StrayQueue", {"Type": "AWS::SQS::Queue", "Properties": {}}),
        "StrayQueue",
    ),
    (
        "max_receive_counts_out_of_range",
        lambda t: prop(t, "PaymentQueue")["RedrivePolicy"].update(maxReceiveCount=1000),
        "PaymentQueue",
    ),
    (
        "max_receive_counts_out_of_range",
        lambda t: prop(t, "InvoiceJobQueue")["RedrivePolicy"].update(maxReceiveCount=1),
        "InvoiceJobQueue",
    ),
    ("dead_letter_queues_without_alarm", lambda t: t["Resources"].pop("OutboxDLQAlarm"), "OutboxDLQ"),
    (
        "dead_letter_queues_without_alarm",
        lambda t: prop(t, "ScheduleDLQAlarm").update(Threshold=10),
        "ScheduleDLQ",
    ),
    ("work_queues_without_age_alarm", lambda t: t["Resources"].pop("PaymentQueueAgeAlarm"), "PaymentQueue"),
    (
        "functions_without_alarms",
        lambda t: t["Resources"].pop("EventReplayFunctionThrottlesAlarm"),
        "EventReplayFunction: no Throttles",
    ),
    (
        "functions_without_alarms",
        lambda t: t["Resources"].pop("OutboxPublisherFunctionErrorsAlarm"),
        "OutboxPublisherFunction: no Errors",
    ),
    (
        "alarms_not_notifying",
        lambda t: prop(t, "DailyRunHeartbeatAlarm").update(AlarmActions=[]),
        "DailyRunHeartbeatAlarm",
    ),
    ("alarms_not_notifying", lambda t: t["Resources"].pop("AlarmEmailSubscription"), "reach no one"),
    (
        "visibility_timeouts_too_short",
        lambda t: prop(t, "AgreementQueue").update(VisibilityTimeout=60),
        "AgreementQueue",
    ),
    # the pull consumer counts too: a slower exporter needs a longer visibility timeout
    (
        "visibility_timeouts_too_short",
        lambda t: prop(t, "AccountingExporterFunction").update(Timeout=900),
        "AccountingExporterFunction",
    ),
    (
        "runtime_or_architecture_wrong",
        lambda t: prop(t, "PaymentProcessorFunction").update(Runtime="python3.12"),
        "PaymentProcessorFunction",
    ),
    (
        "runtime_or_architecture_wrong",
        lambda t: prop(t, "DlqRedriveFunction").update(Architectures=["x86_64"]),
        "DlqRedriveFunction",
    ),
    (
        "runtime_or_architecture_wrong",
        lambda t: prop(t, first_of_type(t, "AWS::Lambda::LayerVersion")).update(
            CompatibleArchitectures=["x86_64"]
        ),
        "CompatibleArchitectures",
    ),
    (
        "event_sources_without_partial_failures",
        lambda t: prop(t, sqs_mapping(t)).pop("FunctionResponseTypes"),
        "ReportBatchItemFailures",
    ),
    (
        "event_sources_without_partial_failures",
        lambda t: prop(t, stream_mapping(t)).pop("DestinationConfig"),
        "on-failure destination",
    ),
    (
        "wildcard_iam_statements",
        lambda t: prop(t, "PaymentProcessorRole")["Policies"][0]["PolicyDocument"]["Statement"].append(
            {"Sid": "Oops", "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"}
        ),
        "PaymentProcessorRole/Oops",
    ),
    (
        "wildcard_iam_statements",
        lambda t: prop(t, "AgreementProjectorRole")["Policies"][0]["PolicyDocument"]["Statement"].append(
            {
                "Sid": "AllSqs",
                "Effect": "Allow",
                "Action": "sqs:*",
                "Resource": {"Fn::GetAtt": ["AgreementQueue", "Arn"]},
            }
        ),
        "AgreementProjectorRole/AllSqs",
    ),
    (
        "wildcard_iam_statements",
        lambda t: prop(t, "EventReplayRole")["ManagedPolicyArns"].append(
            "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
        ),
        "AmazonSQSFullAccess",
    ),
    ("unencrypted_resources", lambda t: prop(t, "NotificationDLQ").pop("KmsMasterKeyId"), "NotificationDLQ"),
    ("unencrypted_resources", lambda t: prop(t, "BillingTopic").pop("KmsMasterKeyId"), "BillingTopic"),
    (
        "unencrypted_resources",
        lambda t: prop(t, "SandboxLedgerTable").pop("SSESpecification"),
        "SandboxLedgerTable",
    ),
    (
        "unencrypted_resources",
        lambda t: prop(t, "AccountingBucket").pop("BucketEncryption"),
        "AccountingBucket",
    ),
    (
        "functions_without_log_retention",
        lambda t: t["Resources"].pop("InvoiceGeneratorFunctionLogGroup"),
        "InvoiceGeneratorFunction",
    ),
    (
        "functions_without_log_retention",
        lambda t: prop(t, "InvoiceSchedulerFunctionLogGroup").pop("RetentionInDays"),
        "RetentionInDays",
    ),
    ("queue_policy_gaps", lambda t: prop(t, "InternalQueuesPolicy")["Queues"].pop(0), "InvoiceJobQueue"),
    (
        "queue_policy_gaps",
        lambda t: prop(t, "InternalQueuesPolicy")["Queues"].append({"Ref": "PaymentQueue"}),
        "PaymentQueue",
    ),
    (
        "queue_policy_gaps",
        lambda t: prop(t, "BillingQueuesPolicy")["PolicyDocument"]["Statement"][0]["Condition"][
            "ArnEquals"
        ].update({"aws:SourceArn": {"Ref": "AgreementTopic"}}),
        "PaymentQueueSubscription",
    ),
    (
        "schedules_without_safety_net",
        lambda t: prop(t, first_of_type(t, "AWS::Scheduler::Schedule"))["Target"].pop("DeadLetterConfig"),
        "DeadLetterConfig",
    ),
]


@pytest.mark.parametrize(
    ("name", "breakage", "expected"),
    BREAKAGES,
    ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(BREAKAGES)],
)
def test_rule_fails_on_a_broken_copy(
    rendered: Template, name: str, breakage: Callable[[Template], None], expected: str
) -> None:
    breakage(rendered)
    found = problems(RULES[name], rendered)
    assert found, f"{name} did not notice the breakage"
    assert any(expected in problem for problem in found), found


def test_every_rule_is_proven_able_to_fail() -> None:
    assert {name for name, _, _ in BREAKAGES} == set(RULES)


def test_dead_letter_queues_are_found_by_use_not_by_name(rendered: Template) -> None:
    assert rules.dead_letter_queues(rendered) == {
        "AgreementDLQ",
        "InvoiceJobDLQ",
        "PaymentDLQ",
        "AccountingDLQ",
        "OutboxDLQ",
        "ScheduleDLQ",
        "NotificationDLQ",
    }
    assert rules.work_queues(rendered) == {
        "AgreementQueue",
        "InvoiceJobQueue",
        "PaymentQueue",
        "AccountingQueue",
    }
