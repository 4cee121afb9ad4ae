"""Amounts from integers in the currency's own minor units, rates and dates, without a locale."""

from datetime import date

import pytest

from billing.domain.errors import BadInput
from billing.render import formatting as fmt


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (0, "JPY", "0"),
        (1000, "JPY", "1,000"),
        (-677, "JPY", "\u2212677"),
        (0, "EUR", "0.00"),
        (5, "EUR", "0.05"),
        (-5, "EUR", "\u22120.05"),
        (123456, "EUR", "1,234.56"),
        (-364_100, "USD", "\u22123,641.00"),
        (10**12, "EUR", "10,000,000,000.00"),
        (2333, "KWD", "2.333"),
        (10000, "KWD", "10.000"),
        (-8, "BHD", "\u22120.008"),
        (1_234_567, "KWD", "1,234.567"),
        (12345, "CLF", "1.2345"),  # four decimals
    ],
)
def test_amounts(minor: int, currency: str, text: str) -> None:
    assert fmt.amount(minor, currency) == text


def test_money_puts_the_code_first_and_the_sign_on_the_number() -> None:
    assert fmt.money(-677, "JPY") == "JPY \u2212677"
    assert fmt.money(3641, "EUR") == "EUR 36.41"


def test_amounts_are_integers_only() -> None:
    with pytest.raises(TypeError):
        fmt.amount(36.41, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fmt.amount(True, "EUR")
    with pytest.raises(BadInput, match="unknown_currency"):
        fmt.amount(1, "eur")


def test_rates_dates_and_periods() -> None:
    assert fmt.rate("19") == "19\u00a0%" and fmt.rate("8.875") == "8.875\u00a0%"
    assert sorted(["19", "7.7", "100", "0", "16"], key=fmt.rate_key) == ["0", "7.7", "16", "19", "100"]
    assert fmt.day(date(2026, 3, 1)) == "1 March 2026"
    assert fmt.period(date(2026, 2, 28), date(2026, 3, 31)) == (date(2026, 2, 28), date(2026, 3, 30))
