"""Read models of the web console (api/console): the score timeline, subject search, the
filtered audit feed (paged backwards), the evaluations a caller may open, an
enterprise's inquiries split into others' and its own, and the names and document
numbers of a trace's records. None of them writes or appends anything.

The timeline is computed with the pure engine and is **not** logged: only the headline
scores the console shows are served (and traced) through :func:`scoring.score`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date

from credit.domain.dates import ONE_DAY, add_months, earliest_repair_on
from credit.domain.engine import effective_valid_until, evaluate, original_valid_until
from credit.domain.money import fmt
from credit.domain.records import Knowledge
from credit.errors import Forbidden

from .audit import inquiry_line
from .context import Actor, ServiceContext

# How many audit entries a filtered feed looks through at most (newest first).
FEED_SCAN_LIMIT = 20_000
_WINDOW = 2000  # entries read per query, at most


# ----------------------------------------------------------------------- timeline

@dataclass(frozen=True)
class TimelinePoint:
    on: date
    score: str
    grade: str
    eligible_to_bid: bool


def score_timeline(ctx: ServiceContext, uscc: str, *, months_back: int = 36,
                   months_ahead: int = 12) -> dict:
    """Each sector's score on the same day of every month from ``months_back`` months ago
    to ``months_ahead`` months ahead, plus every date inside that window on which a
    record starts or stops counting (decision, expiry, repair), all as known now.

    Score, grade and eligibility are step functions of the date that can only change on
    those dates (MODEL.md §2–§6: a record's activity changes on ``decided_on``, the day
    after its effective ``valid_until`` and on ``repaired_on``; supersession, the pair
    rule and the grade follow the active set). So the engine runs once per change point
    (and at the window's start) and every other day takes the value of the latest change
    point before it — the same numbers as evaluating each day, far fewer evaluations.
    Future points project today's knowledge (records expiring); they are not forecasts."""
    today = ctx.today()
    start, end = add_months(today, -months_back), add_months(today, months_ahead)
    model = ctx.models.active
    with ctx.uow(write=False) as uow:
        head = uow.audit.head()
        records, events = uow.records.history(uscc, head.position)
    knowledge = Knowledge(head.position, ctx.clock())
    changes = sorted({d for d in _change_points(model, records, events) if start < d <= end})
    days = sorted({add_months(today, n) for n in range(-months_back, months_ahead + 1)}
                  | set(changes))
    series = {}
    for sector in model.sectors:
        steps = [_point(model, uscc, records, events, sector, d, knowledge)
                 for d in [start, *changes]]
        series[sector] = _sample(steps, days)
    bands = [{"grade": b.grade, "min_score": fmt(b.min_score)} for b in model.bands]
    return {"uscc": uscc, "today": today, "start": start, "end": end, "series": series,
            "bands": bands, "listed_grade": model.listed_grade,
            "model": model.ref, "knowledge_position": head.position}


def _sample(steps: list[TimelinePoint], days: list[date]) -> list[TimelinePoint]:
    """The step function given by ``steps`` (ascending, the first at ``days[0]``) on each
    of ``days``."""
    out, i = [], 0
    for day in days:
        while i + 1 < len(steps) and steps[i + 1].on <= day:
            i += 1
        s = steps[i]
        out.append(TimelinePoint(day, s.score, s.grade, s.eligible_to_bid))
    return out


def _change_points(model, records, events) -> set[date]:
    repairs = {e.record_id: e.repaired_on for e in events if e.kind == "repair"}
    out: set[date] = set()
    for rec in records:
        entry = model.catalogue.get(rec.code)
        if entry is None:
            continue
        original = original_valid_until(rec, entry)
        out.update({rec.decided_on, original + ONE_DAY})
        if rec.id in repairs:  # the day after the repaired (effective) validity
            out.add(effective_valid_until(original, repairs[rec.id]) + ONE_DAY)
    return out


def _point(model, uscc, records, events, sector, day, knowledge) -> TimelinePoint:
    r = evaluate(model, uscc, records, events, sector, day, knowledge)
    return TimelinePoint(day, fmt(r.score), r.grade, r.eligible_to_bid)


# ------------------------------------------------------------------ subject search

def find_subjects(ctx: ServiceContext, query: str, limit: int = 50) -> list[dict]:
    """Registered subjects whose USCC starts with, or whose name contains, ``query``
    (case-insensitive); every subject when ``query`` is empty. Reads every subject: fine
    for a district's few thousand enterprises; a LIKE query in the subject repository
    would be the next step."""
    q = (query or "").strip()
    with ctx.uow(write=False) as uow:
        rows = uow.subjects.all()
    out = []
    for row in rows:
        if not q or row.uscc.startswith(q.upper()) or q.lower() in row.name.lower():
            out.append({"uscc": row.uscc, "name": row.name})
            if len(out) >= limit:
                break
    return out


# ------------------------------------------------------------------ the audit feed

def _entry_uscc(entry: dict, event_owner: dict[int, str]) -> str | None:
    p = entry.get("payload") or {}
    if "uscc" in p and isinstance(p["uscc"], str):
        return p["uscc"]
    if isinstance(p.get("record"), dict):
        return p["record"].get("uscc")
    if isinstance(p.get("event"), dict) and type(p["event"].get("record_id")) is int:
        return event_owner.get(p["event"]["record_id"])
    return None


# ------------------------------------------------------------------ inquiries

_TRACE_WINDOW = 500


def inquiry_page(ctx: ServiceContext, actor: Actor, uscc: str, *, limit: int = 100,
                 after: int | None = None) -> dict:
    """Who pulled ``uscc``'s score, newest first — others only: the look-ups made with
    the enterprise's own tokens (opening its own page serves three scores) are counted
    apart (``own``), not listed. ``next`` continues after the last item."""
    if actor.role == "enterprise" and actor.uscc != uscc:
        raise Forbidden("An enterprise sees only its own inquiries.")
    if actor.role not in ("auditor", "admin", "enterprise"):
        raise Forbidden(f"The role {actor.role!r} may not read inquiries.")
    others: list[dict] = []
    own = 0
    with ctx.uow(write=False) as uow:
        own_tokens = uow.tokens.enterprise_token_ids(uscc)
        before = None
        while True:
            window = uow.audit_queries.traces(uscc=uscc, limit=_TRACE_WINDOW, before=before,
                                              hashed=True)
            for t in window:
                line = inquiry_line(t)  # refused first when altered (token_id too)
                if t["payload"].get("token_id") in own_tokens:
                    own += 1
                elif (after is None or t["position"] < after) and len(others) <= limit:
                    others.append(line)
            if len(window) < _TRACE_WINDOW:
                break
            before = window[-1]["position"]
    more = len(others) > limit
    others = others[:limit]
    return {"items": others, "own": own,
            "next": str(others[-1]["trace_id"]) if more else None}


def inquiry_summary(ctx: ServiceContext, actor: Actor, uscc: str) -> dict:
    """For the credit report: how many times others pulled the score (``others``), by
    whom (``by_actor``: name, count, latest), and the enterprise's own look-ups."""
    page = inquiry_page(ctx, actor, uscc, limit=100_000)
    by: dict[str, dict] = {}
    for i in page["items"]:
        row = by.setdefault(i["actor"], {"actor": i["actor"], "count": 0, "latest": i["at"]})
        row["count"] += 1
    return {"others": len(page["items"]), "own": page["own"],
            "by_actor": sorted(by.values(), key=lambda r: (-r["count"], r["actor"]))}


# ------------------------------------------------------------------ traces

def record_labels(ctx: ServiceContext, ids: list[int], model_ref: str | None = None
                  ) -> dict[int, dict]:
    """For a trace's input table: each record's Chinese ``name`` (from the trace's model
    when it is known, else the active one), ``document_no``, ``issued_by`` and
    ``basis``."""
    try:
        model = ctx.models.get(model_ref) if model_ref else ctx.models.active
    except KeyError:
        model = ctx.models.active
    with ctx.uow(write=False) as uow:
        rows = uow.records.many(ids)
    out = {}
    for rid, row in rows.items():
        entry = model.catalogue.get(row.code) or ctx.models.record_entry(row.code)
        out[rid] = {"name": entry.name if entry else row.code, "document_no": row.document_no,
                    "issued_by": row.issued_by, "basis": entry.basis if entry else ""}
    return out


def audit_feed(ctx: ServiceContext, *, kind: str | None = None, actor: str | None = None,
               uscc: str | None = None, limit: int = 50, before: int | None = None,
               scan_limit: int = FEED_SCAN_LIMIT, lenient: bool = False) -> dict:
    """The newest entries matching ``kind``, ``actor`` (exact token name) and ``uscc``
    (the enterprise an entry concerns), newest first, with positions below ``before``
    when given (the "older" page). Looks through at most ``scan_limit`` entries;
    ``complete`` says whether everything below ``before`` was searched, ``older`` is the
    ``before`` of the next page (None when nothing older matches). ``lenient``: an
    entry altered after it was written is listed, marked ``altered``
    (AuditQueries.page), instead of refusing the whole feed."""
    items: list[dict] = []
    scanned = 0
    with ctx.uow(write=False) as uow, (uow.verifications.text_as_stored() if lenient
                                       else nullcontext()):
        top = uow.audit.head().position
        start = top if before is None else max(0, min(top, before - 1))
        if kind == "score.served":  # traces are indexed by enterprise and actor: no scan
            items = uow.audit_queries.traces(uscc=uscc, actor=actor, limit=limit + 1,
                                             before=start + 1, lenient=lenient)
            older = items[limit - 1]["position"] if len(items) > limit else None
            return {"items": items[:limit], "head": top, "scanned": start, "complete": True,
                    "older": older}
        owners = {r.id: r.uscc for r in uow.records.of_subject(uscc)} if uscc else {}
        upper, window_size = start, max(limit, 50)
        while upper > 0 and len(items) < limit and scanned < scan_limit:
            lower = max(0, upper - window_size)
            window_size = min(window_size * 4, _WINDOW)
            # Bounded above too: with a kind, the window's limit would otherwise be
            # filled by matching entries above it, which an earlier window listed.
            window = uow.audit_queries.page(after=lower, upto=upper, limit=upper - lower,
                                            kind=kind, lenient=lenient)
            scanned += upper - lower
            for entry in reversed(window):
                if actor and entry["actor"] != actor:
                    continue
                if uscc and _entry_uscc(entry, owners) != uscc:
                    continue
                items.append(entry)
                if len(items) >= limit:
                    break
            upper = lower
    more = len(items) >= limit and items[-1]["position"] > 1
    return {"items": items, "head": top, "scanned": min(scanned, top),
            "complete": upper <= 0 or len(items) >= limit,
            "older": items[-1]["position"] if more else None}


def evaluation_index(ctx: ServiceContext, actor: Actor, limit: int = 50) -> list[dict]:
    """The newest evaluations ``actor`` may open: its own (evaluator), or all (auditor,
    admin). Each: id, tender, sector, as_of, bidders, created_by, created_at."""
    if actor.role not in ("evaluator", "auditor", "admin"):
        raise Forbidden(f"The role {actor.role!r} may not read evaluations.")
    name = actor.name if actor.role == "evaluator" else None
    feed = audit_feed(ctx, kind="evaluation.created", actor=name, limit=limit, lenient=True)
    out = []
    with ctx.uow(write=False) as uow:
        for entry in feed["items"]:
            line = _evaluation_line(entry)
            if line is None:  # altered: listed as what it is, to those who audit
                if actor.role != "evaluator":  # its owner is not known
                    out.append({"altered": entry["position"]})
                continue
            row = uow.evaluations.get(line["id"])
            if row is None or (actor.role == "evaluator"
                               and row.created_by_token != actor.token_id):
                continue
            out.append(line)
    return out


def _evaluation_line(entry: dict) -> dict | None:
    """One ``evaluation.created`` entry as the console lists it; None for one altered
    after it was written — a text the service cannot have written (``altered``, the
    lenient page of AuditQueries) or a payload of another shape — which
    :func:`evaluation_index` lists as ``{"altered": position}``."""
    if entry.get("altered"):
        return None
    p = entry["payload"]
    line = {"id": p.get("evaluation_id"), "tender": p.get("tender"),
            "sector": p.get("sector"), "as_of": p.get("as_of"), "bidders": p.get("bidders"),
            "created_by": entry["actor"], "created_at": entry["at"]}
    tender = line["tender"]
    if not (type(line["id"]) is int and isinstance(tender, dict)
            and all(isinstance(tender.get(k), str) for k in ("code", "name"))
            and isinstance(line["sector"], str) and isinstance(line["as_of"], str)
            and type(line["bidders"]) is int):
        return None
    return line


# ------------------------------------------- revoke and repair: the confirmation step

def _writable_record(ctx: ServiceContext, actor: Actor, record_id: int) -> dict:
    from .records import get_record
    record = get_record(ctx, actor, record_id)
    if actor.role != "regulator":
        raise Forbidden("Only sector regulators revoke and repair records.")
    if record["sector"] not in actor.sectors:
        raise Forbidden(f"This token may not write records of sector {record['sector']!r} "
                        f"(its sectors: {', '.join(sorted(actor.sectors))}).",
                        error="sector_forbidden")
    return record


def revocation_form(ctx: ServiceContext, actor: Actor, record_id: int) -> dict:
    """The record a regulator is about to revoke (NotFound, or 403 for another sector)."""
    return _writable_record(ctx, actor, record_id)


def repair_form(ctx: ServiceContext, actor: Actor, record_id: int) -> dict:
    """The record a regulator is about to repair, with the window of repair dates the
    model allows (``earliest_repair_on`` … ``latest_repair_on``) or ``repairable``
    false."""
    record = _writable_record(ctx, actor, record_id)
    # The entry the repair itself checks (records.refuse_repair): the active scoring
    # model's, else the agency definition's (an agency's misconduct, PERFORMANCE.md §7).
    entry = ctx.models.record_entry(record["code"])
    window = {"repairable": bool(entry and entry.repairable)}
    if window["repairable"]:
        decided = date.fromisoformat(record["decided_on"])
        window["earliest_repair_on"] = earliest_repair_on(
            decided, entry.repair_min_months).isoformat()
        window["latest_repair_on"] = record["original_valid_until"]
    return {**record, "repair_window": window}


def repaired_valid_until(record: dict, repaired_on: str) -> str:
    """The effective ``valid_until`` a repair dated ``repaired_on`` would give ``record``
    (a record resource), for the confirmation step (MODEL.md §2)."""
    original = date.fromisoformat(record["original_valid_until"])
    return effective_valid_until(original, date.fromisoformat(repaired_on)).isoformat()


# ------------------------------------------------------------------ applications

def with_records(ctx: ServiceContext, items: list[dict]) -> list[dict]:
    """Applications (as served) with the record each concerns: ``record`` = code, its
    Chinese name, document number and the subject's name on the record."""
    with ctx.uow(write=False) as uow:
        rows = uow.records.many(sorted({i["record_id"] for i in items}))
    out = []
    for item in items:
        row = rows.get(item["record_id"])
        entry = ctx.models.record_entry(row.code) if row else None
        out.append({**item, "record": None if row is None else {
            "code": row.code, "name": entry.name if entry else row.code,
            "document_no": row.document_no, "subject_name": row.subject_name}})
    return out
