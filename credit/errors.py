"""Failures a client can cause, each with its API error code (API.md §1).

Raised by services, mapped to HTTP in exactly one place (api/errors.py) and to exit
codes by the CLI. Stdlib only, so every layer may raise them.
"""

from __future__ import annotations


class CreditError(Exception):
    """Base: ``status`` (HTTP), ``error`` (code), a sentence, field ``errors`` and extra
    body fields (e.g. ``earliest_repair_on``)."""

    status = 400
    error = "validation_error"

    def __init__(self, message: str, *, error: str | None = None,
                 errors: dict[str, list[str]] | None = None, **extra):
        super().__init__(message)
        self.message = message
        if error:
            self.error = error
        self.errors = errors or {}
        self.extra = extra


class InvalidInput(CreditError):
    status = 400


class Unauthenticated(CreditError):
    status = 401
    error = "unauthenticated"


class Forbidden(CreditError):
    status = 403
    error = "forbidden"


class NotFound(CreditError):
    status = 404
    error = "not_found"


class Conflict(CreditError):
    status = 409


class RuleViolation(CreditError):
    status = 422


class Unavailable(CreditError):
    status = 503
    error = "database_unavailable"


class ConnectionLost(Unavailable):
    """A pooled connection turned out dead before its transaction could commit (the
    server restarted, an idle connection was closed): nothing of the transaction was
    written, so the request may be run once more on a fresh connection (api/auth.py).
    Replaces ``pool_pre_ping``, which cost a round trip on every checkout."""


class IntegrityFailure(CreditError):
    """Stored data no longer matches the hash its audit entry holds (tampering or
    corruption): the service refuses to serve it rather than serve it silently. Not a
    client's doing, hence a 5xx; ``credit audit verify`` locates it."""

    status = 500
    error = "integrity_failure"
