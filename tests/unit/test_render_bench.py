"""The rendered-documents bench's arithmetic (billing_local.bench.render): no timing asserted."""

import pytest
from page_reader import check_figures

from billing.render import Customer, Issuer, render_page
from billing_local.bench import prices
from billing_local.bench.render import ASSUMPTIONS, S3_GET_REQUEST, costs, sample_documents


def test_the_samples_are_published_documents_that_render() -> None:
    issuer = Issuer("Example Billing Ltd", ("1 Example Street",), "DE000000000")
    for document, earlier in sample_documents().values():
        check_figures(
            render_page(document, issuer=issuer, customer=Customer("cus-1"), earlier=earlier), document
        )


def test_on_request_costs_nothing_at_issue_and_a_request_per_view() -> None:
    figures = costs(render_us=400.0, page_bytes=6000, rru_per_page=2.0)
    view = figures["on_request"]
    assert view["per_million_documents_issued"] == 0.0
    assert view["billed_ms_per_view"] == 11  # ceil(8 + 2 + 0.4)
    expected = 0.20 + 0.25 * 0.011 * prices.PRICES["lambda_gb_second_arm64"] * 1e6 + 2 * 0.125
    assert view["per_million_views"] == pytest.approx(expected, abs=1e-3)


def test_writing_once_costs_a_put_per_document_and_storage_for_the_retention() -> None:
    figures = costs(render_us=0.0, page_bytes=2**30 / 1e6, rru_per_page=1.0)  # 1M pages are 1 GiB
    s3 = figures["write_once_s3"]
    assert s3["per_million_documents_issued"] == pytest.approx(5.0)  # $0.005 per 1,000 PUTs
    assert s3["storage_per_million_documents_per_year"] == pytest.approx(0.023 * 12, abs=1e-3)
    retention = ASSUMPTIONS["retention_years"]
    assert s3["per_million_documents_over_retention"] == pytest.approx(5.0 + 0.276 * retention, abs=1e-2)
    assert s3["per_million_views"] == pytest.approx(
        0.20 + 0.25 * 0.004 * prices.PRICES["lambda_gb_second_arm64"] * 1e6 + S3_GET_REQUEST * 1e6, abs=1e-3
    )


def test_break_even_is_the_views_at_which_the_stored_page_pays_for_itself() -> None:
    assert costs(render_us=100.0, page_bytes=6000, rru_per_page=2.0)["break_even_views_per_document"] is None
    heavy = costs(render_us=100.0, page_bytes=6000, rru_per_page=40.0)  # a huge partition per view
    kept = heavy["write_once_s3"]["per_million_documents_over_retention"]
    extra = heavy["on_request"]["per_million_views"] - heavy["write_once_s3"]["per_million_views"]
    assert heavy["break_even_views_per_document"] == pytest.approx(kept / extra, rel=1e-2)


def test_pages_on_request_read_one_partition_once() -> None:
    from billing_local.bench.render import on_request

    figures = on_request(agreements=2, months=3)
    # runs on Jan 1 .. Apr 1; agr-page-0 cancelled effective Feb 10 after the Feb run: 2 invoices and
    # a credit note; agr-page-1: 4 invoices
    assert figures["pages"] == 7
    assert figures["credit_notes"] == 1
    assert figures["aws_requests_per_page"] == 1.0  # one Query: documents and the agreement's events
    assert figures["same_page_again"] is True
