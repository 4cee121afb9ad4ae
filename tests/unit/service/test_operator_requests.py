"""Operator requests are read strictly (issue 15 item 8): every case the issue found, and the
neighbours of each, is refused with a code, the field and a one-line reason; nothing is guessed."""

from datetime import date
from typing import Any

import pytest

from billing.service import redrive, replay
from billing.service.redrive import RedriveRequest
from billing.service.replay import EventQuery, ReplayRequest
from billing.service.requests import InvalidRequest

QUEUES = redrive.QUEUES
TARGETS = replay.TARGET_QUEUES


def refused(parse: Any, request: Any, names: tuple[str, ...]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(request, names)
    error = caught.value
    assert error.reason and "\n" not in error.reason
    assert error.as_payload() == {
        "error": {
            "code": error.code,
            "reason": error.reason,
            **({"field": error.field} if error.field else {}),
        }
    }
    return error


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        # booleans are JSON booleans: the issue's {"dry_run": "false", "include_rejected": "no"} read as true
        ({"queue": "payment", "dry_run": "false"}, "wrong_type", "dry_run"),
        ({"queue": "payment", "dry_run": False, "include_rejected": "no"}, "wrong_type", "include_rejected"),
        ({"queue": "payment", "dry_run": 0}, "wrong_type", "dry_run"),
        ({"queue": "payment", "include_rejected": 1}, "wrong_type", "include_rejected"),
        ({"queue": "payment", "dry_run": None}, "wrong_type", "dry_run"),
        # max_messages: an integer 1..cap (-5 examined nothing silently)
        ({"queue": "payment", "max_messages": -5}, "out_of_range", "max_messages"),
        ({"queue": "payment", "max_messages": 0}, "out_of_range", "max_messages"),
        ({"queue": "payment", "max_messages": redrive.MAX_MESSAGES + 1}, "out_of_range", "max_messages"),
        ({"queue": "payment", "max_messages": "10"}, "wrong_type", "max_messages"),
        ({"queue": "payment", "max_messages": 2.5}, "wrong_type", "max_messages"),
        ({"queue": "payment", "max_messages": True}, "wrong_type", "max_messages"),
        # min_age_seconds: an integer >= 0 ("ten" raised ValueError)
        ({"queue": "payment", "min_age_seconds": "ten"}, "wrong_type", "min_age_seconds"),
        ({"queue": "payment", "min_age_seconds": -1}, "out_of_range", "min_age_seconds"),
        ({"queue": "payment", "min_age_seconds": 1.5}, "wrong_type", "min_age_seconds"),
        (
            {"queue": "payment", "min_age_seconds": redrive.MAX_AGE_SECONDS + 1},
            "out_of_range",
            "min_age_seconds",
        ),
        # queue: a known name, required (a list raised TypeError)
        ({"queue": ["payment"]}, "wrong_type", "queue"),
        ({"queue": "purge"}, "unknown_value", "queue"),
        ({}, "missing_field", "queue"),
        # types: a list of strings (a string matched nothing silently)
        ({"queue": "payment", "types": "billing.invoice.issued"}, "wrong_type", "types"),
        ({"queue": "payment", "types": [1]}, "wrong_type", "types"),
        ({"queue": "payment", "types": [""]}, "wrong_type", "types"),
        # unknown keys, and what is not an object
        ({"queue": "payment", "dryrun": True}, "unknown_field", "dryrun"),
        ({"queue": "payment", "max": 10}, "unknown_field", "max"),
        (["payment"], "invalid_request", None),
        ("payment", "invalid_request", None),
        (None, "invalid_request", None),
    ],
)
def test_a_bad_redrive_request_is_refused(request_: Any, code: str, field: str | None) -> None:
    error = refused(redrive.parse_request, request_, QUEUES)
    assert (error.code, error.field) == (code, field)


