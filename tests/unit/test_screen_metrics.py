"""The 6-decimal metrics of WARNINGS.md §4 (credit.domain.screens.metrics): rounded
half-up from the exact value; a square root from its exact square.

The reference below is independent of the implementation: ``decimal`` at 60
significant digits (twice the spec's "at least 30"), rounded ROUND_HALF_UP. For a
square root the reference is only trusted away from a half (60 digits cannot see an
exact tie); exact ties are checked separately on perfect squares.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit.domain.screens.metrics import six_places, sqrt_six_places

MICRO = Decimal("0.000001")
fractions = st.builds(Fraction, st.integers(min_value=0, max_value=10**15),
                      st.integers(min_value=1, max_value=10**12))


def reference(value: Fraction, root: bool = False) -> str:
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(value.numerator) / Decimal(value.denominator)
        if root:
            d = d.sqrt()
        return str(d.quantize(MICRO, rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("value, expected", [
    (Fraction(0), "0.000000"),
    (Fraction(1, 50), "0.020000"),
    (Fraction(1, 80000), "0.000013"),          # 0.0000125: half-up, not half-even
    (Fraction(3, 2000000), "0.000002"),         # 0.0000015
    (Fraction(49999995, 10**13), "0.000005"),   # 4.9999995 millionths → 5
    (Fraction(123456789, 1000), "123456.789000"),
    (Fraction(2, 3), "0.666667"),
])
def test_six_places(value, expected):
    assert six_places(value) == expected


@pytest.mark.parametrize("square, expected", [
    (Fraction(0), "0.000000"),
    (Fraction(9), "3.000000"),
    (Fraction(1, 40000), "0.005000"),
    (Fraction(36000012000001, 4 * 10**12), "3.000001"),  # √ = 3.0000005 exactly
    (Fraction(25, 10**14), "0.000001"),                  # √ = 0.0000005 exactly
    (Fraction(2), "1.414214"),
    (Fraction(192, 19), "3.178878"),
])
def test_sqrt_six_places(square, expected):
    assert sqrt_six_places(square) == expected


def test_negative_metrics_are_refused():
    with pytest.raises(ValueError):
        six_places(Fraction(-1, 3))
    with pytest.raises(ValueError):
        sqrt_six_places(Fraction(-1))


@given(fractions)
def test_six_places_matches_decimal_half_up(value):
    assert six_places(value) == reference(value)


@given(fractions)
def test_sqrt_six_places_matches_a_60_digit_root(square):
    with localcontext() as ctx:
        ctx.prec = 60
        root = (Decimal(square.numerator) / Decimal(square.denominator)).sqrt()
        distance_to_half = abs((root / MICRO) % 1 - Decimal("0.5"))
    if distance_to_half > Decimal("1e-40"):
        assert sqrt_six_places(square) == reference(square, root=True)


@given(st.integers(min_value=0, max_value=10**12))
def test_sqrt_of_exact_ties_rounds_up(half_units):
    """√ of (k + ½)·10⁻⁶ squared is exactly a half: half-up writes k + 1."""
    root = Fraction(2 * half_units + 1, 2 * 10**6)
    assert sqrt_six_places(root * root) == six_places(root) == six_places(
        Fraction(half_units + 1, 10**6))
