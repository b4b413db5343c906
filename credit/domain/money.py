"""Two-decimal quantities as the spec writes them: strings, exactly two decimals,
no ``+``, never ``-0.00``."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# Pure (equal Decimals format alike); dozens per trace. typed: an int passed by mistake
# is never answered from an equal Decimal's entry, it fails as before.
@lru_cache(maxsize=4096, typed=True)
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


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Round an exact fraction half-up (away from zero) to ``places`` decimals (two, the
    spec's money, unless a rule says otherwise)."""
    sign = -1 if value < 0 else 1
    scaled = abs(value) * 10**places
    units = int(scaled + Fraction(1, 2))  # floor(x + 1/2) for x ≥ 0
    return Decimal(sign * units).scaleb(-places)


# No leading zero ("06.00"), as a tender's amounts (tender_inputs._AMOUNT) and JSON's own
# numbers: one spelling per value, the one the service writes.
_TWO_DECIMALS = re.compile(r"-?(0|[1-9][0-9]{0,14})\.[0-9]{2}")
_TWO_DECIMALS_ANY_SIZE = re.compile(r"-?[1-9][0-9]{15,}\.[0-9]{2}")


class BeyondRange(ValueError):
    """A decimal written as the spec writes them, with more than the 15 digits before the
    point the service keeps: beyond every maximum a rule sets (the caller says so in the
    rule's words)."""


def parse_two_decimals(value: object) -> Decimal:
    """A decimal sent as the spec writes them (API.md §1): a string with exactly two
    decimals, written as the service writes it (``"6.00"``; ``"6"``, ``6.0``, ``"+6.00"``,
    ``"06.00"`` or ``"-0.00"`` are not: §1 says "never -0.00"). ValueError otherwise."""
    if isinstance(value, str) and _TWO_DECIMALS_ANY_SIZE.fullmatch(value):
        raise BeyondRange("must have at most 15 digits before the decimal point")
    if not isinstance(value, str) or not _TWO_DECIMALS.fullmatch(value):
        raise ValueError("must be a string with exactly two decimals and no leading zero, "
                         "e.g. \"6.00\"")
    if value.startswith("-") and Decimal(value) == 0:
        raise ValueError("must not be \"-0.00\" (zero is written \"0.00\")")
    return Decimal(value)


def exact_text(value: Fraction) -> str:
    """An exact value for a trace: its decimal expansion when finite (``"262.5"``), else
    ``"numerator/denominator"`` (``"787/3"``), so a reader can redo the division."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    return f"{Decimal(int(value * 10**places)).scaleb(-places):f}"


@lru_cache(maxsize=1024, typed=True)  # pure, as fmt; one per record of every trace
def fmt_factor(value: Decimal) -> str:
    """A sector factor: two decimals when exact (``"0.50"``), else every digit it has."""
    if value.quantize(CENT) == value:
        return fmt(value)
    return f"{value.normalize():f}"
