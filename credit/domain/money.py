"""Two-decimal quantities as the spec writes them: strings, exactly two decimals,
no ``+``, never ``-0.00``."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def fmt(value: Decimal) -> str:
    """Format exactly; refuse to silently round a value with more than two decimals."""
    q = value.quantize(CENT)
    if q != value:
        raise ValueError(f"{value} has more than two decimals")
    if q == 0:
        return "0.00"
    return f"{q:f}"


def parse(text: str) -> Decimal:
    """Inverse of :func:`fmt` for stored payloads."""
    return Decimal(text)


def round_half_up(value: Fraction) -> Decimal:
    """Round an exact fraction half-up (away from zero) to two decimals."""
    sign = -1 if value < 0 else 1
    scaled = abs(value) * 100
    cents = int(scaled + Fraction(1, 2))  # floor(x + 1/2) for x ≥ 0
    return (Decimal(sign * cents) / 100).quantize(CENT)


def fmt_factor(value: Decimal) -> str:
    """A sector factor: two decimals when exact (``"0.50"``), else every digit it has."""
    if value.quantize(CENT) == value:
        return fmt(value)
    return f"{value.normalize():f}"
