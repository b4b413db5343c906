"""Read models of the console's performance pages (PERFORMANCE.md §2–§4): a tenderee's
contracts with the evaluations due (应填报的履约评价), and the evaluation form's
indicators. Nothing here writes.

"Due" is a console hint, not a rule of the specification: a contract that is not
completed, has no evaluation awaiting review, and is overdue (§2) or was last evaluated
— any evaluation not returned — more than ``DUE_AFTER_DAYS`` days ago (a quarter), or
never."""

from __future__ import annotations

from datetime import timedelta

from .context import Actor, ServiceContext
from .performance import ContractFilter, check_own_tender, definition, list_contracts
from .performance_resources import evaluation_status
from .tenders import tender_row

DUE_AFTER_DAYS = 90


def _progress(evaluations: list, reviews: dict, contract: dict, today) -> dict:
    pending = next((e.id for e in evaluations if reviews.get(e.id) is None), None)
    counted = [e for e in evaluations if evaluation_status(reviews.get(e.id)) != "returned"]
    last = max((e.period_end for e in counted), default=None)
    due = contract["status"] != "completed" and pending is None and (
        contract["status"] == "overdue" or last is None
        or last < today - timedelta(days=DUE_AFTER_DAYS))
    return {"pending": pending, "last_period_end": last.isoformat() if last else None,
            "evaluations": len(evaluations), "due": due}


def contracts_page(ctx: ServiceContext, actor: Actor, f: ContractFilter) -> dict:
    """GET /contracts' page, each contract with ``pending`` (the evaluation awaiting
    review), ``last_period_end``, ``evaluations`` (count) and ``due``."""
    page = list_contracts(ctx, actor, f)
    today = ctx.today()
    with ctx.uow(write=False) as uow:
        ids = {c["tender"]: uow.tenders.by_code(c["tender"]).id for c in page["items"]}
        evaluations = uow.performance.of_tenders(ids.values())
        reviews = uow.performance.reviews(e.id for rows in evaluations.values() for e in rows)
    items = [{**c, **_progress(evaluations.get(ids[c["tender"]], []), reviews, c, today)}
             for c in page["items"]]
    return {"items": items, "next": page["next"]}


def form_definition(ctx: ServiceContext):
    """The active performance definition (the form's indicators, maxima and bands)."""
    return definition(ctx)


def evaluation_form(ctx: ServiceContext, actor: Actor, code: str):
    """The empty evaluation form of a tender, for the tenderee that tendered it only (404
    for an unknown tender, 403 ``forbidden`` for another's, as submitting it would
    answer): the active definition."""
    with ctx.uow(write=False) as uow:
        check_own_tender(actor, tender_row(uow, code))
    return definition(ctx)
