"""The queue drains (accounting export, DLQ redrive) on the embedded AWS: long-poll wait from config,
and fast locally (moto sleeps through a long poll on an empty queue, so local runs short-poll)."""

import json
import time
from typing import Any, ClassVar

import pytest
from support import Pipeline

from billing import bootstrap
from billing.adapters.messaging import Queue


class RecordingQueue(Queue):
    """The real SQS adapter, noting the wait of each receive (and never sleeping through it)."""

    waits: ClassVar[list[int]] = []

    def receive(self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None) -> Any:
        RecordingQueue.waits.append(wait_seconds)
        return super().receive(max_messages, 0, visibility_timeout)


@pytest.fixture
def recording(pipeline: Pipeline) -> list[int]:
    url = pipeline.cloud.physical_id("AccountingQueue")
    RecordingQueue.waits = []
    bootstrap.override(queues={"ACCOUNTING_QUEUE_URL": lambda: RecordingQueue(url)})
    return RecordingQueue.waits


def test_the_export_long_polls_with_the_configured_wait(
    pipeline: Pipeline, recording: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        pipeline.cloud.send("AccountingQueue", json.dumps({"id": f"e{n}", "type": "billing.invoice.issued"}))
    monkeypatch.setenv("RECEIVE_WAIT_SECONDS", "4")
    assert pipeline.export_accounting()["exported"] == 12
    assert recording == [4, 4, 4, 4, 4]  # two answers with messages, then three empty ones in a row


def test_local_drains_do_not_wait(pipeline: Pipeline) -> None:
    """The local toolkit sets RECEIVE_WAIT_SECONDS=0: three empty answers cost milliseconds, not 15 s."""
    started = time.perf_counter()
    assert pipeline.export_accounting()["exported"] == 0
    report = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "payment", "dry_run": True})
    assert report["examined"] == 0
    assert time.perf_counter() - started < 2
