"""Each sample in events/ is what AWS would deliver to the dev stack that samconfig.toml deploys.

The ARNs name the stage's region, the sample account and resources the template creates (queue
names from their QueueName, the table's stream up to CloudFormation's random suffix and the stream
label); a scheduled sample carries the keys of its schedule's Input.
"""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from support import ROOT

from billing_local.emulator.cloud import LocalCloud

EVENTS = sorted((ROOT / "events").glob("*/*.json"))
ARN = re.compile(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d*:[^\"\s]+")


def _dev_stage() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters: dict[str, Any] = config["dev"]["global"]["parameters"]
    return parameters


@pytest.fixture(scope="module")
def dev_cloud() -> Any:
    stage = _dev_stage()
    with LocalCloud(ROOT / "template.yaml", stack_name=stage["stack_name"], region=stage["region"]) as cloud:
        yield cloud


def _stack_arns(cloud: LocalCloud) -> list[re.Pattern[str]]:
    patterns = [re.escape(cloud.attr(q, "Arn")) for q in cloud.logical_ids("AWS::SQS::Queue")]
    for table in cloud.logical_ids("AWS::DynamoDB::Table"):
        name = re.escape(cloud.physical_id(table))
        account, region = cloud.account_id, cloud.region
        # CloudFormation appends a random suffix to a generated table name; a stream has a label.
        patterns.append(
            rf"arn:aws:dynamodb:{region}:{account}:table/{name}-[A-Z0-9]{{12,13}}/stream/[0-9T:.-]+"
        )
    return [re.compile(p) for p in patterns]


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_arns_name_the_dev_stack(dev_cloud: LocalCloud, path: Path) -> None:
    known = _stack_arns(dev_cloud)
    for arn in ARN.findall(path.read_text()):
        assert any(p.fullmatch(arn) for p in known), f"{path.name}: {arn} is not a resource of the dev stack"
    for region in re.findall(r'"awsRegion":\s*"([^"]+)"', path.read_text()):
        assert region == dev_cloud.region


def test_scheduled_samples_carry_their_schedule_input() -> None:
    template = (ROOT / "template.yaml").read_text()
    inputs = re.findall(r"Input: '(\{.*\})'", template)
    assert inputs, "the template's schedules have an Input"
    keys = {frozenset(json.loads(i)) for i in inputs}
    for folder in ("invoice_scheduler", "accounting_exporter"):
        for path in (ROOT / "events" / folder).glob("*.json"):
            assert frozenset(json.loads(path.read_text())) in keys, path.name
