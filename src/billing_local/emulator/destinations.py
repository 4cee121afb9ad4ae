"""Sending to a destination ARN of the template (a queue or a topic), as Lambda and the scheduler do."""

import warnings

from .resources import Registry
from .sns import Topics
from .sqs import Queues


class Destinations:
    def __init__(self, registry: Registry, queues: Queues, topics: Topics) -> None:
        self.registry = registry
        self.queues = queues
        self.topics = topics

    def send(self, arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
        """Deliver ``body`` (with string message attributes) to a queue or topic by its ARN."""
        target = self.registry.by_arn(arn)
        kind = target.type if target is not None else ""
        if target is not None and kind == "AWS::SQS::Queue":
            self.queues.send(str(target.ref), body, attributes)
        elif kind == "AWS::SNS::Topic":
            self.topics.publish(arn, body, attributes)
        else:
            warnings.warn(f"cannot deliver to {arn}: not a queue or topic of the template", stacklevel=2)
