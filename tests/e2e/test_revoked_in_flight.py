"""A request in flight when its token is revoked writes nothing (API.md §2; README
"Authentication"), on SQLite and PostgreSQL, through every route that appends to the
audit log: each write (POST) and each GET that logs a served score's trace.

The token is revoked *after* the request authenticated and before its use case runs —
what a revocation committed by another process at that moment looks like. The use case
then finds the token revoked under the append lock (services/tokens.write_as; for a
served score, the group append: persistence/served_scores.py) and answers 401; the log
ends with ``token.revoked``, so no entry a token caused ever follows its revocation.
The same request sent with a twin token nobody revokes then gets past authentication
(most write; a few meet a state the world's fixture already changed, such as a second
award): the refusal was the revocation's."""

from __future__ import annotations

import json

from api import auth
from credit.domain.dates import format_instant
from credit.services.tokens import create_token, revoke_token
from tests.live_server import ENTERPRISE_USCC, SECTORS, TENDEREE_USCC
from tests.tender_data import tender_body

from .test_authz_matrix import Recorder, _routes, world  # noqa: F401 - the fixture

#: What a twin token of each role needs besides its role (make_tokens' tokens).
TWIN = {"regulator": {"sectors": list(SECTORS)}, "enterprise": {"uscc": ENTERPRISE_USCC},
        "tenderee": {"uscc": TENDEREE_USCC}}


def logging_routes(w) -> list[tuple[str, str, object, str]]:
    """(method, path, body, role) of every route that appends an entry, for one role
    allowed to call it: the matrix's POST routes and the GETs that log a trace — a
    default score, a score with a ``known_at`` of now, an agency score. (With the suites'
    fixed clock the head's ``at`` is already later than that ``known_at``, so it too goes
    through the group append; a score computed under the lock is refused in
    tests/integration/test_revoked_while_waiting.py.)"""
    routes, make_record = _routes(w)
    known_now = format_instant(w.ctx.clock()).replace("+", "%2B")
    own = ENTERPRISE_USCC
    picked = [(m, p, b, sorted(who)[0]) for _r, m, p, b, who in routes
              if m == "POST" and isinstance(who, set) and who]
    picked += [("GET", f"/api/v1/subjects/{own}/score?sector=water", None, "evaluator"),
               ("GET", f"/api/v1/subjects/{own}/score?sector=water&known_at={known_now}",
                None, "evaluator"),
               ("GET", f"/api/v1/agencies/{own}/score", None, "evaluator")]
    return [(m, p, make_record("撤销中〔2026〕1号") if b == "record"
             else tender_body("KQ-M-9") if b == "tender" else b, role)
            for m, p, b, role in picked]


def twin(w, role: str, n: int) -> tuple[int, str]:
    """A new token like the world's ``role`` token (same role, sectors, USCC)."""
    return create_token(w.ctx, "test-operator", role=role,
                        name=f"{w.tokens.names[role]}（{n}）", **TWIN.get(role, {}))


def head(ctx) -> tuple[int, str | None]:
    with ctx.uow(write=False) as uow:
        entries = uow.audit_queries.page(after=uow.audit.head().position - 1, limit=1)
    return (entries[0]["position"], entries[0]["kind"]) if entries else (0, None)


def test_a_request_in_flight_when_its_token_is_revoked_writes_nothing(
        world, monkeypatch):  # noqa: F811 - the fixture imported above
    w, rec = world, Recorder()
    authenticate, doomed = auth.authenticate, set()

    def authenticate_then_revoke(ctx, secret, **kw):
        actor = authenticate(ctx, secret, **kw)
        if actor.token_id in doomed:  # revoked once the request is authorised
            assert revoke_token(ctx, "安全管理员", actor.token_id) is True
        return actor

    monkeypatch.setattr(auth, "authenticate", authenticate_then_revoke)
    routes = logging_routes(w)
    assert len(routes) == 15, routes  # 12 POST routes, 3 logging GETs
    wrote = 0
    for n, (method, path, body, role) in enumerate(routes):
        where = f"{role} {method} {path}"
        token_id, secret = twin(w, role, 2 * n)
        doomed.add(token_id)
        before = head(w.ctx)
        r = rec.call(w.client, method, path, body, secret)
        got = (r.status_code, (r.get_json(silent=True) or {}).get("error"))
        assert got == (401, "unauthenticated"), (where, r.get_data(as_text=True))
        assert head(w.ctx) == (before[0] + 1, "token.revoked"), where
        _, control = twin(w, role, 2 * n + 1)
        r = rec.call(w.client, method, path, body, control)
        assert r.status_code < 500 and r.status_code not in (401, 403), (
            where, r.get_data(as_text=True))
        wrote += r.status_code in (200, 201)
    # most routes write for the control (a tender the world awarded refuses a second
    # award with 409, and so on): the refusals above were the revocation's
    assert wrote >= len(routes) - 4, wrote
    r = rec.call(w.client, "GET", "/api/v1/audit/verify", None, w.tokens["auditor"])
    assert json.loads(r.get_data(as_text=True))["ok"] is True
