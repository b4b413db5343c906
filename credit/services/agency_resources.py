"""Tender-agency evaluation (PERFORMANCE.md §7): the rating's request shape and the
rating and agency-score resources as served — the one shape of each (dumped through
these schemas, and the OpenAPI document generated from them), like resources.py."""

from __future__ import annotations

from marshmallow import fields

from .inputs import Day, OptionalText, Strict
from .resources import ModelRef, Resource, day, decimal, instant, sha256

SERVICE = {"type": "string", "pattern": r"^\d+\.\d{4}$", "example": "82.5000"}


class AgencyRatingIn(Strict):
    """POST /tenders/{code}/agency-rating: the tenderee's rating of the tender's agency
    (each item a string with two decimals, 0 ≤ points ≤ the item's maximum)."""

    rated_on = Day(required=True)
    items = fields.Dict(required=True, metadata={
        "description": "documents (max 30), procedure (30), service (20), archive (20): "
                       "two-decimal strings",
        "example": {"documents": "27.00", "procedure": "30.00", "service": "16.50",
                    "archive": "18.00"}})
    note = OptionalText(max_len=500)


class AgencyRef(Resource):
    uscc = fields.String(required=True)
    name = fields.String(required=True)


class AgencyRatingOut(Resource):
    tender = fields.String(required=True)
    agency = fields.Nested(AgencyRef, required=True)
    rated_on = day(required=True)
    items = fields.Dict(keys=fields.String(), values=decimal(), required=True)
    total = decimal(required=True)
    note = fields.String(required=True, allow_none=True)
    rated_by = fields.String(required=True)
    at = instant(required=True)


class AgencyComponents(Resource):
    """A (the service part, half-up to four decimals for reading) and R (conduct)."""

    service = fields.String(required=True, metadata=SERVICE)
    conduct = decimal(required=True)


class AgencyScoreOut(Resource):
    uscc = fields.String(required=True)
    as_of = day(required=True)
    known_at = instant(required=True)
    model = fields.Nested(ModelRef, required=True)
    score = decimal(required=True)
    grade = fields.String(required=True)
    restricted = fields.Boolean(required=True)
    until = day(required=True, allow_none=True)
    components = fields.Nested(AgencyComponents, required=True)
    ratings_used = fields.Integer(required=True)
    trace_id = fields.Integer(required=True)
    trace_sha256 = sha256(required=True)


RATING = AgencyRatingOut()
RATING_INPUT = AgencyRatingIn()
