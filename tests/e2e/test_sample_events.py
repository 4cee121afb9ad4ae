"""Every file in events/ is accepted by its handler (the Docker-free `sam local invoke`)."""

import json
from pathlib import Path

import pytest
from support import ROOT, Pipeline

EVENTS = sorted((ROOT / "events").glob("*/*.json"))
HANDLER_EVENTS = [p for p in EVENTS if p.parent.name != "agreement_topic"]
TOPIC_BODIES = [p for p in EVENTS if p.parent.name == "agreement_topic"]


def test_every_function_has_a_sample_event(pipeline: Pipeline) -> None:
    folders = {p.parent.name for p in HANDLER_EVENTS}
    functions = {Path(pipeline.cloud.function(f).code_dir).name for f in pipeline.cloud.function_names()}
    assert functions <= folders


@pytest.mark.parametrize("path", HANDLER_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_event_is_accepted(pipeline: Pipeline, path: Path) -> None:
    result = pipeline.cloud.invoke(path.parent.name, json.loads(path.read_text()))
    assert not (result or {}).get("batchItemFailures"), result


@pytest.mark.parametrize("path", TOPIC_BODIES, ids=lambda p: p.name)
def test_upstream_bodies_are_accepted_from_the_topic(pipeline: Pipeline, path: Path) -> None:
    pipeline.publish(path.read_text())
    assert pipeline.left_in_queues() == {}
