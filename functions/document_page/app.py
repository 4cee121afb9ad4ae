"""A document's HTML page, rendered on request (operators' `billing render`, or a customer portal):

    {"agreement_id": "agr-1001", "document_id": "doc_…", "customer_id": "cus-77"}

`customer_id` is optional: a caller serving a customer passes the authenticated customer's id, and
a document of another customer is answered like a missing one. The answer is
{"document_id", "number", "kind", "content_type", "sha256", "bytes", "html"}, or
{"error": "bad_request" | "not_found", "message": "<one line>"}. Logs carry ids and sizes only,
never the customer's name or e-mail (they are on the page, which is only returned).
"""

from typing import Any

from billing import bootstrap, config
from billing.domain.errors import BadInput
from billing.observability import count, logger, metrics
from billing.service.documents import DocumentNotFound, render_stored

_MAX_ID = 256


def parse_request(event: Any) -> tuple[str, str, str | None]:
    """(agreement_id, document_id, customer_id or None); ValueError with a one-line reason."""
    if not isinstance(event, dict):
        raise ValueError("the request must be a JSON object")
    customer_id = event.get("customer_id")
    return (
        _identifier(event.get("agreement_id"), "agreement_id"),
        _identifier(event.get("document_id"), "document_id"),
        None if customer_id is None else _identifier(customer_id, "customer_id"),
    )


def _identifier(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise ValueError(f"{key} must be a non-empty string of at most {_MAX_ID} characters")
    return value


def notice(stage: str) -> str | None:
    """Pages of a stage other than prod say that they are not real documents."""
    return None if stage == "prod" else f"Test document from the {stage} stage: not a valid tax document."


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        agreement_id, document_id, customer_id = parse_request(event)
    except ValueError as error:
        logger.warning("document page: bad request", extra={"reason": str(error)})
        return {"error": "bad_request", "message": str(error)}
    logger.append_keys(agreement_id=agreement_id, document_id=document_id)
    try:
        page = render_stored(
            bootstrap.billing_table(),
            agreement_id,
            document_id,
            config.issuer(),
            customer_id=customer_id,
            notice=notice(config.stage()),
        )
    except DocumentNotFound:
        logger.info("document page: not found")
        return {"error": "not_found", "message": f"no document {document_id} of agreement {agreement_id}"}
    except BadInput as error:  # a stored document that does not read back: a bug, said in one line
        logger.error("document page: unreadable document", extra={"reason": str(error)})
        return {"error": "unreadable", "message": str(error)}
    response = page.response()
    count("DocumentPagesRendered")
    logger.info("document page rendered", extra={"bytes": response["bytes"], "sha256": response["sha256"]})
    return response
