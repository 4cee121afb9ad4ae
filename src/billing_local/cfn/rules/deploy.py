"""Deploy rules (E93xx): what only a real deploy (or its first weeks) would reveal -- principals
that may not exist, unconditional e-mail subscriptions, a cross-account publisher without a key
grant, metrics shared between stacks, stateful resources deleted with the stack, traced topics
without an X-Ray policy, KMS used outside the data services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cfnlint.rules import CloudFormationLintRule

from billing_local.cfn.rules.lint import CheckRule
from billing_local.cfn.rules.model import (
    Template,
    as_list,
    iam_statements,
    props,
    resources,
    statements,
    target_id,
)

RESOURCE_POLICIES = {
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}
STATEFUL_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key")


def resource_policy_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for rtype, field in RESOURCE_POLICIES.items():
        for logical_id, resource in resources(template, rtype).items():
            for statement in statements(props(resource).get(field)):
                yield logical_id, statement


def _is_account_root(value: Any) -> bool:
    text = value.get("Fn::Sub") if isinstance(value, dict) else None
    return isinstance(text, str) and text.endswith(":iam::${AWS::AccountId}:root")


def principals_that_may_not_exist(template: Template) -> list[str]:
    """A resource policy names as AWS principal only "*", this account's root or a role of this
    template: SNS, SQS and KMS refuse a policy whose principal does not exist (PrincipalNotFound),
    so an ARN from a parameter or a literal belongs in a condition (aws:PrincipalArn)."""
    own_roles = set(resources(template, "AWS::IAM::Role"))
    problems = []
    for logical_id, statement in resource_policy_statements(template):
        principal = statement.get("Principal")
        for value in as_list(principal.get("AWS")) if isinstance(principal, dict) else []:
            if value == "*" or _is_account_root(value) or target_id(value) in own_roles:
                continue
            problems.append(f"{logical_id} {statement.get('Sid', '?')}: principal {value!r} may not exist")
    return problems


def email_subscriptions_without_condition(template: Template) -> list[str]:
    """An e-mail subscription to an address from a parameter exists only when the address is set."""
    return [
        logical_id
        for logical_id, sub in resources(template, "AWS::SNS::Subscription").items()
        if props(sub).get("Protocol") == "email"
        and target_id(props(sub).get("Endpoint")) in (template.get("Parameters") or {})
        and not sub.get("Condition")
    ]


def _principal_arn_condition(statement: dict[str, Any]) -> Any:
    return ((statement.get("Condition") or {}).get("ArnEquals") or {}).get("aws:PrincipalArn")


def publishers_without_key_grant(template: Template) -> list[str]:
    """A principal allowed (by condition) to publish to an encrypted topic may also use its key,
    through SNS only: without it SNS refuses a publisher of another account."""
    problems = []
    topics = resources(template, "AWS::SNS::Topic")
    for policy_id, policy in resources(template, "AWS::SNS::TopicPolicy").items():
        for statement in statements(props(policy).get("PolicyDocument")):
            publisher = _principal_arn_condition(statement)
            if statement.get("Effect") != "Allow" or publisher is None:
                continue
            named = {target_id(t) for t in as_list(props(policy).get("Topics"))}
            for topic_id in sorted(t for t in named if t in topics):
                key_id = target_id(props(topics[topic_id]).get("KmsMasterKeyId"))
                key = resources(template, "AWS::KMS::Key").get(key_id or "")
                if key is None:
                    continue
                granted = [
                    s
                    for s in statements(props(key).get("KeyPolicy"))
                    if s.get("Effect") == "Allow"
                    and _principal_arn_condition(s) == publisher
                    and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(as_list(s.get("Action")))
                    and "kms:ViaService" in ((s.get("Condition") or {}).get("StringEquals") or {})
                ]
                if not granted:
                    problems.append(f"{policy_id}: {key_id} does not let {publisher} encrypt for {topic_id}")
    return problems


def _namespaces(template: Template) -> Iterator[tuple[str, Any]]:
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        variables = ((props(function).get("Environment") or {}).get("Variables")) or {}
        if "POWERTOOLS_METRICS_NAMESPACE" in variables:
            yield logical_id, variables["POWERTOOLS_METRICS_NAMESPACE"]
    for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        if "Namespace" in props(alarm):
            yield logical_id, props(alarm)["Namespace"]
        for query in as_list(props(alarm).get("Metrics")):
            metric = ((query.get("MetricStat") or {}).get("Metric")) or {}
            if "Namespace" in metric:
                yield logical_id, metric["Namespace"]
    for logical_id, dashboard in resources(template, "AWS::CloudWatch::Dashboard").items():
        body = props(dashboard).get("DashboardBody")
        if isinstance(body, dict) and isinstance(body.get("Fn::Sub"), list):
            yield logical_id, body["Fn::Sub"][1].get("Namespace")


def metrics_not_per_stack(template: Template) -> list[str]:
    """Custom metrics are per stack: two stacks of one stage in one account must not share a
    heartbeat (one stack's daily run would hide the other's missing one)."""
    return [
        f"{logical_id}: namespace {namespace!r}"
        for logical_id, namespace in _namespaces(template)
        if not (isinstance(namespace, str) and namespace.startswith("AWS/"))
        and "${AWS::StackName}" not in str((namespace or {}).get("Fn::Sub", ""))
    ]


def stateful_resources_not_retained(template: Template) -> list[str]:
    """Tables, buckets and keys survive a stack deletion or a replacement (their DeletionPolicy and
    UpdateReplacePolicy come from the DataDeletionPolicy parameter, Retain by default)."""
    return [
        f"{logical_id}: {attribute} {resource.get(attribute)!r}"
        for logical_id, resource in resources(template, *STATEFUL_TYPES).items()
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy")
        if resource.get(attribute) not in ("Retain", "RetainExceptOnCreate", "Snapshot")
    ]


def traced_topics_without_xray_policy(template: Template) -> list[str]:
    """Active tracing on a topic needs an X-Ray resource policy letting SNS send segments (only the
    console creates one by itself), named per stack: policy names are account-wide."""
    documents = [
        str(props(policy).get("PolicyDocument"))
        for policy in resources(template, "AWS::XRay::ResourcePolicy").values()
        if "${AWS::StackName}" in str(props(policy).get("PolicyName"))
    ]
    return [
        topic_id
        for topic_id, topic in resources(template, "AWS::SNS::Topic").items()
        if props(topic).get("TracingConfig") == "Active"
        and not any("sns.amazonaws.com" in doc and f"${{{topic_id}}}" in doc for doc in documents)
    ]


def kms_grants_without_via_service(template: Template) -> list[str]:
    """A role uses a KMS key only through the AWS service holding the data (kms:ViaService)."""
    problems = []
    for owner, statement in iam_statements(template):
        actions = [a for a in as_list(statement.get("Action")) if str(a).startswith("kms:")]
        conditions = statement.get("Condition") or {}
        via = any("kms:ViaService" in (block or {}) for block in conditions.values())
        if statement.get("Effect") == "Allow" and actions and not via:
            problems.append(f"{owner} {statement.get('Sid', '?')}: {actions} without kms:ViaService")
    return problems


class PrincipalsExist(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9301"
    shortdesc = "Resource policy principal that may not exist"
    description = "A resource policy names as AWS principal only *, the account root or a stack role"
    tags = ("iam",)
    check = staticmethod(principals_that_may_not_exist)


class EmailSubscriptionCondition(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9302"
    shortdesc = "E-mail subscription without a condition"
    description = "An e-mail subscription to a parameter's address exists only when the address is set"
    tags = ("sns",)
    check = staticmethod(email_subscriptions_without_condition)


class PublisherKeyGrant(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9303"
    shortdesc = "Publisher without a KMS grant"
    description = "A publisher allowed on an encrypted topic may use its KMS key through SNS"
    tags = ("sns", "kms")
    check = staticmethod(publishers_without_key_grant)


class MetricsPerStack(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9304"
    shortdesc = "Metric namespace not per stack"
    description = "Custom metric namespaces are per stack (${AWS::StackName})"
    tags = ("cloudwatch",)
    check = staticmethod(metrics_not_per_stack)


class StatefulRetained(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9305"
    shortdesc = "Stateful resource not retained"
    description = "Tables, buckets and keys are retained on stack deletion and replacement"
    tags = ("dynamodb", "s3", "kms")
    check = staticmethod(stateful_resources_not_retained)


class TracedTopicXRayPolicy(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9306"
    shortdesc = "Traced topic without an X-Ray resource policy"
    description = "A topic with active tracing has a per-stack X-Ray resource policy for SNS"
    tags = ("sns", "xray")
    check = staticmethod(traced_topics_without_xray_policy)


class KmsViaService(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9307"
    shortdesc = "KMS grant without kms:ViaService"
    description = "A role uses a KMS key only through the AWS service holding the data (kms:ViaService)"
    tags = ("kms", "iam")
    check = staticmethod(kms_grants_without_via_service)
