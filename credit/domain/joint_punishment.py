"""Joint punishment (联合惩戒), grade and inspection multiplier: MODEL.md §6.

Looks at the subject's active records in **every** sector: a blacklist or a bid ban
restricts bidding everywhere.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Sequence

from .model import ScoringModel
from .money import fmt
from .steps import Step
from .values import value

if TYPE_CHECKING:  # pragma: no cover
    from .engine import RecordStanding

MEASURE_ORDER = ("blacklist", "bid_ban", "key_supervision")


@value
class Measure:
    """One joint-punishment measure with the record ids that trigger it and the last
    date it holds if nothing else changes (None when it depends on the score)."""

    measure: str
    basis: tuple[int, ...]
    until: date | None

    def as_json(self) -> dict:
        return {"measure": self.measure, "basis": list(self.basis),
                "until": self.until.isoformat() if self.until else None}


@value
class Assessment:
    listed: bool
    grade: str
    measures: tuple[Measure, ...]
    inspection_multiplier: Decimal
    steps: tuple[Step, ...]


@value
class Listing:
    """The blacklist (严重失信名单) test: L1 records, qualifying L2 pairs, and the
    blacklist's basis and ``until`` when listed."""

    listed: bool
    basis: frozenset
    until: date | None


def _ids_by_position(standings) -> tuple[int, ...]:
    return tuple(st.record.id for st in sorted(standings, key=lambda s: s.record.audit_position))


def listing(model: ScoringModel, active: Sequence["RecordStanding"]) -> tuple[Listing, Step]:
    """MODEL.md §6 L1/L2: listed when an active record carries the blacklist flag, or two
    active pair-rule records (较大事故) were decided at most ``pair_window_days`` apart.
    ``until``: the latest L1 validity and, per qualifying pair, the earlier of the two."""
    l1 = [st for st in active if "blacklist" in st.entry.flags]
    paired = [st for st in active if "pair_rule" in st.entry.flags]
    pairs = [
        (a, b) for a, b in combinations(paired, 2)
        if abs((a.record.decided_on - b.record.decided_on).days) <= model.pair_window_days
    ]
    listed = bool(l1 or pairs)
    until: date | None = None
    basis: frozenset = frozenset()
    if listed:
        candidates = [st.effective_valid_until for st in l1]
        candidates += [min(a.effective_valid_until, b.effective_valid_until) for a, b in pairs]
        until = max(candidates)
        basis = frozenset(l1).union(*pairs)
    step = Step("listing", "MODEL.md §6", listed,
                inputs={"blacklist_flagged": list(_ids_by_position(l1)),
                        "pairs": [list(_ids_by_position(p)) for p in pairs]},
                parameters={"pair_window_days": model.pair_window_days})
    return Listing(listed, basis, until), step


def grade(model: ScoringModel, score: Decimal, listed: bool) -> tuple[str, Step]:
    """MODEL.md §6: the listed grade (E) when listed, otherwise the band of the score."""
    value = model.listed_grade if listed else model.grade_for(score)
    return value, Step("grade", "MODEL.md §6", value,
                       inputs={"score": fmt(score), "listed": listed},
                       parameters={"bands": [{"grade": b.grade, "min_score": fmt(b.min_score)}
                                             for b in model.bands],
                                   "listed_grade": model.listed_grade})


def blacklist_measure(lst: Listing) -> Measure | None:
    """``blacklist`` while listed; basis every L1 record and every qualifying pair."""
    if not lst.listed:
        return None
    return Measure("blacklist", _ids_by_position(lst.basis), lst.until)


def bid_ban_measure(active: Sequence["RecordStanding"], lst: Listing) -> Measure | None:
    """``bid_ban`` (限制投标, all sectors) when listed or under an active BID-BAN record;
    ``until`` the latest of the blacklist's and the bans' validity."""
    bans = [st for st in active if "bid_ban" in st.entry.flags]
    if not (lst.listed or bans):
        return None
    untils = [st.effective_valid_until for st in bans]
    if lst.until is not None:
        untils.append(lst.until)
    return Measure("bid_ban", _ids_by_position(set(lst.basis) | set(bans)), max(untils))


def key_supervision_measure(model: ScoringModel, active: Sequence["RecordStanding"],
                            grade_: str) -> Measure | None:
    """``key_supervision`` (重点监管) for grades D and E or at least two active serious
    records (zero-point ones included); basis the serious records when they are a reason."""
    serious = [st for st in active if st.entry.tier == "serious"]
    many_serious = len(serious) >= model.key_supervision_min_serious
    if not (grade_ in model.key_supervision_grades or many_serious):
        return None
    return Measure("key_supervision", _ids_by_position(serious) if many_serious else (), None)


def inspection_multiplier(model: ScoringModel, grade_: str,
                          measures: Sequence[Measure]) -> tuple[Decimal, Step]:
    """MODEL.md §6 (差异化监管): the multiplier of the grade, at least the key-supervision
    minimum under key supervision."""
    multiplier = model.multipliers[grade_]
    under_key = any(m.measure == "key_supervision" for m in measures)
    if under_key:
        multiplier = max(multiplier, model.key_supervision_min_multiplier)
    return multiplier, Step(
        "inspection_multiplier", "MODEL.md §6", fmt(multiplier),
        inputs={"grade": grade_, "key_supervision": under_key},
        parameters={"by_grade": {g: fmt(v) for g, v in model.multipliers.items()},
                    "key_supervision_min": fmt(model.key_supervision_min_multiplier)})


def assess(model: ScoringModel, active: Sequence["RecordStanding"], score: Decimal) -> Assessment:
    """Evaluate listing (L1, L2), grade, the three measures in MODEL.md §6's order and the
    multiplier over the records active on the scoring date (all sectors)."""
    lst, listing_step = listing(model, active)
    grade_, grade_step = grade(model, score, lst.listed)
    measures = tuple(m for m in (blacklist_measure(lst), bid_ban_measure(active, lst),
                                 key_supervision_measure(model, active, grade_)) if m)
    multiplier, multiplier_step = inspection_multiplier(model, grade_, measures)
    steps = (listing_step, grade_step,
             *(Step("measure", "MODEL.md §6", facts=m.as_json()) for m in measures),
             multiplier_step)
    return Assessment(lst.listed, grade_, measures, multiplier, steps)
