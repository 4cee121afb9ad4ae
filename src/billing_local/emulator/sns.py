"""AWS::SNS::Topic (with inline subscriptions) and AWS::SNS::Subscription on moto."""

import json
import uuid
from typing import Any

from .clients import Clients
from .resources import Registry, Resource, attribute_string, truthy
from .sqs import string_attributes

_SUBSCRIPTION_ATTRIBUTES = (
    "RawMessageDelivery",
    "FilterPolicyScope",
    "RedrivePolicy",
    "FilterPolicy",
    "DeliveryPolicy",
)


class Topics:
    """The SNS service. moto delivers to SQS subscriptions; other protocols are recorded."""

    def __init__(self, clients: Clients, registry: Registry) -> None:
        self.clients = clients
        self.registry = registry
        self.email_subscriptions: list[dict[str, Any]] = []
        registry.register("AWS::SNS::Topic", self.create_topic)
        registry.register("AWS::SNS::Subscription", self.create_subscription)

    def create_topic(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = truthy(props.get("FifoTopic"))
        name = props.get("TopicName") or self.registry.naming.default_name(
            logical_id, 256, ".fifo" if fifo else ""
        )
        attributes = {
            key: attribute_string(props[key])
            for key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
            if key in props
        }
        arn = self.clients("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        resource = Resource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})
        for subscription in props.get("Subscription") or []:
            self.subscribe(f"{logical_id}.Subscription", arn, subscription)
        return resource

    def create_subscription(self, logical_id: str, props: dict[str, Any]) -> Resource:
        arn = self.subscribe(logical_id, str(props["TopicArn"]), props)
        return Resource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})

    def subscribe(self, logical_id: str, topic_arn: str, props: dict[str, Any]) -> str:
        protocol = str(props["Protocol"])
        endpoint = str(props["Endpoint"])
        if protocol != "sqs":
            # e-mail (and other push protocols) are recorded, not delivered.
            self.email_subscriptions.append(
                {"logical_id": logical_id, "topic_arn": topic_arn, "protocol": protocol, "endpoint": endpoint}
            )
            if protocol not in ("email", "email-json", "sms"):
                self.registry.skip(logical_id, f"AWS::SNS::Subscription({protocol})")
            return f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, logical_id)}"
        attributes: dict[str, str] = {}
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key in props:
                value = props[key]
                attributes[key] = (
                    json.dumps(value) if isinstance(value, (dict, list)) else attribute_string(value)
                )
        response = self.clients("sns").subscribe(
            TopicArn=topic_arn,
            Protocol=protocol,
            Endpoint=endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return str(response["SubscriptionArn"])

    def publish(self, topic_arn: str, message: str, attributes: dict[str, str] | None = None) -> str:
        response = self.clients("sns").publish(
            TopicArn=topic_arn, Message=message, MessageAttributes=string_attributes(attributes)
        )
        return str(response["MessageId"])
