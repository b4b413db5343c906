"""The public joint-punishment list (失信联合惩戒名单公示, issue 13): no token,
rate-limited per client address (api/ratelimit.py), logs no trace."""

from marshmallow import Schema, fields, validate

from api.auth import public
from api.blueprints import Blueprint, ctx
from api.schemas import ErrorBody, Query, UsccParam
from credit.domain.model import SECTORS
from credit.services import public_list
from credit.services.inputs import Day

blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="Published joint-punishment decisions; no token needed")


class BasisRecord(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "名称 of the code"})
    sector = fields.String(required=True)
    document_no = fields.String(required=True)
    issued_by = fields.String(required=True)
    decided_on = fields.String(required=True, metadata={"format": "date"})
    valid_until = fields.String(required=True, metadata={
        "format": "date", "description": "effective end of publication (公示期)"})


class PublicMeasure(Schema):
    measure = fields.String(required=True, validate=validate.OneOf(
        public_list.PUBLIC_MEASURES))
    until = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    basis = fields.List(fields.Nested(BasisRecord), required=True)


class Punished(Schema):
    uscc = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    measures = fields.List(fields.Nested(PublicMeasure), required=True)


class PunishmentPage(Schema):
    as_of = fields.String(required=True, metadata={"format": "date"})
    items = fields.List(fields.Nested(Punished), required=True)
    next = fields.String(allow_none=True, required=True)


class PunishmentQuery(Query):
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    as_of = Day(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    after = UsccParam(load_default=None)


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
