"""Each function's role grants exactly what its code calls (and Lambda calls for it), no more.

A month of billing runs on the embedded AWS with every kind of path the code has: creations,
amendments and cancellations, soft and hard declines with their retries, a gateway timeout,
bad input parked by every consumer, the accounting export, redrives (dry run and moves) and
replays to every target. Every AWS call a handler makes is observed through the emulator's API
hook and turned into the IAM grants it needs (tests/iam_usage.py); the test fails when a role
misses one (AccessDenied on AWS) or grants one that no code path and no Lambda poller uses.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from iam_usage import Grant, compare, needed
from support import ROOT, Pipeline, agreement_event

from billing.adapters.dynamo import due_shard
from billing.service.invoicing import AGREEMENTS_PER_JOB
from billing_local.emulator.hooks import ApiCall
from billing_local.emulator.instrumentation import client_error
from billing_local.stack import local_cloud

DUE_SHARDS = 32  # template.yaml's Globals
DLQS = ("agreement", "invoice-job", "payment", "accounting")
Call = tuple[str, str, str, dict[str, Any]]  # (function logical id, service, operation, params)


def resource_names(pipeline: Pipeline) -> dict[str, str]:
    """Physical names, URLs and ARNs of the stack's data resources -> their logical ids."""
    cloud = pipeline.cloud
    names: dict[str, str] = {}
    for kind, arn_attribute in (
        ("AWS::SQS::Queue", "Arn"),
        ("AWS::SNS::Topic", None),
        ("AWS::DynamoDB::Table", "Arn"),
        ("AWS::S3::Bucket", "Arn"),
    ):
        for logical_id in cloud.logical_ids(kind):
            names[cloud.physical_id(logical_id)] = logical_id
            if arn_attribute:
                names[cloud.attr(logical_id, arn_attribute)] = logical_id
    payment = cloud.function("PaymentProcessorFunction").environment
    names[payment["PAYMENT_PROVIDER_KEY_PARAM"]] = "ProviderKeyParameter"
    return names


def _one_shard(count: int) -> list[str]:
    """Agreement ids that share a due-index shard: more than one job's worth fans out."""
    shard = due_shard("agr-fan-0", DUE_SHARDS)
    ids = (f"agr-fan-{n}" for n in range(100_000))
    return [i for i in ids if due_shard(i, DUE_SHARDS) == shard][:count]


def _inject_payment_faults(pipeline: Pipeline) -> None:
    """Deliver each charge twice in its batch, and fail the first charge's commit once."""
    cloud = pipeline.cloud
    failed: list[str] = []

    def fail_first_commit(service: str, operation: str) -> None:
        payments = cloud.current_function == "PaymentProcessorFunction"
        if payments and operation == "TransactWriteItems" and not failed:
            failed.append(operation)
            raise client_error("InternalServerError", operation, status=500)

    cloud.faults.before_aws_call = fail_first_commit
    cloud.faults.duplicate_record = lambda function, _: function == "PaymentProcessorFunction"


def _publish_month(pipeline: Pipeline) -> None:
    methods = ["pm_ok", "pm_insufficient_funds", "pm_stolen", "pm_timeout_once"]
    ids = [f"agr-{n}" for n in range(len(methods))] + _one_shard(AGREEMENTS_PER_JOB + 1)
    for n, agreement_id in enumerate(ids):
        method = methods[n] if n < len(methods) else "pm_ok"
        created = agreement_event(
            "agreement.created", agreement_id, 1, start_date="2026-03-01", payment_method=method
        )
        pipeline.publish(created)
    plan = {"amount_minor": 2000, "currency": "EUR", "interval": "month", "interval_count": 1}
    pipeline.publish(agreement_event("agreement.amended", "agr-0", 2, effective_date="2026-03-15", plan=plan))
    pipeline.publish(agreement_event("agreement.cancelled", "agr-0", 3, effective_date="2026-03-20"))
    pipeline.publish("{not json")  # parked by the projector
    for queue in ("InvoiceJobQueue", "PaymentQueue", "AccountingQueue"):
        pipeline.cloud.send(queue, "{not json")  # parked by the generator, the payments, the export


