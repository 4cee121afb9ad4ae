"""The simulator's check that each distinct bad body has one rejection record (issue 15 item 7)."""

from billing_local.sim.invariants import rejections_recorded_once


def parked(event_id: str | None, key: str | None) -> dict[str, str | None]:
    return {"event_id": event_id, "code": "invalid_json", "key": key}


def test_one_record_per_bad_body_holds_with_a_second_copy_counted() -> None:
    result = {
        "parked": [parked("a", "k1"), parked("a", "k1"), parked(None, "k2")],
        "rejections": [{"key": "k1"}, {"key": "k2"}],
    }
    assert rejections_recorded_once(result) == {
        "one_rejection_record_per_bad_body": True,
        "rejection_records": 2,
        "parked_copies": 1,
    }


def test_a_parked_message_without_a_record_breaks_it() -> None:
    """As before item 7: every copy parked, none recorded."""
    result = {"parked": [parked("a", None), parked("a", None)], "rejections": []}
    assert rejections_recorded_once(result)["one_rejection_record_per_bad_body"] is False
    result = {"parked": [parked("a", "k1")], "rejections": [{"key": "k1"}, {"key": "k-lost"}]}
    assert rejections_recorded_once(result)["one_rejection_record_per_bad_body"] is False
