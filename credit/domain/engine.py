"""The scoring engine: a pure function of (model, the subject's records and events,
sector, as_of, knowledge) returning the result of MODEL.md §5–8 **and** its trace.

Every rule below names the section of MODEL.md it implements. Nothing here reads the
clock: ``as_of`` (valid time) and ``knowledge`` (system time) are parameters.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Iterable, Mapping

from .dates import ONE_DAY, default_valid_until
from .joint_punishment import Measure, assess
from .model import CatalogueEntry, ScoringModel
from .money import CENT, ZERO, fmt, fmt_factor, round_half_up
from .records import Knowledge, Record, RecordEvent
from .steps import Step
from .values import value

#: A record whose code the scoring definition does not know (PERFORMANCE.md §5).
NOT_IN_MODEL = "not_in_model"


@value
class RecordStanding:
    """How one record stands on ``as_of`` as known at ``knowledge`` (one trace row).

    ``entry`` is None exactly when the status is ``not_in_model``: the definition that
    scores does not know the code, so the record takes part in no rule.
    """

    record: Record
    entry: CatalogueEntry | None
    original_valid_until: date
    effective_valid_until: date
    repaired_on: date | None
    status: str
    factor: Decimal
    contribution: Decimal

    @property
    def counts(self) -> bool:
        """Active on ``as_of`` (superseded good records are still active records)."""
        return self.status in ("active", "superseded")


@value
class ScoreResult:
    """The result of MODEL.md §5–8 for one subject, sector and date, with its trace."""

    uscc: str
    sector: str
    as_of: date
    knowledge: Knowledge
    model: ScoringModel
    score: Decimal
    components: Mapping[str, Decimal]
    grade: str
    eligible_to_bid: bool
    bid_points: Decimal
    inspection_multiplier: Decimal
    measures: tuple[Measure, ...]
    reasons: tuple[dict, ...]
    records: tuple[RecordStanding, ...]
    steps: tuple[Step, ...]


def original_valid_until(record: Record, entry: CatalogueEntry | None) -> date:
    """Explicit codes keep the regulator's date; default validity comes from the model
    that scores (API.md §7), so a new model version may change it. A code the model does
    not know keeps the date stored with the record."""
    if entry is None or entry.explicit:
        return record.valid_until
    return default_valid_until(record.decided_on, entry.validity_months)


def effective_valid_until(original: date, repaired_on: date | None) -> date:
    """MODEL.md §2: a credit repair dated ``repaired_on`` = R ends the record early, on
    R − 1 day; never later than the ``original`` validity. Without a repair the record
    runs to its original ``valid_until``. The one statement of this rule: the engine,
    the record resource and the console's timeline all ask here."""
    if repaired_on is None:
        return original
    return min(original, repaired_on - ONE_DAY)


def _status(record: Record, entry: CatalogueEntry | None, revoked: bool, as_of: date,
            original: date, effective: date, repaired_on: date | None) -> str:
    """API.md §6 precedence: ``not_in_model`` > ``revoked`` > ``not_yet_effective`` >
    (after the effective end: ``repaired`` when a known repair ended it and ``as_of`` ≤
    the original end, else ``expired``) > ``active``. (``superseded`` is decided later,
    among active good records.)"""
    if entry is None:
        return NOT_IN_MODEL
    if revoked:
        return "revoked"
    if as_of < record.decided_on:
        return "not_yet_effective"
    if as_of > effective:
        return "repaired" if repaired_on is not None and as_of <= original else "expired"
    return "active"


def record_standings(
    catalogue: Mapping[str, CatalogueEntry],
    records: Iterable[Record],
    events: Iterable[RecordEvent],
    as_of: date,
    knowledge: Knowledge,
) -> list[RecordStanding]:
    """MODEL.md §2: how each record known at ``knowledge`` stands on ``as_of`` under a
    catalogue (a scoring model's, or the agency definition's), by audit position.

    Only the first known repair counts; a known revocation removes the record. Factor and
    contribution are 0.00 here: each definition weighs the records it knows by its own
    rules (:func:`evaluate`, :func:`credit.domain.agency.evaluate_agency`).
    """
    known_events: dict[int, list[RecordEvent]] = {}
    for ev in events:
        if knowledge.knows(ev.audit_position):
            known_events.setdefault(ev.record_id, []).append(ev)
    out = []
    for rec in sorted(records, key=lambda r: r.audit_position):
        if not knowledge.knows(rec.audit_position):
            continue
        entry = catalogue.get(rec.code)
        revoked, repaired_on = _events_decide(known_events.get(rec.id))
        original = original_valid_until(rec, entry)
        effective = effective_valid_until(original, repaired_on)
        status = _status(rec, entry, revoked, as_of, original, effective, repaired_on)
        out.append(RecordStanding(rec, entry, original, effective, repaired_on, status,
                                  ZERO, ZERO))
    return out


