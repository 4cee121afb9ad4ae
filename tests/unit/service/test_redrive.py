"""DLQ redrive on fake queues: dry-run counts, filters, limits, parked bad input, attributes kept."""

import json
from typing import Any

import pytest
from fakes import FakeQueue

from billing.ports import REDRIVEN_ATTRIBUTE
from billing.service.redrive import Redrive, RedriveInterrupted, RedriveRequest, message_type

NOW_MS = 1_800_000_000_000


def dlq_with(*messages: tuple[str, dict[str, str]], **options: Any) -> FakeQueue:
    dlq = FakeQueue(sent_ms=NOW_MS - 60_000, **options)
    for body, attributes in messages:
        dlq.send(body, attributes)
    return dlq


def event(type_: str, n: int = 0) -> tuple[str, dict[str, str]]:
    return json.dumps({"type": type_, "n": n}), {"type": type_}


def test_a_dry_run_counts_and_leaves_everything_in_place() -> None:
    dlq, source = dlq_with(event("a"), event("b"), ("junk", {})), FakeQueue()
    report = Redrive(dlq, source).run(RedriveRequest(dry_run=True), NOW_MS)
    assert (report.examined, report.matched, report.moved) == (3, 3, 0)
    assert report.by_type == {"a": 1, "b": 1, "unparseable": 1}
    assert len(dlq.visible) == 3 and len(source) == 0  # released at once


