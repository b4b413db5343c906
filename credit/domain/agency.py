"""Tender-agency evaluation (招标代理服务评价): PERFORMANCE.md §7.

The agency score combines the tenderees' ratings of the agency's service (A) with its
conduct records (R): S = w_A·A + w_R·R, computed exactly and rounded half-up once. A
pure function of (definition, the agency's ratings, records and events, as_of,
knowledge) returning the result and its trace, like the scoring engine. Every number is
data (an :class:`AgencyDefinition`); conduct records stand exactly as in the scoring
engine (:func:`credit.domain.engine.record_standings`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import ClassVar, Iterable, Mapping

from .dates import format_instant
from .engine import RecordStanding, record_standings
from .model import CatalogueEntry
from .money import BeyondRange, exact_text, fmt, parse_two_decimals, round_half_up
from .problems import Problem
from .records import Knowledge, Record, RecordEvent
from .steps import Step
from .values import value

#: The category of an agency conduct code (its catalogue entries are CatalogueEntry).
AGENCY_CATEGORY = "agency"
#: ``restrict``: while in force, the agency is restricted (限制承接政府投资项目代理业务).
AGENCY_FLAGS = ("restrict",)
ONE = Decimal("1.00")


@value
class RatingItem:
    """One item of the tenderee's rating form with its maximum."""

    item: str
    name: str
    max_points: Decimal


@value
class AgencyBand:
    grade: str
    min_score: Decimal


@value
class AgencyDefinition:
    """A versioned agency-evaluation rule set (``[agency]`` files): rating items, the
    conduct catalogue, the service and conduct parts and their weights, grades."""

    id: str
    version: int
    sha256: str
    title: str
    items: Mapping[str, RatingItem]          # in the order of the form
    catalogue: Mapping[str, CatalogueEntry]  # category "agency"
    min_ratings: int
    default_rating: Decimal
    window_days: int
    service_weight: Decimal
    conduct_weight: Decimal
    conduct_base: Decimal
    conduct_floor: Decimal
    service_places: int                      # A is shown to this many decimals
    bands: tuple[AgencyBand, ...]            # by min_score, highest first
    restricted_grade: str
    restricted_measure: str
    kind: ClassVar[str] = "agency"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def entry(self, code: str) -> CatalogueEntry | None:
        """The conduct code, or None: what ``POST /records`` accepts besides the active
        scoring model's codes (PERFORMANCE.md §7)."""
        return self.catalogue.get(code)

    def grade_for(self, score: Decimal) -> str:
        for band in self.bands:
            if score >= band.min_score:
                return band.grade
        return self.bands[-1].grade


# ---- the rating ------------------------------------------------------------------------


@value
class AgencyRating:
    """One tenderee's rating of the agency of one tender (``agency.rated``)."""

    tender: str
    agency: str
    rated_on: date
    items: Mapping[str, Decimal]
    total: Decimal
    audit_position: int

    def as_json(self) -> dict:
        return {"tender": self.tender, "rated_on": self.rated_on.isoformat(),
                "items": {k: fmt(v) for k, v in self.items.items()},
                "total": fmt(self.total), "audit_position": self.audit_position}


def rating_problems(definition: AgencyDefinition, items: Mapping) -> list[Problem]:
    """§7 checks of a rating's ``items`` as sent: exactly the definition's items, each a
    string with exactly two decimals, 0 ≤ points ≤ the item's maximum."""
    if not isinstance(items, Mapping):
        return [Problem("items", "items must be an object of the rating items.")]
    out = [Problem(f"items.{k}", f"Unknown item {k!r}; items: "
                   + ", ".join(definition.items) + ".") for k in items
           if k not in definition.items]
    for key, item in definition.items.items():
        field = f"items.{key}"
        if key not in items:
            out.append(Problem(field, f"Missing item {key} ({item.name})."))
            continue
        try:
            points = parse_two_decimals(items[key])
        except BeyondRange:  # well written, past every maximum: the range rule's answer
            points = None
        except ValueError as exc:
            out.append(Problem(field, f"Points {exc}."))
            continue
        if points is None or not Decimal(0) <= points <= item.max_points:
            out.append(Problem(field, f"Points of {key} must lie between 0.00 and "
                               f"{fmt(item.max_points)}; {items[key]} does not.",
                               extra={"maximum": fmt(item.max_points)}))
    return out


def rating_total(items: Mapping[str, Decimal]) -> Decimal:
    """§7: a rating's total is the sum of its items (exact)."""
    return sum(items.values(), Decimal("0.00"))


# ---- the score -------------------------------------------------------------------------


@value
class RatingUse:
    """A rating known at the knowledge instant: whether ``rated_on`` lies in the window,
    and whether A uses it (in the window, and there are at least ``min_ratings`` such;
    with fewer, A is the default and uses none)."""

    rating: AgencyRating
    in_window: bool
    used: bool


