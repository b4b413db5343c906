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


def test_a_console_form_whose_token_is_revoked_in_flight_says_so_in_chinese(
        ctx, app, tokens, monkeypatch):  # noqa: F811
    """A record confirmed while the signed-in token is revoked: nothing is written and
    the page says why in Chinese, as every other refusal of the console's forms."""
    from html import unescape

    from .test_console_pages import record_form
    b = signed_in(app, tokens["housing"])
    loaded = access.session_actor

    def load_then_revoke(c, tid, sid):
        actor = loaded(c, tid, sid)
        revoke_token(ctx, "安全管理员", tid)
        return actor

    monkeypatch.setattr(access, "session_actor", load_then_revoke)
    resp = b.post("/records/new", {**record_form(), "step": "confirm", "form_key": "k" * 22})
    page = unescape(resp.get_data(as_text=True))
    with ctx.uow(write=False) as uow:
        last = uow.audit_queries.page(after=uow.audit.head().position - 1, limit=1)[0]
    assert last["kind"] == "token.revoked"
    assert "bearer token" not in page, [line for line in page.splitlines() if "token" in line]


def test_signing_in_over_a_live_session_ends_it_on_the_server(app, tokens):  # noqa: F811
    """Another clerk signs in on the same browser, then out: a copy of the first clerk's
    cookie is refused, as a signed-out one is (nobody could sign it out any more)."""
    from .test_console_pages import Browser
    name = app.config["SESSION_COOKIE_NAME"]
    b = signed_in(app, tokens["housing"])
    old = b.client.get_cookie(name).value
    assert b.get("/records/new").status_code == 200
    assert b.post("/signin", {"token": tokens["auditor"]}).status_code == 302
    assert b.get("/audit").status_code == 200  # the new session works
    copy = Browser(app)
    copy.client.set_cookie(name, old)
    assert copy.get("/records/new").status_code == 302  # to the sign-in page
    bad = b.post("/signin", {"token": "not-a-token"})
    assert bad.status_code != 302 and b.get("/audit").status_code == 200  # kept
