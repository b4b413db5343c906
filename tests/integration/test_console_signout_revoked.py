"""h51 review: the console's sign-out when the session's token is revoked while the
sign-out is in flight (after the session was loaded, before session.ended is written)."""

from __future__ import annotations

from api.console import access
from credit.services.tokens import revoke_token

from .test_console_pages import app, signed_in, tokens  # noqa: F401 - fixtures


def test_a_sign_out_whose_token_is_revoked_in_flight_still_signs_out(
        ctx, app, tokens, monkeypatch):  # noqa: F811
    b = signed_in(app, tokens["auditor"])
    assert b.get("/audit").status_code == 200
    loaded = access.session_actor

    def load_then_revoke(c, tid, sid):
        actor = loaded(c, tid, sid)
        assert revoke_token(ctx, "安全管理员", tid) is True
        return actor

    monkeypatch.setattr(access, "session_actor", load_then_revoke)
    resp = b.post("/signout")
    monkeypatch.setattr(access, "session_actor", loaded)
    # nothing follows token.revoked ...
    with ctx.uow(write=False) as uow:
        last = uow.audit_queries.page(after=uow.audit.head().position - 1, limit=1)[0]
    assert last["kind"] == "token.revoked"
    # ... and the person who asked to sign out is signed out, as after any sign-out
    assert resp.status_code == 302, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert b.get("/audit").status_code == 302  # the sign-in page
