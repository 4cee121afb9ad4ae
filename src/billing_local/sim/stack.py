"""The deployed stack on the embedded AWS as the simulator (and the tests) drive and read it: its
schedules, the passing of real-time timeouts between simulated days, and what the stores hold —
documents from BillingTable, payments, refunds and settlement from it and from the money the
sandbox gateway's own ledger moved, parked input from the agreement DLQ.
"""

import json
from collections import Counter, defaultdict
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from billing.adapters.dynamo import SETTLEMENT_SK, STATE_SK
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
    """Between simulated days every timeout measured in real time by moto is over: messages a
    crashed consumer held become visible."""
    cloud.expire_visibility()


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
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
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
    """One entry per charged invoice (contract §5): status, attempts, charges the gateway took, the
    amount charged and the credit the invoice applied; and how many outcome events were stored."""
    return read_money(billing_table, ledger_table)["payments"]


def read_money(billing_table: str, ledger_table: str) -> dict[str, list[dict[str, Any]]]:
    """`payments`, `refunds` and `settlement` (per agreement: owed, charged, refunded, credit
    balance) as contract §5 has them, from BillingTable and the money the sandbox gateway moved."""
    ledger = DynamoLedger(ledger_table)
    charges = Counter(c["document_id"] for c in ledger.charges())
    refunds_paid = Counter(r["idempotency_key"] for r in ledger.refunds())
    items = _scan(billing_table)
    credit_applied = {
        doc["document_id"]: doc.get("credit_applied_minor", 0)
        for doc in (json.loads(i["document"]) for i in items if i["sk"].startswith("DOC#"))
    }
    outcome_events = [
        (json.loads(i["body"])["data"]["document_id"], i["time"][:10])
        for i in items
        if i.get("type") in (PAYMENT_SUCCEEDED, PAYMENT_FAILED)  # stored on the payment item
    ]
    outcomes = Counter(document_id for document_id, _ in outcome_events)
    settled_on = dict(outcome_events)
    payments, refunds = [], []
    for item in items:
        agreement_id = item["pk"].removeprefix("AGR#")
        if item["sk"].startswith("PAY#"):
            document_id = item["sk"].removeprefix("PAY#")
            payments.append(
                {
                    "document_id": document_id,
                    "agreement_id": agreement_id,
                    "status": item["status"],
                    "attempts": int(item["attempts"]),
                    "charges": charges.get(document_id, 0),
                    "amount_minor": int(item["amount_minor"]),
                    "credit_applied_minor": int(credit_applied.get(document_id, 0)),
                    "outcome_events": outcomes.get(document_id, 0),
                    "settled_on": settled_on.get(document_id),
                }
            )
        elif item["sk"] == SETTLEMENT_SK:
            refunds += [
                {
                    "refund_id": r["id"],
                    "agreement_id": agreement_id,
                    "amount_minor": int(r["amount"]),
                    "status": r["status"],
                    "paid": refunds_paid.get(r["id"], 0),
                }
                for r in item["refunds"]
            ]
    payments.sort(key=lambda p: (p["agreement_id"], p["document_id"]))
    refunds.sort(key=lambda r: (r["agreement_id"], r["refund_id"]))
    return {"payments": payments, "refunds": refunds, "settlement": _settlement(items, payments, refunds)}


def _settlement(
    items: list[dict[str, Any]], payments: list[dict[str, Any]], refunds: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per agreement with a document (`closures`: how often it was closed, 0 while open)."""
    zero = {
        "owed_minor": 0,
        "charged_minor": 0,
        "refunded_minor": 0,
        "credit_balance_minor": 0,
        "closures": 0,
    }
    per: dict[str, dict[str, Any]] = defaultdict(lambda: dict(zero))
    billed = set()
    for item in items:
        agreement_id = item["pk"].removeprefix("AGR#")
        if item["sk"].startswith("DOC#"):
            billed.add(agreement_id)
            per[agreement_id]["owed_minor"] += int(json.loads(item["document"])["total_minor"])
        elif item["sk"] == STATE_SK:
            per[agreement_id]["credit_balance_minor"] = int(item.get("credit", 0))
            per[agreement_id]["closures"] = int(item.get("closures", 0))
    for payment in payments:
        if payment["status"] == "succeeded":
            per[payment["agreement_id"]]["charged_minor"] += payment["amount_minor"]
    for refund in refunds:
        if refund["status"] == "succeeded":
            per[refund["agreement_id"]]["refunded_minor"] += refund["amount_minor"]
    return [{"agreement_id": a, **per[a]} for a in sorted(billed)]