def _events_decide(evs: list[RecordEvent] | None) -> tuple[bool, date | None]:
    """MODEL.md §2: whether a known revocation removes the record, and the date of its
    first known repair (by audit position). Most records have no event at all."""
    if not evs:
        return False, None
    evs = sorted(evs, key=lambda e: e.audit_position)
    revoked = any(e.kind == "revocation" for e in evs)
    repairs = [e for e in evs if e.kind == "repair"]
    return revoked, repairs[0].repaired_on if repairs else None


def _standings(
    model: ScoringModel,
    records: Iterable[Record],
    events: Iterable[RecordEvent],
    sector: str,
    as_of: date,
    knowledge: Knowledge,
) -> list[RecordStanding]:
    """MODEL.md §2 (activity), §3 (factor) and §4 (good-conduct de-duplication); a record
    the model does not know (``not_in_model``) gets factor 0.00 and takes part in none."""
    standings = record_standings(model.catalogue, records, events, as_of, knowledge)
    superseded = _superseded_ids([(st.record, st.entry) for st in standings
                                  if st.status == "active"])
    out = []
    for st in standings:
        if st.entry is None:
            out.append(st)
            continue
        status = "superseded" if st.record.id in superseded else st.status
        factor = model.factor(st.entry, st.record.sector, sector)
        # The loader guarantees points × factor has at most two decimals: exact.
        contribution = (st.entry.points * factor).quantize(CENT) if status == "active" \
            else ZERO
        # The constructor, not dataclasses.replace (which introspects the fields on
        # every call): this runs for each record of each served score.
        out.append(RecordStanding(st.record, st.entry, st.original_valid_until,
                                  st.effective_valid_until, st.repaired_on, status, factor,
                                  contribution))
    return out


def _superseded_ids(active: list[tuple[Record, CatalogueEntry]]) -> set[int]:
    """MODEL.md §4: per (record sector, project_code, family) only the best good record
    counts: highest points, then earliest decision, then smallest document number by code
    point, then lowest audit position."""
    groups: dict[tuple[str, str, str | None], list[tuple[Record, CatalogueEntry]]] = {}
    for rec, entry in active:
        project = (rec.project_code or "").strip()
        if not entry.is_good or not project:
            continue
        groups.setdefault((rec.sector, project, entry.family), []).append((rec, entry))
    out: set[int] = set()
    for members in groups.values():
        best = min(
            members,
            key=lambda m: (-m[1].points, m[0].decided_on, m[0].document_no, m[0].audit_position),
        )
        out.update(rec.id for rec, _ in members if rec is not best[0])
    return out


@value
class _Total:
    score: Decimal
    components: Mapping[str, Decimal]


def _total(model: ScoringModel, standings: list[RecordStanding], steps: list[Step]) -> _Total:
    """MODEL.md §5: each active contribution, the bonus cap and the floor; the components
    show the two sites (market, site) apart from good conduct."""
    positive = ZERO
    deduction = ZERO
    by_category = {"market": ZERO, "site": ZERO}
    for st in standings:
        if st.status != "active":
            continue
        steps.append(Step("contribution", "MODEL.md §3", fmt(st.contribution), facts={
            "record_id": st.record.id, "code": st.record.code, "category": st.entry.category,
            "record_sector": st.record.sector, "points": fmt(st.entry.points),
            "factor": fmt_factor(st.factor)}))
        if st.contribution > 0:
            positive += st.contribution
        elif st.contribution < 0:
            deduction += st.contribution
        if st.entry.category in by_category:
            by_category[st.entry.category] += st.contribution
    bonus = min(positive, model.bonus_cap)
    steps.append(Step("bonus_cap", "MODEL.md §5", fmt(bonus),
                      inputs={"positive_total": fmt(positive)},
                      parameters={"bonus_cap": fmt(model.bonus_cap)}))
    raw = model.base + bonus + deduction
    score = max(model.floor, raw)
    steps.append(Step("floor", "MODEL.md §5", fmt(score),
                      inputs={"base": fmt(model.base), "bonus": fmt(bonus),
                              "deduction": fmt(deduction), "raw": fmt(raw)},
                      parameters={"floor": fmt(model.floor)}))
    components = {"market": by_category["market"] + ZERO, "site": by_category["site"] + ZERO,
                  "good": bonus}
    return _Total(score, components)