def test_a_redrive_moves_the_matching_types_with_their_attributes() -> None:
    dlq, source = dlq_with(event("a", 1), event("b"), event("a", 2)), FakeQueue()
    dlq.send_message(
        '{"type": "a", "n": 3}',
        {
            "type": {"DataType": "String", "StringValue": "a"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00"},
        },
    )
    report = Redrive(dlq, source).run(RedriveRequest(types=frozenset({"a"})), NOW_MS)
    assert (report.matched, report.moved) == (3, 3)
    assert sorted(json.loads(b)["n"] for b in source.bodies()) == [1, 2, 3]
    moved = next(m for m in source.visible.values() if json.loads(m["Body"])["n"] == 3)
    assert moved["MessageAttributes"]["blob"] == {"DataType": "Binary", "BinaryValue": b"\x00"}
    assert [json.loads(b)["type"] for b in dlq.bodies()] == ["b"]


def test_max_messages_and_min_age_limit_what_is_moved() -> None:
    dlq, source = dlq_with(*(event("x", n) for n in range(5))), FakeQueue()
    assert Redrive(dlq, source).run(RedriveRequest(max_messages=2), NOW_MS).moved == 2
    assert len(source) == 2 and len(dlq.visible) == 3
    too_young = Redrive(dlq, FakeQueue()).run(RedriveRequest(min_age_seconds=3600), NOW_MS)
    assert (too_young.examined, too_young.moved) == (3, 0)


def test_parked_bad_input_stays_unless_asked_and_loses_its_reason_when_moved() -> None:
    dlq, source = (
        dlq_with(("bad", {"type": "x", "rejection_code": "c", "rejection_reason": "r"})),
        FakeQueue(),
    )
    left = Redrive(dlq, source).run(RedriveRequest(), NOW_MS)
    assert (left.moved, left.rejected_skipped, left.rejected) == (0, 1, {})
    sent = Redrive(dlq, source).run(RedriveRequest(include_rejected=True), NOW_MS)
    assert (sent.moved, sent.rejected_skipped, sent.rejected) == (1, 0, {"c": 1})  # reported, never silent
    [moved] = source.visible.values()
    assert set(moved["MessageAttributes"]) == {"type", REDRIVEN_ATTRIBUTE}


def test_the_type_comes_from_the_attribute_or_the_body() -> None:
    assert message_type({"Body": "{}", "MessageAttributes": {"type": {"StringValue": "t"}}}) == "t"
    assert message_type({"Body": '{"type": "u"}'}) == "u"
    assert message_type({"Body": "[]"}) == "unknown"
    assert message_type({"Body": "nope"}) == "unparseable"


def test_a_sampling_dlq_stopped_the_old_redrive_early_and_counts_right_now() -> None:
    """The old redrive (short poll, stop on the first empty answer) counted nothing on a DLQ whose
    first answer was empty; the new one long-polls, stops after three empty answers in a row, and
    its dry-run count is every message."""
    messages = [event("a", n) for n in range(25)]
    old = Redrive(dlq_with(*messages, empty_answers=1), FakeQueue(), wait_seconds=0, empty_receives=1)
    assert old.run(RedriveRequest(dry_run=True), NOW_MS).matched == 0

    dlq = dlq_with(*messages, empty_answers=2)
    report = Redrive(dlq, FakeQueue()).run(RedriveRequest(dry_run=True), NOW_MS)
    assert (report.examined, report.matched) == (25, 25)
    assert set(dlq.receives) == {5} and dlq.receives[-3:] == [5, 5, 5]
    assert len(dlq.visible) == 25  # all released

    source = FakeQueue()
    moved = Redrive(dlq_with(*messages, empty_answers=2), source, wait_seconds=0).run(
        RedriveRequest(), NOW_MS
    )
    assert moved.moved == 25 and len(source) == 25


def test_a_message_seen_again_is_not_counted_twice() -> None:
    """A long dry run outlives the receive visibility: messages come back and must not count again."""

    class Reappearing(FakeQueue):
        def receive(self, max_messages: int, wait_seconds: int, visibility_timeout: int | None = None) -> Any:
            if len(self.receives) == 1:  # the first batch's visibility ran out
                self.release(list(self.in_flight))
            return super().receive(max_messages, wait_seconds, visibility_timeout)

    dlq = Reappearing(sent_ms=NOW_MS)
    for n in range(15):
        dlq.send(*event("a", n))
    report = Redrive(dlq, FakeQueue(), wait_seconds=0).run(RedriveRequest(dry_run=True), NOW_MS)
    assert (report.examined, report.matched) == (15, 15)
    assert len(dlq.visible) == 15


def test_the_redrive_stops_when_the_invocation_runs_out_of_time() -> None:
    dlq = dlq_with(*(event("a", n) for n in range(30)))
    budget = iter([True])
    report = Redrive(dlq, FakeQueue()).run(RedriveRequest(), NOW_MS, lambda: next(budget, False))
    assert report.moved == 10 and len(dlq.visible) == 20


DEEP = "[" * 10_000 + "]" * 10_000
REJECTED = {"rejection_code": "invalid_json", "rejection_reason": "nested too deeply"}


def test_a_deeply_nested_parked_body_is_moved_not_a_recursion_error() -> None:
    dlq, source = dlq_with((DEEP, REJECTED)), FakeQueue()
    report = Redrive(dlq, source).run(RedriveRequest(include_rejected=True), NOW_MS)
    assert (report.moved, report.by_type, report.rejected) == (1, {"unparseable": 1}, {"invalid_json": 1})
    assert source.bodies() == [DEEP]
    typed = Redrive(dlq_with((DEEP, REJECTED)), FakeQueue()).run(
        RedriveRequest(types=frozenset({"x"}), include_rejected=True), NOW_MS
    )
    assert (typed.examined, typed.matched) == (1, 0)


class FailingSource(FakeQueue):
    """A source queue that refuses the n-th send (SQS down, a throttle, a bug)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.sends, self.fail_at = 0, fail_at

    def send_message(self, body: str, message_attributes: dict[str, dict[str, Any]]) -> None:
        self.sends += 1
        if self.sends == self.fail_at:
            raise RuntimeError("SendMessage failed")
        super().send_message(body, message_attributes)


def test_a_failure_mid_redrive_makes_every_unmoved_message_visible_at_once() -> None:
    dlq = dlq_with(*(event("a", n) for n in range(15)))
    with pytest.raises(RedriveInterrupted) as interrupted:
        Redrive(dlq, FailingSource(fail_at=3), wait_seconds=0).run(RedriveRequest(), NOW_MS)
    assert (interrupted.value.report.examined, interrupted.value.report.moved) == (3, 2)
    assert "moved 2 of 3 examined; the 8 received and not moved are visible in the DLQ again" in str(
        interrupted.value
    )
    assert dlq.in_flight == {} and len(dlq.visible) == 13
    assert dlq.releases == [8]  # one batched release of the whole receive, before the error is raised

    source = FakeQueue()
    rerun = Redrive(dlq, source, wait_seconds=0).run(RedriveRequest(), NOW_MS)  # at once: no 60 s wait
    assert (rerun.examined, rerun.moved) == (13, 13)
    assert len(dlq) == 0 and len(source) == 13


def test_a_dry_run_releases_what_it_held_in_one_call() -> None:
    dlq = dlq_with(*(event("a", n) for n in range(25)))
    report = Redrive(dlq, FakeQueue(), wait_seconds=0).run(RedriveRequest(dry_run=True), NOW_MS)
    assert report.matched == 25 and len(dlq.visible) == 25
    assert dlq.releases == [25]


def test_parked_bad_input_sent_back_is_marked_as_redriven() -> None:
    """The consumer parks each bad body once; the mark tells it this copy left the DLQ."""
    dlq, source = (
        dlq_with(("bad", {"rejection_code": "c", "rejection_reason": "r", "rejection_key": "k"})),
        FakeQueue(),
    )
    assert Redrive(dlq, source).run(RedriveRequest(include_rejected=True), NOW_MS).moved == 1
    [moved] = source.visible.values()
    assert moved["MessageAttributes"] == {REDRIVEN_ATTRIBUTE: {"DataType": "String", "StringValue": "c"}}
