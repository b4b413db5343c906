"""Every failure becomes the error body of API.md §1, here and nowhere else."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from api import console
from api.http import body_text, served_methods
from api.ratelimit import retry_after
from api.schemas import ERROR_BODY
from credit.errors import CreditError

log = logging.getLogger("credit.api")

HTTP_CODES = {
    400: "validation_error", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    414: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "rate_limited", 431: "payload_too_large", 503: "database_unavailable",
}
MESSAGES = {
    404: "There is no such resource.",
    405: "This method is not allowed on this resource.",
    413: "The request is too large (body over 1 MiB or a header line over 8 KiB).",
    429: "Too many requests from this address; try again after Retry-After seconds.",
}


def error_body(status: int, error: str, message: str, errors: dict | None = None,
               **extra) -> dict:
    """The error body, dumped through its schema (api/schemas.ErrorBody): a field the
    schema does not declare is not sent."""
    body = {"code": status, "status": HTTPStatus(status).phrase, "error": error,
            "message": message, "errors": errors or {}}
    body.update(extra)
    return ERROR_BODY.dump(body)


def error_response(status: int, error: str, message: str, errors: dict | None = None,
                   headers: dict | None = None, **extra) -> Response:
    body = error_body(status, error, message, errors, **extra)
    resp = Response(body_text(body), status=status,
                    content_type="application/json; charset=utf-8")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(CreditError)
    def _credit(exc: CreditError):
        if exc.status >= 500:
            # The client gets a generic message; the driver's own error is for the log.
            log.warning("%s %s: %s (%r)", request.method, request.path, exc.message,
                        exc.__cause__)
        if console.is_console_path(request.path):
            return console.error_page(exc.status, exc.message, exc.error)
        # RFC 9110 §11.6.1, RFC 6750 §3: a 401 names the scheme that would be accepted.
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.error, exc.message, exc.errors,
                              headers=headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status in (414, 431):
            status = 413
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(served_methods(exc.valid_methods))
        if status == 429:
            headers["Retry-After"] = str(retry_after())
        message = MESSAGES.get(status) or (exc.description or HTTPStatus(status).phrase)
        if console.is_console_path(request.path):
            return console.error_page(status, message, HTTP_CODES.get(status), headers)
        return error_response(status, HTTP_CODES.get(status, "error"), message,
                              headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # A bug of ours, never the client's input: log it, answer without details.
        log.exception("unexpected error")
        if console.is_console_path(request.path):  # a page, like every console error
            return console.error_page(500, "", "internal_error")
        return error_response(500, "internal_error", "An unexpected error occurred; it has "
                              "been logged.")
