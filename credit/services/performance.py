"""Use cases of post-award performance (标后履约评价, PERFORMANCE.md §2–§4, §6): the
tenderee evaluates how the winner performs its contract, the sector's regulator reviews,
and an approval feeds the winner's credit — PERF-EXCELLENT / PERF-FAIL records for
every party of the winning bid, and the post-award PM-ABSENT warning, disposed of like
any warning (credit.services.warnings) with its own confirmation codes.

The rules (indicators, maxima, bands, what an approval does) are the pure functions of
credit.domain.performance over the definition ``keqiao-performance-2025``; each
submission and review is one write transaction appending its audit entry, which carries
the hash of the row it stored (``rows``) and the steps that decided it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from credit.domain import canonical
from credit.domain import performance as perf
from credit.domain.dates import format_instant
from credit.domain.money import fmt
from credit.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from credit.persistence.performance_repository import contract_cursor
from credit.persistence.performance_tables import PerformanceEvaluationRow, PerformanceReviewRow

from .context import Actor, ServiceContext
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .paging import page
from .performance_inputs import validate_performance, validate_review
from .performance_resources import (
    PERFORMANCE,
    contract_resource,
    evaluation_resource,
    evaluation_status,
)
from .records import insert_record
from .resources import present
from .tender_resources import bid_parties
from .tender_rows import rows_digest, warning_rows
from .tenders import check_sector, one, require_role, tender_row, visible_sectors
from .tokens import check_issuer
from .warnings import party_names

PERFORMANCE_READERS = ("tenderee", "regulator", "evaluator", "auditor", "admin")


@dataclass(frozen=True)
class PerformanceFilter:
    status: str | None = None
    sector: str | None = None
    tender: str | None = None
    limit: int = 100
    after: int | None = None


@dataclass(frozen=True)
class ContractFilter:
    status: str | None = None
    sector: str | None = None
    village: bool | None = None
    tenderee: str | None = None
    winner: str | None = None
    limit: int = 100
    after: int | None = None


def definition(ctx: ServiceContext, ref: str | None = None) -> perf.PerformanceDefinition:
    """The named performance definition, or the active one."""
    if ref is None:
        return ctx.models.active_of("performance")
    return ctx.models.definition(ref, "performance")


def check_own_tender(actor: Actor, tender) -> None:
    """A tenderee acts on the tenders it tendered only (403 ``forbidden``, step 10)."""
    if actor.role == "tenderee" and tender.tenderee_uscc != actor.uscc:
        raise Forbidden(f"Tender {tender.code!r} was not tendered by {actor.uscc}: a "
                        "tenderee acts only on its own tenders.")


def check_visible(actor: Actor, tender) -> None:
    check_sector(actor, tender.sector)
    check_own_tender(actor, tender)


# ------------------------------------------------------------------ reads

def resources(uow, rows: list, created: dict | None = None) -> list[dict]:
    """Evaluation resources of ``rows`` (their tenders, reviews and records read in
    batches); ``created`` overrides a review's records (not stored yet)."""
    tenders = uow.tenders.by_ids(e.tender_id for e in rows)
    reviews = uow.performance.reviews(e.id for e in rows)
    records = uow.performance.records_created(e.id for e in rows)
    records.update(created or {})
    return [evaluation_resource(e, tenders[e.tender_id].code, reviews.get(e.id),
                                records.get(e.id, [])) for e in rows]


def _evaluation(uow, actor: Actor, evaluation_id: int):
    row = uow.performance.get(evaluation_id)
    if row is None:
        raise NotFound(f"There is no performance evaluation {evaluation_id}.")
    check_visible(actor, uow.tenders.by_id(row.tender_id))
    return row


def get_evaluation(ctx: ServiceContext, actor: Actor, evaluation_id: int) -> dict:
    require_role(actor, PERFORMANCE_READERS, "read performance evaluations")
    with ctx.uow(write=False) as uow:
        return resources(uow, [_evaluation(uow, actor, evaluation_id)])[0]


