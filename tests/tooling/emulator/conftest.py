from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing_local.emulator import LocalCloud
from billing_local.stack import local_cloud

FIXTURE_TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with local_cloud(FIXTURE_TEMPLATE, start=START) as local:
        yield local
