"""The operator functions on the embedded AWS refuse a bad request and do nothing (issue 15 item 8):
no message received or moved, no event read or re-sent; the answer is a structured error."""

import json
from datetime import date
from typing import Any

import pytest
from support import Pipeline, agreement_event


def park_bad_input(pipeline: Pipeline) -> None:
    bad = agreement_event("agreement.created", "agr-xyz", 1, start_date="2026-03-01")
    bad["data"]["plan"]["currency"] = "XYZ"
    pipeline.publish(bad)
    assert pipeline.left_in_queues() == {"AgreementDLQ": 1}


def untouched(pipeline: Pipeline, queue: str = "AgreementDLQ") -> None:
    """Still there, visible (never received: an immediate rerun sees it), with its reason."""
    assert pipeline.cloud.queue_depths()[queue]["visible"] == 1
    assert pipeline.left_in_queues() == {queue: 1}
    [parked] = pipeline.messages(queue)
    assert parked["MessageAttributes"]["rejection_code"]["StringValue"] == "unknown_currency"


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (
            {"queue": "agreement", "dry_run": False, "include_rejected": "no"},
            "wrong_type",
            "include_rejected",
        ),
        ({"queue": "agreement", "dry_run": "false", "include_rejected": "no"}, "wrong_type", "dry_run"),
        ({"queue": "agreement", "max_messages": -5}, "out_of_range", "max_messages"),
        ({"queue": "agreement", "min_age_seconds": "ten"}, "wrong_type", "min_age_seconds"),
        ({"queue": ["agreement"]}, "wrong_type", "queue"),
        (
            {"queue": "agreement", "types": "agreement.created", "include_rejected": True},
            "wrong_type",
            "types",
        ),
        ({"queue": "agreement", "include_rejected": True, "dryrun": True}, "unknown_field", "dryrun"),
        ({"queue": "outbox"}, "unknown_value", "queue"),
    ],
)
def test_a_bad_redrive_request_moves_nothing(
    pipeline: Pipeline, request_: dict[str, Any], code: str, field: str
) -> None:
    park_bad_input(pipeline)
    answer = pipeline.cloud.invoke("DlqRedriveFunction", request_)
    assert set(answer) == {"error"}
    assert (answer["error"]["code"], answer["error"]["field"]) == (code, field)
    untouched(pipeline)


def test_include_rejected_sends_back_and_says_so(pipeline: Pipeline) -> None:
    park_bad_input(pipeline)
    left = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement"})
    assert (left["moved"], left["rejected_skipped"], left["rejected"]) == (0, 1, {})
    sent = pipeline.cloud.invoke("DlqRedriveFunction", {"queue": "agreement", "include_rejected": True})
    assert (sent["moved"], sent["rejected_skipped"], sent["rejected"]) == (1, 0, {"unknown_currency": 1})


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        ({"action": "purge", "from": "2026-03-01"}, "unknown_value", "action"),
        ({"action": "replay", "from": "2026-03-01", "target": "all"}, "unknown_value", "target"),
        ({"action": "replay", "from": "2026-03-01", "dry_run": "true"}, "wrong_type", "dry_run"),
        ({"action": "replay", "to": "2026-03-01"}, "missing_field", "from"),
        ({"action": "replay", "from": "2026-03-02", "to": "2026-03-01"}, "invalid_range", "to"),
        ({"action": "replay", "from": "2026-01-01", "to": "2026-12-31"}, "invalid_range", "to"),
        ({"action": "replay", "from": "2026-03-01", "limit": 0}, "out_of_range", "limit"),
        (
            {"action": "replay", "from": "2026-03-01", "types": "billing.invoice.issued"},
            "wrong_type",
            "types",
        ),
    ],
)
def test_a_bad_replay_request_sends_nothing(
    pipeline: Pipeline, request_: dict[str, Any], code: str, field: str
) -> None:
    pipeline.publish(agreement_event("agreement.created", "agr-rp", 1, start_date="2026-03-01"))
    pipeline.run_day(date(2026, 3, 1))
    assert pipeline.left_in_queues() == {}
    answer = pipeline.cloud.invoke("EventReplayFunction", request_)
    assert set(answer) == {"error"}
    assert (answer["error"]["code"], answer["error"]["field"]) == (code, field)
    assert pipeline.left_in_queues() == {}  # nothing re-sent to the topic or to a queue


@pytest.mark.parametrize("event", [[], "redrive", None, 7])
def test_a_request_that_is_not_an_object_is_refused(pipeline: Pipeline, event: Any) -> None:
    for function in ("DlqRedriveFunction", "EventReplayFunction"):
        answer = pipeline.cloud.invoke(function, event)
        assert answer["error"]["code"] == "invalid_request", json.dumps(answer)