def list_evaluations(ctx: ServiceContext, actor: Actor, f: PerformanceFilter) -> dict:
    """Newest first: the regulator's review queue (``status=submitted``), the
    tenderee's own list. A ``tender`` filter naming another tenderee's tender, or a
    tender of a sector the regulator does not hold, is 403 like reading one of its
    evaluations (step 10); a code no tender has lists nothing."""
    require_role(actor, PERFORMANCE_READERS, "read performance evaluations")
    sectors = visible_sectors(actor, f.sector)
    tenderee = actor.uscc if actor.role == "tenderee" else None
    with ctx.uow(write=False) as uow:
        tender_id = None
        if f.tender is not None:
            tender = uow.tenders.by_code(f.tender)
            if tender is None:
                return {"items": [], "next": None}
            check_visible(actor, tender)
            tender_id = tender.id
        rows, next_ = page(uow.performance.page(
            sectors=sectors, status=f.status, tender_id=tender_id, tenderee=tenderee,
            limit=f.limit + 1, before=f.after), f.limit, lambda e: e.id)
        return {"items": resources(uow, rows), "next": next_}


def list_contracts(ctx: ServiceContext, actor: Actor, f: ContractFilter) -> dict:
    """GET /contracts (§2): awarded tenders with their status, newest award first; the
    overdue (``status=overdue``) village projects first."""
    require_role(actor, PERFORMANCE_READERS, "read contracts")
    sectors = visible_sectors(actor, f.sector)
    tenderee = f.tenderee
    if actor.role == "tenderee":
        if tenderee is not None and tenderee != actor.uscc:
            raise Forbidden("A tenderee lists its own contracts only.")
        tenderee = actor.uscc
    d, today = definition(ctx), ctx.today()
    # §2: the overdue are "what a regulator chases, village projects first".
    village_first = f.status == "overdue"
    with ctx.uow(write=False) as uow:
        rows, next_ = page(uow.performance.contracts(
            today=today, overdue_after_days=d.overdue_after_days, sectors=sectors,
            status=f.status, village=f.village, tenderee=tenderee, winner=f.winner,
            limit=f.limit + 1, before=f.after, village_first=village_first),
            f.limit, lambda ta: contract_cursor(*ta, village_first))
        items = contracts(uow, d, rows, today)
    return {"items": items, "next": next_}


def contracts(uow, d: perf.PerformanceDefinition, rows: list, today: date) -> list[dict]:
    """Contract resources of (tender, award) pairs."""
    ids = [t.id for t, _ in rows]
    finals = uow.performance.approved_finals(ids)
    children = uow.tenders.children(ids)
    out = []
    for t, award in rows:
        bids = one(children, t.id)["bids"]
        name = next((b.bidder_name for b in bids if b.bidder_uscc == award.winner_uscc), None)
        final = finals.get(t.id, (None, None))[0]
        status = perf.contract_status(d, award.completion_due, final is not None, today)
        out.append(contract_resource(t, award, name, final, status))
    return out


# ------------------------------------------------------------------ §3 submission

def _state(evaluations: list, reviews: dict, code: str) -> None:
    """Step 11: one evaluation under review at a time; none after an approved final."""
    for e in evaluations:
        status = evaluation_status(reviews.get(e.id))
        if status == "approved" and e.kind == "final":
            raise Conflict(f"Tender {code!r} has an approved final evaluation "
                           f"({e.id}): none may follow.", error="contract_completed")
        if status == "submitted":
            raise Conflict(f"Evaluation {e.id} of tender {code!r} awaits its review.",
                           error="review_pending")


def _against_award(award, data: dict, code: str) -> None:
    """Step 11a, then 12: the tender is awarded; its dates are not before the award."""
    if award is None:
        raise RuleViolation(f"Tender {code!r} is not awarded: there is no contract to "
                            "evaluate.", error="not_awarded")
    field = "completed_on" if data["kind"] == "final" else "period_end"
    if data[field] < award.awarded_on:
        raise InvalidInput(f"{field} must not be before {award.awarded_on}, the award.",
                           errors={field: [f"must not be before {award.awarded_on}, the "
                                           "date of the award (awarded_on)."]})


def plan_evaluation(ctx: ServiceContext, uow, actor: Actor, code: str, raw):
    """Every check of a submission in the order of API.md §1 (role, 8, 9, 10, 11, 11a,
    12) and L with its rating: ``(definition, tender, data, scored)``; writes nothing."""
    require_role(actor, ("tenderee",), "submit performance evaluations")
    d = definition(ctx)
    data = validate_performance(raw, d, ctx.today())
    tender = tender_row(uow, code)
    check_own_tender(actor, tender)
    evaluations = uow.performance.of_tenders([tender.id]).get(tender.id, [])
    _state(evaluations, uow.performance.reviews(e.id for e in evaluations), code)
    _against_award(uow.tenders.awards([tender.id]).get(tender.id), data, code)
    return d, tender, data, perf.evaluation_score(d, data["deductions"])