def test_a_good_redrive_request_is_read_as_written() -> None:
    assert redrive.parse_request({"queue": "agreement"}, QUEUES) == ("agreement", RedriveRequest())
    full = {
        "queue": "payment",
        "types": ["billing.invoice.issued"],
        "min_age_seconds": 0,
        "max_messages": 100,
        "dry_run": False,
        "include_rejected": True,
    }
    assert redrive.parse_request(full, QUEUES) == (
        "payment",
        RedriveRequest(frozenset({"billing.invoice.issued"}), 0, 100, dry_run=False, include_rejected=True),
    )


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        # the action is a closed set: "purge" (or any typo) re-sent 19 events
        ({"action": "purge", "from": "2026-03-01"}, "unknown_value", "action"),
        ({"action": "Replay", "from": "2026-03-01"}, "unknown_value", "action"),
        ({"action": ["replay"], "from": "2026-03-01"}, "wrong_type", "action"),
        # from is required (a missing one raised KeyError), dates are real dates written YYYY-MM-DD
        ({"action": "query"}, "missing_field", "from"),
        ({"action": "replay", "to": "2026-03-01"}, "missing_field", "from"),
        ({"from": "2026-02-30"}, "invalid_date", "from"),
        ({"from": "20260301"}, "invalid_date", "from"),
        ({"from": "2026-03-01T00:00:00Z"}, "invalid_date", "from"),
        ({"from": 20260301}, "wrong_type", "from"),
        ({"from": "2026-03-01", "to": "yesterday"}, "invalid_date", "to"),
        # from <= to (after returned 0 silently), and a range is capped at MAX_DAYS
        ({"from": "2026-03-05", "to": "2026-03-01"}, "invalid_range", "to"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "invalid_range", "to"),
        ({"from": "2026-03-01", "to": "2026-04-01"}, "invalid_range", "to"),  # 32 days
        # limit: an integer 1..cap (0 and -1 returned one event)
        ({"from": "2026-03-01", "limit": 0}, "out_of_range", "limit"),
        ({"from": "2026-03-01", "limit": -1}, "out_of_range", "limit"),
        ({"from": "2026-03-01", "limit": replay.MAX_LIMIT + 1}, "out_of_range", "limit"),
        ({"from": "2026-03-01", "limit": "5"}, "wrong_type", "limit"),
        # lists where lists are expected, strings where strings are
        ({"from": "2026-03-01", "types": "billing.invoice.issued"}, "wrong_type", "types"),
        ({"from": "2026-03-01", "agreement_id": 42}, "wrong_type", "agreement_id"),
        ({"from": "2026-03-01", "agreement_id": ""}, "out_of_range", "agreement_id"),
        # a replay's target and dry run
        ({"action": "replay", "from": "2026-03-01", "target": "everyone"}, "unknown_value", "target"),
        ({"action": "replay", "from": "2026-03-01", "dry_run": "true"}, "wrong_type", "dry_run"),
        ({"action": "replay", "from": "2026-03-01", "dry_run": "false"}, "wrong_type", "dry_run"),
        # target and dry_run mean nothing to a query; unknown keys are refused
        ({"action": "query", "from": "2026-03-01", "target": "topic"}, "unknown_field", "target"),
        ({"from": "2026-03-01", "dry_run": True}, "unknown_field", "dry_run"),
        ({"from": "2026-03-01", "type": "billing.invoice.issued"}, "unknown_field", "type"),
        ([], "invalid_request", None),
    ],
)
def test_a_bad_replay_request_is_refused(request_: Any, code: str, field: str | None) -> None:
    error = refused(replay.parse_request, request_, TARGETS)
    assert (error.code, error.field) == (code, field)


def test_a_good_replay_request_is_read_as_written() -> None:
    march = EventQuery(date(2026, 3, 1), date(2026, 3, 31))
    assert replay.parse_request({"from": "2026-03-01", "to": "2026-03-31"}, TARGETS) == ReplayRequest(
        "query", march
    )
    one_day = replay.parse_request(
        {"action": "replay", "from": "2026-03-01", "target": "accounting"}, TARGETS
    )
    assert one_day == ReplayRequest("replay", EventQuery(date(2026, 3, 1), date(2026, 3, 1)), "accounting")
    full = {
        "action": "replay",
        "from": "2026-03-01",
        "to": "2026-03-31",
        "types": ["billing.invoice.issued"],
        "agreement_id": "agr-1",
        "limit": 100,
        "target": "topic",
        "dry_run": True,
    }
    assert replay.parse_request(full, TARGETS) == ReplayRequest(
        "replay",
        EventQuery(date(2026, 3, 1), date(2026, 3, 31), frozenset({"billing.invoice.issued"}), "agr-1", 100),
        "topic",
        dry_run=True,
    )


def test_the_reason_says_what_was_expected_and_what_came() -> None:
    error = refused(redrive.parse_request, {"queue": "payment", "dry_run": "false"}, QUEUES)
    assert error.reason == 'dry_run: expected true or false (a JSON boolean), got a string "false"'
    error = refused(replay.parse_request, {"from": "2026-01-01", "to": "2026-12-31"}, TARGETS)
    assert error.reason == "365 days from 2026-01-01 to 2026-12-31: at most 31 per request"
