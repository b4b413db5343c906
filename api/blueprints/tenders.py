"""Tenders (WARNINGS.md §2, §3, §5): the trading platform registers and awards them;
platform, evaluators, auditors, admins and the sector's regulators read them."""

from flask import g

from api.auth import requires
from api.blueprints import Blueprint, ctx
from api.http import idempotency, json_body, read_json, verbatim
from api.schemas import ErrorBody, TenderQuery
from credit.services import tenders
from credit.services.resources import RegisteredTenderOut, RegisteredTenderPage
from credit.services.tender_inputs import AwardIn, TenderIn

blp = Blueprint("tenders", __name__, url_prefix="/api/v1/tenders",
                description="Tenders and their bids, registered by the trading platform "
                            "at bid opening (开标)")

@blp.route("", methods=["POST"])
@blp.doc(**json_body(TenderIn, idempotent=True))
@blp.response(201, RegisteredTenderOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("platform")
def create():
    """Register a tender with every bid; the screens run and raise their warnings."""
    body = read_json()
    # Dumped through RegisteredTenderOut at creation, and remembered as that text.
    return verbatim(tenders.register_tender(ctx(), g.actor, body,
                                            idempotency(g.actor.token_id, body)))


@blp.route("", methods=["GET"])
@blp.response(200, RegisteredTenderPage)
@requires(*tenders.TENDER_READERS)  # outside the query parsing: 401/403 before 400
@blp.arguments(TenderQuery, location="query", as_kwargs=True)
def index(sector, from_, to, bidder, limit, after, agency):
    """Tenders newest first, by sector, opening date, party and agency."""
    f = tenders.TenderFilter(sector=sector, opened_from=from_, opened_to=to, bidder=bidder,
                             limit=limit, after=after, agency=agency)
    return tenders.list_tenders(ctx(), g.actor, f)


@blp.route("/<code>", methods=["GET"])
@blp.response(200, RegisteredTenderOut)
@requires(*tenders.TENDER_READERS)
def show(code):
    """One tender with its bids (personal data masked), award and warnings."""
    return tenders.get_tender(ctx(), g.actor, code)


@blp.route("/<code>/award", methods=["POST"])
@blp.doc(**json_body(AwardIn, idempotent=True))
@blp.response(200, RegisteredTenderOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("platform")
def award(code):
    """Award the tender (中标) to the bidder of a valid bid, once."""
    body = read_json()
    return verbatim(tenders.award_tender(ctx(), g.actor, code, body,
                                         idempotency(g.actor.token_id, body)))
