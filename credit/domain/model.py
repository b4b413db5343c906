"""The vocabulary of a scoring model; the numbers themselves are data (scoring_models/)."""

from __future__ import annotations

from dataclasses import field
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar, Mapping

from .values import value

SECTORS = ("housing", "transport", "water")
CATEGORIES = ("market", "site", "good")
TIERS = ("minor", "general", "serious")
FLAGS = ("blacklist", "bid_ban", "pair_rule")
#: Who creates a record of a code: ``regulator`` (entered by hand, API.md §3) or
#: ``performance_approval`` (only the approval of a performance evaluation creates it,
#: PERFORMANCE.md §4; entering it by hand is 400 ``code_not_enterable``).
CREATORS = ("regulator", "performance_approval")
GRADES_BEST_FIRST = ("A", "B", "C", "D", "E")


@value
class CatalogueEntry:
    """One behaviour code of the catalogue (MODEL.md §9).

    ``validity_months`` is None for codes whose validity the regulator decides
    (*explicit*, e.g. BID-BAN); those carry ``explicit_max_months`` instead.
    ``repair_min_months`` is None when the record is not repairable. ``created_by``
    names the use case that creates records of the code (:data:`CREATORS`).
    """

    code: str
    name: str
    category: str
    points: Decimal
    tier: str | None
    validity_months: int | None
    explicit_max_months: int | None
    repair_min_months: int | None
    flags: frozenset[str] = frozenset()
    family: str | None = None
    basis: str = ""
    created_by: str = "regulator"

    @property
    def explicit(self) -> bool:
        """True when the regulator's decision fixes ``valid_until``."""
        return self.validity_months is None

    @property
    def repairable(self) -> bool:
        return self.repair_min_months is not None

    @property
    def is_good(self) -> bool:
        return self.category == "good"

    @property
    def enterable(self) -> bool:
        """True when a regulator may enter the code by hand (``POST /records``)."""
        return self.created_by == "regulator"


@value
class GradeBand:
    """A grade awarded when the score is at least ``min_score``."""

    grade: str
    min_score: Decimal


@value
class ScoringModel:
    """A complete, versioned scoring model (MODEL.md), identified by id, version and
    the SHA-256 of its definition file."""

    id: str
    version: int
    sha256: str
    base: Decimal
    bonus_cap: Decimal
    floor: Decimal
    bands: tuple[GradeBand, ...]  # ordered by min_score descending
    listed_grade: str
    # factor[(tier or "good")] = (same sector, other sector)
    sector_factors: Mapping[str, tuple[Decimal, Decimal]]
    pair_window_days: int
    key_supervision_grades: frozenset[str]
    key_supervision_min_serious: int
    key_supervision_min_multiplier: Decimal
    multipliers: Mapping[str, Decimal]
    credit_weight: Decimal
    bid_floor: Decimal
    bid_full: Decimal
    max_reasons: int
    catalogue: Mapping[str, CatalogueEntry]
    sectors: tuple[str, ...] = SECTORS
    grades_best_first: tuple[str, ...] = GRADES_BEST_FIRST
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    kind: ClassVar[str] = "scoring"

    @property
    def ref(self) -> str:
        """``id@version`` as clients name it."""
        return f"{self.id}@{self.version}"

    def entry(self, code: str) -> CatalogueEntry:
        return self.catalogue[code]

    def factor(self, entry: CatalogueEntry, record_sector: str, scored_sector: str) -> Decimal:
        """Sector factor of MODEL.md §3."""
        key = "good" if entry.is_good else entry.tier
        same, other = self.sector_factors[key]
        return same if record_sector == scored_sector else other

    def grade_for(self, score: Decimal) -> str:
        """Grade by band for a subject that is not listed."""
        for band in self.bands:
            if score >= band.min_score:
                return band.grade
        return self.bands[-1].grade
