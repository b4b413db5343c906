"""Tender-agency evaluation (PERFORMANCE.md §7): the tenderee's rating of its tender's
agency, and the agency score (traced like every served score)."""

from flask import g
from marshmallow import fields, validate

from api.auth import requires
from api.blueprints import Blueprint, ctx
from api.http import idempotency, json_body, logs_a_trace, path_uscc, read_json, verbatim
from api.schemas import ErrorBody, KnownAt, Query
from credit.services import agencies
from credit.services.agency_resources import AgencyRatingIn, AgencyRatingOut, AgencyScoreOut
from credit.services.inputs import Day

blp = Blueprint("agencies", __name__, url_prefix="/api/v1",
                description="Tender agencies (招标代理机构): the tenderees' ratings and the "
                            "agency score")


class AgencyScoreQuery(Query):
    as_of = Day(load_default=None)
    known_at = KnownAt(load_default=None)
    model = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


@blp.route("/tenders/<code>/agency-rating", methods=["POST"])
@blp.doc(**json_body(AgencyRatingIn, idempotent=True))
@blp.response(201, AgencyRatingOut)
@blp.alt_response(400, schema=ErrorBody)
@requires(*agencies.RATERS)
def rate(code):
    """The tender's tenderee rates its agency, once, after the award."""
    body = read_json()
    # Dumped through AgencyRatingOut at creation, and remembered as that text.
    return verbatim(agencies.rate_agency(ctx(), g.actor, code, body,
                                         idempotency(g.actor.token_id, body)))


@blp.route("/agencies/<uscc:uscc>/score", methods=["GET"])
@logs_a_trace
@blp.response(200, AgencyScoreOut)
@requires(*agencies.SCORE_READERS)  # outside the query parsing: 401/403 before 400
@blp.arguments(AgencyScoreQuery, location="query", as_kwargs=True)
def score(uscc, as_of, known_at, model):
    """The agency score, grade and restriction; every call logs its trace."""
    q = agencies.AgencyScoreQuery(uscc=path_uscc(uscc), as_of=as_of, known_at=known_at,
                                  model=model)
    return agencies.agency_score(ctx(), g.actor, q)
