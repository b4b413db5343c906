"""Consortium (联合体) bidders: MODEL.md §7.

Each member is scored on its own; the consortium takes the lowest member score, the
worst member grade, is eligible only if every member is, and gets bid points from its
score.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from .engine import ScoreResult, bid_points
from .model import ScoringModel
from .values import value


@value
class ConsortiumResult:
    score: Decimal
    grade: str
    eligible_to_bid: bool
    bid_points: Decimal


def combine(model: ScoringModel, members: Sequence[ScoreResult]) -> ConsortiumResult:
    """The weakest member decides: lowest score, worst grade, all-or-nothing eligibility."""
    if not members:
        raise ValueError("a consortium has members")
    score = min(m.score for m in members)
    grade = max((m.grade for m in members), key=model.grades_best_first.index)
    eligible = all(m.eligible_to_bid for m in members)
    return ConsortiumResult(score, grade, eligible, bid_points(model, score, eligible))
