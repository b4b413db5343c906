"""Subjects, scores and the inquiry log (API.md §4)."""

from flask import g

from api.auth import READERS, requires
from api.blueprints import Blueprint, ctx
from api.http import logs_a_trace, path_uscc
from api.schemas import Page, ScoreQuerySchema
from credit.services import audit, scoring, subjects
from credit.services.resources import InquiryPage, ScoreOut, SubjectOut

# One instance for every request: given the class, webargs builds a new schema (a deep
# copy of its fields, ~46 µs) on each of the hottest route's calls. Loading keeps no
# state on the instance (marshmallow 4), as for the response schemas.
SCORE_QUERY = ScoreQuerySchema()

blp = Blueprint("subjects", __name__, url_prefix="/api/v1/subjects",
                description="Enterprises, their scores and who pulled them")


@blp.route("/<uscc:uscc>", methods=["GET"])
@blp.response(200, SubjectOut)
@requires(*READERS)
def show(uscc):
    """Registered name and record counts per sector."""
    return subjects.get_subject(ctx(), path_uscc(uscc), g.actor)


@blp.route("/<uscc:uscc>/score", methods=["GET"])
@logs_a_trace
@blp.response(200, ScoreOut)
@requires(*READERS, revocation_in_transaction=True)  # outside the query parsing: 401/403/413
# come before 400; the token's revocation is checked in the score's own transaction
@blp.arguments(SCORE_QUERY, location="query", as_kwargs=True)
def score(uscc, sector, as_of, known_at, model):
    """Score, grade, eligibility and measures; every call logs its trace."""
    q = scoring.ScoreQuery(uscc=path_uscc(uscc), sector=sector, as_of=as_of,
                           known_at=known_at, model=model)
    return scoring.score(ctx(), g.actor, q)


@blp.route("/<uscc:uscc>/inquiries", methods=["GET"])
@blp.response(200, InquiryPage)
@requires("auditor", "admin", "enterprise")
@blp.arguments(Page, location="query", as_kwargs=True)
def inquiries(uscc, limit, after):
    """Who pulled this enterprise's score, newest first."""
    uscc = path_uscc(uscc)
    return audit.inquiries(ctx(), g.actor, uscc, limit=limit, after=after)
