"""Joint punishment (联合惩戒), grade and inspection multiplier: MODEL.md §6.

Looks at the subject's active records in **every** sector: a blacklist or a bid ban
restricts bidding everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Sequence

from .model import ScoringModel
from .money import fmt

if TYPE_CHECKING:  # pragma: no cover
    from .engine import RecordStanding

MEASURE_ORDER = ("blacklist", "bid_ban", "key_supervision")


@dataclass(frozen=True)
class Measure:
    """One joint-punishment measure with the record ids that trigger it and the last
    date it holds if nothing else changes (None when it depends on the score)."""

    measure: str
    basis: tuple[int, ...]
    until: date | None

    def as_json(self) -> dict:
        return {"measure": self.measure, "basis": list(self.basis),
                "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class Assessment:
    listed: bool
    grade: str
    measures: tuple[Measure, ...]
    inspection_multiplier: Decimal
    steps: tuple[dict, ...]


def _ids_by_position(standings) -> tuple[int, ...]:
    return tuple(st.record.id for st in sorted(standings, key=lambda s: s.record.audit_position))


def assess(model: ScoringModel, active: Sequence["RecordStanding"], score: Decimal) -> Assessment:
    """Evaluate listing (L1, L2), grade, the three measures and the multiplier over the
    records active on the scoring date (all sectors)."""
    steps: list[dict] = []

    # L1: a record whose code carries the blacklist flag.
    l1 = [st for st in active if "blacklist" in st.entry.flags]
    # L2: two pair-rule records (较大事故) decided at most `window` days apart.
    paired = [st for st in active if "pair_rule" in st.entry.flags]
    pairs = [
        (a, b) for a, b in combinations(paired, 2)
        if abs((a.record.decided_on - b.record.decided_on).days) <= model.pair_window_days
    ]
    listed = bool(l1 or pairs)
    blacklist_until: date | None = None
    blacklist_basis: set = set()
    if listed:
        candidates = [st.effective_valid_until for st in l1]
        candidates += [min(a.effective_valid_until, b.effective_valid_until) for a, b in pairs]
        blacklist_until = max(candidates)
        blacklist_basis = set(l1).union(*pairs)
    steps.append({
        "rule": "listing",
        "section": "MODEL.md §6",
        "inputs": {"blacklist_flagged": list(_ids_by_position(l1)),
                   "pairs": [list(_ids_by_position(p)) for p in pairs]},
        "parameters": {"pair_window_days": model.pair_window_days},
        "value": listed,
    })

    grade = model.listed_grade if listed else model.grade_for(score)
    steps.append({
        "rule": "grade",
        "section": "MODEL.md §6",
        "inputs": {"score": fmt(score), "listed": listed},
        "parameters": {"bands": [{"grade": b.grade, "min_score": fmt(b.min_score)}
                                 for b in model.bands],
                       "listed_grade": model.listed_grade},
        "value": grade,
    })

    measures: list[Measure] = []
    if listed:
        measures.append(Measure("blacklist", _ids_by_position(blacklist_basis), blacklist_until))
    bans = [st for st in active if "bid_ban" in st.entry.flags]
    if listed or bans:
        untils = [st.effective_valid_until for st in bans]
        if blacklist_until is not None:
            untils.append(blacklist_until)
        basis = _ids_by_position(set(blacklist_basis) | set(bans))
        measures.append(Measure("bid_ban", basis, max(untils)))
    serious = [st for st in active if st.entry.tier == "serious"]
    many_serious = len(serious) >= model.key_supervision_min_serious
    if grade in model.key_supervision_grades or many_serious:
        basis = _ids_by_position(serious) if many_serious else ()
        measures.append(Measure("key_supervision", basis, None))
    for m in measures:
        steps.append({"rule": "measure", "section": "MODEL.md §6", **m.as_json()})

    multiplier = model.multipliers[grade]
    under_key = any(m.measure == "key_supervision" for m in measures)
    if under_key:
        multiplier = max(multiplier, model.key_supervision_min_multiplier)
    steps.append({
        "rule": "inspection_multiplier",
        "section": "MODEL.md §6",
        "inputs": {"grade": grade, "key_supervision": under_key},
        "parameters": {"by_grade": {g: fmt(v) for g, v in model.multipliers.items()},
                       "key_supervision_min": fmt(model.key_supervision_min_multiplier)},
        "value": fmt(multiplier),
    })
    return Assessment(listed, grade, tuple(measures), multiplier, tuple(steps))
