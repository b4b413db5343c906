"""Who is signed in to the console, and CSRF.

The session cookie (Flask's, signed with ``SECRET_KEY`` = CREDIT_SECRET_KEY) holds
``tid`` (the token's id), ``exp`` (when the sign-in lapses) and ``csrf`` (a random
per-session value every POST form echoes). The token's secret is only read from the
sign-in form and never stored. Each request resolves the actor again from the id, so a
revoked or expired token ends its sessions at once.

**Signing out ends the session on the server** (issue 9 item 4). A signed cookie is
valid wherever it is replayed until ``exp``, so clearing it in the browser is not enough.
The design: every sign-in starts a session with a fresh random ``csrf`` value (256 bits
from ``secrets``), which also serves as the session's id — it is unique per sign-in,
never reused, and the cookie keeps no other field. Sign-out records the SHA-256 of that
id in the append-only ``ended_sessions`` table (with a ``session.ended`` audit entry,
credit.services.sessions), and every request checks it: one primary-key look-up in the
read transaction that already loads the token, so the cost per request is one indexed
query. A replayed old cookie then reads as signed out. Chosen over a per-token session
generation, which would also sign out every other person using the same token (a
regulator's office shares one), and over server-side session storage, which would add
a write to every sign-in and state to every request.
"""

from __future__ import annotations

import hmac
import secrets
import time
import unicodedata
from functools import wraps
from urllib.parse import unquote, urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import AUDIT, READERS, TRACE_READERS  # noqa: F401 - the API's role groups
from api.console import SECURITY_HEADERS, bp
from credit.domain.storable_text import unstorable
from credit.errors import CreditError, Forbidden, InvalidInput, Unauthenticated
from credit.services.sessions import end_session, session_actor
from credit.services.tokens import authenticate

SIGN_IN_HOURS = 8
# A console form is a few kilobytes; refuse anything bigger before parsing it (the app
# itself sets no MAX_CONTENT_LENGTH: the API checks sizes after authentication).
MAX_FORM_BODY = 64 * 1024


class CsrfRefused(CreditError):
    status = 400
    error = "csrf_failed"


class SecretKeyMissing(CreditError):
    status = 503
    error = "secret_key_missing"


def ctx():
    return current_app.extensions["credit"]


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def sign_in(secret: str):
    """Authenticate the token (API.md §2 rules) and start a fresh session holding only
    its id; raises Unauthenticated."""
    actor = authenticate(ctx(), (secret or "").strip() or None)
    # Signed in over a live session (another clerk, the same browser): that session
    # ends on the server too, or a copy of its cookie would outlive the one that held it.
    _end_this_session()
    session["tid"] = actor.token_id
    session["exp"] = int(time.time()) + SIGN_IN_HOURS * 3600
    # A new one: no fixation across sign-in; also the session's id (see above).
    session["csrf"] = secrets.token_urlsafe(32)
    return actor


def sign_out() -> None:
    """End this session on the server (its cookie is refused from now on), then clear
    the cookie."""
    _end_this_session()


def _end_this_session() -> None:
    if g.get("actor") is not None and session.get("csrf"):
        try:
            end_session(ctx(), g.actor, session["csrf"])
        except Unauthenticated:
            pass  # its token was revoked meanwhile: the session is over, nothing logged
    session.clear()


def _current_actor():
    tid = session.get("tid")
    if tid is None:
        return None
    if int(session.get("exp") or 0) < time.time():
        session.clear()
        return None
    try:
        return session_actor(ctx(), tid, session.get("csrf"))
    except Unauthenticated:
        session.clear()
        return None


def _refuse_oversized_form() -> None:
    """413 for a form over MAX_FORM_BODY, before it is parsed. A chunked body has no
    Content-Length: at most one byte over the limit is read (and kept for the form
    parser), since werkzeug's own limit would silently truncate the form instead."""
    if request.content_length is not None:
        if request.content_length > MAX_FORM_BODY:
            raise RequestEntityTooLarge()
        return
    request.max_content_length = MAX_FORM_BODY + 1
    if len(request.get_data(cache=True)) > MAX_FORM_BODY:
        raise RequestEntityTooLarge()


