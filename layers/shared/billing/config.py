"""Typed view of the handlers' environment (set by template.yaml).

Read lazily, so importing a handler never fails on a missing variable and each
handler only needs the variables it uses. No secrets live here: the payment
provider key is read from SSM (see billing.adapters.gateway).
"""

import json
import os

from billing.domain.numbering import DEFAULT_SERIES_COUNT
from billing.render.sources import Issuer

# The template's parameter defaults (IssuerName, IssuerAddress, IssuerTaxId): placeholders a real
# deployment overrides; the local tools use them too, so a preview page looks like a deployed one.
DEFAULT_ISSUER_NAME = "Example Billing Ltd"
DEFAULT_ISSUER_ADDRESS = "1 Example Street|10115 Berlin|Germany"
DEFAULT_ISSUER_TAX_ID = "DE000000000"


class MissingSetting(RuntimeError):
    """A variable the template should have set is absent."""


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise MissingSetting(f"environment variable {name} is not set (see template.yaml)")
    return value


def billing_table() -> str:
    return setting("BILLING_TABLE")


def due_shards() -> int:
    return int(setting("DUE_SHARDS", "16"))


def number_series() -> int:
    """Numbering lanes per document kind and year (billing.domain.numbering)."""
    return int(setting("NUMBER_SERIES", str(DEFAULT_SERIES_COUNT)))


def issuer() -> Issuer:
    """Who issues the documents, as printed on every page: ISSUER_NAME, ISSUER_ADDRESS (lines
    separated by "|"), ISSUER_TAX_ID. Configuration, not secrets (template parameters)."""
    return issuer_from(
        setting("ISSUER_NAME", DEFAULT_ISSUER_NAME),
        setting("ISSUER_ADDRESS", DEFAULT_ISSUER_ADDRESS),
        setting("ISSUER_TAX_ID", DEFAULT_ISSUER_TAX_ID),
    )


def issuer_from(name: str, address: str, tax_id: str) -> Issuer:
    lines = tuple(line.strip() for line in address.split("|") if line.strip())
    return Issuer(name=name.strip(), address=lines, tax_id=tax_id.strip())


def stage() -> str:
    return setting("STAGE", "dev")


def payment_retry_days() -> tuple[int, ...]:
    return tuple(int(d) for d in setting("PAYMENT_RETRY_DAYS", "1,3,7").split(",") if d.strip())


def receive_wait_seconds(default: int) -> int:
    """The long poll of the queue drains (exporter, redrive): RECEIVE_WAIT_SECONDS, at most 20 (SQS)."""
    return max(0, min(20, int(setting("RECEIVE_WAIT_SECONDS", str(default)))))


def json_setting(name: str) -> dict[str, object]:
    value = json.loads(setting(name))
    if not isinstance(value, dict):
        raise MissingSetting(f"environment variable {name} must be a JSON object")
    return value
