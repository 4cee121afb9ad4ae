"""Partial batch responses: only the records that raised are retried."""

import pytest

from billing.batch import BatchFailed, process_sqs_batch


def event(*ids: str) -> dict[str, object]:
    return {"Records": [{"messageId": i, "body": i} for i in ids]}


def test_only_failed_records_are_reported() -> None:
    def handle(record: dict[str, object]) -> None:
        if record["body"] == "bad":
            raise ValueError("boom")

    assert process_sqs_batch(event("a", "bad", "c"), handle) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]
    }


def test_a_clean_batch_reports_nothing() -> None:
    assert process_sqs_batch(event("a", "b"), lambda record: None) == {"batchItemFailures": []}


def test_a_batch_where_every_record_failed_fails_the_invocation() -> None:
    def handle(record: dict[str, object]) -> None:
        raise RuntimeError("down")

    with pytest.raises(BatchFailed):
        process_sqs_batch(event("a", "b"), handle)
