"""The metrics a price screen writes into its evidence (WARNINGS.md §4): decimal strings
with 6 places, rounded half-up from the exact value. A metric that is a square root
(``cv``, ``rd``) is rounded from its exact square with integer square roots, so no
floating point and no truncated expansion ever decides a digit."""

from __future__ import annotations

from fractions import Fraction
from math import isqrt

PLACES = 6
SCALE = 10**PLACES


def _written(units: int) -> str:
    """``units`` millionths as ``I.FFFFFF``."""
    return f"{units // SCALE}.{units % SCALE:0{PLACES}d}"


def six_places(value: Fraction) -> str:
    """A non-negative exact value rounded half-up to 6 decimal places: floor(v·10⁶ + ½)
    millionths."""
    if value < 0:
        raise ValueError("screen metrics are never negative")
    scaled = value * SCALE
    return _written((2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator))


def sqrt_six_places(square: Fraction) -> str:
    """√``square`` rounded half-up to 6 decimal places, exactly: with y = square·10¹²,
    r = ⌊√y⌋ = isqrt(⌊y⌋), and the result is r + 1 millionths when √y ≥ r + ½, that is
    when 4y ≥ (2r + 1)², else r."""
    if square < 0:
        raise ValueError("screen metrics are never negative")
    y = square * SCALE * SCALE
    r = isqrt(y.numerator // y.denominator)
    if 4 * y >= (2 * r + 1) ** 2:
        r += 1
    return _written(r)
