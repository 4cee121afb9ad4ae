"""BillingTable's keys, its item codec and the plumbing every part of it writes and reads with.

The layout itself is in billing/adapters/dynamo.py's docstring (and docs/ARCHITECTURE.md).
"""

import json
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from billing.domain.billing_events import BillingEvent
from billing.ports import StaleState

STATE_SK = "AGREEMENT"
SETTLEMENT_SK = "PAY!SETTLEMENT"
EVENT_ID_SK = "EVENT"
REJECTION_SK = "REJECTION"
RUN_SK = "RUN"
SERIES_SK = "SERIES"
# EventsByDay is write-sharded: one key per day would cap the system near 1,000 billing events a
# second (one GSI partition); 16 keys a day take it past 16,000 (docs/SCALE.md).
EVENT_SHARDS = 16
_SER = TypeSerializer()
_DES = TypeDeserializer()


def agreement_pk(agreement_id: str) -> str:
    return f"AGR#{agreement_id}"


def event_id_pk(event_id: str) -> str:
    return f"EVENT#{event_id}"


def rejection_pk(key: str) -> str:
    return f"REJ#{key}"


def run_pk(run_at: str) -> str:
    return f"RUN#{run_at}"


def series_pk(series: str) -> str:
    return f"SERIES#{series}"


def due_shard(agreement_id: str, shards: int) -> str:
    return f"DUE#{zlib.crc32(agreement_id.encode()) % shards}"


def serialize(**attrs: Any) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in attrs.items() if v is not None}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _DES.deserialize(v) for k, v in item.items()}


def failed_item(error: BaseException | None) -> int | None:
    """Which item of a cancelled transaction failed its condition (the first one), if known."""
    if not isinstance(error, ClientError):
        return None
    reasons = error.response.get("CancellationReasons", [])
    return next((i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"), None)


def condition_failed(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


class Table:
    """The table and the plumbing every part of BillingTable writes and reads with."""

    def __init__(self, table_name: str, shards: int, client: Any = None) -> None:
        self.name = table_name
        self.shards = shards
        self._ddb = client or boto3.client("dynamodb")

    # -- plumbing ----------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            if len(items) == 1 and "Put" in items[0]:
                self._ddb.put_item(**items[0]["Put"])
            elif len(items) == 1:
                self._ddb.update_item(**items[0]["Update"])
            else:
                self._ddb.transact_write_items(TransactItems=items)
        except ClientError as error:
            if condition_failed(error):
                raise StaleState(str(error)) from error
            raise

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.name
        while True:
            page = self._ddb.query(**kwargs)
            for item in page.get("Items", []):
                yield deserialize(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- items written by several parts ----------------------------------------

    def _outbox_put(self, pk: str, event: BillingEvent) -> dict[str, Any]:
        return self._put_new(pk, f"OUT#{event.id}", **outbox_fields(event))

    def _put_new(self, pk: str, sk: str, **attrs: Any) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.name,
                "Item": serialize(pk=pk, sk=sk, **attrs),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }


def outbox_fields(event: BillingEvent) -> dict[str, Any]:
    """What makes an item a stored billing event: published from the stream, found by EventsByDay."""
    return {
        "type": event.type,
        "time": event.time,
        "body": json.dumps(event.body, separators=(",", ":")),
        "attributes": event.attributes,
        "gsi2pk": f"EVT#{event.time[:10]}#{zlib.crc32(event.id.encode()) % EVENT_SHARDS}",
        "gsi2sk": f"{event.time}#{event.id}",
    }
