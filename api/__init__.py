"""The HTTP API (API.md): one app factory, blueprints per resource, one error handler."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from api import auth, console, errors, ratelimit
from api.console.access import SessionCookies
from api.http import ResponseJSON, UsccConverter, refuse_head, uscc_parameter
from api.schemas import ErrorBody

#: flask-smorest's endpoint of the OpenAPI document.
OPENAPI_ENDPOINT = "api-docs.openapi_json"


class CreditApi(Api):
    """flask-smorest's Api documenting this service's own error body as the default
    response of every operation."""

    ERROR_SCHEMA = ErrorBody


def create_app(config: dict | None = None) -> Flask:
    """Build the application. ``config`` may carry ``CREDIT_CONTEXT`` (a ready
    ServiceContext, for tests), ``CREDIT_DATABASE_URL``, ``CREDIT_MODEL`` and
    ``SECRET_KEY``, ``CREDIT_RATE_LIMIT_STORAGE``, ``CREDIT_RATE_LIMIT_PUBLIC`` and
    ``CREDIT_RATE_LIMIT_SIGNIN``; otherwise the environment of API.md §8 is read."""
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Keqiao credit evaluation and joint punishment (两场联动)",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        # Body size is enforced by api.auth.check_limits / api.http.read_body, after
        # authentication, as the order of checks of API.md §1 requires.
        MAX_CONTENT_LENGTH=None,
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    app.json = ResponseJSON(app)  # how dumped responses are written (api/http.py)
    app.session_interface = SessionCookies()
    app.url_map.strict_slashes = False
    # A path with "//" is no route (a JSON 404, API.md §1 check 1), not werkzeug's HTML
    # 308 to the merged path, which no error handler sees and whose Location is built
    # from the client's Host header.
    app.url_map.merge_slashes = False

    _attach_context(app)
    _register_api(app)
    app.register_blueprint(console.bp)
    # After the console's blueprint: the limits wrap console views too.
    ratelimit.install(app, app.extensions["credit_settings"])
    _register_hooks(app)
    errors.register(app)
    return app


def _attach_context(app: Flask) -> None:
    """The service context and its settings: the context's, with what the app's own
    config names explicitly (tests) taking precedence (one settings object,
    credit.settings)."""
    context = app.config.get("CREDIT_CONTEXT")
    if context is None:
        from credit.services.bootstrap import build_context
        context = build_context(app.config.get("CREDIT_DATABASE_URL"),
                                app.config.get("CREDIT_MODEL"))
    settings = context.settings.with_(
        secret_key=app.config.get("SECRET_KEY"),
        signing_key_path=app.config.get("CREDIT_SIGNING_KEY"),
        rate_limit_storage=app.config.get("CREDIT_RATE_LIMIT_STORAGE"),
        rate_limit_public=app.config.get("CREDIT_RATE_LIMIT_PUBLIC"),
        rate_limit_signin=app.config.get("CREDIT_RATE_LIMIT_SIGNIN"))
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions["credit"] = context
    app.extensions["credit_settings"] = settings


def _register_api(app: Flask) -> None:
    """The /api/v1 blueprints and their OpenAPI document."""
    api = CreditApi(app, spec_kwargs={"info": {"description": "Credit scores, grades and joint "
                                         "punishment for public tendering in Zhejiang."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    app.url_map.converters["uscc"] = UsccConverter
    api.register_converter(UsccConverter, uscc_parameter)
    from api.blueprints import (
        agencies,
        applications,
        audit,
        checkpoints,
        evaluations,
        models,
        performance,
        public,
        records,
        subjects,
        tenders,
        warnings,
    )
    for blp in (records.blp, subjects.blp, evaluations.blp, audit.traces, audit.log,
                models.blp, checkpoints.blp, applications.blp, public.blp, tenders.blp,
                warnings.blp, agencies.blp, performance.blp):
        api.register_blueprint(blp)
    # The OpenAPI document is a public route like /health: the same limits on headers
    # and query parameters (flask-smorest registers its view itself).
    app.view_functions[OPENAPI_ENDPOINT] = auth.public(app.view_functions[OPENAPI_ENDPOINT])


def _register_hooks(app: Flask) -> None:
    # Routes whose GET logs a trace (marked logs_a_trace): HEAD would too (API.md §4).
    app.before_request(refuse_head)

    @app.after_request
    def _charset(response):
        # Every JSON document (the OpenAPI one included) says it is UTF-8 (API.md §1).
        if response.mimetype == "application/json" and "charset" not in response.content_type:
            response.content_type = "application/json; charset=utf-8"
        return response
