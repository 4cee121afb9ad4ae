"""The AsyncAPI channels: SNS topics, SQS queues and their dead-letter queues, with bindings."""

from __future__ import annotations

import json
from typing import Any

from .messages import REJECTED, component_id
from .wiring import Subscription, Wiring

__all__ = ["channel_document", "sns_consumer"]

_CHANNEL_TEXT = {
    "AgreementTopic": "Agreement CloudEvents from the upstream purchase system (its only publisher).",
    "BillingTopic": "Billing CloudEvents out: documents issued, payment and refund outcomes, closures.",
    "AgreementQueue": "Buffers agreement events for the projector.",
    "PaymentQueue": (
        "Charges and refunds: chargeable invoices and closed agreements from BillingTopic, and the "
        "daily run's payment retries."
    ),
    "AccountingQueue": "Every billing event, pulled by the accounting exporter into JSON Lines on S3.",
}


def sns_consumer(wiring: Wiring, sub: Subscription) -> dict[str, Any]:
    if sub.protocol == "sqs":
        endpoint = {"name": wiring.address(sub.endpoint)}
    else:
        endpoint = {"name": f"the {sub.endpoint} parameter"}
    consumer: dict[str, Any] = {
        "protocol": sub.protocol,
        "endpoint": endpoint,
        "rawMessageDelivery": sub.raw,
    }
    if sub.filter_policy is not None:
        consumer["filterPolicy"] = sub.filter_policy
        consumer["filterPolicyScope"] = sub.filter_scope
    if sub.dead_letter_queue is not None:
        consumer["redrivePolicy"] = {"deadLetterQueue": {"name": wiring.address(sub.dead_letter_queue)}}
    consumer["x-subscription"] = sub.logical_id
    return consumer


def _queue_text(wiring: Wiring, channel: str, types: list[str]) -> str:
    dlq_of = [q for q in wiring.queues if wiring.dead_letter_queue(q) == channel]
    if channel in _CHANNEL_TEXT:
        text = _CHANNEL_TEXT[channel]
    elif dlq_of:
        parked = ", and bad input parked at once with its reason" if REJECTED in types else ""
        text = (
            f"Dead-letter queue of {', '.join(dlq_of)} (and of its SNS subscription): messages that "
            f"failed maxReceiveCount times or could not be delivered{parked}. "
            "`billing redrive` moves them back."
        )
    else:
        text = f"SQS queue {channel}."
    for sub in (s for s in wiring.queue_subscriptions if s.endpoint == channel):
        policy = f" with filter policy {json.dumps(sub.filter_policy)}" if sub.filter_policy else ""
        delivery = "the body is the CloudEvent itself" if sub.raw else "the body is SNS's JSON envelope"
        text += f" Subscribed to {sub.topic}{policy}; {delivery}."
    return text


def _sqs_binding(wiring: Wiring, channel: str, address: str) -> dict[str, Any]:
    props = wiring.resources[channel]["Properties"]
    queue: dict[str, Any] = {"name": address, "fifoQueue": bool(props.get("FifoQueue", False))}
    for key, name in (
        ("VisibilityTimeout", "visibilityTimeout"),
        ("MessageRetentionPeriod", "messageRetentionPeriod"),
    ):
        if key in props:
            queue[name] = props[key]
    dlq = wiring.dead_letter_queue(channel)
    sqs: dict[str, Any] = {"queue": queue}
    if dlq is not None:
        queue["redrivePolicy"] = {
            "deadLetterQueue": {"name": wiring.address(dlq)},
            "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"],
        }
        dlq_props = wiring.resources[dlq]["Properties"]
        sqs["deadLetterQueue"] = {
            "name": wiring.address(dlq),
            "fifoQueue": bool(dlq_props.get("FifoQueue", False)),
            "messageRetentionPeriod": dlq_props.get("MessageRetentionPeriod", 345600),
        }
    return {"sqs": {**sqs, "bindingVersion": "0.2.0"}}


def channel_document(wiring: Wiring, channel: str, types: list[str]) -> dict[str, Any]:
    """One AsyncAPI channel: a topic or a queue of the template, with the messages it carries."""
    address = wiring.address(channel)
    result: dict[str, Any] = {"address": address, "title": channel}
    if wiring.resources[channel]["Type"] == "AWS::SNS::Topic":
        result["description"] = _CHANNEL_TEXT.get(channel, f"SNS topic {channel}.")
        result["servers"] = [{"$ref": "#/servers/sns"}]
        binding: dict[str, Any] = {
            "sns": {"name": address, "ordering": {"type": "standard"}, "bindingVersion": "0.1.0"}
        }
    else:
        result["description"] = _queue_text(wiring, channel, types)
        result["servers"] = [{"$ref": "#/servers/sqs"}]
        binding = _sqs_binding(wiring, channel, address)
    result["parameters"] = {"stackName": {"$ref": "#/components/parameters/stackName"}}
    result["messages"] = {
        component_id(t): {"$ref": f"#/components/messages/{component_id(t)}"} for t in types
    }
    result["bindings"] = binding
    return result
