"""Speed-ups of moto that keep its behaviour.

moto's DynamoDB `Query` sorts the whole table before it looks at the key
condition, so every query is O(table size · log): a table of a few thousand
items makes the simulation crawl. The patched query hands moto only the
candidate items (the partition, or the index items with the right hash key),
and moto does the rest exactly as before.

moto's DynamoDB `TransactWriteItems` deep-copies every table it touches to be
able to roll back, which makes each transaction O(table size): a simulated
month of a few hundred agreements spends most of its time copying. DynamoDB's
own semantics allow a cheaper way: evaluate every condition first (nothing is
written if any fails), then apply the writes. Only the touched items are
snapshotted, in case an apply step still fails validation.

One patch makes moto stricter, as AWS is: SQS refuses a message whose body or string attribute
value holds a character outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
(a NUL, say); moto stores it. Every send goes through `SQSBackend.send_message` (SendMessage, each
entry of SendMessageBatch, SNS deliveries), which is checked here.
"""

import copy
import re
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.models import SQSBackend

_original = DynamoDBBackend.transact_write_items
_original_query = Table.query
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})
_original_send_message = SQSBackend.send_message
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ALLOWED = "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, Any]] = []
    snapshots: list[tuple[str, dict[str, Any], Any]] = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in _OPERATIONS:
            return _original(self, transact_items)  # let moto report it its own way
        table_name = op["TableName"]
        key = _key(self, op_type, op)
        identity = (table_name, str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(table_name, key)
        snapshots.append((table_name, key, copy.deepcopy(current)))
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
        else:
            errors.append((None, None, None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    try:
        for item in transact_items:
            _apply(self, *next(iter(item.items())))
    except Exception:
        _restore(self, snapshots)
        raise
    return None


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> None:
    names: Any = op.get("ExpressionAttributeNames")  # None is what moto's own path passes on
    values: Any = op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(
            op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], op["Key"])
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            op["Key"],
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _restore(backend: DynamoDBBackend, snapshots: list[tuple[str, dict[str, Any], Any]]) -> None:
    for table_name, key, before in snapshots:
        if before is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, before.to_json()["Attributes"])


def _candidates(
    table: Table, hash_key: Any, index_name: str | None, kwargs: dict[str, Any]
) -> list[Any] | None:
    """The items a query can match, or None to let moto look at everything."""
    if index_name is None:
        if hash_key is None or not table.range_key_attr:
            return None
        partition = table.items.get(hash_key, {})
        return sorted(partition.values(), key=lambda item: item.range_key)
    conditions = kwargs.get("hash_key_conditions") or []
    if len(conditions) != 1:
        return None
    name, expected = conditions[0]
    partitions: list[Any] = list(table.items.values())  # dicts by range key, or items (no range key)
    return [
        item
        for partition in partitions
        for item in (partition.values() if table.range_key_attr else [partition])
        if (value := item.attrs.get(name)) is not None
        and value.type == expected.type
        and value.value == expected.value
    ]


def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")  # moto passes it positionally
    candidates = _candidates(self, hash_key, index_name, kwargs)
    if candidates is None:
        return _original_query(self, hash_key, *args, **kwargs)
    self.all_items = lambda: candidates  # type: ignore[method-assign]
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


def _refuse_invalid_characters(text: str, where: str) -> None:
    found = _NOT_SQS_TEXT.search(text)
    if found is not None:
        raise InvalidParameterValue(
            f"Invalid binary character '#x{ord(found.group()):X}' was found in {where}, "
            f"the set of allowed characters is {_ALLOWED}"
        )


def send_message(self: SQSBackend, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
    _refuse_invalid_characters(message_body, "the message body")
    attributes = kwargs.get("message_attributes") or (args[0] if args else None) or {}
    for name, value in attributes.items():
        if isinstance(value, dict) and isinstance(value.get("StringValue"), str):
            _refuse_invalid_characters(value["StringValue"], f"the value of message attribute {name!r}")
    return _original_send_message(self, queue_name, message_body, *args, **kwargs)


def install() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = _original  # type: ignore[method-assign]
    Table.query = _original_query  # type: ignore[method-assign]
    SQSBackend.send_message = _original_send_message  # type: ignore[method-assign]
