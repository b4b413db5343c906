"""Success responses written from a JSON-ready resource through its schema's projection
(credit/services/projection.py): the score route's body, selected and written once."""

from __future__ import annotations

import orjson
from flask import Response
from marshmallow import Schema

from api.http import JSON_UTF8
from credit.services.projection import projection


class Plain:
    """A success response written from a JSON-ready resource through its schema's
    :func:`projection` (compact JSON, UTF-8, the schema's field order)."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.project = projection(schema)

    def response(self, resource: dict, status: int = 200) -> Response:
        return Response(orjson.dumps(self.project(resource)), status=status,
                        content_type=JSON_UTF8)
