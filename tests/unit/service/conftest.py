"""Service tests on the in-memory fakes (tests/fakes.py): no moto, no network, milliseconds each."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeBillingTable

from billing import bootstrap

sys.path.insert(0, str(Path(__file__).parent))  # service_builders


@pytest.fixture
def table() -> FakeBillingTable:
    return FakeBillingTable(shards=4)


@pytest.fixture(autouse=True)
def _fresh_bootstrap() -> Iterator[None]:
    bootstrap.reset()
    yield
    bootstrap.reset()
