"""Screens 6–11 of WARNINGS.md §4: the prices of one tender.

Prices are exact rationals (``Fraction``); no floating point decides anything, and a
threshold on a square root (the coefficient of variation, the relative distance) is
tested on squares. Only the metrics written into the evidence are rounded, once, half-up
to 6 places. Screens 6–9 read the valid bids only; 10 and 11 read every bid (a rejected
lowest bid, or a field of rejected bids around one valid bid, is the signal).
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from ..money import fmt
from ..tenders import Bid, ScreenWarning, Tender
from .definition import ScreenDefinition
from .metrics import six_places, sqrt_six_places


def sorted_valid(tender: Tender) -> list[Bid]:
    """The valid bids V sorted by price, ties broken by bid position (§4 "sorted")."""
    return sorted((b for b in tender.bids if b.valid), key=lambda b: (b.price, b.n))


def sample_variance(prices: list[Fraction]) -> Fraction:
    """s² = Σ(p − m)²/(n − 1) with m the mean, exactly (n ≥ 2)."""
    mean = sum(prices, Fraction(0)) / len(prices)
    return sum(((p - mean) ** 2 for p in prices), Fraction(0)) / (len(prices) - 1)


def identical_price(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 6 IDENTICAL-PRICE (条例第40条(四), 异常一致): one warning per price shared
    by two or more valid bids, naming them. Evidence ``{price}`` as sent."""
    by_price: dict = defaultdict(list)
    for bid in tender.bids:
        if bid.valid:
            by_price[bid.price].append(bid.n)
    return [definition.warning("IDENTICAL-PRICE", bids, {"price": fmt(price)})
            for price, bids in by_price.items() if len(bids) >= 2]


def regular_prices(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 7 REGULAR-PRICES (条例第40条(四), 规律性差异): with |V| = n ≥
    ``regular_min_bids`` and sorted prices p₁ ≤ … ≤ pₙ, gaps gₖ = pₖ₊₁ − pₖ all > 0 and
    (max g − min g)·(n − 1) ≤ ``regular_tolerance``·Σg: the prices climb in near-equal
    steps. Names every valid bid; evidence ``gap_spread`` = (max g − min g)·(n − 1)/Σg."""
    valid = sorted_valid(tender)
    n = len(valid)
    if n < definition.regular_min_bids:
        return []
    prices = [Fraction(b.price) for b in valid]
    gaps = [prices[k + 1] - prices[k] for k in range(n - 1)]
    if min(gaps) <= 0:
        return []
    spread, total = (max(gaps) - min(gaps)) * (n - 1), sum(gaps, Fraction(0))
    if spread > Fraction(definition.regular_tolerance) * total:
        return []
    names = ("regular_min_bids", "regular_tolerance")
    evidence = {"gap_spread": six_places(spread / total),
                "regular_tolerance": definition.parameters("regular_tolerance")[names[1]]}
    return [definition.warning("REGULAR-PRICES", (b.n for b in valid), evidence, names)]


def low_dispersion(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 8 LOW-DISPERSION (Imhof 2017, coefficient of variation): ``method`` ≠
    ``benchmark`` (where bidders aim at the average by design), |V| ≥ ``cv_min_bids``,
    and with mean m and sample variance s²: s² ≤ ``cv_max``²·m². Names every valid bid;
    evidence ``cv`` = s/m."""
    valid = sorted_valid(tender)
    if tender.method == "benchmark" or len(valid) < definition.cv_min_bids:
        return []
    prices = [Fraction(b.price) for b in valid]
    mean = sum(prices, Fraction(0)) / len(prices)
    variance = sample_variance(prices)
    if variance > Fraction(definition.cv_max) ** 2 * mean ** 2:
        return []
    names = ("cv_min_bids", "cv_max")
    evidence = {"cv": sqrt_six_places(variance / mean ** 2),
                "cv_max": definition.parameters("cv_max")["cv_max"]}
    return [definition.warning("LOW-DISPERSION", (b.n for b in valid), evidence, names)]


def cover_gap(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 9 COVER-GAP (Imhof 2017, relative distance): ``method`` ≠ ``benchmark``,
    |V| ≥ ``rd_min_bids``; over sorted valid prices d = p₂ − p₁ and sL² the sample
    variance of p₂…pₙ; sL² > 0 and d² ≥ ``rd_min``²·sL²: the losers cluster well above
    the winner, as cover bids do. Names the lowest and the second valid bid; evidence
    ``rd`` = d/sL."""
    valid = sorted_valid(tender)
    if tender.method == "benchmark" or len(valid) < definition.rd_min_bids:
        return []
    prices = [Fraction(b.price) for b in valid]
    gap, losers = prices[1] - prices[0], sample_variance(prices[1:])
    if losers == 0 or gap ** 2 < Fraction(definition.rd_min) ** 2 * losers:
        return []
    names = ("rd_min_bids", "rd_min")
    evidence = {"rd": sqrt_six_places(gap ** 2 / losers),
                "rd_min": definition.parameters("rd_min")["rd_min"]}
    return [definition.warning("COVER-GAP", (valid[0].n, valid[1].n), evidence, names)]


def lowest_rejected(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 10 LOWEST-REJECTED (cardinal R036): ``method`` = ``lowest_price``, at least
    two bids, and a bid with the lowest price among all bids is rejected. Names those
    rejected lowest bids; evidence ``{lowest_price}``."""
    if tender.method != "lowest_price" or len(tender.bids) < 2:
        return []
    lowest = min(b.price for b in tender.bids)
    rejected = [b.n for b in tender.bids if b.price == lowest and not b.valid]
    if not rejected:
        return []
    return [definition.warning("LOWEST-REJECTED", rejected, {"lowest_price": fmt(lowest)})]


def sole_valid(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 11 SOLE-VALID (cardinal R035): at least three bids and exactly one valid.
    Names every bid; evidence ``{valid_bid}``, its position."""
    valid = [b.n for b in tender.bids if b.valid]
    if len(tender.bids) < 3 or len(valid) != 1:
        return []
    return [definition.warning("SOLE-VALID", (b.n for b in tender.bids),
                               {"valid_bid": valid[0]})]


SCREENS = (identical_price, regular_prices, low_dispersion, cover_gap, lowest_rejected,
           sole_valid)
