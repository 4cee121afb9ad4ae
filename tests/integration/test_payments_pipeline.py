"""Payments on the embedded AWS: each sandbox method, retries on the schedule, never a second charge."""

from datetime import date, timedelta

import pytest
from support import Pipeline, agreement_event


def bill(pipeline: Pipeline, agreement_id: str, method: str) -> None:
    pipeline.publish(
        agreement_event("agreement.created", agreement_id, 1, start_date="2026-03-01", payment_method=method)
    )
    pipeline.run_day(date(2026, 3, 1))


@pytest.mark.parametrize(
    ("method", "status", "charges"),
    [("pm_ok", "succeeded", 1), ("pm_timeout_once", "succeeded", 1), ("pm_stolen", "failed", 0)],
)
def test_first_attempt_outcomes(pipeline: Pipeline, method: str, status: str, charges: int) -> None:
    bill(pipeline, "agr-pay", method)
    [payment] = pipeline.payments("agr-pay")
    assert (payment["status"], payment["attempts"], payment["charges"], payment["outcome_events"]) == (
        status,
        1,
        charges,
        1,
    )
    assert pipeline.left_in_queues() == {}


def test_soft_decline_is_retried_after_1_3_and_7_days_then_fails(pipeline: Pipeline) -> None:
    bill(pipeline, "agr-soft", "pm_insufficient_funds")
    attempts_by_day = {}
    for offset in range(1, 10):
        day = date(2026, 3, 1) + timedelta(days=offset)
        pipeline.run_day(day)
        attempts_by_day[offset] = pipeline.payments("agr-soft")[0]["attempts"]
    assert attempts_by_day == {1: 2, 2: 2, 3: 3, 4: 3, 5: 3, 6: 3, 7: 4, 8: 4, 9: 4}
    [payment] = pipeline.payments("agr-soft")
    assert (payment["status"], payment["charges"], payment["outcome_events"]) == ("failed", 0, 1)
    assert pipeline.left_in_queues() == {}


def test_a_redelivered_invoice_event_is_not_charged_again(pipeline: Pipeline) -> None:
    bill(pipeline, "agr-redeliver", "pm_ok")
    [invoice_event] = pipeline.cloud.invoke(
        "EventReplayFunction", {"action": "query", "from": "2026-03-01", "types": ["billing.invoice.issued"]}
    )["events"]
    replayed = pipeline.cloud.invoke(
        "EventReplayFunction",
        {"action": "replay", "from": "2026-03-01", "types": ["billing.invoice.issued"], "target": "payment"},
    )
    assert replayed["sent"] == 1 and invoice_event["agreement_id"] == "agr-redeliver"
    pipeline.cloud.drain()
    [payment] = pipeline.payments("agr-redeliver")
    assert (payment["status"], payment["attempts"], payment["charges"]) == ("succeeded", 1, 1)
