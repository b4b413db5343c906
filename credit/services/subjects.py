"""Subjects (enterprises) and the published models."""

from __future__ import annotations

from credit.domain.model import SECTORS
from credit.domain.money import fmt, fmt_factor
from credit.errors import NotFound, Unavailable

from .context import ServiceContext
from .records import lifecycle_status


def get_subject(ctx: ServiceContext, uscc: str) -> dict:
    """Registered name and record counts per sector by lifecycle status."""
    with ctx.uow(write=False) as uow:
        subject = uow.subjects.get(uscc)
        if subject is None:
            raise NotFound(f"No record was ever entered for {uscc}.")
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
    """A published definition of any kind, whole, with decimals as strings (API.md §7);
    NotFound when no definition is named ``ref``."""
    try:
        definition = ctx.models.definition(ref)
    except KeyError:
        raise NotFound(f"There is no model {ref}.") from None
    head = {"id": definition.id, "version": definition.version,
            "sha256": definition.sha256, "kind": definition.kind,
            "active": ctx.models.is_active(definition)}
    return {**head, **_DEFINITION_BODIES[definition.kind](definition)}


def _scoring_definition(model) -> dict:
    """A scoring model's parameters and catalogue (MODEL.md)."""
    return {
        "base": fmt(model.base), "bonus_cap": fmt(model.bonus_cap), "floor": fmt(model.floor),
        "sectors": list(model.sectors),
        "grades": {"listed": model.listed_grade,
                   "bands": [{"grade": b.grade, "min_score": fmt(b.min_score)}
                             for b in model.bands]},
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
        "catalogue": [
            {"code": e.code, "name": e.name, "category": e.category, "points": fmt(e.points),
             "tier": e.tier, "validity_months": e.validity_months,
             "explicit_max_months": e.explicit_max_months,
             "repair_min_months": e.repair_min_months, "flags": sorted(e.flags),
             "family": e.family, "basis": e.basis}
            for e in model.catalogue.values()],
    }


def _screens_definition(definition) -> dict:
    """A screen definition's parameters and screens (WARNINGS.md §4)."""
    return {"title": definition.title, "parameters": definition.parameters(),
            "screens": [s.as_json() for s in definition.screens]}


# How each kind of definition is shown, by its ``kind``.
_DEFINITION_BODIES = {
    "scoring": _scoring_definition,
    "screens": _screens_definition,
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