@value
class AgencyResult:
    """The agency score of §7 with its trace: every known rating and record, A (exact),
    R, S, grade, restriction, and the ordered steps."""

    uscc: str
    as_of: date
    knowledge: Knowledge
    definition: AgencyDefinition
    service: Fraction
    conduct: Decimal
    score: Decimal
    grade: str
    restricted: bool
    until: date | None
    ratings: tuple[RatingUse, ...]
    records: tuple[RecordStanding, ...]
    steps: tuple[Step, ...]

    @property
    def ratings_used(self) -> int:
        """How many ratings A is the mean of (0 when the default applies)."""
        return sum(1 for r in self.ratings if r.used)

    def components(self) -> dict[str, str]:
        """``service`` = A half-up to ``service_places`` (4) decimals, for reading;
        ``conduct`` = R (two decimals)."""
        places = self.definition.service_places
        return {"service": f"{round_half_up(self.service, places):f}",
                "conduct": fmt(self.conduct)}


def _service(definition: AgencyDefinition, ratings: Iterable[AgencyRating], as_of: date,
             knowledge: Knowledge) -> tuple[Fraction, tuple[RatingUse, ...], Step]:
    """A: the exact mean of the totals of the ratings known at ``knowledge`` with
    ``rated_on`` in [as_of − window_days, as_of]; ``default_rating`` with fewer than
    ``min_ratings``."""
    start = as_of - timedelta(days=definition.window_days)
    known = sorted((r for r in ratings if knowledge.knows(r.audit_position)),
                   key=lambda r: (r.rated_on, r.audit_position))
    in_window = [start <= r.rated_on <= as_of for r in known]
    totals = [r.total for r, inside in zip(known, in_window, strict=True) if inside]
    enough = len(totals) >= definition.min_ratings
    uses = tuple(RatingUse(r, inside, inside and enough)
                 for r, inside in zip(known, in_window, strict=True))
    total = sum(totals, Decimal("0.00"))  # of two-decimal totals: exact, two decimals
    value = Fraction(total) / len(totals) if enough else Fraction(definition.default_rating)
    step = Step("service", "PERFORMANCE.md §7", exact_text(value),
                inputs={"totals": [fmt(t) for t in totals], "count": len(totals),
                        "sum": fmt(total), "default_used": not enough},
                parameters={"window_days": definition.window_days,
                            "min_ratings": definition.min_ratings,
                            "default_rating": fmt(definition.default_rating)},
                facts={"from": start.isoformat(), "through": as_of.isoformat()})
    return value, uses, step


def _conduct(definition: AgencyDefinition, records: Iterable[Record],
             events: Iterable[RecordEvent], as_of: date, knowledge: Knowledge
             ) -> tuple[Decimal, tuple[RecordStanding, ...], list[Step]]:
    """R = max(floor, base − Σ|points|) over the agency records in force on ``as_of`` as
    known at ``knowledge`` (MODEL.md §2 statuses; no sector factor: every sector counts
    in full). Records of codes the definition does not know are ``not_in_model``."""
    standings = []
    steps: list[Step] = []
    for st in record_standings(definition.catalogue, records, events, as_of, knowledge):
        if st.entry is not None:
            points = st.entry.points if st.status == "active" else Decimal("0.00")
            st = replace(st, factor=ONE, contribution=points)
        if st.status == "active":
            steps.append(Step("conduct_record", "PERFORMANCE.md §7", fmt(abs(st.contribution)),
                              facts={"record_id": st.record.id, "code": st.record.code,
                                     "points": fmt(st.entry.points)}))
        standings.append(st)
    deducted = sum((abs(st.contribution) for st in standings if st.status == "active"),
                   Decimal("0.00"))
    raw = definition.conduct_base - deducted
    value = max(definition.conduct_floor, raw)
    steps.append(Step("conduct", "PERFORMANCE.md §7", fmt(value),
                      inputs={"base": fmt(definition.conduct_base),
                              "deductions": fmt(deducted), "raw": fmt(raw)},
                      parameters={"floor": fmt(definition.conduct_floor)}))
    return value, tuple(standings), steps


def _restriction(definition: AgencyDefinition, standings: Iterable[RecordStanding]
                 ) -> tuple[bool, date | None, Step]:
    """While any record flagged ``restrict`` is in force: restricted, ``until`` the latest
    effective ``valid_until`` (after any known repair) among them."""
    flagged = [st for st in standings if st.status == "active" and "restrict" in st.entry.flags]
    until = max((st.effective_valid_until for st in flagged), default=None)
    step = Step("restriction", "PERFORMANCE.md §7", bool(flagged),
                facts={"measure": definition.restricted_measure,
                       "basis": [st.record.id for st in flagged],
                       "until": until.isoformat() if until else None})
    return bool(flagged), until, step


