"""DocumentPageFunction on the embedded AWS: the page of a stored document is the page the local
renderer makes from the published documents, the same after a replay, private to its customer, and
its logs carry no customer data."""

import json
from datetime import date
from typing import Any

from page_reader import check_figures, parse
from support import Pipeline, agreement_event

from billing import config
from billing_local.pages import pages_of

NAME, EMAIL = "Ana <Example>", "ana.private@example.com"
JPY = {"amount_minor": 1000, "currency": "JPY", "interval": "month", "interval_count": 1}


def _month(pipeline: Pipeline) -> list[dict[str, Any]]:
    created = agreement_event(
        "agreement.created",
        "agr-page",
        1,
        start_date="2026-03-01",
        plan=JPY,
        customer_id="cus-page",
        customer_name=NAME,
        customer_email=EMAIL,
    )
    pipeline.publish(created)
    pipeline.run_day(date(2026, 3, 1))
    pipeline.publish(agreement_event("agreement.cancelled", "agr-page", 2, effective_date="2026-03-11"))
    pipeline.run_day(date(2026, 3, 12))
    return [created]


def _page(pipeline: Pipeline, **request: Any) -> dict[str, Any]:
    answer: dict[str, Any] = pipeline.cloud.invoke("DocumentPageFunction", request)
    return answer


def test_the_deployed_page_is_the_local_page_and_a_replay_changes_nothing(pipeline: Pipeline) -> None:
    inbound = _month(pipeline)
    documents = pipeline.documents("agr-page")
    assert [d["kind"] for d in documents] == ["invoice", "credit_note"]
    assert documents[1]["total_minor"] == -677  # contract §2 worked example
    notice = "Test document from the dev stage: not a valid tax document."
    local = pages_of(documents, inbound, config.issuer(), notice)
    for document, expected in zip(documents, local, strict=True):
        answer = _page(pipeline, agreement_id="agr-page", document_id=document["document_id"])
        assert answer["html"] == expected.html
        assert answer["number"] == document["number"] and answer["kind"] == document["kind"]
        tree = check_figures(answer["html"], document)
        assert tree.one(cls="customer-name").text() == NAME
    first = _page(pipeline, agreement_id="agr-page", document_id=documents[1]["document_id"])
    replay = {"action": "replay", "from": "2026-03-01", "to": "2026-03-31", "target": "topic"}
    assert pipeline.cloud.invoke("EventReplayFunction", replay | {"agreement_id": "agr-page"})["sent"] >= 2
    pipeline.cloud.drain()
    again = _page(pipeline, agreement_id="agr-page", document_id=documents[1]["document_id"])
    assert again["sha256"] == first["sha256"] and again["html"] == first["html"]
    assert parse(again["html"]).one(cls="notice").text() == notice


def test_only_the_agreements_customer_gets_the_page_and_logs_hold_no_customer_data(
    pipeline: Pipeline,
) -> None:
    _month(pipeline)
    document_id = pipeline.documents("agr-page")[0]["document_id"]
    mine = _page(pipeline, agreement_id="agr-page", document_id=document_id, customer_id="cus-page")
    assert mine["kind"] == "invoice"
    other = _page(pipeline, agreement_id="agr-page", document_id=document_id, customer_id="cus-other")
    missing = _page(pipeline, agreement_id="agr-page", document_id="doc_missing")
    assert other["error"] == missing["error"] == "not_found"
    assert "html" not in other
    bad = _page(pipeline, agreement_id="agr-page")
    assert bad == {
        "error": "bad_request",
        "message": "document_id must be a non-empty string of at most 256 characters",
    }
    logs = "\n".join(pipeline.cloud.logs("DocumentPageFunction"))
    assert "document page rendered" in logs
    assert EMAIL not in logs and "Ana" not in logs
    assert json.dumps(NAME)[1:-1] not in logs
