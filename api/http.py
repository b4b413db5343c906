"""Small HTTP helpers shared by the blueprints: how dumped responses are written, stored
replies sent verbatim, body reading in the order of checks of API.md §1, idempotency
keys and integer ids."""

from __future__ import annotations

import functools
import re

import orjson
from flask import Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter

from api.auth import MAX_BODY, TooLarge
from credit.domain.json_text import parse_json
from credit.errors import CreditError, InvalidInput, NotFound
from credit.services.idempotency import IdempotentRequest, Outcome
from credit.services.inputs import USCC_METADATA
from credit.uscc import InvalidUSCC, normalise_uscc

MAX_ID = 2**63 - 1
_KEY_RE = re.compile(r"^[\x20-\x7e]{1,200}$")
#: The Idempotency-Key header as the OpenAPI document states it (API.md §1): what
#: :func:`idempotency` accepts, 1–200 printable ASCII characters.
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False,
                   "description": "Makes a retried write answer what the first one did "
                                  "(API.md §1).",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                              "pattern": _KEY_RE.pattern}}


def signing_key_path() -> str | None:
    """The signing key file the app's settings name (``CREDIT_SIGNING_KEY``; the app's
    config may name another): checkpoints and stored verifications are signed with it."""
    return current_app.extensions["credit_settings"].signing_key_path


def logs_a_trace(view):
    """Mark a GET view whose every call serves a score and so logs its trace
    (``score.served``): a HEAD would log one too, so :func:`refuse_head` answers it 405
    (API.md §4). Apply it right under the route decorator."""
    view.logs_a_trace = True
    return view


def refuse_head() -> None:
    """405 for a HEAD on a view marked :func:`logs_a_trace` (API and console alike), and
    for an OPTIONS anywhere (Flask would answer it itself, 200 and no body, without a
    token; the service serves no cross-origin client), before authentication: the wrong
    method comes first in the order of checks (API.md §1)."""
    if request.method == "HEAD" and \
            getattr(current_app.view_functions.get(request.endpoint), "logs_a_trace", False):
        raise MethodNotAllowed(valid_methods=["GET"])
    if request.method == "OPTIONS" and request.url_rule is not None:
        allowed = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
        raise MethodNotAllowed(valid_methods=served_methods(allowed))


def served_methods(methods) -> list[str]:
    """The methods a path serves, as a 405's ``Allow`` names them: not OPTIONS, nor HEAD
    where its GET logs a trace (:func:`refuse_head` answers both 405)."""
    out = set(methods) - {"OPTIONS"}
    if "HEAD" in out and _get_logs_a_trace():
        out.discard("HEAD")
    return sorted(out)


def _get_logs_a_trace() -> bool:
    """Whether this path's GET view is marked :func:`logs_a_trace`."""
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(method="GET")
    except HTTPException:
        return False
    return getattr(current_app.view_functions.get(endpoint), "logs_a_trace", False)


def json_body(schema, *, idempotent: bool) -> dict:
    """``Blueprint.doc`` arguments for a route that reads a JSON body of ``schema``
    (api.http.read_json) and, when ``idempotent``, honours an Idempotency-Key
    (:func:`idempotency`)."""
    doc: dict = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema}}}}
    if idempotent:
        doc["parameters"] = [IDEMPOTENCY_KEY]
    return doc


JSON_UTF8 = "application/json; charset=utf-8"


def body_text(obj) -> bytes:
    """Every JSON body the API writes that is not a stored reply (success bodies dumped
    through their schema, error bodies): UTF-8 (no ``\\u`` escapes), fields in the order
    given, compact, no trailing newline; written by orjson (issue 10: ``json`` with
    Flask's provider cost a served score about 30 µs). A value orjson does not write
    itself goes through Flask's default conversion, as before."""
    return orjson.dumps(obj, default=DefaultJSONProvider.default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)


class ResponseJSON(DefaultJSONProvider):
    """How flask-smorest writes what a view returned, once dumped through its response
    schema (:func:`body_text`). ``dumps`` itself (templates' ``tojson``) is Flask's."""

    ensure_ascii = False
    sort_keys = False

    def response(self, *args, **kwargs) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(body_text(obj), mimetype="application/json")


def verbatim(text: str | Outcome, status: int = 200) -> Response:
    """A reply stored at creation (dumped through its schema then, see
    credit.services.resources.present), sent byte for byte: a created resource or its
    idempotent replay, or a frozen evaluation document."""
    if isinstance(text, Outcome):
        text, status = text.body, text.status
    return Response(text, status=status, content_type=JSON_UTF8)