REDRIVES = [
    *({"queue": q, "types": ["no.such.type"], "include_rejected": True} for q in DLQS),  # examined, released
    {"queue": "agreement", "dry_run": True},
    *({"queue": q, "include_rejected": True, "max_messages": 5} for q in DLQS),  # moved back
]
REPLAYS = [
    {"action": "query", "from": "2026-03-01", "to": "2026-03-31"},
    {"action": "query", "from": "2026-03-01", "to": "2026-03-31", "agreement_id": "agr-1"},
    {"action": "replay", "from": "2026-03-01", "to": "2026-03-31", "target": "accounting"},
    {"action": "replay", "from": "2026-03-01", "to": "2026-03-02", "target": "payment"},
    {"action": "replay", "from": "2026-03-01", "to": "2026-03-02", "target": "topic"},
]


def _page_requests(pipeline: Pipeline) -> list[dict[str, Any]]:
    """A page found, one for another customer, one missing, one malformed (answered before any call)."""
    document = pipeline.documents("agr-0")[-1]  # the credit note after the cancellation
    found = {"agreement_id": "agr-0", "document_id": document["document_id"]}
    return [
        found,
        found | {"customer_id": "cus-someone-else"},
        {"agreement_id": "agr-0", "document_id": "doc_missing"},
        {"agreement_id": "agr-0"},
    ]


def exercise(pipeline: Pipeline) -> None:
    """Every code path that reaches AWS, through the entry points the world uses."""
    _inject_payment_faults(pipeline)
    _publish_month(pipeline)
    day = date(2026, 3, 1)
    while day <= date(2026, 3, 25):
        pipeline.run_day(day)
        day += timedelta(days=1)
    for request in REDRIVES:
        pipeline.cloud.invoke("DlqRedriveFunction", request)
    for request in REPLAYS:
        pipeline.cloud.invoke("EventReplayFunction", request)
    for request in _page_requests(pipeline):
        pipeline.cloud.invoke("DocumentPageFunction", request)
    pipeline.cloud.drain()


@pytest.fixture(scope="module")
def observed() -> Iterator[tuple[Pipeline, list[Call]]]:
    calls: list[Call] = []
    with local_cloud(ROOT / "template.yaml", start=datetime(2026, 2, 27, tzinfo=UTC)) as cloud:
        pipeline = Pipeline(cloud)

        def note(call: ApiCall, _: dict[str, Any] | None) -> None:
            function = cloud.current_function
            if function is not None:
                calls.append((function, call.service, call.operation, dict(call.params)))

        cloud.api_hook.subscribe(before=note)
        exercise(pipeline)
        yield pipeline, calls


# Granted though no path here calls it, each with the reason.
LIBRARY_FALLBACKS: dict[str, set[Grant]] = {}

FUNCTIONS = [
    "AgreementProjectorFunction",
    "InvoiceSchedulerFunction",
    "InvoiceGeneratorFunction",
    "OutboxPublisherFunction",
    "PaymentProcessorFunction",
    "AccountingExporterFunction",
    "DlqRedriveFunction",
    "EventReplayFunction",
    "DocumentPageFunction",
]


def test_every_function_of_the_template_is_checked(observed: tuple[Pipeline, list[Call]]) -> None:
    pipeline, calls = observed
    assert sorted(FUNCTIONS) == sorted(pipeline.cloud.logical_ids("AWS::Lambda::Function"))
    assert {function for function, *_ in calls} == set(FUNCTIONS)
    for function in ("InvoiceGeneratorFunction", "InvoiceSchedulerFunction"):
        assert pipeline.cloud.function(function).environment["DUE_SHARDS"] == str(DUE_SHARDS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_role_grants_exactly_what_the_code_calls(
    observed: tuple[Pipeline, list[Call]], function: str
) -> None:
    pipeline, calls = observed
    names = resource_names(pipeline)
    used: set[Grant] = set()
    for caller, service, operation, params in calls:
        if caller == function:
            used |= set(needed(service, operation, params, names))
    missing, unused = compare(pipeline.cloud.template, function, used)
    unused -= LIBRARY_FALLBACKS.get(function, set())
    assert not missing, f"{function} calls what its role does not grant: {sorted(missing)}"
    assert not unused, f"{function}'s role grants what no code path uses: {sorted(unused)}"


def test_the_comparison_fails_on_a_broader_role(observed: tuple[Pipeline, list[Call]]) -> None:
    pipeline, _ = observed
    template = json.loads(json.dumps(pipeline.cloud.template))
    role = template["Resources"]["DlqRedriveRole"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "dynamodb:DeleteItem",
            "Resource": {"Fn::GetAtt": ["BillingTable", "Arn"]},
        }
    )
    _, unused = compare(template, "DlqRedriveFunction", set())
    assert ("dynamodb:DeleteItem", "BillingTable") in unused