def bid_points(model: ScoringModel, score: Decimal, eligible: bool) -> Decimal:
    """MODEL.md §7: credit_weight × clamp((score − floor)/(full − floor), 0, 1), computed
    as an exact fraction and rounded half-up to two decimals; 0.00 when not eligible."""
    if not eligible:
        return ZERO
    return _bid_points(model.credit_weight, model.bid_floor, model.bid_full, score)


@lru_cache(maxsize=4096)  # pure; Fraction arithmetic is slow and scores repeat
def _bid_points(credit_weight: Decimal, bid_floor: Decimal, bid_full: Decimal,
                score: Decimal) -> Decimal:
    ratio = Fraction(score - bid_floor) / Fraction(bid_full - bid_floor)
    ratio = min(max(ratio, Fraction(0)), Fraction(1))
    return round_half_up(Fraction(credit_weight) * ratio)


def evaluate(
    model: ScoringModel,
    uscc: str,
    records: Iterable[Record],
    events: Iterable[RecordEvent],
    sector: str,
    as_of: date,
    knowledge: Knowledge,
) -> ScoreResult:
    """Score ``uscc`` in ``sector`` on ``as_of`` as known at ``knowledge``.

    ``records`` and ``events`` are all of the subject's (any sector, any time); the
    engine itself drops what was not yet known.
    """
    if sector not in model.sectors:
        raise ValueError(f"unknown sector {sector!r}")
    standings = _standings(model, records, events, sector, as_of, knowledge)
    steps: list[Step] = [Step("base", "MODEL.md §5", fmt(model.base))]
    total = _total(model, standings, steps)
    score = total.score

    # §6: joint punishment looks at every sector's active records.
    assessment = assess(model, [st for st in standings if st.counts], score)
    steps.extend(assessment.steps)
    eligible = not any(m.measure == "bid_ban" for m in assessment.measures)
    points = bid_points(model, score, eligible)
    steps.append(Step(
        "bid_points", "MODEL.md §7", fmt(points),
        inputs={"score": fmt(score), "eligible_to_bid": eligible},
        parameters={"credit_weight": fmt(model.credit_weight), "floor": fmt(model.bid_floor),
                    "full": fmt(model.bid_full), "rounding": "half_up"}))

    reasons = _reasons(model, assessment.measures, standings)
    return ScoreResult(
        uscc=uscc,
        sector=sector,
        as_of=as_of,
        knowledge=knowledge,
        model=model,
        score=score,
        components=total.components,
        grade=assessment.grade,
        eligible_to_bid=eligible,
        bid_points=points,
        inspection_multiplier=assessment.inspection_multiplier,
        measures=assessment.measures,
        reasons=tuple(reasons),
        records=tuple(standings),
        steps=tuple(steps),
    )


def _reasons(model: ScoringModel, measures, standings) -> list[dict]:
    """MODEL.md §8: the present blacklist/bid_ban measures, then harmful records, at
    most ``max_reasons``."""
    out: list[dict] = []
    for m in measures:
        if m.measure in ("blacklist", "bid_ban"):
            out.append({"kind": "measure", "measure": m.measure, "basis": list(m.basis),
                        "until": m.until.isoformat() if m.until else None})
    harmful = [st for st in standings if st.status == "active" and st.contribution < 0]
    harmful.sort(key=lambda st: (
        st.contribution,
        -st.record.decided_on.toordinal(),
        st.record.document_no,
        st.record.code,
        st.record.audit_position,
    ))
    for st in harmful:
        out.append({
            "kind": "record",
            "record_id": st.record.id,
            "code": st.record.code,
            "name": st.entry.name,
            "sector": st.record.sector,
            "contribution": fmt(st.contribution),
            "valid_until": st.effective_valid_until.isoformat(),
        })
    return out[: model.max_reasons]
