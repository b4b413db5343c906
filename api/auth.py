"""Bearer tokens and roles (API.md §2), checked in the order of API.md §1:
route/method (by Flask's router), then 401, then the role (403), then size limits."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from credit.errors import CreditError, Forbidden
from credit.services.tokens import authenticate

MAX_BODY = 1024 * 1024
MAX_HEADER_LINE = 8 * 1024

READERS = ("regulator", "evaluator", "auditor", "admin", "enterprise")
EVERY_ROLE = READERS + ("platform", "tenderee")  # GET /models: every role (API.md §2)
AUDIT = ("auditor", "admin")


class TooLarge(CreditError):
    status = 413
    error = "payload_too_large"


def check_limits() -> None:
    """413 for a body over 1 MiB or a header line over 8 KiB."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise TooLarge("The request body is larger than 1 MiB.")
    for name, value in request.headers.items():
        if len(name) + 2 + len(value) > MAX_HEADER_LINE:
            raise TooLarge(f"The header {name} is longer than 8 KiB.")
    if len(request.environ.get("RAW_URI") or request.full_path) > MAX_HEADER_LINE:
        raise TooLarge("The request line is longer than 8 KiB.")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip() or None


def requires(*roles: str):
    """Authenticate, then allow only ``roles``; the actor is ``g.actor``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            ctx = current_app.extensions["credit"]
            g.actor = authenticate(ctx, _bearer())
            if g.actor.role not in roles:
                raise Forbidden(f"The role {g.actor.role!r} may not use this route.")
            check_limits()
            return view(*args, **kwargs)

        wrapper.credit_roles = roles
        return wrapper

    return decorate


def public(view):
    """A route anyone may call without a token (health, OpenAPI, public key)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        check_limits()
        return view(*args, **kwargs)

    wrapper.credit_roles = None
    return wrapper


def own_subject(uscc: str) -> None:
    """An enterprise token sees only its own file."""
    actor = g.actor
    if actor.role == "enterprise" and actor.uscc != uscc:
        raise Forbidden("An enterprise token sees only its own enterprise.")
