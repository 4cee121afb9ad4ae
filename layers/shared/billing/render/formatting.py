"""How a rendered document prints amounts, tax rates and dates: from integers only, the same on
every machine (no locale, no float).

An amount is an integer of the currency's minor unit; it prints with exactly as many decimals as
the currency has (ISO 4217: JPY 0, EUR 2, KWD 3, CLF 4), thousands grouped with commas, a point
before the decimals, and a true minus sign (U+2212) when negative: ``123456`` EUR is ``1,234.56``,
``-677`` JPY is ``−677``, ``2333`` KWD is ``2.333``. `money` puts the ISO code in front
(``EUR 1,234.56``, ``EUR −6.77``): a code is unambiguous where a symbol is not ($ is a dozen
currencies).
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Final

from billing.domain.money import minor_unit_exponent

__all__ = ["MINUS", "amount", "day", "money", "period", "rate", "rate_key"]

MINUS: Final = "\u2212"
_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def amount(minor: int, currency: str) -> str:
    """``minor`` units of ``currency`` as digits: grouped, with the currency's own decimals."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError("an amount is an integer of minor units")
    digits = minor_unit_exponent(currency)
    sign = MINUS if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    text = f"{whole:,}"
    if digits:
        text += f".{fraction:0{digits}d}"
    return sign + text


def money(minor: int, currency: str) -> str:
    """The amount with its ISO 4217 code in front: ``EUR 36.41``, ``JPY −677``."""
    return f"{currency} {amount(minor, currency)}"


def rate(canonical: str) -> str:
    """A canonical tax rate string as a percentage: ``"19"`` → ``19 %``, ``"8.875"`` → ``8.875 %``."""
    return f"{canonical}\u00a0%"


def rate_key(canonical: str) -> Fraction:
    """Numeric order of rates (``"7.7"`` before ``"19"``), exact."""
    return Fraction(canonical)


def day(value: date) -> str:
    """A date as people read it, in English and without a locale: ``1 March 2026``."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def period(start: date, end: date) -> tuple[date, date]:
    """A half-open period ``[start, end)`` as the first and last day it covers (what a page prints)."""
    return start, end - timedelta(days=1)
