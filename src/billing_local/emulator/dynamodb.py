"""AWS::DynamoDB::Table on moto, with its stream (read by the stream pollers)."""

from typing import Any

from .clients import Clients
from .resources import Registry, Resource, truthy

_DEFAULT_THROUGHPUT = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def _throughput(spec: dict[str, Any] | None) -> dict[str, int]:
    spec = spec or _DEFAULT_THROUGHPUT
    return {
        "ReadCapacityUnits": int(spec["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(spec["WriteCapacityUnits"]),
    }


class Tables:
    """The DynamoDB service: tables (keys, billing mode, GSIs/LSIs, stream, TTL) and streams."""

    def __init__(self, clients: Clients, registry: Registry) -> None:
        self.clients = clients
        self.naming = registry.naming
        registry.register("AWS::DynamoDB::Table", self.create_table)

    def create_table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("TableName") or self.naming.default_name(logical_id, 255)
        billing_mode = props.get("BillingMode", "PROVISIONED")
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing_mode,
        }
        if billing_mode == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))

        def index(spec: dict[str, Any], global_index: bool) -> dict[str, Any]:
            out: dict[str, Any] = {k: spec[k] for k in ("IndexName", "KeySchema", "Projection") if k in spec}
            if global_index and billing_mode == "PROVISIONED":
                out["ProvisionedThroughput"] = _throughput(spec.get("ProvisionedThroughput"))
            return out

        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [index(s, True) for s in props["GlobalSecondaryIndexes"]]
        if props.get("LocalSecondaryIndexes"):
            kwargs["LocalSecondaryIndexes"] = [index(s, False) for s in props["LocalSecondaryIndexes"]]
        stream = props.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        dynamodb = self.clients("dynamodb")
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and truthy(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attrs = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attrs["StreamArn"] = description["LatestStreamArn"]
        return Resource(logical_id, "AWS::DynamoDB::Table", name, attrs)

    def forget_shard_iterator(self, iterator: str) -> None:
        """moto keeps every shard iterator it ever issued; pollers issue one per GetRecords."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        dynamodbstreams_backends[self.naming.account_id][self.naming.region].shard_iterators.pop(
            iterator, None
        )
