"""The fixture template stood up on moto: resources, intrinsics, parameters, conditions."""

import json

import boto3
import pytest

from billing_local.emulator import LocalCloud, TemplateError
from billing_local.stack import local_cloud

from .conftest import FIXTURE_TEMPLATE, START


def test_resources_are_created_from_the_translated_template(cloud: LocalCloud) -> None:
    sqs = boto3.client("sqs")
    inbox = cloud.physical_id("InboxQueue")
    assert inbox.endswith("/local-InboxQueue")
    attributes = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert attributes["MessageRetentionPeriod"] == "345600"  # Fn::FindInMap on the Stage parameter
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": cloud.attr("InboxDLQ", "Arn"), "maxReceiveCount": 2}
    assert cloud.attr("AuditQueue", "QueueName") == "local-audit"
    delayed = sqs.get_queue_attributes(
        QueueUrl=cloud.physical_id("DelayedQueue"), AttributeNames=["DelaySeconds"]
    )
    assert delayed["Attributes"]["DelaySeconds"] == "30"

    table = boto3.client("dynamodb").describe_table(TableName=cloud.physical_id("ItemsTable"))["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByGsi1"]
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=cloud.physical_id("ItemsTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert cloud.attr("ItemsTable", "StreamArn") == table["LatestStreamArn"]

    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=cloud.physical_id("InboxTopic"))
    by_endpoint = {s["Endpoint"]: s for s in subscriptions["Subscriptions"]}
    assert set(by_endpoint) == {cloud.attr("InboxQueue", "Arn"), cloud.attr("AuditQueue", "Arn")}
    assert cloud.email_subscriptions[0]["endpoint"] == "ops@example.com"

    parameter = boto3.client("ssm").get_parameter(Name=cloud.physical_id("ConfigParameter"))["Parameter"]
    assert parameter["Value"] == "test,b"  # Fn::Join + Fn::Select + Fn::Split
    boto3.client("s3").head_bucket(Bucket=cloud.physical_id("ObservationBucket"))

    assert "ProdOnlyQueue" not in cloud.queue_depths()  # Condition IsProd is false
    skipped = dict(cloud.skipped)
    assert skipped["Key"] == "AWS::KMS::Key"
    assert skipped["InboxQueuePolicy"] == "AWS::SQS::QueuePolicy"
    assert skipped["WorkerFunctionRole"] == "AWS::IAM::Role"
    assert sorted(cloud.function_names()) == [
        "DelayedFunction",
        "EchoFunction",
        "StreamSinkFunction",
        "TickerFunction",
        "WorkerFunction",
    ]


def test_environment_context_and_clock_seen_by_a_handler(cloud: LocalCloud) -> None:
    event = {"hello": "world"}
    result = cloud.invoke("EchoFunction", event)
    env = result["env"]
    queue_url = cloud.physical_id("InboxQueue")
    assert env["QUEUE_URL"] == queue_url
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:local-InboxQueue"
    assert env["QUEUE_NAME"] == "local-InboxQueue"
    assert env["TOPIC_ARN"] == cloud.physical_id("InboxTopic")
    assert env["TOPIC_NAME"] == "local-InboxTopic"
    assert env["TABLE_NAME"] == "local-ItemsTable"
    assert env["STREAM_ARN"] == cloud.attr("ItemsTable", "StreamArn")
    assert env["SUB_SHORT"] == "test:local-InboxTopic:us-east-1"
    assert env["SUB_LONG"] == "test-prefix/123456789012/local-InboxDLQ"
    assert env["JOINED"] == "aws|amazonaws.com|local"
    assert env["PARAM_NAME"] == "/local/config"
    assert json.loads(env["REDRIVE"]) == {"inbox": [cloud.physical_id("InboxDLQ"), queue_url]}
    assert env["LEVEL"] == env["LOG_LEVEL"] == "DEBUG"
    assert env["STAGE"] == "test"
    assert "MAYBE" not in env  # Fn::If -> AWS::NoValue drops the variable
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "local-echo"
    assert result["stage_at_import"] == "test"  # environment also set while importing

    context = result["context"]
    assert context["function_name"] == "local-echo"
    assert context["memory_limit_in_mb"] == 128
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:local-echo"
    assert 0 < context["remaining"] <= 3000
    assert context["aws_request_id"]

    assert result["event"] == {"hello": "world", "mutated": True}
    assert event == {"hello": "world"}  # the handler got a JSON copy
    assert result["now"] == START.isoformat()
    import os

    assert "QUEUE_URL" not in os.environ  # restored after the invocation


def test_parameters_override_defaults_and_drive_conditions() -> None:
    with local_cloud(FIXTURE_TEMPLATE, parameters={"Stage": "prod"}, start=START) as cloud:
        env = cloud.invoke("echo", {})["env"]
        assert env["MAYBE"] == "yes"
        assert env["LEVEL"] == "INFO"
        assert env["SUB_LONG"].startswith("prod-prefix/")
        assert "ProdOnlyQueue" in cloud.queue_depths()
        assert cloud.email_subscriptions == []  # WantsEmail is false in prod
    with pytest.raises(TemplateError, match="AllowedValues"):
        LocalCloud(FIXTURE_TEMPLATE, parameters={"Stage": "qa"})
    with pytest.raises(TemplateError, match="unknown parameters"):
        LocalCloud(FIXTURE_TEMPLATE, parameters={"Nope": "x"})


def test_resolve_function_accepts_logical_ids_folders_and_names(cloud: LocalCloud) -> None:
    assert cloud.resolve_function("EchoFunction") == "EchoFunction"
    assert cloud.resolve_function("echofunction") == "EchoFunction"
    assert cloud.resolve_function("echo") == "EchoFunction"
    assert cloud.resolve_function("local-echo") == "EchoFunction"
    assert cloud.resolve_function(cloud.attr("EchoFunction", "Arn")) == "EchoFunction"
    assert cloud.resolve_function("stream_sink") == "StreamSinkFunction"
    assert cloud.resolve_function("worker") == "WorkerFunction"  # logical id beats the shared folder
    with pytest.raises(KeyError):
        cloud.resolve_function("nope")


def test_the_runtime_needs_its_context() -> None:
    cloud = LocalCloud(FIXTURE_TEMPLATE, start=START)
    with pytest.raises(RuntimeError, match="not active"):
        cloud.invoke("echo", {})
