"""The agreement projector's handler on the fakes: bad input is parked at once, with a code and a
reason, and never fails the record (which SQS would retry, then park without a reason)."""

import json
from typing import Any

import pytest
from fakes import FakeBillingTable, FakeQueue
from service_builders import created, handler_module, project

from billing.service.ingest import ingest


def test_the_issues_poison_message_is_parked_with_its_code_and_reason(table: FakeBillingTable) -> None:
    """A lone surrogate in customer_email (issue 15, item 1): a rejection, not a UnicodeEncodeError."""
    dlq = FakeQueue()
    body = json.dumps(created("agr-s", customer_email="\ud800@example.com"))  # \ud800 as JSON sends it
    assert project(table, dlq, body) == {"batchItemFailures": []}
    [(parked_body, _, code, reason)] = dlq.parked
    assert (parked_body, code) == (body, "invalid_field")
    assert reason.startswith("invalid_field: data.customer_email: holds a lone surrogate (U+D800)")
    assert table.agreements == {}


def test_an_error_of_the_input_past_the_parser_is_parked_not_retried(
    table: FakeBillingTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the parser to let a lone surrogate through (the issue's traceback: UnicodeEncodeError
    while fingerprinting), the handler still parks it at once with a code and a reason."""

    app = handler_module("agreement_projector")

    def fingerprint_as_before(body: str, *args: Any) -> Any:
        json.loads(body)["data"].get("customer_email", "").encode()
        return ingest(body, *args)

    monkeypatch.setattr(app, "ingest", fingerprint_as_before)
    dlq = FakeQueue()
    body = json.dumps(created("agr-s", customer_email="\ud800@example.com"))
    assert project(table, dlq, body, json.dumps(created("agr-ok"))) == {"batchItemFailures": []}
    [(parked_body, _, code, reason)] = dlq.parked
    assert (parked_body, code) == (body, "invalid_json")
    assert reason.startswith("invalid_json: not Unicode text (UnicodeEncodeError")
    assert list(table.agreements) == ["agr-ok"]  # the rest of the batch is processed


def test_a_transient_failure_is_retried_not_parked(
    table: FakeBillingTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: object) -> None:
        raise ConnectionError("throttled")

    monkeypatch.setattr(table, "inbound_events", throttled)
    dlq = FakeQueue()
    response = project(table, dlq, json.dumps(created("agr-t")), "not json")
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [code for *_, code, _ in dlq.parked] == ["invalid_json"]