class MediaTypeError(CreditError):
    status = 415
    error = "unsupported_media_type"


def read_json():
    """The parsed JSON body, in API.md §1's order: 413 when it is over 1 MiB (a chunked
    body is known to be only once read, so it is read first), 415 when it is not JSON,
    400 ``malformed_json`` when its framing is broken, when it is not strict JSON —
    NaN, a key twice in one object (credit/domain/json_text.py) — or does not parse."""
    raw = read_body()
    if request.mimetype != "application/json":
        raise MediaTypeError("The body must be application/json.")
    if raw is None:
        raise InvalidInput("The request body could not be read (malformed framing).",
                           error="malformed_json")
    try:
        text = raw.decode("utf-8")
        body = parse_json(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}", error="malformed_json") \
            from None
    # Text no field can store (U+0000, an unpaired surrogate) is a field problem, step 8:
    # the use case's validation refuses it (credit.services.inputs.load), after an
    # Idempotency-Key's replay or 409 (step 7).
    return body


def read_body() -> bytes | None:
    """The raw body, at most 1 MiB (else 413); None when the server's reader refused its
    framing (bad chunk sizes), which the caller answers after the media type. A body
    without Content-Length (chunked) is read up to one byte more than the limit so that
    an oversized one is a 413, not a truncation.

    Read from the stream once per request and kept: a request whose connection was
    found dead runs its view once more (api/auth.py ``requires``), and the stream is
    empty by then."""
    environ = request.environ  # the request's own, not the app context's ``g``
    if _BODY not in environ:
        environ[_BODY] = _read_stream()
    return environ[_BODY]


#: Where a request keeps the body it read (:func:`read_body`).
_BODY = "credit.body"


def _read_stream() -> bytes | None:
    try:
        raw = request.stream.read(MAX_BODY + 1)
    except CreditError:
        raise
    except Exception:  # the server's reader refused the framing (bad chunk sizes)
        return None
    if len(raw) > MAX_BODY:
        raise TooLarge("The request body is larger than 1 MiB.")
    return raw


def idempotency(token_id: int, body) -> IdempotentRequest | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise InvalidInput("Idempotency-Key must be 1–200 printable ASCII characters.",
                           errors={"Idempotency-Key": ["must be 1–200 printable ASCII "
                                                       "characters."]})
    return IdempotentRequest(token_id, request.method, request.path, key, body)


def parse_id(raw: str, what: str) -> int:
    """Ids are integers 1 … 2^63−1; anything else in a path is 404."""
    if not _well_formed_id(raw):
        raise NotFound(f"There is no {what} {raw!r}.")
    return int(raw)


def _well_formed_id(raw: str) -> bool:
    return bool(re.fullmatch(r"[1-9][0-9]{0,18}", raw or "")) and int(raw) <= MAX_ID


def id_after_body(name: str, what: str):
    """For a write route whose service checks the body before it looks the id up (API.md
    §1: 8 field validation, then 9 unknown id): the path parameter ``name`` handed to the
    view as an int, a malformed one as 0, which no row has — so a bad body is its 400
    whatever the id, and the service's 404 comes at its step, naming the id as sent."""
    def wrap(view):
        @functools.wraps(view)
        def call(**kwargs):
            raw = kwargs[name]
            if _well_formed_id(raw):
                return view(**dict(kwargs, **{name: int(raw)}))
            try:
                return view(**dict(kwargs, **{name: 0}))
            except NotFound:
                raise NotFound(f"There is no {what} {raw!r}.") from None
        return call
    return wrap


class UsccConverter(BaseConverter):
    """``<uscc:name>`` in an API route: matches what werkzeug's default converter
    matches (one path segment) and hands it over as it came, so that a malformed code
    still answers 400 ``invalid_uscc`` from the view (:func:`path_uscc`), after
    authentication, as API.md §1 orders the checks. It exists for the OpenAPI document,
    which states the code's shape for every USCC in a path (:func:`uscc_parameter`)."""


def uscc_parameter(_converter: UsccConverter) -> dict:
    """The OpenAPI schema of a ``<uscc:…>`` path parameter (flask-smorest's
    ``register_converter``)."""
    return {"type": "string", "minLength": 1, **USCC_METADATA}


def path_uscc(raw: str) -> str:
    try:
        return normalise_uscc(raw)
    except InvalidUSCC as exc:
        raise InvalidInput(str(exc), error="invalid_uscc", errors={"uscc": [str(exc)]}) \
            from None
