"""The public joint-punishment list (失信联合惩戒名单公示, issue 13): no token,
rate-limited per client address (api/ratelimit.py), logs no trace."""

from api.auth import public
from api.blueprints import Blueprint, ctx
from api.schemas import ErrorBody, PunishmentQuery
from credit.services import public_list
from credit.services.resources import PunishmentPage

blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="Published joint-punishment decisions; no token needed")


@blp.route("/punishments", methods=["GET"])
@blp.response(200, PunishmentPage)
@blp.alt_response(429, schema=ErrorBody, headers={"Retry-After": {
    "description": "seconds until the client address may ask again",
    "schema": {"type": "integer"}}})
@public
@blp.arguments(PunishmentQuery, location="query", as_kwargs=True)
def punishments(sector, as_of, limit, after):
    """Every enterprise under a blacklist or bid ban on ``as_of`` (default today) with
    the decisions it rests on; ``sector`` keeps those with a basis record there."""
    q = public_list.PublicQuery(sector=sector, as_of=as_of, limit=limit, after=after)
    return public_list.punishments(ctx(), q)
