"""Shared fixtures: an embedded AWS built from template.yaml."""

import os

# Powertools' Logger and Metrics are process-wide singletons configured from the environment
# when the layer is first imported. A unit test may import it before any embedded cloud sets the
# template's Globals: give the process the same values (as every Lambda container has them).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "billing")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RecurringBilling/local")  # stack "local"

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from support import ROOT, Pipeline

from billing_local.stack import local_cloud


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    with local_cloud(ROOT / "template.yaml", start=datetime(2026, 2, 27, tzinfo=UTC)) as cloud:
        yield Pipeline(cloud)
