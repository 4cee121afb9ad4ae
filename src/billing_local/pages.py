"""Document pages without AWS: every document a scenario issues (`billing preview`), rendered with
the layer's renderer exactly as DocumentPageFunction renders the stored document
(`billing render --scenario FILE --out DIR`, `make screenshots`).

The inputs are the ones the deployed function reads: the document as published, the agreement's
earlier documents and its `agreement.created` event (here: the scenario's delivery, as the
projector would have stored it). Issuer details default to the template's parameter defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing import config
from billing.domain.agreements import parse_event
from billing.domain.errors import BadInput
from billing.render import Issuer, customer_of, render_page
from billing_local.preview import Scenario, preview

__all__ = ["Page", "default_issuer", "pages_of", "scenario_pages", "write_pages"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Page:
    document: dict[str, Any]
    html: str

    @property
    def file_name(self) -> str:
        """`<number>.html` (unique: numbers are), or the document id for an unnumbered document."""
        name = str(self.document.get("number") or self.document["document_id"])
        return _UNSAFE.sub("_", name) + ".html"


def default_issuer() -> Issuer:
    """The issuer of the template's defaults, or of ISSUER_* in the environment (billing.config)."""
    return config.issuer()


def scenario_pages(scenario: Scenario, issuer: Issuer, notice: str | None = None) -> list[Page]:
    """The page of every document the scenario's runs issue, in `billing preview`'s order."""
    documents = preview(scenario)["documents"]
    bodies = _accepted_bodies(event for _, event in sorted(scenario.deliveries, key=lambda d: d[0]))
    return pages_of(documents, bodies, issuer, notice)


def pages_of(
    documents: list[dict[str, Any]],
    inbound: list[Mapping[str, Any]],
    issuer: Issuer,
    notice: str | None = None,
) -> list[Page]:
    """Pages of published documents (in issue order) given the agreements' inbound events."""
    pages: list[Page] = []
    earlier: dict[str, list[dict[str, Any]]] = {}
    by_agreement: dict[str, list[Mapping[str, Any]]] = {}
    for body in inbound:
        by_agreement.setdefault(str(body.get("data", {}).get("agreement_id")), []).append(body)
    for document in documents:
        agreement_id = document["agreement_id"]
        before = earlier.setdefault(agreement_id, [])
        html = render_page(
            document,
            issuer=issuer,
            customer=customer_of(agreement_id, by_agreement.get(agreement_id, [])),
            earlier=before,
            notice=notice,
        )
        pages.append(Page(document, html))
        before.append(document)
    return pages


def _accepted_bodies(events: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The deliveries the projector would store (bad input is never stored), as JSON objects."""
    accepted: list[Mapping[str, Any]] = []
    for event in events:
        try:
            parse_event(event)
        except BadInput:
            continue
        accepted.append(json.loads(event) if isinstance(event, str | bytes) else event)
    return accepted


def write_pages(pages: list[Page], out_dir: Path) -> list[Path]:
    """Each page as `<number>.html` in `out_dir` (created), UTF-8; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for page in pages:
        path = out_dir / page.file_name
        path.write_bytes(page.html.encode("utf-8"))
        written.append(path)
    return written
