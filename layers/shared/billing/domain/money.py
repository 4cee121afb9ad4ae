"""Currencies and the one rounding rule.

Amounts are always integers in the currency's minor unit (cents for EUR, yen for
JPY, fils for KWD, ten-thousandths for CLF). Proration uses exact fractions and
rounds once per piece with `round_half_up`.
"""

from __future__ import annotations

from fractions import Fraction

from .currencies import ISO4217_PUBLISHED, MINOR_UNITS
from .errors import BadInput

__all__ = [
    "ISO4217_PUBLISHED",
    "MINOR_UNITS",
    "is_active_currency",
    "minor_unit_exponent",
    "prorate",
    "round_half_up",
]


def is_active_currency(currency: str) -> bool:
    """True for an active ISO 4217 code (List One) that has a minor unit; case-sensitive."""
    return isinstance(currency, str) and currency in MINOR_UNITS


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point of `currency` (JPY 0, EUR 2, KWD 3, CLF 4).

    Raises BadInput(unknown_currency) for anything that is not an active code with a
    minor unit (including lower case, funds without minor units such as XAU, XXX).
    """
    if not is_active_currency(currency):
        raise BadInput("unknown_currency", f"{currency!r} is not an active ISO 4217 currency code")
    return MINOR_UNITS[currency]


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer; exact halves go away from zero.

    ``round_half_up(Fraction(5, 2)) == 3`` and ``round_half_up(Fraction(-5, 2)) == -3``:
    the rule is symmetric, so negating an amount negates its rounding. (Billing
    pieces are never negative; differences between two rounded amounts are exact.)
    """
    num, den = value.numerator, value.denominator  # den > 0 always
    if num >= 0:
        return (2 * num + den) // (2 * den)
    return -((-2 * num + den) // (2 * den))


def prorate(amount_minor: int, days: int, period_days: int) -> int:
    """``round_half_up(amount_minor * days / period_days)`` in integer arithmetic (amount, days >= 0)."""
    if period_days <= 0:
        raise ValueError("period_days must be positive")
    return (2 * amount_minor * days + period_days) // (2 * period_days)
