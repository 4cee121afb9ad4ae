"""Rejected input parked once (issue 15 item 7): a record per distinct bad body counts the copies."""

import json
from datetime import timedelta

import pytest
from fakes import FakeBillingTable, FakeQueue
from service_builders import NOW

from billing.domain.errors import BadInput
from billing.ports import REDRIVEN_ATTRIBUTE
from billing.service.rejections import REPARK_AFTER, Verdict, park_once, rejection_key

ERROR = BadInput("unknown_currency", "'XYZ' is not an active ISO 4217 currency code", "data.plan.currency")
BODY = json.dumps({"id": "evt-1", "type": "agreement.created", "data": {"plan": {"currency": "XYZ"}}})


def test_the_same_bad_body_is_parked_once_and_counted_every_time(table: FakeBillingTable) -> None:
    dlq = FakeQueue()
    verdicts = [
        park_once(dlq, table, BODY, {"type": "agreement.created"}, ERROR, NOW + timedelta(minutes=n))
        for n in range(3)
    ]
    assert verdicts == [Verdict.PARKED, Verdict.REPEATED, Verdict.REPEATED]
    [(body, attributes, code, reason)] = dlq.parked
    assert (body, code, reason) == (BODY, "unknown_currency", str(ERROR))
    key = rejection_key(BODY)
    assert attributes == {"type": "agreement.created", "rejection_key": key}
    record = table.rejection(key)
    assert record is not None
    assert (record.event_id, record.code, record.reason, record.seen) == ("evt-1", ERROR.code, str(ERROR), 3)
    assert (record.first_seen, record.last_seen) == ("2026-02-27T10:00:00Z", "2026-02-27T10:02:00Z")
    assert record.parked_at == "2026-02-27T10:00:00Z"


def test_distinct_bodies_are_distinct_records_even_with_one_id(table: FakeBillingTable) -> None:
    """Keyed by the body, not the id: a reused id with other content is a bad event of its own."""
    dlq = FakeQueue()
    other = BODY.replace("XYZ", "ABC")
    assert park_once(dlq, table, BODY, {}, ERROR, NOW) is Verdict.PARKED
    assert park_once(dlq, table, other, {}, ERROR, NOW) is Verdict.PARKED
    assert park_once(dlq, table, "not json", {}, BadInput("invalid_json", "x"), NOW) is Verdict.PARKED
    assert [p[0] for p in dlq.parked] == [BODY, other, "not json"]
    record = table.rejection(rejection_key("not json"))
    assert record is not None and record.event_id is None


def test_a_redriven_copy_is_parked_again(table: FakeBillingTable) -> None:
    """A redrive took the DLQ copy away (it marks what it sends back): rejected again, it must return."""
    dlq = FakeQueue()
    park_once(dlq, table, BODY, {}, ERROR, NOW)
    assert park_once(dlq, table, BODY, {REDRIVEN_ATTRIBUTE: "unknown_currency"}, ERROR, NOW) is Verdict.PARKED
    assert len(dlq.parked) == 2
    assert REDRIVEN_ATTRIBUTE not in dlq.parked[1][1]


def test_a_copy_after_the_parked_one_expired_is_parked_again(table: FakeBillingTable) -> None:
    dlq = FakeQueue()
    park_once(dlq, table, BODY, {}, ERROR, NOW)
    assert (
        park_once(dlq, table, BODY, {}, ERROR, NOW + REPARK_AFTER - timedelta(seconds=1)) is Verdict.REPEATED
    )
    assert park_once(dlq, table, BODY, {}, ERROR, NOW + REPARK_AFTER) is Verdict.PARKED
    assert len(dlq.parked) == 2


def test_a_failed_park_is_parked_by_the_retry(table: FakeBillingTable) -> None:
    """Counted, then the DLQ refused the send: the record is not marked parked, so the retry parks."""

    class Refusing(FakeQueue):
        def park(self, body: str, attributes: dict[str, str], code: str, reason: str) -> None:
            raise ConnectionError("SQS unavailable")

    with pytest.raises(ConnectionError):
        park_once(Refusing(), table, BODY, {}, ERROR, NOW)
    dlq = FakeQueue()
    assert park_once(dlq, table, BODY, {}, ERROR, NOW) is Verdict.PARKED
    record = table.rejection(rejection_key(BODY))
    assert record is not None and record.seen == 2
