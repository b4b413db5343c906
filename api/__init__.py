"""The HTTP API (API.md): one app factory, blueprints per resource, one error handler."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import MethodNotAllowed

from api import errors
from api.auth import MAX_BODY

# Routes whose GET logs a trace: HEAD would too, so it is refused (API.md §4).
NO_HEAD = {"subjects.score"}


def create_app(config: dict | None = None) -> Flask:
    """Build the application. ``config`` may carry ``CREDIT_CONTEXT`` (a ready
    ServiceContext, for tests), ``CREDIT_DATABASE_URL``, ``CREDIT_MODEL`` and
    ``SECRET_KEY``; otherwise the environment of API.md §8 is read."""
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Keqiao credit evaluation and joint punishment (两场联动)",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_BODY,
        JSON_AS_ASCII=False,
        SECRET_KEY=os.environ.get("CREDIT_SECRET_KEY"),
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.url_map.strict_slashes = False

    context = app.config.get("CREDIT_CONTEXT")
    if context is None:
        from credit.services.bootstrap import build_context
        context = build_context(app.config.get("CREDIT_DATABASE_URL"),
                                app.config.get("CREDIT_MODEL"))
    app.extensions["credit"] = context

    api = Api(app, spec_kwargs={"info": {"description": "Credit scores, grades and joint "
                                         "punishment for public tendering in Zhejiang."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    from api.blueprints import audit, evaluations, models, records, subjects
    for blp in (records.blp, subjects.blp, evaluations.blp, audit.traces, audit.log,
                models.blp):
        api.register_blueprint(blp)

    @app.before_request
    def _refuse_head():
        if request.method == "HEAD" and request.endpoint in NO_HEAD:
            raise MethodNotAllowed(valid_methods=["GET"])

    errors.register(app)
    return app
