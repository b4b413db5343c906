"""Tender-agency evaluation (招标代理服务评价, PERFORMANCE.md §7): the tenderee rates the
agency of its awarded tender once; the agency score under the active agency definition
is served, traced (``score.served``) and replayed like any served score.

Agency conduct records are ordinary records (``POST /records`` accepts the agency
definition's codes: ``ModelRegistry.record_entry``); the enterprise scoring model
ignores them (``not_in_model``), the agency score ignores every other code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from credit.domain import canonical
from credit.domain.agency import (
    AgencyRating,
    agency_trace_payload,
    as_traced_before,
    evaluate_agency,
    rating_problems,
    rating_total,
)
from credit.domain.dates import format_instant
from credit.domain.money import fmt, parse_two_decimals
from credit.domain.records import Knowledge
from credit.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from credit.persistence.agency_tables import AgencyRatingRow, rating_facts
from credit.persistence.failures import UNREADABLE_VALUE, UnreadableHistory

from .agency_resources import RATING, RATING_INPUT
from .context import Actor, ServiceContext, require_own_subject
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .inputs import FieldErrors, load
from .records import record_resource
from .resources import present
from .scoring import Computation, check_known_at_past, check_known_at_range, serve_traced
from .tenders import TENDER_READERS, require_role, tender_row, visible_sectors

RATERS = ("tenderee",)
# PERFORMANCE.md §1: enterprise only for its own USCC (checked in agency_score).
SCORE_READERS = ("evaluator", "regulator", "auditor", "admin", "tenderee", "enterprise")


def agency_definition(ctx: ServiceContext, ref: str | None = None):
    """The named agency definition (``id@version``) or the active one; a definition of
    another kind (a scoring model, screens) is not found (404)."""
    try:
        if ref is None:
            return ctx.models.active_of("agency")
        return ctx.models.definition(ref, "agency")
    except KeyError:
        raise NotFound(f"There is no agency definition {ref or '(active)'}.") from None


# ------------------------------------------------------------------ the rating

def rating_resource(row: AgencyRatingRow) -> dict:
    """The rating as served (PERFORMANCE.md §7)."""
    return {"tender": row.tender_code,
            "agency": {"uscc": row.agency_uscc, "name": row.agency_name},
            "rated_on": row.rated_on.isoformat(), "items": json.loads(row.items),
            "total": row.total, "note": row.note, "rated_by": row.rated_by,
            "at": row.rated_at}


def validate_rating(ctx: ServiceContext, definition, raw) -> dict:
    """Step 8: shape, every item of the definition (two decimals, 0 ≤ points ≤ max),
    ``rated_on`` not in the future. ``items`` come back as Decimals in form order."""
    errors = FieldErrors()
    data = load(RATING_INPUT, raw, errors)
    if isinstance(data.get("items"), dict):
        for p in rating_problems(definition, data["items"]):
            errors.add(p.field, p.message, p.error, **p.extra)
    rated_on = data.get("rated_on")
    if rated_on is not None and rated_on > ctx.today():
        errors.add("rated_on", f"The rating date {rated_on} lies in the future (today is "
                   f"{ctx.today()} in China Standard Time).")
    errors.raise_if_any()
    data["items"] = {k: parse_two_decimals(data["items"][k]) for k in definition.items}
    return data


def _check_rateable(uow, tender, rated_on: date) -> None:
    """Steps 11–12 against the stored tender: 409 ``already_rated``; 400 ``rated_on``
    before the award (11a); 422 ``not_awarded`` before 422 ``no_agency``."""
    if uow.agencies.of_tender(tender.id) is not None:
        raise Conflict(f"The agency of tender {tender.code!r} is already rated.",
                       error="already_rated")
    award = uow.tenders.awards([tender.id]).get(tender.id)
    if award is not None and rated_on < award.awarded_on:
        raise InvalidInput(f"rated_on must not be before the award ({award.awarded_on}).",
                           errors={"rated_on": [f"must not be before {award.awarded_on}, "
                                                "the tender's awarded_on."]})
    if award is None:
        raise RuleViolation(f"Tender {tender.code!r} is not awarded: its agency is rated "
                            "after the award.", error="not_awarded")
    if tender.agency_uscc is None:
        raise RuleViolation(f"Tender {tender.code!r} was tendered without an agency.",
                            error="no_agency")


def _new_rating(uow, actor: Actor, tender, definition, data: dict
                ) -> tuple[AgencyRatingRow, datetime]:
    at = uow.audit.next_at()
    row = AgencyRatingRow(
        tender_id=tender.id, tender_code=tender.code, agency_uscc=tender.agency_uscc,
        agency_name=tender.agency_name, tenderee_uscc=tender.tenderee_uscc,
        definition=definition.ref, rated_on=data["rated_on"],
        items=canonical.dumps({k: fmt(v) for k, v in data["items"].items()}),
        total=fmt(rating_total(data["items"])), note=data.get("note"), rated_by=actor.name,
        rated_at=format_instant(at), audit_position=uow.audit.next_position(), sha256="")
    row.sha256 = canonical.digest(rating_facts(row))
    return row, at


def rate_agency(ctx: ServiceContext, actor: Actor, code: str, raw,
                idem: IdempotentRequest | None = None) -> Outcome:
    """POST /tenders/{code}/agency-rating (201): the tender's tenderee rates its agency
    once, after the award; one ``agency.rated`` entry carrying the row's hash."""
    require_role(actor, RATERS, "rate tender agencies")
    definition = agency_definition(ctx)

    def write(uow) -> str:
        data = validate_rating(ctx, definition, raw)
        tender = tender_row(uow, code)
        if tender.tenderee_uscc != actor.uscc:
            raise Forbidden(f"Tender {code!r} is not a tender of this tenderee.")
        _check_rateable(uow, tender, data["rated_on"])
        row, at = _new_rating(uow, actor, tender, definition, data)
        text = present(RATING, rating_resource(row))
        extra = remember(uow, idem, 201, text, row.audit_position)
        uow.agencies.add(row)
        uow.audit.append("agency.rated", actor.name,
                         {"rating": rating_facts(row), "sha256": row.sha256,
                          "uscc": row.agency_uscc, **extra}, uscc=row.agency_uscc, at=at)
        return text

    return idempotent_write(ctx, actor, idem, 201, write)


