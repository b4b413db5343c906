"""Bid-opening evaluations (API.md §5): frozen forever."""

from flask import g

from api.auth import requires
from api.blueprints import Blueprint, ctx
from api.http import idempotency, json_body, parse_id, read_json, verbatim
from api.schemas import ErrorBody
from credit.services import scoring
from credit.services.inputs import EvaluationInput
from credit.services.resources import EvaluationOut

blp = Blueprint("evaluations", __name__, url_prefix="/api/v1/evaluations",
                description="Snapshots of every bidder's credit at the bid deadline")


@blp.route("", methods=["POST"])
@blp.doc(**json_body(EvaluationInput, idempotent=True))
@blp.response(201, EvaluationOut)
@blp.alt_response(400, schema=ErrorBody)
# Its use case confirms the token under the append lock (tokens.write_as), replay
# included: a transaction of its own for the revocation first would be a second check.
@requires("evaluator", revocation_in_transaction=True)
def create():
    """Score every bidder (consortia by their weakest member) and freeze the result."""
    body = read_json()
    # Dumped through EvaluationOut once, at creation: stored, and sent as that text.
    return verbatim(scoring.create_evaluation(ctx(), g.actor, body,
                                              idempotency(g.actor.token_id, body)))


@blp.route("/<evaluation_id>", methods=["GET"])
@blp.response(200, EvaluationOut)
@requires("evaluator", "auditor", "admin")
def show(evaluation_id):
    """The document exactly as created (a bid protest re-reads it)."""
    return verbatim(scoring.get_evaluation(ctx(), g.actor,
                                           parse_id(evaluation_id, "evaluation")))
