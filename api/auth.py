"""Bearer tokens and roles (API.md §2), checked in the order of API.md §1:
route/method (by Flask's router), then 401, then the role (403), then size limits."""

from __future__ import annotations

from copy import deepcopy
from functools import wraps

from flask import current_app, g, request

from api.schemas import refuse_unread_query
from credit.errors import ConnectionLost, CreditError, Forbidden
from credit.services.agencies import SCORE_READERS as AGENCY_SCORE_READERS
from credit.services.context import require_own_subject
from credit.services.tokens import authenticate

MAX_BODY = 1024 * 1024
MAX_HEADER_LINE = 8 * 1024

READERS = ("regulator", "evaluator", "auditor", "admin", "enterprise")
EVERY_ROLE = READERS + ("platform", "tenderee")  # GET /models: every role (API.md §2)
AUDIT = ("auditor", "admin")
# GET /traces/{id} (API.md §2): "auditor, admin, and the token that caused the trace" —
# so every role that can be served a score may ask: the subject score and evaluations
# (READERS) and the agency score (PERFORMANCE.md §7). Each still reads only its own
# (credit.services.audit.get_trace).
TRACE_READERS = tuple(dict.fromkeys(AUDIT + READERS + AGENCY_SCORE_READERS))


class TooLarge(CreditError):
    status = 413
    error = "payload_too_large"


_UNPREFIXED = ("CONTENT_TYPE", "CONTENT_LENGTH")


#: The environ key under which ``credit serve``'s workers give a request's longest
#: header line as sent, ``(length, name)`` (api/server.py): gunicorn joins repeated
#: headers into one value.
LONGEST_HEADER_LINE = "credit.longest_header_line"


def check_limits() -> None:
    """413 for a body over 1 MiB or a header line over 8 KiB."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise TooLarge("The request body is larger than 1 MiB.")
    longest = request.environ.get(LONGEST_HEADER_LINE)
    if longest is not None:  # (length, name), measured line by line as sent (credit serve)
        if longest[0] > MAX_HEADER_LINE:
            raise TooLarge(f"The header {longest[1].title()} is longer than 8 KiB.")
    else:
        _check_joined_headers()
    if len(request.environ.get("RAW_URI") or request.full_path) > MAX_HEADER_LINE:
        raise TooLarge("The request line is longer than 8 KiB.")


def _check_joined_headers() -> None:
    """A server that does not measure the lines (the development server, the test
    client): each header's value as the environ holds it."""
    # The WSGI environ itself, not werkzeug's header view (which builds every name):
    # HTTP_X_Y is the header X-Y, as werkzeug names it.
    for key, value in request.environ.items():
        if key.startswith("HTTP_"):
            name_length = len(key) - 5
        elif key in _UNPREFIXED:
            name_length = len(key)
        else:
            continue
        if name_length + 2 + len(value) > MAX_HEADER_LINE:
            name = key[5:] if key.startswith("HTTP_") else key
            raise TooLarge(f"The header {name.replace('_', '-').title()} is longer than "
                           "8 KiB.")


def reads_query(view) -> bool:
    """Whether a view parses a query string (a flask-smorest ``arguments`` in the
    query), read once when the route is declared."""
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", ())
    return any(isinstance(p, dict) and p.get("in") == "query" for p in parameters)


def check_query(takes_query: bool) -> None:
    """A GET (or HEAD) view that parses no query string refuses any parameter: a 400 of
    check 8, after 401, 403 and 413. A write's query string is left alone: its body
    comes first (checks 5–7)."""
    if not takes_query and request.method in ("GET", "HEAD"):  # HEAD: GET, no body
        refuse_unread_query(request)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip() or None


def requires(*roles: str, revocation_in_transaction: bool = False):
    """Authenticate, then allow only ``roles``; the actor is ``g.actor``.

    ``revocation_in_transaction``: a token verified before (services/tokens.py) has its
    revocation checked inside the use case's own transaction instead of one of its own
    (the score route, and a write whose use case runs in ``tokens.write_as``, which
    checks it under the append lock); should the view fail first (a 400, say), the
    revocation is checked before that error goes out, so 401 still comes before
    everything else.

    A connection found dead before anything was committed (ConnectionLost) runs the
    request once more, on a fresh connection."""

    def decorate(view):
        # What to check, fixed when the route is declared.
        checks = (roles, revocation_in_transaction, reads_query(view))

        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return _checked(view, checks, args, kwargs)
            except ConnectionLost:
                return _checked(view, checks, args, kwargs)

        _document_access(wrapper, roles)
        return wrapper

    return decorate


def _checked(view, checks: tuple, args, kwargs):
    roles, defer, takes_query = checks
    ctx = current_app.extensions["credit"]
    secret = _bearer()
    g.actor = authenticate(ctx, secret, defer_revocation=defer)
    if g.actor.role not in roles:
        _confirmed(ctx, secret)
        raise Forbidden(f"The role {g.actor.role!r} may not use this route.")
    try:
        check_limits()
        check_query(takes_query)
        return view(*args, **kwargs)
    except CreditError as exc:
        if exc.status != 401:
            _confirmed(ctx, secret)
        raise


def _confirmed(ctx, secret: str | None) -> None:
    """The full check of a token whose revocation was deferred (raises 401)."""
    if not g.actor.confirmed:
        authenticate(ctx, secret)


def public(view):
    """A route anyone may call without a token (health, OpenAPI, public key)."""

    takes_query = reads_query(view)

    @wraps(view)
    def wrapper(*args, **kwargs):
        check_limits()
        check_query(takes_query)
        return view(*args, **kwargs)

    _document_access(wrapper, None)
    return wrapper


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def _document_access(wrapper, roles: tuple[str, ...] | None) -> None:
    """The route's access rule (API.md §2) in its OpenAPI operation, written from the
    same ``roles`` that :func:`requires` enforces, so the two cannot drift: a bearer
    token (``security``), the roles that may call (``x-roles``) and the 401 and 403 it
    answers otherwise; a public route states that it needs no token (``security: []``).
    flask-smorest merges ``manual_doc`` into the operation, as ``Blueprint.doc`` does;
    the copy leaves the wrapped view's own documentation untouched."""
    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    if roles is None:
        manual["security"] = []
    else:
        manual["security"] = [{"bearer": []}]
        manual["x-roles"] = list(roles)
        responses = manual.setdefault("responses", {})
        responses["401"] = _error_response(
            "Unauthorized: no bearer token, or one that is unknown, expired or revoked.")
        responses["401"]["headers"] = {"WWW-Authenticate": {
            "description": "Bearer (RFC 6750 §3)", "schema": {"type": "string"}}}
        responses["403"] = _error_response(
            f"Forbidden: only {', '.join(roles)} may call this route, each within its "
            "own scope (a regulator's sectors, an enterprise's own USCC, the token that "
            "created an evaluation or caused a trace).")
    wrapper._apidoc = apidoc


def own_subject(uscc: str) -> None:
    """An enterprise token sees only its own file (context.require_own_subject)."""
    require_own_subject(g.actor, uscc)