def _unstorable_address() -> str | None:
    """What in the page's address (its path, or a query parameter's name or value) is
    text the service cannot store (credit/domain/storable_text.py), or None."""
    texts = [request.path, *(k + v for k, v in request.args.items(multi=True))]
    return next(filter(None, map(unstorable, texts)), None)


@bp.before_request
def _load_actor_and_check_csrf():
    # (A HEAD on a page that serves scores was refused already: api.http.logs_a_trace.)
    problem = _unstorable_address()
    if problem:
        # No page takes it, and PostgreSQL refuses to compare text with U+0000 (a 500).
        raise InvalidInput(f"The address contains {problem}, which no page accepts.")
    if request.method == "POST":
        _refuse_oversized_form()
    if not current_app.secret_key:
        raise SecretKeyMissing("CREDIT_SECRET_KEY is not set: console sessions cannot be "
                               "signed.")
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRefused("The form's CSRF token is missing or does not match this "
                              "session; nothing was saved.")
    g.actor = _current_actor()


@bp.after_request
def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_context_processor
def _template_globals():
    return {"csrf_token": csrf_token, "actor": g.get("actor"),
            "today": ctx().today().isoformat()}


#: Percent-decoding rounds tried on ``next`` (a browser or proxy may decode once more).
_DECODE_ROUNDS = 3
_MAX_NEXT = 2000


def _unsafe_character(text: str) -> bool:
    """Control characters (browsers drop tab, CR and LF from a URL, which turns
    ``/\t/evil`` into ``//evil``; CR and LF would split the Location header), other
    invisible or separator characters but the plain space, and backslashes (read as
    ``/`` by browsers)."""
    return any(ch == "\\" or (ch != " " and unicodedata.category(ch)[0] in "CZ")
               for ch in text)


def _local_path(text: str) -> bool:
    """A path-absolute reference (``/x``): it starts with one ``/`` (``//`` and
    ``///`` name a host), and parsed it has no scheme and no host."""
    if not text.startswith("/") or text.startswith("//"):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def safe_next(target: str | None) -> str | None:
    """A path on this site to return to after signing in, or None (go to ``/``).

    Parsed, not prefix-matched: refused are control and space characters, backslashes,
    a scheme or a host, and anything that becomes one after percent-decoding
    (``/%09/evil.example``, ``/%2F%2Fevil``, ``///evil``) — what a browser might
    normalise into another site."""
    if not target or len(target) > _MAX_NEXT:
        return None
    text = target
    for _ in range(_DECODE_ROUNDS):
        if _unsafe_character(text) or not _local_path(text):
            return None
        decoded = unquote(text)
        if decoded == text:
            return target
        text = decoded
    return None  # still encoded after several rounds: not a path anyone links to


def signed_in(*roles: str):
    """Redirect to the sign-in page when nobody is signed in; 403 for other roles."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("actor") is None:
                here = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("console.home", next=here))
            if roles and g.actor.role not in roles:
                raise Forbidden(f"The role {g.actor.role!r} may not open this page.")
            return view(*args, **kwargs)

        wrapper.console_roles = roles
        return wrapper

    return decorate


def own_subject(uscc: str) -> None:
    """An enterprise token sees only its own enterprise (API.md §2)."""
    if g.actor.role == "enterprise" and g.actor.uscc != uscc:
        raise Forbidden("An enterprise token sees only its own enterprise.")


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building an itsdangerous serializer for a
    request that carries no session cookie (every API call): the answer is the same
    empty session the parent class returns then, and the serializer cost about 30 µs of
    every request (bench/README.md, "Issue 10")."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
