"""The resources of post-award performance as served (PERFORMANCE.md §2–§4, §6): the
marshmallow schemas every response is dumped through (the one source of truth of their
shape, like credit/services/resources.py) and the functions building them from rows."""

from __future__ import annotations

import json

from marshmallow import fields, validate

from credit.domain.model import SECTORS
from credit.domain.performance import CONTRACT_STATUSES, EVALUATION_KINDS, RATINGS
from credit.persistence.performance_repository import EVALUATION_STATUSES

from .performance_inputs import REVIEW_ACTIONS
from .resources import PartyOut, Resource, amount, cursor, day, decimal, instant

_STATUS = {"approve": "approved", "return": "returned"}


# ------------------------------------------------------------------ schemas

class DeductionOut(Resource):
    item = fields.String(required=True)
    points = decimal(required=True)
    note = fields.String(required=True)


class ReviewOut(Resource):
    action = fields.String(required=True, validate=validate.OneOf(REVIEW_ACTIONS))
    reason = fields.String(required=True)
    reviewed_on = day(required=True)
    by = fields.String(required=True)
    at = instant(required=True)
    records = fields.List(fields.Integer(), required=True, metadata={
        "description": "the records the approval created (PERF-EXCELLENT / PERF-FAIL)"})
    warning = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the PM-ABSENT warning the approval raised, or null"})
    audit_position = fields.Integer(required=True)


class PerformanceOut(Resource):
    """A performance evaluation (PERFORMANCE.md §3) with its review (§4)."""

    id = fields.Integer(required=True)
    tender = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    kind = fields.String(required=True, validate=validate.OneOf(EVALUATION_KINDS))
    period_end = day(required=True)
    completed_on = day(required=True, allow_none=True)
    deductions = fields.List(fields.Nested(DeductionOut), required=True)
    project_manager_on_site = fields.Boolean(required=True)
    score = decimal(required=True)
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    status = fields.String(required=True, validate=validate.OneOf(EVALUATION_STATUSES))
    definition = fields.String(required=True)
    submitted_by = fields.String(required=True)
    submitted_at = instant(required=True)
    audit_position = fields.Integer(required=True)
    review = fields.Nested(ReviewOut, required=True, allow_none=True)


class PerformancePage(Resource):
    items = fields.List(fields.Nested(PerformanceOut), required=True)
    next = cursor()


class ContractOut(Resource):
    """An awarded tender as a contract (PERFORMANCE.md §2)."""

    tender = fields.String(required=True)
    name = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    village = fields.Boolean(required=True)
    tenderee = fields.Nested(PartyOut, required=True)
    winner = fields.Nested(PartyOut, required=True)
    contract_price = amount(required=True)
    awarded_on = day(required=True)
    completion_due = day(required=True)
    end = day(required=True, metadata={
        "description": "completed_on of the approved final evaluation, else completion_due"})
    status = fields.String(required=True, validate=validate.OneOf(CONTRACT_STATUSES))


class ContractPage(Resource):
    items = fields.List(fields.Nested(ContractOut), required=True)
    next = cursor()


class CompletedContractOut(Resource):
    tender = fields.String(required=True)
    score = decimal(required=True, metadata={"description": "L of its final evaluation"})
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    contract_price = amount(required=True)
    completed_on = day(required=True)


class PerformanceIndexOut(Resource):
    """PERFORMANCE.md §6."""

    uscc = fields.String(required=True)
    as_of = day(required=True)
    index = decimal(required=True, allow_none=True, metadata={
        "description": "Σ(L·contract price) / Σ contract price, half-up to two decimals; "
                       "null with no approved final evaluation in the window"})
    count = fields.Integer(required=True)
    contracts = fields.List(fields.Nested(CompletedContractOut), required=True)


PERFORMANCE = PerformanceOut()


# ------------------------------------------------------------------ builders

def evaluation_status(review) -> str:
    return "submitted" if review is None else _STATUS[review.action]


def review_resource(review, records: list[int]) -> dict | None:
    if review is None:
        return None
    return {"action": review.action, "reason": review.reason,
            "reviewed_on": review.reviewed_on.isoformat(), "by": review.reviewed_by,
            "at": review.reviewed_at, "records": list(records), "warning": review.warning_id,
            "audit_position": review.audit_position}


def evaluation_resource(e, tender_code: str, review, records: list[int]) -> dict:
    return {
        "id": e.id, "tender": tender_code, "sector": e.sector, "kind": e.kind,
        "period_end": e.period_end.isoformat(),
        "completed_on": e.completed_on.isoformat() if e.completed_on else None,
        "deductions": json.loads(e.deductions),
        "project_manager_on_site": e.project_manager_on_site, "score": e.score,
        "rating": e.rating, "status": evaluation_status(review), "definition": e.definition,
        "submitted_by": e.submitted_by, "submitted_at": e.submitted_at,
        "audit_position": e.audit_position, "review": review_resource(review, records),
    }


def contract_resource(t, award, winner_name: str | None, final, status: str) -> dict:
    """``final``: the approved final evaluation row, or None."""
    end = final.completed_on if final is not None else award.completion_due
    return {
        "tender": t.code, "name": t.name, "sector": t.sector, "village": t.village,
        "tenderee": {"uscc": t.tenderee_uscc, "name": t.tenderee_name},
        "winner": {"uscc": award.winner_uscc, "name": winner_name or award.winner_uscc},
        "contract_price": award.contract_price, "awarded_on": award.awarded_on.isoformat(),
        "completion_due": award.completion_due.isoformat(), "end": end.isoformat(),
        "status": status,
    }