def rating_target(ctx: ServiceContext, actor: Actor, code: str) -> dict:
    """What the console's rating form shows: the tenderee's own tender, its agency and
    award date (None while not awarded). Reads only."""
    require_role(actor, RATERS, "rate tender agencies")
    with ctx.uow(write=False) as uow:
        tender = tender_row(uow, code)
        if tender.tenderee_uscc != actor.uscc:
            raise Forbidden(f"Tender {code!r} is not a tender of this tenderee.")
        award = uow.tenders.awards([tender.id]).get(tender.id)
    return {"code": tender.code, "name": tender.name,
            "agency": {"uscc": tender.agency_uscc, "name": tender.agency_name}
            if tender.agency_uscc else None,
            "awarded_on": award.awarded_on.isoformat() if award else None}


def check_rating(ctx: ServiceContext, actor: Actor, code: str, raw) -> dict:
    """Every check :func:`rate_agency` makes, writing nothing (the console's review
    step): the validated rating with its total and the tender."""
    require_role(actor, RATERS, "rate tender agencies")
    definition = agency_definition(ctx)
    data = validate_rating(ctx, definition, raw)
    with ctx.uow(write=False) as uow:
        tender = tender_row(uow, code)
        if tender.tenderee_uscc != actor.uscc:
            raise Forbidden(f"Tender {code!r} is not a tender of this tenderee.")
        _check_rateable(uow, tender, data["rated_on"])
    return {"tender": {"code": tender.code, "name": tender.name},
            "agency": {"uscc": tender.agency_uscc, "name": tender.agency_name},
            "rated_on": data["rated_on"].isoformat(), "note": data.get("note"),
            "items": [{"item": k, "name": definition.items[k].name, "points": fmt(v),
                       "max": fmt(definition.items[k].max_points)}
                      for k, v in data["items"].items()],
            "total": fmt(rating_total(data["items"]))}


# ------------------------------------------------------------------ the score

@dataclass(frozen=True)
class AgencyScoreQuery:
    uscc: str
    as_of: date | None = None
    known_at: datetime | None = None
    model: str | None = None


def to_domain_rating(row: AgencyRatingRow) -> AgencyRating:
    return AgencyRating(tender=row.tender_code, agency=row.agency_uscc,
                        rated_on=row.rated_on,
                        items={k: Decimal(v) for k, v in json.loads(row.items).items()},
                        total=Decimal(row.total), audit_position=row.audit_position)


def agency_as_known(uow, definition, uscc: str, as_of: date, knowledge: Knowledge):
    """The agency's result as known at ``knowledge``: what a served score computes and
    what its replay recomputes."""
    try:
        ratings = [to_domain_rating(r)
                   for r in uow.agencies.of_agency(uscc, knowledge.position)]
    except (*UNREADABLE_VALUE, InvalidOperation) as exc:  # its date, items or total
        raise UnreadableHistory(uscc, "rating") from exc
    records, events = uow.records.history(uscc, knowledge.position)
    return evaluate_agency(definition, uscc, ratings, records, events, as_of, knowledge)


def may_read_score(actor: Actor, uscc: str) -> None:
    require_role(actor, SCORE_READERS, "read agency scores")
    require_own_subject(actor, uscc)


def agency_score(ctx: ServiceContext, actor: Actor, q: AgencyScoreQuery) -> dict:
    """GET /agencies/{uscc}/score: S, grade, restriction, components; every call
    appends its trace (``score.served``). Its knowledge follows the subject score's rule
    (API.md §4; :func:`~credit.services.scoring.serve_traced`): by default the committed
    head the computation read. Checks in API.md §1's order, as the subject score's: the
    role (403, check 3), ``known_at`` out of range (400, 8), an unknown definition (404,
    9), another enterprise's agency (403, 10), a ``known_at`` in the future (422, 12)."""
    require_role(actor, SCORE_READERS, "read agency scores")
    check_known_at_range(q.known_at)
    computation = agency_computation(ctx, q)
    require_own_subject(actor, q.uscc)
    check_known_at_past(ctx, q.known_at)
    return serve_traced(ctx, actor, q.known_at, q.uscc, computation)


