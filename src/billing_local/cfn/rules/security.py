"""Security rules (E92xx): no wildcard IAM statements or AWS-managed policies, encryption at rest
everywhere."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule

from billing_local.cfn.rules.lint import CheckRule
from billing_local.cfn.rules.model import Template, as_list, iam_statements, props, resources

# (resource logical id, statement Sid) -> why a "*" resource is unavoidable there.
WILDCARD_ALLOWLIST: dict[tuple[str, str], str] = {
    (
        "FunctionBasePolicy",
        "XRayWrite",
    ): "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
}


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


class WildcardIam(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9201"
    shortdesc = "Wildcard IAM statement"
    description = (
        "No wildcard Action/Resource, NotAction/NotResource or AWS-managed policy, unless allowlisted"
    )
    tags = ("iam",)
    check = staticmethod(wildcard_iam_statements)


class Encryption(CheckRule, CloudFormationLintRule):  # type: ignore[misc]
    id = "E9202"
    shortdesc = "Resource not encrypted"
    description = "Queues, topics, tables, buckets and log groups are encrypted"
    tags = ("kms",)
    check = staticmethod(unencrypted_resources)