def preview_evaluation(ctx: ServiceContext, actor: Actor, code: str, raw) -> dict:
    """The console's confirmation step: L, the rating and what an approval would do,
    after every check; writes nothing."""
    with ctx.uow(write=False) as uow:
        d, tender, data, scored = plan_evaluation(ctx, uow, actor, code, raw)
    effects = perf.approval_effects(d, data["kind"], scored.rating,
                                    data["project_manager_on_site"],
                                    [x.item for x in data["deductions"]])
    return {"tender": tender.code, "name": tender.name, "data": data,
            "score": fmt(scored.score), "rating": scored.rating,
            "record_code": effects.record_code,
            "warning": effects.warning.code if effects.warning else None,
            "indicators": d.indicators, "bands": d.bands}


def submit_evaluation(ctx: ServiceContext, actor: Actor, code: str, raw,
                      idem: IdempotentRequest | None = None) -> Outcome:
    """POST /tenders/{code}/performance (§3): stored as ``submitted`` (201)."""
    require_role(actor, ("tenderee",), "submit performance evaluations")
    def write(uow) -> str:
        d, tender, data, scored = plan_evaluation(ctx, uow, actor, code, raw)
        return _store_evaluation(uow, actor, d, tender, data, scored, idem)

    return idempotent_write(ctx, actor, idem, 201, write)


def _store_evaluation(uow, actor: Actor, d, tender, data: dict, scored,
                      idem: IdempotentRequest | None) -> str:
    """The row and its ``performance.submitted`` entry (with L's steps)."""
    at = uow.audit.next_at()
    row = PerformanceEvaluationRow(
        id=uow.performance.next_id(), tender_id=tender.id, sector=tender.sector,
        kind=data["kind"], period_end=data["period_end"], completed_on=data["completed_on"],
        deductions=canonical.dumps([{"item": x.item, "points": fmt(x.points), "note": x.note}
                                    for x in data["deductions"]]),
        project_manager_on_site=data["project_manager_on_site"], score=fmt(scored.score),
        rating=scored.rating, definition=d.ref, definition_sha256=d.sha256,
        submitted_by=actor.name, submitted_at=format_instant(at),
        audit_position=uow.audit.next_position())
    uow.performance.add(row)
    text = present(PERFORMANCE, evaluation_resource(row, tender.code, None, []))
    uow.audit.append("performance.submitted", actor.name, {
        "evaluation": {"id": row.id, "tender": tender.code, "tender_id": tender.id,
                       "kind": row.kind, "score": row.score, "rating": row.rating},
        "definition": {"ref": d.ref, "sha256": d.sha256},
        "steps": [s.as_json() for s in scored.steps],
        "rows": rows_digest({"performance_evaluations": [row]}),
        **remember(uow, idem, 201, text, row.audit_position)}, at=at)
    return text


# ------------------------------------------------------------------ §4 review

@dataclass
class ReviewPlan:
    evaluation: object
    tender: object
    data: dict
    effects: perf.ApprovalEffects | None
    records: list[dict]
    bid: int | None


def _winning_bid(uow, tender) -> tuple[int | None, list[tuple[str, str]]]:
    """The winning bid's position and its parties (USCC, name in the tender)."""
    award = uow.tenders.awards([tender.id])[tender.id]
    parties = bid_parties(one(uow.tenders.children([tender.id]), tender.id))
    for n, bid in sorted(parties.items()):
        if bid["bidder"] == award.winner_uscc:
            return n, party_names(bid)
    return None, []


