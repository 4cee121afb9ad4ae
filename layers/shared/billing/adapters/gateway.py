"""The payment gateway the processor talks to: the sandbox (CONTRACT §4), with its ledger on DynamoDB.

A real provider would implement billing.domain.payments.PaymentGateway here and
use `provider_key()`; the key lives in SSM (SecureString) and is read through
Powertools Parameters, cached, never from the environment.
"""

from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from billing.domain.payments import ChargeRequest, ChargeResult, ChargeStatus, RefundRequest, SandboxGateway


class DynamoLedger:
    """The sandbox gateway's own ledger: one item per idempotency key, written once."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.name = table_name
        self._ddb = client or boto3.client("dynamodb")

    def get(self, idempotency_key: str) -> ChargeResult | None:
        item = self._ddb.get_item(
            TableName=self.name, Key={"idempotency_key": {"S": idempotency_key}}, ConsistentRead=True
        ).get("Item")
        return _result(item) if item else None

    def put_if_absent(self, request: ChargeRequest | RefundRequest, result: ChargeResult) -> ChargeResult:
        item = {
            "idempotency_key": {"S": request.idempotency_key},
            "amount_minor": {"N": str(request.amount_minor)},
            "currency": {"S": request.currency},
            "status": {"S": result.status.value},
        }
        if isinstance(request, RefundRequest):
            item |= {"kind": {"S": "refund"}, "agreement_id": {"S": request.agreement_id}}
        else:
            item["document_id"] = {"S": request.document_id}
        if result.reason:
            item["reason"] = {"S": result.reason}
        try:
            self._ddb.put_item(
                TableName=self.name, Item=item, ConditionExpression="attribute_not_exists(idempotency_key)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            known = self.get(request.idempotency_key)
            if known is None:  # the condition failed, so the item exists: only a deleted ledger gets here
                raise
            return known
        return result

    def charges(self) -> list[dict[str, str]]:
        """Every charge the sandbox took (for simulations and reconciliation)."""
        return [i for i in self._succeeded() if i.get("kind") != "refund"]

    def refunds(self) -> list[dict[str, str]]:
        """Every refund the sandbox paid."""
        return [i for i in self._succeeded() if i.get("kind") == "refund"]

    def _succeeded(self) -> list[dict[str, str]]:
        items: list[dict[str, str]] = []
        for page in self._ddb.get_paginator("scan").paginate(TableName=self.name):
            items += [{k: next(iter(v.values())) for k, v in i.items()} for i in page["Items"]]
        return [i for i in items if i["status"] == ChargeStatus.SUCCEEDED.value]


def _result(item: dict[str, Any]) -> ChargeResult:
    return ChargeResult(
        item["idempotency_key"]["S"], ChargeStatus(item["status"]["S"]), item.get("reason", {}).get("S")
    )


def provider_key(parameter_name: str) -> str:
    """The provider's API key from SSM (decrypted, cached for 5 minutes)."""
    return str(parameters.get_parameter(parameter_name, decrypt=True, max_age=300))


def sandbox_gateway(ledger_table: str, key_parameter: str | None) -> SandboxGateway:
    if key_parameter:
        provider_key(key_parameter)  # the sandbox needs no key, but proves the secret path works
    return SandboxGateway(DynamoLedger(ledger_table))
