"""AWS::SQS::Queue on moto, and what an outside producer or operator does with queues."""

import json
from typing import Any

from .clients import Clients
from .resources import Registry, Resource, attribute_string, truthy
from .timestamps import VirtualTimestamps

_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


def string_attributes(attributes: dict[str, str] | None) -> dict[str, dict[str, str]]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}


class Queues:
    """The SQS service: creates the template's queues; sends, receives, measures them."""

    def __init__(self, clients: Clients, registry: Registry, timestamps: VirtualTimestamps) -> None:
        self.clients = clients
        self.naming = registry.naming
        self.timestamps = timestamps
        registry.register("AWS::SQS::Queue", self.create_queue)

    def create_queue(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = truthy(props.get("FifoQueue"))
        name = props.get("QueueName") or self.naming.default_name(logical_id, 80, ".fifo" if fifo else "")
        attributes = {key: attribute_string(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        sqs = self.clients("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Resource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def send(
        self, url: str, body: str, attributes: dict[str, str] | None = None, delay_seconds: int | None = None
    ) -> str:
        kwargs: dict[str, Any] = {
            "QueueUrl": url,
            "MessageBody": body,
            "MessageAttributes": string_attributes(attributes),
        }
        if delay_seconds is not None:
            kwargs["DelaySeconds"] = delay_seconds
        return str(self.clients("sqs").send_message(**kwargs)["MessageId"])

    def receive_all(self, url: str, name: str, *, delete: bool = True) -> list[dict[str, Any]]:
        sqs = self.clients("sqs")
        self.release_delayed(name)
        messages: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = self.timestamps.sqs_messages(response).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        for message in messages:
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return messages

    def depth(self, url: str) -> dict[str, int]:
        attributes = self.clients("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }

    # moto has no API to move its clock: the two methods below reach into its queue's messages
    # (``Queue._messages``, the only private member the emulator touches).
    def release_delayed(self, name: str) -> None:
        """Virtual time: a message's DelaySeconds is over by the next poll (moto counts real time)."""
        for message in self._moto_messages(name):
            if message.delayed_until:
                message.delayed_until = 0.0

    def expire_visibility(self, name: str) -> None:
        """Virtual time: every visibility timeout of the queue is over (moto counts real time)."""
        for message in self._moto_messages(name):
            message.visible_at = 0.0

    def _moto_messages(self, name: str) -> list[Any]:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.naming.account_id][self.naming.region].queues.get(name)
        return list(queue._messages) if queue is not None else []
