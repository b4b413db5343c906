"""Post-award performance (PERFORMANCE.md §1–§6): the tenderee evaluates its contracts,
the sector's regulator reviews; contracts and evaluations are read by tenderees (their
own), regulators (their sectors), evaluators, auditors and admins; a subject's
performance index is read like its score."""

from flask import g

from api.auth import READERS, own_subject, requires
from api.blueprints import Blueprint, ctx
from api.http import id_after_body, idempotency, json_body, parse_id, path_uscc, read_json, verbatim
from api.schemas import AsOfQuery, ContractQuery, ErrorBody, PerformanceQuery
from credit.services import performance
from credit.services.performance_inputs import PerformanceIn, ReviewIn
from credit.services.performance_resources import (
    ContractPage,
    PerformanceIndexOut,
    PerformanceOut,
    PerformancePage,
)

blp = Blueprint("performance", __name__, url_prefix="/api/v1",
                description="Post-award performance evaluation (标后履约评价) and contracts")

READ = performance.PERFORMANCE_READERS


@blp.route("/tenders/<code>/performance", methods=["POST"])
@blp.doc(**json_body(PerformanceIn, idempotent=True))
@blp.response(201, PerformanceOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("tenderee")
def submit(code):
    """The tenderee's evaluation of how the winner performs the contract (submitted)."""
    body = read_json()
    return verbatim(performance.submit_evaluation(ctx(), g.actor, code, body,
                                                  idempotency(g.actor.token_id, body)))


@blp.route("/performance", methods=["GET"])
@blp.response(200, PerformancePage)
@requires(*READ)  # outside the query parsing: 401/403 before 400
@blp.arguments(PerformanceQuery, location="query", as_kwargs=True)
def index(status, sector, tender, limit, after):
    """Evaluations newest first: the regulator's review queue, the tenderee's own."""
    f = performance.PerformanceFilter(status=status, sector=sector, tender=tender,
                                      limit=limit, after=after)
    return performance.list_evaluations(ctx(), g.actor, f)


@blp.route("/performance/<evaluation_id>", methods=["GET"])
@blp.response(200, PerformanceOut)
@requires(*READ)
def show(evaluation_id):
    """One evaluation with its review."""
    return performance.get_evaluation(ctx(), g.actor, parse_id(evaluation_id, "evaluation"))


@blp.route("/performance/<evaluation_id>/review", methods=["POST"])
@blp.doc(**json_body(ReviewIn, idempotent=True))
@blp.response(200, PerformanceOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("regulator")
@id_after_body("evaluation_id", "evaluation")
def review(evaluation_id):
    """Approve (records, the PM-ABSENT warning) or return a submitted evaluation (403,
    after every other check, for a token whose name, over 100 characters, cannot be the
    records' issued_by)."""
    body = read_json()
    return verbatim(performance.review_evaluation(
        ctx(), g.actor, evaluation_id, body, idempotency(g.actor.token_id, body)))


@blp.route("/contracts", methods=["GET"])
@blp.response(200, ContractPage)
@requires(*READ)
@blp.arguments(ContractQuery, location="query", as_kwargs=True)
def contracts(status, sector, village, tenderee, winner, limit, after):
    """Awarded tenders with their status (in_progress, completed, overdue)."""
    f = performance.ContractFilter(status=status, sector=sector, village=village,
                                   tenderee=tenderee, winner=winner, limit=limit, after=after)
    return performance.list_contracts(ctx(), g.actor, f)


@blp.route("/subjects/<uscc:uscc>/performance", methods=["GET"])
@blp.response(200, PerformanceIndexOut)
@requires(*READERS)
@blp.arguments(AsOfQuery, location="query", as_kwargs=True)
def subject_index(uscc, as_of):
    """The contract-value weighted mean of its approved final evaluations (36 months)."""
    uscc = path_uscc(uscc)
    own_subject(uscc)
    return performance.performance_index(ctx(), uscc, as_of)
