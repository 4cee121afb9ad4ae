"""The wiring docs/ARCHITECTURE.md promises, pinned on the rendered template (and the raw one)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from billing.service import redrive
from billing.service import replay as replay_service
from billing_local.cfn import ROOT
from billing_local.cfn.rules import model as rules
from billing_local.cfn.sam import CODE_BUCKET

Template = dict[str, Any]

FUNCTIONS = {
    "AgreementProjectorFunction": ("agreement_projector", {"BILLING_TABLE", "DEAD_LETTER_QUEUE_URL"}),
    "InvoiceSchedulerFunction": ("invoice_scheduler", {"BILLING_TABLE", "INVOICE_JOB_QUEUE_URL"}),
    "InvoiceGeneratorFunction": (
        "invoice_generator",
        {"BILLING_TABLE", "DEAD_LETTER_QUEUE_URL", "INVOICE_JOB_QUEUE_URL", "PAYMENT_QUEUE_URL"},
    ),
    "OutboxPublisherFunction": ("outbox_publisher", {"BILLING_TOPIC_ARN"}),
    "PaymentProcessorFunction": (
        "payment_processor",
        {
            "BILLING_TABLE",
            "LEDGER_TABLE",
            "PAYMENT_RETRY_DAYS",
            "DEAD_LETTER_QUEUE_URL",
            "PAYMENT_PROVIDER_KEY_PARAM",
        },
    ),
    "AccountingExporterFunction": (
        "accounting_exporter",
        {"ACCOUNTING_QUEUE_URL", "ACCOUNTING_BUCKET", "DEAD_LETTER_QUEUE_URL"},
    ),
    "DlqRedriveFunction": ("dlq_redrive", {"REDRIVE_PAIRS"}),
    "EventReplayFunction": ("event_replay", {"BILLING_TABLE", "BILLING_TOPIC_ARN", "REPLAY_TARGETS"}),
    "DocumentPageFunction": (
        "document_page",
        {"BILLING_TABLE", "ISSUER_NAME", "ISSUER_ADDRESS", "ISSUER_TAX_ID"},
    ),
}
GLOBAL_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "STAGE",
    "DUE_SHARDS",
    "NUMBER_SERIES",
}
METRICS = {
    "InvoicesIssued", "CreditNotesIssued", "InvoicedAmountMinor", "PaymentsSucceeded", "PaymentsFailed",
    "PaymentsRetried", "DuplicateEventsIgnored", "StaleEventsIgnored", "EventsRejected", "RejectionsRepeated",
    "MessagesRedriven", "EventsReplayed", "DailyRunHeartbeat", "DailyRunDurationMs", "AgreementsDue",
    "DocumentPagesRendered", "RefundsSucceeded", "RefundsFailed",
}  # fmt: skip


def substituted(text: str) -> str:
    """A Fn::Sub template with every ${Name} / ${Name.Attr} replaced by the name (for parsing)."""
    return re.sub(r"\$\{([^}!]+)\}", lambda m: m.group(1), text)


def res(t: Template, logical_id: str) -> dict[str, Any]:
    return t["Resources"][logical_id]["Properties"]


def env(t: Template, function: str) -> dict[str, Any]:
    return res(t, function)["Environment"]["Variables"]


def mappings_of(t: Template, function: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in rules.resources(t, "AWS::Lambda::EventSourceMapping").values()
        if rules.target_id(r["Properties"]["FunctionName"]) == function
    ]


def test_exactly_the_documented_functions(rendered: Template) -> None:
    assert set(rules.resources(rendered, "AWS::Lambda::Function")) == set(FUNCTIONS)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_code_and_environment(rendered: Template, function: str) -> None:
    folder, variables = FUNCTIONS[function]
    p = res(rendered, function)
    assert p["Code"] == {"S3Bucket": CODE_BUCKET, "S3Key": f"functions/{folder}"}
    assert (ROOT / "functions" / folder / "app.py").is_file()
    assert p["Handler"] == "app.handler"
    assert set(env(rendered, function)) == GLOBAL_ENV | variables
    assert env(rendered, function)["POWERTOOLS_METRICS_NAMESPACE"] == {
        "Fn::Sub": "RecurringBilling/${AWS::StackName}"
    }
    assert p["TracingConfig"] == {"Mode": "Active"}
    assert p["LoggingConfig"]["LogFormat"] == "JSON"
    assert p["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-" + function.removesuffix("Function")}


def test_each_sqs_consumer_parks_bad_input_in_its_own_dlq(rendered: Template) -> None:
    expected = {
        "AgreementProjectorFunction": "AgreementDLQ",
        "InvoiceGeneratorFunction": "InvoiceJobDLQ",
        "PaymentProcessorFunction": "PaymentDLQ",
        "AccountingExporterFunction": "AccountingDLQ",
    }
    for function, dlq in expected.items():
        assert env(rendered, function)["DEAD_LETTER_QUEUE_URL"] == {"Ref": dlq}


def test_redrive_pairs_and_replay_targets(rendered: Template) -> None:
    pairs = json.loads(substituted(env(rendered, "DlqRedriveFunction")["REDRIVE_PAIRS"]["Fn::Sub"]))
    assert pairs == {
        "agreement": ["AgreementDLQ", "AgreementQueue"],
        "invoice-job": ["InvoiceJobDLQ", "InvoiceJobQueue"],
        "payment": ["PaymentDLQ", "PaymentQueue"],
        "accounting": ["AccountingDLQ", "AccountingQueue"],
    }
    replay = env(rendered, "EventReplayFunction")["REPLAY_TARGETS"]["Fn::Sub"]
    assert json.loads(substituted(replay)) == {
        "payment": "PaymentQueue",
        "accounting": "AccountingQueue",
    }
    # what `billing redrive` / `billing replay` check a request against before they call the stack
    assert set(redrive.QUEUES) == set(pairs)
    assert set(replay_service.TARGET_QUEUES) == set(json.loads(substituted(replay)))


@pytest.mark.parametrize(
    ("function", "queue"),
    [
        ("AgreementProjectorFunction", "AgreementQueue"),
        ("InvoiceGeneratorFunction", "InvoiceJobQueue"),
        ("PaymentProcessorFunction", "PaymentQueue"),
    ],
)
def test_sqs_event_sources(rendered: Template, function: str, queue: str) -> None:
    (mapping,) = mappings_of(rendered, function)
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    if function == "PaymentProcessorFunction":
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "PaymentConcurrency"}}
        assert "ReservedConcurrentExecutions" not in res(rendered, function)


def test_outbox_stream_event_source(rendered: Template) -> None:
    (mapping,) = mappings_of(rendered, "OutboxPublisherFunction")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["BillingTable", "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 100
    outbox, payments = mapping["FilterCriteria"]["Filters"]
    assert json.loads(outbox["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "OUT#"}]}}},
    }
    assert json.loads(payments["Pattern"]) == {  # a payment item once it carries its outcome event
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {
            "Keys": {"sk": {"S": [{"prefix": "PAY#"}]}},
            "NewImage": {"body": {"S": [{"exists": True}]}},
        },
    }
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["OutboxDLQ", "Arn"]}}
    }
    assert 1 <= mapping["MaximumRetryAttempts"] <= 10


def test_schedules(rendered: Template) -> None:
    schedules = {
        rules.target_id(s["Properties"]["Target"]["Arn"]): s["Properties"]
        for s in rules.resources(rendered, "AWS::Scheduler::Schedule").values()
    }
    assert set(schedules) == {"InvoiceSchedulerFunction", "AccountingExporterFunction"}
    daily = schedules["InvoiceSchedulerFunction"]
    assert daily["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert daily["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    assert daily["Target"]["Input"] == '{"run_at": "<aws.scheduler.scheduled-time>"}'
    assert daily["Target"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ScheduleDLQ", "Arn"]}}
    assert schedules["AccountingExporterFunction"]["ScheduleExpression"] == {
        "Ref": "AccountingExportSchedule"
    }
    # "DailyBillingSchedule" is the ScheduleV2 event's name, so it is part of the generated id
    assert "InvoiceSchedulerFunctionDailyBillingSchedule" in rendered["Resources"]


def test_parameter_defaults(raw_template: Template) -> None:
    p = raw_template["Parameters"]
    assert p["ScheduleExpression"]["Default"] == "cron(5 0 * * ? *)"
    assert p["ScheduleTimezone"]["Default"] == "UTC"
    assert p["AccountingExportSchedule"]["Default"] == "rate(15 minutes)"
    assert p["PaymentConcurrency"]["Default"] == 2 and p["PaymentConcurrency"]["MinValue"] == 2
    assert p["PowertoolsLayerArn"]["Default"] == "/aws/service/powertools/python/arm64/python3.13/3.37.0"


def test_issuer_parameters_reach_the_page_function(raw_template: Template, rendered: Template) -> None:
    """The issuer printed on the pages is configuration: template parameters whose defaults are the
    ones the local tools print (billing.config), passed to the one function that renders."""
    from billing import config

    p = raw_template["Parameters"]
    assert p["IssuerName"]["Default"] == config.DEFAULT_ISSUER_NAME
    assert p["IssuerAddress"]["Default"] == config.DEFAULT_ISSUER_ADDRESS
    assert p["IssuerTaxId"]["Default"] == config.DEFAULT_ISSUER_TAX_ID
    variables = env(rendered, "DocumentPageFunction")
    assert variables["ISSUER_NAME"] == {"Ref": "IssuerName"}
    assert variables["ISSUER_ADDRESS"] == {"Ref": "IssuerAddress"}
    assert variables["ISSUER_TAX_ID"] == {"Ref": "IssuerTaxId"}


def test_subscriptions_and_filter_policies(rendered: Template) -> None:
    subs = {
        (rules.target_id(s["Properties"]["TopicArn"]), rules.target_id(s["Properties"]["Endpoint"])): s[
            "Properties"
        ]
        for s in rules.resources(rendered, "AWS::SNS::Subscription").values()
    }
    assert set(subs) == {
        ("AgreementTopic", "AgreementQueue"),
        ("BillingTopic", "PaymentQueue"),
        ("BillingTopic", "AccountingQueue"),
        ("BillingTopic", "AlarmEmail"),
        ("AlarmTopic", "AlarmEmail"),
    }
    for (_, endpoint), sub in subs.items():
        if endpoint != "AlarmEmail":
            assert sub["Protocol"] == "sqs" and sub["RawMessageDelivery"] is True
    assert subs[("BillingTopic", "PaymentQueue")]["FilterPolicy"] == {
        "$or": [
            {"type": ["billing.invoice.issued"], "chargeable": ["true"]},
            {"type": ["billing.agreement.closed"]},
        ]
    }
    assert "FilterPolicy" not in subs[("BillingTopic", "AccountingQueue")]
    assert subs[("BillingTopic", "AlarmEmail")]["FilterPolicy"] == {
        "type": ["billing.payment.failed", "billing.refund.failed"]
    }
    assert subs[("BillingTopic", "AlarmEmail")]["Protocol"] == "email"


def test_topic_policies_restrict_publishers(rendered: Template) -> None:
    # The publisher is named only in conditions (a Principal that does not exist fails the deploy);
    # without one, only this account publishes.
    with_publisher, without = res(rendered, "AgreementTopicPolicy")["PolicyDocument"]["Statement"]["Fn::If"][
        1:
    ]
    publisher = {"Ref": "UpstreamPublisherArn"}
    allow = [s for s in with_publisher if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Sid": "UpstreamPublishes",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": {"Ref": "AgreementTopic"},
            "Condition": {"ArnEquals": {"aws:PrincipalArn": publisher}},
        }
    ]
    deny_others = next(s for s in with_publisher if s["Sid"] == "NobodyElsePublishes")
    assert deny_others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": publisher}}
    assert not [s for s in without if s["Effect"] == "Allow"]
    only_account = next(s for s in without if s["Sid"] == "OnlyThisAccountPublishes")
    assert only_account["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    assert all(any(s["Sid"] == "TlsOnly" for s in statements) for statements in (with_publisher, without))
    billing = res(rendered, "BillingTopicPolicy")["PolicyDocument"]["Statement"]
    only = next(s for s in billing if s["Sid"] == "OnlyThisStacksPublishersPublish")
    assert only["Effect"] == "Deny"
    assert {rules.target_id(a) for a in only["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]} == {
        "OutboxPublisherRole",
        "EventReplayRole",
    }
    # and those are exactly the roles allowed to publish to BillingTopic
    publishers = {
        owner
        for owner, statement in rules.iam_statements(rendered)
        if "sns:Publish" in rules.as_list(statement["Action"])
        and statement["Resource"] == {"Ref": "BillingTopic"}
    }
    assert publishers == {"OutboxPublisherRole", "EventReplayRole"}


def test_tables(rendered: Template) -> None:
    billing = res(rendered, "BillingTable")
    assert billing["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    indexes = {i["IndexName"]: i for i in billing["GlobalSecondaryIndexes"]}
    assert [k["AttributeName"] for k in indexes["DueIndex"]["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert [k["AttributeName"] for k in indexes["EventsByDay"]["KeySchema"]] == ["gsi2pk", "gsi2sk"]
    assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in indexes.values())
    assert billing["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert res(rendered, "SandboxLedgerTable")["KeySchema"] == [
        {"AttributeName": "idempotency_key", "KeyType": "HASH"}
    ]
    assert "IdempotencyTable" not in rendered["Resources"]  # conditional writes make replays harmless
    for table in ("BillingTable", "SandboxLedgerTable"):
        p = res(rendered, table)
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert p["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}


def test_heartbeat_alarm(rendered: Template) -> None:
    p = res(rendered, "DailyRunHeartbeatAlarm")
    assert (p["Namespace"], p["MetricName"]) == (
        {"Fn::Sub": "RecurringBilling/${AWS::StackName}"},
        "DailyRunHeartbeat",
    )
    assert p["Dimensions"] == [{"Name": "service", "Value": "billing"}]
    assert p["TreatMissingData"] == "breaching"
    window = p["Period"] * p["EvaluationPeriods"]
    assert 86400 < window <= 2 * 86400 and p["DatapointsToAlarm"] == p["EvaluationPeriods"]
    assert window <= 7 * 86400  # CloudWatch's limit for periods of an hour or more
    assert (p["ComparisonOperator"], p["Threshold"]) == ("LessThanThreshold", 1)


def test_payment_failure_rate_alarm(rendered: Template) -> None:
    p = res(rendered, "PaymentFailureRateAlarm")
    metrics = {m["Id"]: m for m in p["Metrics"]}
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m} == {
        "PaymentsSucceeded",
        "PaymentsFailed",
    }
    for m in metrics.values():
        if "MetricStat" in m:
            assert m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "service", "Value": "billing"}]
    expression, variables = metrics["rate"]["Expression"]["Fn::Sub"]
    assert set(variables) == {"MinVolume"}
    assert "failed" in expression and "succeeded" in expression and metrics["rate"]["ReturnData"] is True


def test_alarm_inventory(rendered: Template) -> None:
    alarms = rules.alarms(rendered)
    # 7 DLQs + 4 queue ages + 9 x (errors, throttles) + heartbeat + payment failure rate + refund failed
    assert len(alarms) == 7 + 4 + 18 + 3
    names = [json.dumps(a["Properties"]["AlarmName"]) for a in alarms.values()]
    assert len(set(names)) == len(names)
    runbook = (
        (ROOT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
        if (ROOT / "docs" / "RUNBOOK.md").exists()
        else ""
    )
    for alarm in alarms.values():
        section = str(alarm["Properties"]["AlarmName"]["Fn::Sub"]).removeprefix("${AWS::StackName}-")
        assert f"`{section}`" in runbook, f"docs/RUNBOOK.md has no section for alarm {section}"


def test_custom_metrics_are_the_documented_ones(rendered: Template) -> None:
    used = {
        a["Properties"]["MetricName"]
        for a in rules.alarms(rendered).values()
        if "MetricName" in a["Properties"]
        and a["Properties"]["Namespace"] == {"Fn::Sub": "RecurringBilling/${AWS::StackName}"}
    } | {
        m["MetricStat"]["Metric"]["MetricName"]
        for a in rules.alarms(rendered).values()
        for m in a["Properties"].get("Metrics", [])
        if "MetricStat" in m
    }
    assert used <= METRICS
    body = res(rendered, "BillingDashboard")["DashboardBody"]["Fn::Sub"][0]
    shown = {metric for metric in METRICS if re.search(rf"\b{metric}\b", body)}
    assert shown == METRICS


def test_dashboard_body_is_json_once_substituted(rendered: Template) -> None:
    text, _ = res(rendered, "BillingDashboard")["DashboardBody"]["Fn::Sub"]
    body = json.loads(substituted(text))
    assert len(body["widgets"]) >= 10


def test_no_copy_paste_queues_and_alarms(raw_template: Template) -> None:
    """Queues, their alarms and function log groups/alarms exist only as Fn::ForEach building blocks."""
    direct = {
        logical_id: r["Type"]
        for logical_id, r in raw_template["Resources"].items()
        if not logical_id.startswith("Fn::ForEach::")
    }
    assert "AWS::SQS::Queue" not in direct.values()
    assert "AWS::Logs::LogGroup" not in direct.values()
    alarms = [k for k, kind in direct.items() if kind == "AWS::CloudWatch::Alarm"]
    assert sorted(alarms) == ["DailyRunHeartbeatAlarm", "PaymentFailureRateAlarm", "RefundFailedAlarm"]


def test_code_folders_exist(raw_template: Template) -> None:
    for resource in raw_template["Resources"].values():
        if isinstance(resource, dict):
            uri = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get(
                "ContentUri"
            )
            if uri:
                assert (Path(ROOT) / uri).is_dir(), uri
