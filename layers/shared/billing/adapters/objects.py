"""S3: the accounting export's bucket."""

from typing import Any

import boto3


class Bucket:
    def __init__(self, name: str, client: Any = None) -> None:
        self.name = name
        self._s3 = client or boto3.client("s3")

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)