def evaluate_agency(definition: AgencyDefinition, uscc: str, ratings: Iterable[AgencyRating],
                    records: Iterable[Record], events: Iterable[RecordEvent], as_of: date,
                    knowledge: Knowledge) -> AgencyResult:
    """PERFORMANCE.md §7: the score of agency ``uscc`` on ``as_of`` as known at
    ``knowledge``. ``ratings``, ``records`` and ``events`` are all of the agency's (any
    time); what was not yet known is dropped here. S = w_A·A + w_R·R exactly, rounded
    half-up once; the grade from the rounded S; the restricted grade (D) while a
    ``restrict`` record is in force."""
    service, uses, service_step = _service(definition, ratings, as_of, knowledge)
    conduct, standings, conduct_steps = _conduct(definition, records, events, as_of,
                                                 knowledge)
    exact = (Fraction(definition.service_weight) * service
             + Fraction(definition.conduct_weight) * Fraction(conduct))
    score = round_half_up(exact)
    score_step = Step("score", "PERFORMANCE.md §7", fmt(score),
                      inputs={"service": exact_text(service), "conduct": fmt(conduct),
                              "exact": exact_text(exact)},
                      parameters={"weights": {"service": fmt(definition.service_weight),
                                              "conduct": fmt(definition.conduct_weight)},
                                  "rounding": "half_up"})
    restricted, until, restriction_step = _restriction(definition, standings)
    grade = definition.restricted_grade if restricted else definition.grade_for(score)
    grade_step = Step("grade", "PERFORMANCE.md §7", grade,
                      inputs={"score": fmt(score), "restricted": restricted},
                      parameters={"bands": [{"grade": b.grade, "min_score": fmt(b.min_score)}
                                            for b in definition.bands],
                                  "restricted_grade": definition.restricted_grade})
    steps = (service_step, *conduct_steps, score_step, restriction_step, grade_step)
    return AgencyResult(uscc, as_of, knowledge, definition, service, conduct, score, grade,
                        restricted, until, uses, standings, steps)


# ---- as JSON ---------------------------------------------------------------------------


def definition_ref(definition: AgencyDefinition) -> dict:
    return {"id": definition.id, "version": definition.version, "sha256": definition.sha256}


def agency_result_body(result: AgencyResult) -> dict:
    """The fields of the §7 response (without ``trace_id`` / ``trace_sha256``)."""
    return {
        "uscc": result.uscc,
        "as_of": result.as_of.isoformat(),
        "known_at": format_instant(result.knowledge.known_at),
        "model": definition_ref(result.definition),
        "score": fmt(result.score),
        "grade": result.grade,
        "restricted": result.restricted,
        "until": result.until.isoformat() if result.until else None,
        "components": result.components(),
        "ratings_used": result.ratings_used,
    }


def _record_row(st: RecordStanding) -> dict:
    e = st.entry
    return {
        "id": st.record.id, "sha256": st.record.sha256, "code": st.record.code,
        "sector": st.record.sector, "tier": e.tier if e else None,
        "points": fmt(e.points) if e else None, "flags": sorted(e.flags) if e else [],
        "decided_on": st.record.decided_on.isoformat(),
        "valid_until": st.effective_valid_until.isoformat(),
        "original_valid_until": st.original_valid_until.isoformat(),
        "repaired_on": st.repaired_on.isoformat() if st.repaired_on else None,
        "document_no": st.record.document_no, "audit_position": st.record.audit_position,
        "status": st.status, "factor": fmt(st.factor), "contribution": fmt(st.contribution),
    }


def agency_trace_payload(result: AgencyResult) -> dict:
    """Payload of the ``score.served`` entry of an agency score: every known rating (and
    whether A uses it) and record (with its status), A, R, the weights, the steps and
    the result."""
    d = result.definition
    return {
        "uscc": result.uscc,
        "as_of": result.as_of.isoformat(),
        "known_at": format_instant(result.knowledge.known_at),
        "knowledge_position": result.knowledge.position,
        "model": definition_ref(d),
        "ratings": [{**u.rating.as_json(), "in_window": u.in_window, "used": u.used}
                    for u in result.ratings],
        "records": [_record_row(st) for st in result.records],
        "service": exact_text(result.service),
        "conduct": fmt(result.conduct),
        "weights": {"service": fmt(d.service_weight), "conduct": fmt(d.conduct_weight)},
        "steps": [s.as_json() for s in result.steps],
        "result": agency_result_body(result),
    }


_TWO_PLACES = re.compile(r"-?[0-9]+\.[0-9]{2}")


def as_traced_before(replayed: dict, stored: dict) -> dict:
    """``replayed`` (a recomputed agency trace payload) with its service step's ``sum``
    spelt as ``stored`` spelt it. Traces served before the sum was written with two
    decimals, like the totals it adds up (``"288.00"``), wrote it as its shortest exact
    text (``"288"``, ``"262.5"``); such a trace still replays, its sum compared as a
    value — a sum that differs still differs."""
    try:
        old = stored["steps"][0]["inputs"]["sum"]
        new = replayed["steps"][0]["inputs"]["sum"]
    except (KeyError, IndexError, TypeError):
        return replayed
    if isinstance(old, str) and not _TWO_PLACES.fullmatch(old):
        replayed["steps"][0]["inputs"]["sum"] = exact_text(Fraction(Decimal(new)))
    return replayed
