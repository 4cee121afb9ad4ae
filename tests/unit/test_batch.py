"""Partial batch responses: only the records that raised are retried."""

from collections.abc import Callable

import pytest

from billing.batch import BatchFailed, Park, Record, process_sqs_batch
from billing.domain.errors import BadInput


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


# ----------------------------------------------------------------------------- the input's fault or not
# One rule (billing.domain.errors.input_fault), applied here for every SQS consumer: bad input is
# parked at once with a code and a reason; anything else is retried by SQS.


def parking() -> tuple[list[tuple[str, BadInput]], Park]:
    parked: list[tuple[str, BadInput]] = []

    def park(record: Record, error: BadInput) -> None:
        parked.append((record["messageId"], error))

    return parked, park


def raising(error: BaseException) -> Callable[[Record], None]:
    def handle(record: Record) -> None:
        if record["body"] == "bad":
            raise error

    return handle


def test_bad_input_is_parked_at_once_not_retried() -> None:
    parked, park = parking()
    error = BadInput("unknown_currency", "'XYZ' is not an active currency code", "data.plan.currency")
    assert process_sqs_batch(event("a", "bad"), raising(error), park) == {"batchItemFailures": []}
    assert parked == [("bad", error)]


def surrogate_error() -> UnicodeEncodeError:
    try:
        "\ud800@example.com".encode()  # what the poison message raised while fingerprinting
    except UnicodeEncodeError as error:
        return error
    raise AssertionError("a lone surrogate has no UTF-8 encoding")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (surrogate_error(), "invalid_json: not Unicode text (UnicodeEncodeError: 'utf-8' codec can't encode"),
        (RecursionError("maximum recursion depth exceeded"), "invalid_json: nested too deeply"),
    ],
)
def test_an_error_only_the_content_can_cause_is_parked_with_the_parsers_code(
    error: BaseException, reason: str
) -> None:
    """A UnicodeError or RecursionError comes back on every retry: it is bad input, not bad luck."""
    parked, park = parking()
    assert process_sqs_batch(event("bad", "b"), raising(error), park) == {"batchItemFailures": []}
    [(message_id, bad)] = parked
    assert message_id == "bad"
    assert bad.code == "invalid_json"
    assert str(bad).startswith(reason)
    assert "\ud800" not in str(bad)  # the reason itself is text (it becomes a queue attribute)


@pytest.mark.parametrize(
    "error", [RuntimeError("version kept changing"), ConnectionError("reset"), KeyError("pk"), TimeoutError()]
)
def test_anything_else_is_retried_not_parked(error: Exception) -> None:
    parked, park = parking()
    assert process_sqs_batch(event("a", "bad"), raising(error), park) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]
    }
    assert parked == []


def test_bad_input_whose_park_fails_is_retried() -> None:
    def park(record: Record, error: BadInput) -> None:
        raise ConnectionError("the DLQ is unreachable")

    error = BadInput("invalid_json", "Expecting value")
    assert process_sqs_batch(event("a", "bad"), raising(error), park) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]
    }


def test_without_a_park_every_failure_is_retried() -> None:
    assert process_sqs_batch(event("a", "bad"), raising(BadInput("invalid_json", "x"))) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]
    }
