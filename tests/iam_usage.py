"""What each function's role grants, against what its code and its event sources actually call.

A call is (service, operation, params) as botocore sees it; it needs IAM actions on resources,
named here by logical id (`BillingTable`, `BillingTable/index/DueIndex`, `BillingTable/stream`,
`AccountingBucket`, `ProviderKeyParameter`). Grants are read from the translated template's role
statements. Logs, X-Ray and KMS are used by the Lambda platform and the data services, not by
calls of the code, so they are outside this comparison (template rules guard them).
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

Grant = tuple[str, str]  # (IAM action, resource logical id [/index/X | /stream])

_ONE_ACTION = {
    ("dynamodb", "GetItem"): "dynamodb:GetItem",
    ("dynamodb", "PutItem"): "dynamodb:PutItem",
    ("dynamodb", "UpdateItem"): "dynamodb:UpdateItem",
    ("dynamodb", "DeleteItem"): "dynamodb:DeleteItem",
    ("dynamodb", "Query"): "dynamodb:Query",
    ("dynamodb", "Scan"): "dynamodb:Scan",
    ("sqs", "SendMessage"): "sqs:SendMessage",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "ReceiveMessage"): "sqs:ReceiveMessage",
    ("sqs", "DeleteMessage"): "sqs:DeleteMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("sns", "Publish"): "sns:Publish",
    ("sns", "PublishBatch"): "sns:Publish",
    ("s3", "PutObject"): "s3:PutObject",
    ("ssm", "GetParameter"): "ssm:GetParameter",
}
_TRANSACT_ITEM = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# What Lambda's pollers call with the function's role (AWSLambdaSQSQueueExecutionRole and
# AWSLambdaDynamoDBExecutionRole, minus ListStreams, which needs Resource "*" and an event source
# mapping of a known stream ARN never calls).
SQS_EVENT_SOURCE = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
STREAM_EVENT_SOURCE = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
PLATFORM_SERVICES = ("logs:", "xray:", "kms:")
_SUB_REFERENCE = re.compile(r"^\$\{(\w+)(?:\.(\w+))?\}(.*)$")


def _resource_of(value: Any, names: Mapping[str, str]) -> str | None:
    """The resource a call parameter names, by logical id."""
    return names.get(value) if isinstance(value, str) else None


def needed(
    service: str, operation: str, params: Mapping[str, Any], names: Mapping[str, str]
) -> Iterator[Grant]:
    """The IAM grants one call needs. `names` maps physical names, URLs and ARNs to logical ids."""
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            yield _TRANSACT_ITEM[kind], names[body["TableName"]]
        return
    action = _ONE_ACTION.get((service, operation))
    if action is None:
        raise AssertionError(f"no IAM mapping for {service}.{operation}: add it to _ONE_ACTION")
    target = params.get("TableName") or params.get("QueueUrl") or params.get("TopicArn")
    target = target or params.get("Bucket") or params.get("Name")
    resource = _resource_of(target, names)
    if resource is None:
        raise AssertionError(f"{service}.{operation} on an unknown resource {target!r}")
    if index := params.get("IndexName"):
        resource = f"{resource}/index/{index}"
    yield action, resource


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _granted_resource(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{logical_id}/stream" if attribute == "StreamArn" else logical_id
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::If" in value:
        return "ProviderKeyParameter"  # the payment role's SSM parameter, custom or per stage
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        match = _SUB_REFERENCE.match(value["Fn::Sub"])
        if match:
            logical_id, _, rest = match.groups()
            return f"{logical_id}{rest}" if rest.startswith("/index/") else logical_id
    return None


def role_grants(template: Mapping[str, Any], role_id: str) -> set[Grant]:
    """(action, resource) pairs a role's inline policies allow, platform services left out."""
    role = template["Resources"][role_id]["Properties"]
    grants: set[Grant] = set()
    for policy in role.get("Policies", []):
        for statement in _as_list(policy["PolicyDocument"]["Statement"]):
            if statement.get("Effect") != "Allow":
                continue
            for action in _as_list(statement["Action"]):
                if action.startswith(PLATFORM_SERVICES):
                    continue
                for resource in _as_list(statement["Resource"]):
                    granted = _granted_resource(resource)
                    if granted is None:
                        raise AssertionError(f"{role_id}: cannot read resource {resource!r}")
                    grants.add((action, granted))
    return grants


def platform_needs(template: Mapping[str, Any], function_id: str) -> set[Grant]:
    """What Lambda itself calls with the function's role: pollers, failure destinations, async DLQ."""
    resources = template["Resources"]
    needs: set[Grant] = set()
    for mapping in resources.values():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        p = mapping["Properties"]
        if p["FunctionName"] != {"Ref": function_id}:
            continue
        source = _granted_resource(p["EventSourceArn"]) or ""
        actions = STREAM_EVENT_SOURCE if source.endswith("/stream") else SQS_EVENT_SOURCE
        needs |= {(action, source) for action in actions}
        on_failure = (p.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
        if on_failure:
            needs.add(("sqs:SendMessage", _granted_resource(on_failure) or ""))
    dead_letter = (resources[function_id]["Properties"].get("DeadLetterConfig") or {}).get("TargetArn")
    if dead_letter:
        needs.add(("sqs:SendMessage", _granted_resource(dead_letter) or ""))
    return needs


def role_of(template: Mapping[str, Any], function_id: str) -> str:
    return str(template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0])


def compare(
    template: Mapping[str, Any], function_id: str, used: Iterable[Grant]
) -> tuple[set[Grant], set[Grant]]:
    """(used but not granted, granted but used neither by the code nor by the platform)."""
    used = set(used)
    granted = role_grants(template, role_of(template, function_id))
    return used - granted, granted - used - platform_needs(template, function_id)
