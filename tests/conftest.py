"""Shared fixtures: an embedded AWS built from template.yaml."""

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from support import ROOT, Pipeline

from billing_local.runtime.cloud import LocalCloud


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    with LocalCloud(ROOT / "template.yaml", start=datetime(2026, 2, 27, tzinfo=UTC)) as cloud:
        ssm_name = cloud.function("PaymentProcessorFunction").environment.get("PAYMENT_PROVIDER_KEY_PARAM")
        if ssm_name:
            boto3.client("ssm").put_parameter(Name=ssm_name, Value="sandbox", Type="SecureString")
        yield Pipeline(cloud)
