"""The API-call hook: subscribers see the calls of every hooked client, not the emulator's own."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from billing_local.emulator import ApiCall, LocalCloud, client_error


def test_subscribers_see_params_and_responses_and_can_unsubscribe(cloud: LocalCloud) -> None:
    seen: list[tuple[str, str, Any, bool]] = []

    def before(call: ApiCall, response: dict[str, Any] | None) -> None:
        seen.append(("before", call.operation, call.params.get("QueueNamePrefix"), response is None))

    def after(call: ApiCall, response: dict[str, Any] | None) -> None:
        seen.append(("after", call.operation, call.service, response is not None and "QueueUrls" in response))

    unsubscribe = cloud.api_hook.subscribe(after, before=before)
    boto3.client("sqs").list_queues(QueueNamePrefix="local-")
    assert seen == [("before", "ListQueues", "local-", True), ("after", "ListQueues", "sqs", True)]
    unsubscribe()
    boto3.client("sqs").list_queues()
    assert len(seen) == 2


def test_the_emulators_own_calls_reach_no_subscriber(cloud: LocalCloud) -> None:
    seen: list[str] = []
    cloud.api_hook.subscribe(before=lambda call, _: seen.append(call.operation))
    cloud.queue_depths()
    cloud.send("InboxQueue", "x")
    cloud.client("sqs").list_queues()
    assert seen == []


def test_a_before_subscriber_fails_the_call_and_after_gets_none_on_aws_errors(cloud: LocalCloud) -> None:
    outcomes: list[dict[str, Any] | None] = []

    def refuse(call: ApiCall, _: dict[str, Any] | None) -> None:
        if call.operation == "ListTopics":
            raise client_error("ThrottlingException", call.operation)

    cloud.api_hook.subscribe(lambda call, response: outcomes.append(response), before=refuse)
    with pytest.raises(ClientError, match="ThrottlingException"):
        boto3.client("sns").list_topics()
    assert outcomes == []  # failed before it was sent
    with pytest.raises(ClientError, match="NonExistentQueue"):
        boto3.client("sqs").get_queue_url(QueueName="no-such-queue")
    assert outcomes == [None]
