"""Post-award performance evaluation (标后履约评价): PERFORMANCE.md §2–§4 and §6.

The vocabulary (ratings, kinds of evaluation) is code; every number and name the rules
use — indicators and their maxima, bands, the base, the PM-ABSENT warning, the record
codes an approval creates, the index window — is data, a
:class:`PerformanceDefinition` loaded from ``scoring_models/definitions``. Nothing here
reads the clock: ``today`` and ``as_of`` are parameters.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import ClassVar, Iterable, Mapping, Sequence

from .dates import add_months
from .money import BeyondRange, exact_text, fmt, parse_two_decimals, round_half_up
from .problems import Problem
from .steps import Step
from .values import value

#: Ratings, best first (PERFORMANCE.md §3): 优良, 合格, 基本合格, 不合格.
RATINGS = ("excellent", "pass", "basic", "fail")
#: periodic (季度/阶段) or final (竣工).
EVALUATION_KINDS = ("periodic", "final")
#: Severities of a warning (WARNINGS.md §4).
SEVERITIES = ("high", "medium", "low")
#: What sets off the PM-ABSENT warning besides a deduction item: the evaluation says
#: the project manager was not on site.
MANAGER_ABSENT = "project_manager_on_site"
#: Contract statuses (PERFORMANCE.md §2).
CONTRACT_STATUSES = ("in_progress", "completed", "overdue")


@value
class Indicator:
    """One deduction item of the evaluation form with its maximum."""

    item: str
    name: str
    max_points: Decimal


@value
class RatingBand:
    """A rating given when L is at least ``min_score``."""

    rating: str
    name: str
    min_score: Decimal


@value
class PostAwardWarning:
    """The post-award warning an approved evaluation raises (PERFORMANCE.md §4.2): its
    code, severity and basis, what triggers it (deduction items; the manager absent) and
    the record codes its confirmation may create (else 400 ``code_not_allowed``)."""

    code: str
    name: str
    severity: str
    basis: str
    stage: str
    trigger_items: frozenset[str]
    when_manager_absent: bool
    confirmation_codes: tuple[str, ...]


@value
class PerformanceDefinition:
    """A versioned performance-evaluation rule set (``[performance]`` files)."""

    id: str
    version: int
    sha256: str
    title: str
    base: Decimal
    floor: Decimal
    indicators: Mapping[str, Indicator]      # in the order of the form
    bands: tuple[RatingBand, ...]            # by min_score, highest first
    record_codes: Mapping[str, str]          # rating → code an approval creates
    record_kinds: frozenset[str]             # kinds of evaluation whose approval does
    warning: PostAwardWarning
    document_no_pattern: str                 # placeholders {tender}, {evaluation}
    index_window_months: int
    max_deductions: int
    note_length: tuple[int, int]
    reason_length: tuple[int, int]
    overdue_after_days: int
    kind: ClassVar[str] = "performance"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def rating_for(self, score: Decimal) -> str:
        """The rating of the band ``score`` falls in (each band's edge belongs to it)."""
        for band in self.bands:
            if score >= band.min_score:
                return band.rating
        return self.bands[-1].rating

    def document_no(self, tender_code: str, evaluation_id: int) -> str:
        """``document_no`` of the records an approval creates: 履约评价-{tender}-{id}."""
        return self.document_no_pattern.format(tender=tender_code, evaluation=evaluation_id)


# ---- §3 the evaluation form ----------------------------------------------------------


@value
class Deduction:
    """One deduction of an evaluation: an indicator item, its points (> 0), a note."""

    item: str
    points: Decimal
    note: str = ""


def deduction_problems(definition: PerformanceDefinition, deductions: Sequence[Mapping]
                       ) -> list[Problem]:
    """PERFORMANCE.md §3 checks of the ``deductions`` sent (each a mapping with ``item``
    and ``points`` as sent): at most ``max_deductions``; each item one of the
    indicators, at most once (``duplicate_item``); points a string with exactly two
    decimals, 0 < points ≤ the item's maximum (``points_out_of_range``, naming it).
    Shape problems (types, the note) are the request schema's."""
    out: list[Problem] = []
    if len(deductions) > definition.max_deductions:
        out.append(Problem("deductions", f"At most {definition.max_deductions} deductions "
                           f"may be sent ({len(deductions)} were)."))
    first: dict[str, int] = {}
    for i, d in enumerate(deductions):
        item = d.get("item")
        indicator = definition.indicators.get(item) if isinstance(item, str) else None
        if indicator is None:
            out.append(Problem(f"deductions.{i}.item", f"Unknown item {item!r}; items: "
                               + ", ".join(definition.indicators) + "."))
        elif item in first:
            out.append(Problem(f"deductions.{i}.item", f"Item {item} is deducted twice "
                               f"(first at deductions.{first[item]}).", "duplicate_item"))
        else:
            first[item] = i
        out += _points_problems(f"deductions.{i}.points", d.get("points"), indicator)
    return out


def _points_problems(field: str, raw, indicator: Indicator | None) -> list[Problem]:
    try:
        points = parse_two_decimals(raw)
    except BeyondRange:  # well written, past every maximum: the range rule's answer
        points = None
    except ValueError as exc:
        return [Problem(field, f"Points {exc}.")]
    if indicator is None or (points is not None and Decimal(0) < points
                             <= indicator.max_points):
        return []
    maximum = fmt(indicator.max_points)
    return [Problem(field, f"Points of {indicator.item} must be more than 0.00 and at most "
                    f"{maximum}; {raw} is not.", "points_out_of_range",
                    {"maximum": maximum})]


@value
class PerformanceScore:
    """L and its rating, with the steps that computed them."""

    score: Decimal
    rating: str
    steps: tuple[Step, ...]


def evaluation_score(definition: PerformanceDefinition, deductions: Iterable[Deduction]
                     ) -> PerformanceScore:
    """PERFORMANCE.md §3: L = base − Σ points, never below the floor (100, 0.00), and the
    rating of L's band. Exact: points have two decimals, so L has too."""
    deductions = list(deductions)
    total = sum((d.points for d in deductions), Decimal("0.00"))
    raw = definition.base - total
    score = max(definition.floor, raw)
    rating = definition.rating_for(score)
    steps = (
        Step("deductions", "PERFORMANCE.md §3", fmt(total),
             inputs={"deductions": [{"item": d.item, "points": fmt(d.points)}
                                    for d in deductions]}),
        Step("score", "PERFORMANCE.md §3", fmt(score),
             inputs={"base": fmt(definition.base), "deductions": fmt(total), "raw": fmt(raw)},
             parameters={"floor": fmt(definition.floor)}),
        Step("rating", "PERFORMANCE.md §3", rating, inputs={"score": fmt(score)},
             parameters={"bands": [{"rating": b.rating, "min_score": fmt(b.min_score)}
                                   for b in definition.bands]}),
    )
    return PerformanceScore(score, rating, steps)


# ---- §4 what an approval does ----------------------------------------------------------


def record_code_on_approval(definition: PerformanceDefinition, kind: str, rating: str
                            ) -> str | None:
    """§4.1: the code of the records an approved evaluation creates for every party of
    the winning bid — PERF-EXCELLENT for a final one rated excellent, PERF-FAIL for a
    final one rated fail — or None."""
    if kind not in definition.record_kinds:
        return None
    return definition.record_codes.get(rating)


def pm_absent_triggers(definition: PerformanceDefinition, project_manager_on_site: bool,
                       items: Iterable[str]) -> tuple[str, ...]:
    """§4.2: why an approved evaluation raises the PM-ABSENT warning — the manager not on
    site (``project_manager_on_site``) and each triggering deduction item, in that order;
    empty when it raises none."""
    rule = definition.warning
    out = [MANAGER_ABSENT] if rule.when_manager_absent and not project_manager_on_site else []
    out += sorted(set(items) & rule.trigger_items)
    return tuple(out)


def raises_pm_absent(definition: PerformanceDefinition, project_manager_on_site: bool,
                     items: Iterable[str]) -> bool:
    """§4.2: whether an approved evaluation (periodic or final) raises PM-ABSENT."""
    return bool(pm_absent_triggers(definition, project_manager_on_site, items))


@value
class ApprovalEffects:
    """What approving one evaluation does besides changing its status (§4): the record
    code to enter for every party (or None) and whether to raise the warning, why."""

    record_code: str | None
    warning: PostAwardWarning | None
    warning_triggers: tuple[str, ...]
    steps: tuple[Step, ...]


def approval_effects(definition: PerformanceDefinition, kind: str, rating: str,
                     project_manager_on_site: bool, items: Iterable[str]) -> ApprovalEffects:
    """§4.1 and §4.2 for one evaluation being approved, with the steps that decide them."""
    code = record_code_on_approval(definition, kind, rating)
    triggers = pm_absent_triggers(definition, project_manager_on_site, items)
    steps = (
        Step("records", "PERFORMANCE.md §4", code, inputs={"kind": kind, "rating": rating},
             parameters={"kinds": sorted(definition.record_kinds),
                         "codes": dict(definition.record_codes)}),
        Step("warning", "PERFORMANCE.md §4", definition.warning.code if triggers else None,
             inputs={"project_manager_on_site": project_manager_on_site,
                     "triggers": list(triggers)},
             parameters={"items": sorted(definition.warning.trigger_items),
                         "when_manager_absent": definition.warning.when_manager_absent}),
    )
    return ApprovalEffects(code, definition.warning if triggers else None, triggers, steps)


def confirmation_allowed(definition: PerformanceDefinition, code: str) -> bool:
    """§4.2: a PM-ABSENT warning is confirmed only with its own codes (SITE-PM-ABSENT,
    SITE-STAFF-MISMATCH); any other is 400 ``code_not_allowed``."""
    return code in definition.warning.confirmation_codes


# ---- §2 contracts ----------------------------------------------------------------------


def contract_end(completion_due: date, final_completed_on: date | None) -> date:
    """§2: the ``completed_on`` of the approved final evaluation, else ``completion_due``."""
    return final_completed_on if final_completed_on is not None else completion_due


def contract_status(definition: PerformanceDefinition, completion_due: date,
                    final_approved: bool, today: date) -> str:
    """§2: ``completed`` with an approved final evaluation; ``overdue`` (履约评价逾期)
    when none and today is more than ``overdue_after_days`` (30) days after
    ``completion_due``; else ``in_progress``."""
    if final_approved:
        return "completed"
    if today > completion_due + timedelta(days=definition.overdue_after_days):
        return "overdue"
    return "in_progress"


# ---- §6 the performance index ----------------------------------------------------------


@value
class CompletedContract:
    """An approved final evaluation of a contract the subject was a party of: the
    tender, L, its rating, the contract price (the weight) and ``completed_on``."""

    tender: str
    score: Decimal
    rating: str
    contract_price: Decimal
    completed_on: date

    def as_json(self) -> dict:
        return {"tender": self.tender, "score": fmt(self.score), "rating": self.rating,
                "contract_price": fmt(self.contract_price),
                "completed_on": self.completed_on.isoformat()}


@value
class PerformanceIndex:
    """§6: the contract-value weighted mean of L over the window, or None with no
    contract; ``window_after`` is the exclusive start of the window."""

    as_of: date
    window_after: date
    index: Decimal | None
    contracts: tuple[CompletedContract, ...]
    steps: tuple[Step, ...]

    @property
    def count(self) -> int:
        return len(self.contracts)

    def as_json(self) -> dict:
        return {"as_of": self.as_of.isoformat(),
                "index": fmt(self.index) if self.index is not None else None,
                "count": self.count, "contracts": [c.as_json() for c in self.contracts]}


def performance_index(definition: PerformanceDefinition,
                      contracts: Iterable[CompletedContract], as_of: date) -> PerformanceIndex:
    """§6: over the approved final evaluations with ``add_months(as_of, −36) <
    completed_on ≤ as_of``, index = Σ(Lᵢ·Cᵢ) / ΣCᵢ (Cᵢ the contract price), computed
    exactly and rounded half-up once to two decimals; None when there is none."""
    after = add_months(as_of, -definition.index_window_months)
    used = tuple(sorted((c for c in contracts if after < c.completed_on <= as_of),
                        key=lambda c: (c.completed_on, c.tender)))
    if any(c.contract_price <= 0 for c in used):
        raise ValueError("a contract price is greater than 0.00 (WARNINGS.md §3)")
    window = Step("window", "PERFORMANCE.md §6", len(used),
                  inputs={"contracts": [c.tender for c in used]},
                  parameters={"months": definition.index_window_months},
                  facts={"after": after.isoformat(), "through": as_of.isoformat()})
    if not used:
        return PerformanceIndex(as_of, after, None, (),
                                (window, Step("index", "PERFORMANCE.md §6", None)))
    weighted = sum((Fraction(c.score) * Fraction(c.contract_price) for c in used), Fraction(0))
    weight = sum((Fraction(c.contract_price) for c in used), Fraction(0))
    index = round_half_up(weighted / weight)
    step = Step("index", "PERFORMANCE.md §6", fmt(index),
                inputs={"weighted_sum": exact_text(weighted), "price_sum": exact_text(weight),
                        "exact": exact_text(weighted / weight)},
                parameters={"rounding": "half_up"})
    return PerformanceIndex(as_of, after, index, used, (window, step))


def consortium_index(member_indexes: Iterable[Decimal | None]) -> Decimal | None:
    """§6: a consortium's performance index is its lowest non-null member index (None
    when no member has one)."""
    known = [i for i in member_indexes if i is not None]
    return min(known) if known else None
