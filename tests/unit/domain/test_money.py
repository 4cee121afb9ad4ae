"""Errors, currencies and the rounding rule."""

import importlib.util
import pickle
from fractions import Fraction
from pathlib import Path

import pytest
from domain_builders import PROPERTY
from hypothesis import given
from hypothesis import strategies as st

from billing.domain import currencies
from billing.domain.errors import BadInput
from billing.domain.money import is_active_currency, minor_unit_exponent, prorate, round_half_up

ROOT = Path(__file__).resolve().parents[3]


def test_bad_input_is_one_line_with_code_field_and_message():
    exc = BadInput("unknown_currency", "'XYZ' is not\nan active code", "data.plan.currency")
    assert str(exc) == "unknown_currency: data.plan.currency: 'XYZ' is not an active code"
    assert (exc.code, exc.field) == ("unknown_currency", "data.plan.currency")
    assert str(BadInput("invalid_json", "Expecting value")) == "invalid_json: Expecting value"
    assert pickle.loads(pickle.dumps(exc)) == exc


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JPY", 0), ("KRW", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("BHD", 3), ("CLF", 4), ("UYW", 4)],
)
def test_minor_unit_exponents(currency, exponent):
    assert is_active_currency(currency)
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize("currency", ["XYZ", "eur", "", "EURO", "XAU", "XXX", "XTS", "XDR", "DEM"])
def test_inactive_or_unbillable_currencies_are_unknown(currency):
    assert not is_active_currency(currency)
    with pytest.raises(BadInput) as info:
        minor_unit_exponent(currency)
    assert info.value.code == "unknown_currency"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(0), 0),
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),
        (Fraction(2, 3), 1),
        (Fraction(1, 3), 0),
        (Fraction(10000, 31), 323),  # the contract's worked example
        (Fraction(-1, 2), -1),  # halves go away from zero
        (Fraction(-5, 2), -3),
        (Fraction(-1, 3), 0),
        (Fraction(-2, 3), -1),
    ],
)
def test_round_half_up(value, expected):
    assert round_half_up(value) == expected


@PROPERTY
@given(st.fractions())
def test_round_half_up_is_symmetric_and_within_half(value):
    rounded = round_half_up(value)
    assert round_half_up(-value) == -rounded
    assert abs(rounded - value) <= Fraction(1, 2)


@PROPERTY
@given(st.integers(0, 10**12), st.integers(1, 44000), st.data())
def test_prorate_is_round_half_up_of_the_exact_fraction(amount, period_days, data):
    used = data.draw(st.integers(0, period_days))
    assert prorate(amount, used, period_days) == round_half_up(Fraction(amount * used, period_days))


def _generator():
    spec = importlib.util.spec_from_file_location("gen_currencies", ROOT / "scripts" / "gen_currencies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_currency_table_matches_the_generator():
    """Drift test: regenerate with `python scripts/gen_currencies.py` when iso4217 is upgraded."""
    generator = _generator()
    assert Path(currencies.__file__).read_text(encoding="utf-8") == generator.render()


def test_the_layer_never_imports_iso4217():
    layer = ROOT / "layers" / "shared" / "billing"
    offenders = [p for p in layer.rglob("*.py") if "import iso4217" in p.read_text(encoding="utf-8")]
    assert offenders == []
