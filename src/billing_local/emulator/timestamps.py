"""moto stamps SQS messages and stream records with real time; code sees the virtual instant.

``VirtualTimestamps`` rewrites ReceiveMessage and GetRecords responses. As an ``after``
subscriber of the API-call hook it covers every client the application and the tests build; the
emulator's own (unhooked) clients call it explicitly on what they read.
"""

from datetime import datetime
from typing import Any

from .clock import VirtualClock
from .hooks import ApiCall


class VirtualTimestamps:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def sqs_messages(self, response: dict[str, Any]) -> dict[str, Any]:
        """SentTimestamp and ApproximateFirstReceiveTimestamp at the virtual instant they were made."""
        for message in response.get("Messages", []):
            attributes = message.get("Attributes")
            if attributes:
                for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
                    if key in attributes:
                        attributes[key] = str(self.clock.virtual_millis(attributes[key]))
        return response

    def stream_records(self, response: dict[str, Any]) -> dict[str, Any]:
        """ApproximateCreationDateTime at the virtual instant the change was made (whole seconds)."""
        for record in response.get("Records", []):
            dynamodb = record.get("dynamodb", {})
            created = dynamodb.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                virtual = self.clock.virtual_at(created.timestamp())
                dynamodb["ApproximateCreationDateTime"] = virtual.replace(microsecond=0)
        return response

    def __call__(self, call: ApiCall, response: dict[str, Any] | None) -> None:
        if response is None:
            return
        if (call.service, call.operation) == ("sqs", "ReceiveMessage"):
            self.sqs_messages(response)
        elif (call.service, call.operation) == ("dynamodbstreams", "GetRecords"):
            self.stream_records(response)
