"""A document's page, rendered on request from what the store holds (contract §4 "Rendered documents").

Nothing is written when a document is issued: the page is a pure function of the stored document
(the same object the issued event published, written in the same transaction), the agreement's
earlier documents and its `agreement.created` event, all read with the one Query the generator
uses (`billing_view`). So a page costs nothing until someone asks for it, and it is the same page
every time (docs/BILLING.md "Rendered documents" has the measured trade-off against S3).

Privacy: the page is only ever returned to an authenticated caller (the function has no URL); a
caller acting for a customer passes that customer's id, and a document of another customer is
answered exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from billing.domain.engine import Document
from billing.ports import AgreementStore
from billing.render import CONTENT_TYPE, Issuer, customer_of, render_page

__all__ = ["DocumentNotFound", "RenderedPage", "render_stored"]


class DocumentNotFound(LookupError):
    """No such document for this agreement (or not for this customer)."""


@dataclass(frozen=True, slots=True)
class RenderedPage:
    document_id: str
    number: str | None
    kind: str
    html: str

    @property
    def body(self) -> bytes:
        return self.html.encode("utf-8")

    def response(self) -> dict[str, object]:
        """What the DocumentPage function returns: the page and what identifies it (sha256 of the
        bytes, so a caller can check that a page rendered again is the same page)."""
        return {
            "document_id": self.document_id,
            "number": self.number,
            "kind": self.kind,
            "content_type": CONTENT_TYPE,
            "sha256": hashlib.sha256(self.body).hexdigest(),
            "bytes": len(self.body),
            "html": self.html,
        }


def render_stored(
    store: AgreementStore,
    agreement_id: str,
    document_id: str,
    issuer: Issuer,
    *,
    customer_id: str | None = None,
    notice: str | None = None,
) -> RenderedPage:
    """The page of one stored document; DocumentNotFound if the agreement has no such document, or
    `customer_id` is given and is not the agreement's customer."""
    view = store.billing_view(agreement_id)
    customer = customer_of(agreement_id, (stored.body for stored in view.inbound))
    if customer_id is not None and customer_id != customer.customer_id:
        raise DocumentNotFound(document_id)
    documents = list(view.documents)
    position = next((i for i, d in enumerate(documents) if d.document_id == document_id), None)
    if position is None:
        raise DocumentNotFound(document_id)
    document: Document = documents[position]
    html = render_page(
        document.to_json(),
        issuer=issuer,
        customer=customer,
        earlier=[d.to_json() for d in documents[:position]],
        notice=notice,
    )
    return RenderedPage(document.document_id, document.number, document.kind, html)
