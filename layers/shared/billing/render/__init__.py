"""Documents rendered for people (contract §4 "Rendered documents"): pure, no AWS.

- `formatting`: amounts in the currency's own minor units, rates, dates (integers only);
- `sources`: the issuer, the customer and the invoices a line corrects, from what the store holds;
- `page`: the self-contained, deterministic HTML page of one document.
"""

from .page import CONTENT_TYPE, render_page
from .sources import Customer, Issuer, Reference, corrected, customer_of

__all__ = ["CONTENT_TYPE", "Customer", "Issuer", "Reference", "corrected", "customer_of", "render_page"]
