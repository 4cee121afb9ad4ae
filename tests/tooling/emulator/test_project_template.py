"""Smoke test: the project's real template.yaml stands up on the embedded AWS."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing_local.stack import local_cloud

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="template.yaml not written yet")


def test_every_resource_of_template_yaml_is_built_or_listed_as_skipped() -> None:
    with local_cloud(TEMPLATE, start=datetime(2026, 3, 1, tzinfo=UTC)) as cloud:
        translated = cloud.template["Resources"]
        enabled = [lid for lid in translated if cloud.resolver.is_enabled(translated[lid])]
        skipped = {lid for lid, _ in cloud.skipped}
        for logical_id in enabled:
            assert cloud.physical_id(logical_id), logical_id
        emulated = set(enabled) - skipped
        for logical_id in emulated:
            assert not translated[logical_id]["Type"].startswith(("AWS::IAM::", "AWS::CloudWatch::")), (
                logical_id
            )
        # Every function has local code, every event source mapping and schedule is driven.
        for function in cloud.function_names():
            code_dir = cloud.function(function).code_dir
            assert code_dir is not None and code_dir.is_dir(), function
        mappings = cloud.logical_ids("AWS::Lambda::EventSourceMapping")
        assert sorted(p.logical_id for p in cloud.pollers()) == sorted(mappings)
        assert sorted(cloud.schedule_names()) == sorted(cloud.logical_ids("AWS::Scheduler::Schedule"))
        assert cloud.drain() == 0


def test_every_handler_of_template_yaml_imports() -> None:
    with local_cloud(TEMPLATE, start=datetime(2026, 3, 1, tzinfo=UTC)) as cloud:
        for function in cloud.function_names():
            assert callable(cloud.function(function).load()), function