def plan_review(ctx: ServiceContext, uow, actor: Actor, evaluation_id: int, raw
                ) -> ReviewPlan:
    """Every check of a review in the order of API.md §1 and what an approval does;
    writes nothing."""
    if actor.role != "regulator":
        raise Forbidden("Only the regulator of the tender's sector reviews an evaluation.")
    data = validate_review(raw, definition(ctx), ctx.today())
    e = _evaluation(uow, actor, evaluation_id)
    if uow.performance.reviews([e.id]):
        raise Conflict(f"Evaluation {e.id} is already reviewed.", error="already_reviewed")
    if data["reviewed_on"] < e.period_end:
        raise InvalidInput(f"reviewed_on must not be before {e.period_end}.", errors={
            "reviewed_on": [f"must not be before {e.period_end}, the evaluation's "
                            f"{'completed_on' if e.kind == 'final' else 'period_end'}."]})
    tender = uow.tenders.by_id(e.tender_id)
    if data["action"] != "approve":
        return ReviewPlan(e, tender, data, None, [], None)
    d = definition(ctx, e.definition)
    items = [x["item"] for x in json.loads(e.deductions)]
    effects = perf.approval_effects(d, e.kind, e.rating, e.project_manager_on_site, items)
    n, parties = _winning_bid(uow, tender)
    records = []
    if effects.record_code is not None:
        if effects.record_code not in ctx.models.active.catalogue:
            raise RuleViolation(f"The active scoring model does not know "
                                f"{effects.record_code}: the approval cannot create its "
                                "records.", error="not_in_model")
        records = [{"uscc": uscc, "subject_name": name, "sector": tender.sector,
                    "code": effects.record_code, "decided_on": data["reviewed_on"],
                    "document_no": d.document_no(tender.code, e.id),
                    "issued_by": actor.name, "project_code": tender.code,
                    "valid_until": None, "source_performance": e.id}
                   for uscc, name in parties]
    if records:  # last: it refuses only what every check above lets through
        check_issuer(actor)
    return ReviewPlan(e, tender, data, effects, records, n)


def preview_review(ctx: ServiceContext, actor: Actor, evaluation_id: int, raw) -> dict:
    """The console's confirmation step of a review: the evaluation, the records an
    approval would create and whether it raises the warning; writes nothing."""
    with ctx.uow(write=False) as uow:
        plan = plan_review(ctx, uow, actor, evaluation_id, raw)
        evaluation = resources(uow, [plan.evaluation])[0]
    catalogue = ctx.models.active.catalogue
    records = [{**r, "decided_on": r["decided_on"].isoformat(),
                "name": catalogue[r["code"]].name,
                "points": fmt(catalogue[r["code"]].points)} for r in plan.records]
    warning = plan.effects.warning if plan.effects else None
    return {"evaluation": evaluation, "data": plan.data, "records": records,
            "warning": ({"code": warning.code, "name": warning.name,
                         "triggers": list(plan.effects.warning_triggers)}
                        if warning else None)}


def review_evaluation(ctx: ServiceContext, actor: Actor, evaluation_id: int, raw,
                      idem: IdempotentRequest | None = None) -> Outcome:
    """POST /performance/{id}/review (§4): ``performance.reviewed``, then (approve) one
    ``record.created`` per party and the ``warning.raised`` of PM-ABSENT (200)."""
    return idempotent_write(ctx, actor, idem, 200, lambda uow: _store_review(
        ctx, uow, actor, plan_review(ctx, uow, actor, evaluation_id, raw), idem))


def _store_review(ctx: ServiceContext, uow, actor: Actor, plan: ReviewPlan,
                  idem: IdempotentRequest | None) -> str:
    """Under the append lock, in this order: the review row and its entry, the records,
    the warning. The reply names the ids they get (the next ones, in order)."""
    e, effects = plan.evaluation, plan.effects
    first = uow.records.next_id()
    ids = list(range(first, first + len(plan.records)))
    warning_id = uow.warnings.next_id() if effects and effects.warning else None
    at = uow.audit.next_at()
    row = PerformanceReviewRow(
        evaluation_id=e.id, action=plan.data["action"], reason=plan.data["reason"],
        reviewed_on=plan.data["reviewed_on"], warning_id=warning_id, reviewed_by=actor.name,
        reviewed_at=format_instant(at), audit_position=uow.audit.next_position())
    uow.performance.add_review(row)
    text = present(PERFORMANCE, resources(uow, [e], {e.id: ids})[0])
    uow.audit.append("performance.reviewed", actor.name, {
        "review": {"evaluation": e.id, "tender": plan.tender.code, "action": row.action,
                   "reviewed_on": row.reviewed_on.isoformat(), "records": ids,
                   "warning": warning_id},
        "steps": [s.as_json() for s in effects.steps] if effects else [],
        "rows": rows_digest({"performance_reviews": [row]}),
        **remember(uow, idem, 200, text, row.audit_position)}, at=at)
    created = [insert_record(ctx, uow, actor, r)[0].id for r in plan.records]
    if created != ids:  # the reply named other records: never commit it
        raise RuntimeError(f"review of {e.id} created records {created}, not {ids}")
    if warning_id is not None:
        _raise_pm_absent(uow, actor, plan, warning_id)
    return text


