"""The deployed stack on the embedded AWS as the simulator (and the tests) drive and read it: its
schedules, the passing of real-time timeouts between simulated days, and what the stores hold —
documents from BillingTable, charges from the sandbox gateway's own ledger, parked input from the
agreement DLQ.
"""

import json
from collections import Counter
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from billing.adapters.gateway import DynamoLedger
from billing.domain.billing_events import PAYMENT_FAILED, PAYMENT_SUCCEEDED
from billing.domain.engine import Document
from billing_local.emulator.cloud import LocalCloud

DAILY_SCHEDULE = "DailyBillingSchedule"
EXPORT_SCHEDULE = "AccountingExportSchedule"
_DESERIALIZE = TypeDeserializer().deserialize


def schedule_id(cloud: LocalCloud, name: str) -> str:
    """The translated logical id of a function's ScheduleV2 event (SAM prefixes the function's id)."""
    matches = [s for s in cloud.schedule_names() if s == name or s.endswith(name)]
    if len(matches) != 1:
        raise KeyError(f"schedule {name!r} not found among {cloud.schedule_names()}")
    return matches[0]


def dlq_depth(cloud: LocalCloud) -> int:
    sqs = boto3.client("sqs")
    total = 0
    for name in cloud.logical_ids("AWS::SQS::Queue"):
        if name.endswith("DLQ"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=cloud.physical_id(name), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            total += int(attributes["ApproximateNumberOfMessages"])
    return total


def let_time_pass(cloud: LocalCloud) -> None:
    """Between simulated days every timeout measured in real time by moto or Powertools is over:
    messages a crashed consumer held become visible, and the idempotency record of an invocation
    that died mid-way is past its in-progress expiry (Powertools then lets a retry through)."""
    cloud.expire_visibility()
    ddb = boto3.client("dynamodb")
    table = cloud.physical_id("IdempotencyTable")
    for page in ddb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="#s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "INPROGRESS"}},
    ):
        for item in page["Items"]:
            ddb.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )


def _scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        items += [{k: _DESERIALIZE(v) for k, v in item.items()} for item in page["Items"]]
    return items


def peek(queue_url: str) -> list[dict[str, Any]]:
    """Every message on a queue, with attributes, left in place (visibility released at once)."""
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += messages
    for message in found:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return found


def read_parked(dlq_url: str) -> list[dict[str, Any]]:
    """Bad input the projector parked: event id (None if the body is not an event), rejection code and
    the key of its rejection record."""
    parked = []
    for message in peek(dlq_url):
        try:
            body = json.loads(message["Body"])
            event_id = body.get("id") if isinstance(body, dict) else None
        except ValueError:
            event_id = None
        attributes = message.get("MessageAttributes", {})
        code = attributes.get("rejection_code", {}).get("StringValue")
        key = attributes.get("rejection_key", {}).get("StringValue")
        parked.append({"event_id": event_id, "code": code, "key": key})
    return sorted(parked, key=lambda p: (str(p["event_id"]), str(p["code"]), str(p["key"])))


def read_rejections(table: str) -> list[dict[str, Any]]:
    """The rejection records (one per distinct rejected body): key, event id, code, copies seen."""
    records = [
        {
            "key": i["pk"].removeprefix("REJ#"),
            "event_id": i.get("event_id"),
            "code": i["code"],
            "seen": int(i["seen"]),
        }
        for i in _scan(table)
        if i["pk"].startswith("REJ#")
    ]
    return sorted(records, key=lambda r: (str(r["event_id"]), r["code"], r["key"]))


def read_documents(table: str) -> list[Document]:
    documents = [
        Document.from_json(json.loads(i["document"]), seq=int(i["seq"]))
        for i in _scan(table)
        if i["sk"].startswith("DOC#")
    ]
    return sorted(documents, key=lambda d: (d.issue_date, d.agreement_id, d.seq))


def read_payments(billing_table: str, ledger_table: str) -> list[dict[str, Any]]:
    charges = Counter(c["document_id"] for c in DynamoLedger(ledger_table).charges())
    items = _scan(billing_table)
    payments = [i for i in items if i["sk"].startswith("PAY#")]
    outcome_events = [
        (json.loads(i["body"])["data"]["document_id"], i["time"][:10])
        for i in items
        if i["sk"].startswith("OUT#") and i["type"] in (PAYMENT_SUCCEEDED, PAYMENT_FAILED)
    ]
    outcomes = Counter(document_id for document_id, _ in outcome_events)
    settled_on = dict(outcome_events)
    return sorted(
        (
            {
                "document_id": p["sk"].removeprefix("PAY#"),
                "agreement_id": p["pk"].removeprefix("AGR#"),
                "status": p["status"],
                "attempts": int(p["attempts"]),
                "charges": charges.get(p["sk"].removeprefix("PAY#"), 0),
                "outcome_events": outcomes.get(p["sk"].removeprefix("PAY#"), 0),
                "settled_on": settled_on.get(p["sk"].removeprefix("PAY#")),
            }
            for p in payments
        ),
        key=lambda p: (p["agreement_id"], p["document_id"]),
    )
