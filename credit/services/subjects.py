"""Subjects (enterprises) and the published models."""

from __future__ import annotations

from credit.domain.model import SECTORS
from credit.errors import NotFound

from .context import ServiceContext


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
        kinds = {e.kind for e in events[r.id]}
        status = "revoked" if "revocation" in kinds else "repaired" if "repair" in kinds \
            else "active"
        counts[r.sector][status] += 1
    return {"uscc": subject.uscc, "name": subject.name, "counts": counts}


def list_models(ctx: ServiceContext) -> dict:
    active = ctx.models.active
    return {"items": [{"id": m.id, "version": m.version, "sha256": m.sha256,
                       "active": m is active} for m in ctx.models.all()]}