def agency_computation(ctx: ServiceContext, q: AgencyScoreQuery) -> Computation:
    """The agency score's trace payload as known at a given knowledge (the definition
    looked up now: an unknown one is 404 before anything is read or written)."""
    definition = agency_definition(ctx, q.model)
    as_of = q.as_of or ctx.today()
    return lambda uow, knowledge: agency_trace_payload(
        agency_as_known(uow, definition, q.uscc, as_of, knowledge))


def replay_trace(uow, definition, payload: dict, knowledge: Knowledge) -> dict:
    """The payload an agency trace's score yields when recomputed at its knowledge (a
    trace served before the service step's sum had two decimals: spelt as it was)."""
    return as_traced_before(agency_trace_payload(agency_as_known(
        uow, definition, payload["uscc"], date.fromisoformat(payload["as_of"]), knowledge)),
        payload)


# ------------------------------------------------------------------ the agency page

def agency_page(ctx: ServiceContext, actor: Actor, uscc: str) -> dict:
    """For the console: the agency's ratings (newest first) and records, read only, and
    the tenders it ran that the actor may read as ``GET /tenders?agency=`` lists them
    (WARNINGS.md §1: a regulator its own sectors', no tenders for the other roles;
    ``tenders`` None for those)."""
    may_read_score(actor, uscc)
    readable = actor.role in TENDER_READERS
    with ctx.uow(write=False) as uow:
        ratings = [rating_resource(r) for r in reversed(uow.agencies.of_agency(uscc))]
        rows = [r for r in uow.records.of_subject(uscc)
                if ctx.models.active_of("agency").entry(r.code) is not None]
        events = uow.records.events_of_many([r.id for r in rows])
        tenders = uow.tenders.page(agency=uscc, sectors=visible_sectors(actor, None),
                                   limit=100) if readable else []
        # The agency's name as a rating or a tender spelt it (any tender: only its
        # name is shown), else as registered.
        name = (next((r["agency"]["name"] for r in ratings), None)
                or next((t.agency_name for t in tenders
                         or uow.tenders.page(agency=uscc, limit=1)), None)
                or getattr(uow.subjects.get(uscc), "name", None))
    return {"uscc": uscc, "ratings": ratings, "name": name,
            "records": [record_resource(ctx, r, events[r.id]) for r in rows],
            "tenders": [{"code": t.code, "name": t.name, "sector": t.sector}
                        for t in tenders] if readable else None}


def agency_timeline(ctx: ServiceContext, actor: Actor, uscc: str, months: int = 24,
                    ahead: int = 6) -> list[dict]:
    """The agency score on the first of each of the last ``months`` months, today and
    the first of each of the next ``ahead`` months (``future``: what the known ratings
    and records give then), as known now — for the console's chart: computed, not
    served, so not traced."""
    may_read_score(actor, uscc)
    definition = agency_definition(ctx)
    today = ctx.today()
    with ctx.uow(write=False) as uow:
        head = uow.audit.head()
        knowledge = Knowledge(head.position, ctx.clock())
        ratings = [to_domain_rating(r) for r in uow.agencies.of_agency(uscc)]
        records, events = uow.records.history(uscc)
    days = sorted({_month_start(today, k) for k in range(-months, ahead + 1)} | {today})
    out = []
    for day in days:
        r = evaluate_agency(definition, uscc, ratings, records, events, day, knowledge)
        out.append({"on": day, "future": day > today, "score": fmt(r.score), "grade": r.grade,
                    "restricted": r.restricted, "ratings_used": r.ratings_used})
    return out


def _month_start(today: date, delta: int) -> date:
    n = today.year * 12 + today.month - 1 + delta
    return date(n // 12, n % 12 + 1, 1)


def tenderee_tenders(ctx: ServiceContext, actor: Actor, limit: int = 100) -> list[dict]:
    """For the tenderee's console: its own tenders, newest first, each with its agency,
    award date and rating (None while not rated)."""
    require_role(actor, RATERS, "rate tender agencies")
    with ctx.uow(write=False) as uow:
        rows = uow.tenders.page(tenderee=actor.uscc, limit=limit)
        awards = uow.tenders.awards([t.id for t in rows])
        out = []
        for t in rows:
            rating = uow.agencies.of_tender(t.id)
            award = awards.get(t.id)
            out.append({"code": t.code, "name": t.name, "sector": t.sector,
                        "agency": {"uscc": t.agency_uscc, "name": t.agency_name}
                        if t.agency_uscc else None,
                        "awarded_on": award.awarded_on.isoformat() if award else None,
                        "rating": rating_resource(rating) if rating else None})
    return out