def _raise_pm_absent(uow, actor: Actor, plan: ReviewPlan, warning_id: int) -> None:
    """§4.2: the post-award warning on the tender, naming the winning bid, evidence
    ``{"evaluation": id}``; screen 0 (no screen raised it), its definition the
    performance definition (whose confirmation codes apply to its disposal)."""
    e, rule = plan.evaluation, plan.effects.warning
    w = SimpleNamespace(screen=0, code=rule.code, severity=rule.severity, basis=rule.basis,
                        bids=frozenset([plan.bid]), evidence={"evaluation": e.id},
                        parameters={"stage": rule.stage,
                                    "triggers": list(plan.effects.warning_triggers)})
    at = uow.audit.next_at()
    rows = warning_rows(warning_id, plan.tender, SimpleNamespace(ref=e.definition), w,
                        at=format_instant(at), position=uow.audit.next_position())
    stored = rows["warnings"][0]
    uow.audit.append("warning.raised", actor.name, {
        "warning": {"id": warning_id, "tender": plan.tender.code,
                    "tender_id": plan.tender.id, "sector": plan.tender.sector,
                    "definition": e.definition, "screen": 0, "code": rule.code,
                    "severity": rule.severity, "basis": rule.basis, "bids": [plan.bid],
                    "evidence": json.loads(stored.evidence),
                    "parameters": json.loads(stored.parameters)},
        "rows": rows_digest(rows)}, at=at)
    uow.warnings.add(rows["warnings"], rows["warning_bids"])


# ------------------------------------------------------------------ §6 the index

def party_contracts(uow, uscc: str, ids: list[int] | None = None
                    ) -> list[perf.CompletedContract]:
    """The approved final evaluations of contracts where ``uscc`` was a party of the
    winning bid (as known now); ``ids``: the awarded tenders where it is a party of some
    bid, when the caller looked them up already."""
    if ids is None:
        ids = uow.performance.tenders_of_party(uscc)
    if not ids:
        return []
    finals = uow.performance.approved_finals(ids)
    if not finals:
        return []
    tenders = uow.tenders.by_ids(finals)
    awards = uow.tenders.awards(list(finals))
    children = uow.tenders.children(list(finals))
    out = []
    for tender_id, (e, _) in finals.items():
        award = awards[tender_id]
        parties = bid_parties(one(children, tender_id))
        winning = next((b for b in parties.values() if b["bidder"] == award.winner_uscc), None)
        if winning is None or uscc not in {u for u, _ in party_names(winning)}:
            continue
        out.append(perf.CompletedContract(tenders[tender_id].code, Decimal(e.score),
                                          e.rating, Decimal(award.contract_price),
                                          e.completed_on))
    return out


def performance_index(ctx: ServiceContext, uscc: str, as_of: date | None) -> dict:
    """GET /subjects/{uscc}/performance (§6)."""
    as_of = as_of or ctx.today()
    with ctx.uow(write=False) as uow:
        found = perf.performance_index(definition(ctx), party_contracts(uow, uscc), as_of)
    return {"uscc": uscc, **found.as_json()}


def bidder_indexes(ctx: ServiceContext, uow, usccs: list[str], as_of: date
                   ) -> dict[str, Decimal | None]:
    """Each USCC's index as of ``as_of`` (for POST /evaluations, §6)."""
    d = definition(ctx)
    # One query for every bidder's awarded tenders (most bidders have none, and a
    # query each cost about a fifth of a 50-bidder evaluation's CPU).
    ids = uow.performance.tenders_of_parties(usccs)
    return {u: perf.performance_index(d, party_contracts(uow, u, ids.get(u, [])),
                                      as_of).index
            for u in usccs}
