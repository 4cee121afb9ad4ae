"""The accounting export on a fake queue and bucket: one object per batch, junk parked, drained."""

import json
from datetime import UTC, datetime
from typing import Any

from fakes import FakeBucket, FakeQueue

from billing.domain.errors import BadInput
from billing.service.accounting import AccountingExport

NOW = datetime(2026, 3, 1, 0, 20, tzinfo=UTC)


def filled(n: int, **queue_options: Any) -> FakeQueue:
    queue = FakeQueue(**queue_options)
    for i in range(n):
        queue.send(json.dumps({"id": f"e{i:04d}", "type": "billing.invoice.issued"}))
    return queue


def exporter(queue: FakeQueue, bucket: FakeBucket, **options: Any) -> tuple[AccountingExport, list[Any]]:
    parked: list[tuple[dict[str, Any], BadInput]] = []
    return AccountingExport(queue, bucket, lambda m, e: parked.append((m, e)), **options), parked


def test_a_batch_becomes_one_object_and_its_messages_are_deleted() -> None:
    queue, bucket = filled(25), FakeBucket()
    export, _ = exporter(queue, bucket)
    assert export.drain(lambda: NOW, lambda: True) == 25
    [(key, (_, content_type))] = bucket.objects.items()
    assert key.startswith("exports/2026/03/01/") and key.endswith(".jsonl")
    assert content_type == "application/x-ndjson"
    assert [e["id"] for e in bucket.lines()] == [f"e{i:04d}" for i in range(25)]
    assert len(queue) == 0


def test_objects_hold_at_most_limit_events_and_a_retried_batch_overwrites_its_object() -> None:
    queue, bucket = filled(25), FakeBucket()
    export, _ = exporter(queue, bucket, limit=10)
    assert export.drain(lambda: NOW, lambda: True) == 25
    assert len(bucket.objects) == 3
    again = filled(10)  # the first batch's events again, as if its delete had been lost
    exporter(again, bucket, limit=10)[0].drain(lambda: NOW, lambda: True)
    assert len(bucket.objects) == 3


def test_what_is_not_an_event_is_parked_and_the_rest_exported() -> None:
    queue, bucket = filled(2), FakeBucket()
    queue.send("junk")
    queue.send("[1, 2]")
    export, parked = exporter(queue, bucket)
    assert export.drain(lambda: NOW, lambda: True) == 4
    assert sorted(m["Body"] for m, _ in parked) == ["[1, 2]", "junk"]
    assert {e.code for _, e in parked} == {"invalid_json"}
    assert len(bucket.lines()) == 2 and len(queue) == 0


def test_an_empty_queue_writes_nothing() -> None:
    bucket = FakeBucket()
    assert exporter(FakeQueue(), bucket)[0].drain(lambda: NOW, lambda: True) == 0
    assert bucket.objects == {}


def test_the_export_stops_when_the_invocation_runs_out_of_time() -> None:
    queue, bucket = filled(30), FakeBucket()
    budget = iter([True, True, False])
    export, _ = exporter(queue, bucket)
    exported = export.drain(lambda: NOW, lambda: next(budget, False))
    assert exported == 10 and len(queue) == 20  # received once, then no time left: written and deleted


def test_a_sampling_queue_stopped_the_old_export_early_and_is_drained_now() -> None:
    """SQS short polling samples servers: empty answers while messages wait. The old export (short
    poll, stop on the first empty answer) exported nothing here; the new one long-polls and stops
    only after three empty answers in a row."""
    old_queue = filled(30, empty_answers=2)
    old, _ = exporter(old_queue, FakeBucket(), wait_seconds=0, empty_receives=1)
    assert old.drain(lambda: NOW, lambda: True) == 0
    assert len(old_queue) == 30

    queue, bucket = filled(30, empty_answers=2), FakeBucket()
    export, _ = exporter(queue, bucket)
    assert export.drain(lambda: NOW, lambda: True) == 30
    assert len(queue) == 0 and len(bucket.lines()) == 30
    assert set(queue.receives) == {5}  # every receive long-polls (the fake answers at once)
    assert queue.receives[-3:] == [5, 5, 5] and len(queue.receives) == 2 + 3 + 3  # 2 sampled, 3 full, 3 empty


def test_empty_answers_between_messages_do_not_end_the_export() -> None:
    class Patchy(FakeQueue):
        """Empty on every other receive."""

        def receive(self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None) -> Any:
            self.empty_answers = len(self.receives) % 2
            return super().receive(max_messages, wait_seconds, visibility_timeout)

    queue = Patchy()
    for i in range(50):
        queue.send(json.dumps({"id": f"e{i}"}))
    export, _ = exporter(queue, FakeBucket(), wait_seconds=0)
    assert export.drain(lambda: NOW, lambda: True) == 50
