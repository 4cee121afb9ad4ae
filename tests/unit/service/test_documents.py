"""Pages rendered on request from the stored documents (the fake table): found by agreement and id,
private to the agreement's customer, naming the invoice a credit note corrects."""

import pytest
from fakes import FakeBillingTable
from page_reader import check_figures
from service_builders import agreement_event, at, created, send

from billing.render import Issuer
from billing.service.documents import DocumentNotFound, render_stored
from billing.service.invoicing import bill_agreement

ISSUER = Issuer("Example Billing Ltd", ("1 Example Street",), "DE000000000")


def issued(table: FakeBillingTable) -> list[str]:
    send(table, created("agr-1", customer_id="cus-9", customer_name="Ana Example", customer_email="a@x.io"))
    first = bill_agreement(table, "agr-1", at("2026-03-01")).document
    send(table, agreement_event("agreement.cancelled", "agr-1", 2, effective_date="2026-03-10"))
    credit = bill_agreement(table, "agr-1", at("2026-03-02")).document
    assert first is not None and credit is not None
    return [first.document_id, credit.document_id]


def test_the_stored_credit_note_renders_with_its_customer_and_the_invoice_it_corrects(
    table: FakeBillingTable,
) -> None:
    invoice_id, credit_id = issued(table)
    page = render_stored(table, "agr-1", credit_id, ISSUER)
    stored = {d.document_id: d for d in table.billing_view("agr-1").documents}
    tree = check_figures(page.html, stored[credit_id].to_json())
    assert page.kind == "credit_note" and page.number == stored[credit_id].number
    assert tree.one(cls="customer-name").text() == "Ana Example"
    assert str(stored[invoice_id].number) in tree.one("p", "corrects").text()
    response = page.response()
    assert response["content_type"] == "text/html; charset=utf-8"
    assert response["bytes"] == len(page.html.encode()) and len(str(response["sha256"])) == 64


def test_rendering_again_gives_the_same_page(table: FakeBillingTable) -> None:
    _, credit_id = issued(table)
    first = render_stored(table, "agr-1", credit_id, ISSUER).response()
    assert render_stored(table, "agr-1", credit_id, ISSUER).response() == first


def test_the_agreements_customer_gets_the_page_and_anyone_else_is_told_it_does_not_exist(
    table: FakeBillingTable,
) -> None:
    invoice_id, _ = issued(table)
    assert render_stored(table, "agr-1", invoice_id, ISSUER, customer_id="cus-9").kind == "invoice"
    with pytest.raises(DocumentNotFound):
        render_stored(table, "agr-1", invoice_id, ISSUER, customer_id="cus-other")
    with pytest.raises(DocumentNotFound):
        render_stored(table, "agr-1", "doc_nope", ISSUER)
    with pytest.raises(DocumentNotFound):
        render_stored(table, "agr-unknown", invoice_id, ISSUER)  # another agreement's id is not enough


def test_a_notice_is_shown_on_the_page(table: FakeBillingTable) -> None:
    invoice_id, _ = issued(table)
    page = render_stored(table, "agr-1", invoice_id, ISSUER, notice="Test document")
    assert '<p class="notice" role="note">Test document</p>' in page.html
