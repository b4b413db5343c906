"""Subjects (enterprises) and the published models."""

from __future__ import annotations

from credit.domain.agency import AgencyDefinition
from credit.domain.model import SECTORS, CatalogueEntry, ScoringModel
from credit.domain.money import fmt, fmt_factor
from credit.domain.performance import PerformanceDefinition
from credit.errors import NotFound, Unavailable

from .context import Actor, ServiceContext, require_own_subject
from .records import lifecycle_status


def get_subject(ctx: ServiceContext, uscc: str, actor: Actor | None = None) -> dict:
    """Registered name and record counts per sector by lifecycle status; for ``actor``,
    404 for an unknown subject (check 9 of API.md §1) before an enterprise's 403 for
    another's (check 10)."""
    with ctx.uow(write=False) as uow:
        subject = uow.subjects.get(uscc)
        if subject is None:
            raise NotFound(f"No record was ever entered for {uscc}.")
        if actor is not None:
            require_own_subject(actor, uscc)
        rows = uow.records.of_subject(uscc)
        events = uow.records.events_of_many([r.id for r in rows])
    counts = {s: {"active": 0, "repaired": 0, "revoked": 0} for s in SECTORS}
    for r in rows:
        counts[r.sector][lifecycle_status(events[r.id])] += 1
    return {"uscc": subject.uscc, "name": subject.name, "counts": counts}


def list_models(ctx: ServiceContext) -> dict:
    return {"items": [{"id": m.id, "version": m.version, "sha256": m.sha256,
                       "kind": m.kind, "active": ctx.models.is_active(m)}
                      for m in ctx.models.all()]}


def model_definition(ctx: ServiceContext, ref: str) -> dict:
    """A definition of any kind, whole, with decimals as strings (API.md §7): what every
    definition has (id, version, sha256, kind, active), then its kind's own content."""
    try:
        definition = ctx.models.definition(ref)
    except KeyError:
        raise NotFound(f"There is no model {ref}.") from None
    return {"id": definition.id, "version": definition.version, "sha256": definition.sha256,
            "kind": definition.kind, "active": ctx.models.is_active(definition),
            **DEFINITION_CONTENT[definition.kind](definition)}


def _catalogue_entry(e: CatalogueEntry) -> dict:
    return {"code": e.code, "name": e.name, "category": e.category, "points": fmt(e.points),
            "tier": e.tier, "validity_months": e.validity_months,
            "explicit_max_months": e.explicit_max_months,
            "repair_min_months": e.repair_min_months, "flags": sorted(e.flags),
            "family": e.family, "basis": e.basis, "created_by": e.created_by,
            "enterable": e.enterable}


def _bands(bands, key: str) -> list[dict]:
    return [{key: getattr(b, key), "min_score": fmt(b.min_score)} for b in bands]


def _scoring_content(model: ScoringModel) -> dict:
    """A scoring model (MODEL.md): parameters and catalogue."""
    return {
        "base": fmt(model.base), "bonus_cap": fmt(model.bonus_cap), "floor": fmt(model.floor),
        "sectors": list(model.sectors),
        "grades": {"listed": model.listed_grade, "bands": _bands(model.bands, "grade")},
        "sector_factors": {k: {"same": fmt_factor(v[0]), "other": fmt_factor(v[1])}
                           for k, v in model.sector_factors.items()},
        "joint_punishment": {
            "pair_window_days": model.pair_window_days,
            "key_supervision_grades": sorted(model.key_supervision_grades),
            "key_supervision_min_serious": model.key_supervision_min_serious,
            "key_supervision_min_multiplier": fmt(model.key_supervision_min_multiplier)},
        "inspection_multipliers": {g: fmt(v) for g, v in model.multipliers.items()},
        "bid_points": {"credit_weight": fmt(model.credit_weight), "floor": fmt(model.bid_floor),
                       "full": fmt(model.bid_full)},
        "max_reasons": model.max_reasons,
        "catalogue": [_catalogue_entry(e) for e in model.catalogue.values()],
    }


def _performance_content(d: PerformanceDefinition) -> dict:
    """A performance-evaluation definition (PERFORMANCE.md §2–§4, §6)."""
    w = d.warning
    return {
        "title": d.title, "base": fmt(d.base), "floor": fmt(d.floor),
        "max_deductions": d.max_deductions, "note_length": list(d.note_length),
        "reason_length": list(d.reason_length), "overdue_after_days": d.overdue_after_days,
        "index_window_months": d.index_window_months, "document_no": d.document_no_pattern,
        "indicators": [{"item": i.item, "name": i.name, "max": fmt(i.max_points)}
                       for i in d.indicators.values()],
        "bands": [{"rating": b.rating, "name": b.name, "min_score": fmt(b.min_score)}
                  for b in d.bands],
        "records": {"kinds": sorted(d.record_kinds), "codes": dict(d.record_codes)},
        "warning": {"code": w.code, "name": w.name, "severity": w.severity, "basis": w.basis,
                    "stage": w.stage, "when_manager_absent": w.when_manager_absent,
                    "trigger_items": sorted(w.trigger_items),
                    "confirmation_codes": list(w.confirmation_codes)},
    }


def _agency_content(d: AgencyDefinition) -> dict:
    """A tender-agency evaluation definition (PERFORMANCE.md §7)."""
    return {
        "title": d.title, "min_ratings": d.min_ratings, "default_rating": fmt(d.default_rating),
        "window_days": d.window_days,
        "weights": {"service": fmt(d.service_weight), "conduct": fmt(d.conduct_weight)},
        "conduct_base": fmt(d.conduct_base), "conduct_floor": fmt(d.conduct_floor),
        "service_places": d.service_places,
        "restricted_grade": d.restricted_grade, "restricted_measure": d.restricted_measure,
        "items": [{"item": i.item, "name": i.name, "max": fmt(i.max_points)}
                  for i in d.items.values()],
        "grades": {"bands": _bands(d.bands, "grade")},
        "catalogue": [_catalogue_entry(e) for e in d.catalogue.values()],
    }


def _screens_content(definition) -> dict:
    """A screen definition (WARNINGS.md §4): parameters and screens."""
    return {"title": definition.title, "parameters": definition.parameters(),
            "screens": [s.as_json() for s in definition.screens]}


# One presenter per kind of definition (the registry's ``kind``).
DEFINITION_CONTENT = {
    "scoring": _scoring_content,
    "screens": _screens_content,
    "performance": _performance_content,
    "agency": _agency_content,
}


def health(ctx: ServiceContext) -> dict:
    """``ok`` when the database answers; Unavailable otherwise."""
    try:
        with ctx.uow(write=False) as uow:
            uow.audit.head()
    except Unavailable:
        raise
    except Exception as exc:  # any driver failure means the database is unreachable
        raise Unavailable(f"The database cannot be reached ({type(exc).__name__}).") from None
    return {"status": "ok", "database": "ok", "model": ctx.models.active.ref}
