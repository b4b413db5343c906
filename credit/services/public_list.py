"""The public joint-punishment list (失信联合惩戒名单公示, issue 13): every enterprise under
a ``blacklist`` or ``bid_ban`` measure on a date, with the decisions it rests on.

No sign-in, and a read path that logs nothing: this is a list of published decisions,
not a score served to somebody, so no trace is appended (a trace records who pulled a
score; the public pulls none). Everything shown is already public in the decision
documents themselves — the enterprise's registered name and USCC, the behaviour and its
Chinese name, the document number, the deciding authority, the decision date and the
effective end of publication — never record ids, traces, tokens, scores or who entered
what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from credit.domain.engine import evaluate
from credit.domain.records import Knowledge

from .context import ServiceContext

PUBLIC_MEASURES = ("blacklist", "bid_ban")
# Flags that can put an enterprise under one of PUBLIC_MEASURES (MODEL.md §6).
LISTING_FLAGS = frozenset({"blacklist", "bid_ban", "pair_rule"})
_BATCH = 200


@dataclass(frozen=True)
class PublicQuery:
    sector: str | None = None
    as_of: date | None = None
    limit: int = 100
    after: str | None = None


def _basis(record, standing, entry) -> dict:
    return {"code": record.code, "name": entry.name, "sector": record.sector,
            "document_no": record.document_no, "issued_by": record.issued_by,
            "decided_on": record.decided_on.isoformat(),
            "valid_until": standing.effective_valid_until.isoformat()}


def _listed(uow, model, uscc: str, as_of: date, knowledge: Knowledge,
            sector: str | None) -> dict | None:
    """The subject's public measures on ``as_of`` (they apply in every sector, so any
    sector's evaluation gives them), or None."""
    history, events = uow.records.history(uscc, knowledge.position)
    result = evaluate(model, uscc, history, events, model.sectors[0], as_of, knowledge)
    measures = [m for m in result.measures if m.measure in PUBLIC_MEASURES]
    if not measures:
        return None
    standings = {st.record.id: st for st in result.records}
    rows = uow.records.many(sorted({i for m in measures for i in m.basis}))
    if sector and not any(rows[i].sector == sector for m in measures for i in m.basis):
        return None
    subject = uow.subjects.get(uscc)
    return {"uscc": uscc, "name": subject.name if subject else None, "measures": [
        {"measure": m.measure, "until": m.until.isoformat() if m.until else None,
         "basis": [_basis(rows[i], standings[i], standings[i].entry) for i in m.basis]}
        for m in measures]}


def punishments(ctx: ServiceContext, q: PublicQuery) -> dict:
    """``{as_of, items, next}``: the listed enterprises by USCC ascending, ``next`` the
    last USCC of the page (pass it as ``after``). Only subjects with a record whose code
    can list them are evaluated, with the engine, as known now."""
    model = ctx.models.active
    as_of = q.as_of or ctx.today()
    codes = sorted(c for c, e in model.catalogue.items() if e.flags & LISTING_FLAGS)
    items: list[dict] = []
    with ctx.uow(write=False) as uow:
        knowledge = Knowledge(uow.audit.head().position, ctx.clock())
        cursor = q.after
        while len(items) <= q.limit:
            batch = uow.records.subjects_with_codes(codes, after=cursor, limit=_BATCH)
            for uscc in batch:
                item = _listed(uow, model, uscc, as_of, knowledge, q.sector)
                if item is not None:
                    items.append(item)
                    if len(items) > q.limit:
                        break
            if len(batch) < _BATCH:
                break
            cursor = batch[-1]
    more = len(items) > q.limit
    items = items[:q.limit]
    return {"as_of": as_of.isoformat(), "items": items,
            "next": items[-1]["uscc"] if more else None}
