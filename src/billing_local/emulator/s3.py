"""AWS::S3::Bucket on moto."""

import re
from typing import Any

from .clients import Clients
from .resources import Registry, Resource


class Buckets:
    def __init__(self, clients: Clients, registry: Registry) -> None:
        self.clients = clients
        self.naming = registry.naming
        registry.register("AWS::S3::Bucket", self.create_bucket)

    def create_bucket(self, logical_id: str, props: dict[str, Any]) -> Resource:
        region = self.naming.region
        name = props.get("BucketName") or re.sub(
            r"[^a-z0-9.-]", "-", self.naming.default_name(logical_id, 63).lower()
        )
        s3 = self.clients("s3")
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        attrs = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        }
        return Resource(logical_id, "AWS::S3::Bucket", name, attrs)
