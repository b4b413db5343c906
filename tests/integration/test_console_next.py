"""Signing in with a hostile ``next`` (issue 9 items 2 and 3), through the real console
on every backend: the redirect goes to a path on this site or to ``/``; a ``next`` with
CR or LF signs in normally to ``/`` (it was a 500)."""

from __future__ import annotations

import pytest

from credit.services.tokens import create_token

pytestmark = pytest.mark.db
SECRET_KEY = "console-test-secret-key-0123456789"


@pytest.fixture
def client(ctx):
    from api import create_app
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    return app, app.test_client()


@pytest.fixture
def secret(ctx) -> str:
    return create_token(ctx, "test", role="auditor", name="柯桥区审计局")[1]


def _sign_in(app, c, secret: str, next_: str):
    c.get("/")
    cookie = c.get_cookie(app.config["SESSION_COOKIE_NAME"])
    csrf = app.session_interface.get_signing_serializer(app).loads(cookie.value)["csrf"]
    return c.post("/signin", data={"token": secret, "next": next_, "csrf_token": csrf})


@pytest.mark.parametrize("next_", [
    "/\t/evil.example/phish", "/%09/evil.example/phish", "///evil.example", "/\\evil",
    "/%2F%2Fevil.example", "https://evil.example/", "/a\nb", "/a\r\nSet-Cookie: x=1",
    "\n", "/\r\n",
])
def test_sign_in_with_a_hostile_next_goes_home(client, secret, next_):
    app, c = client
    resp = _sign_in(app, c, secret, next_)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert resp.headers["Location"] == "/"
    assert c.get("/audit").status_code == 200  # signed in


def test_the_sign_in_page_drops_a_hostile_next(client):
    app, c = client
    resp = c.get("/?next=/%09/evil.example/phish")
    assert resp.status_code == 200
    assert "evil.example" not in resp.get_data(as_text=True)
    resp = c.get("/?next=/a%0D%0Ab")
    assert resp.status_code == 200


def test_a_local_next_is_followed(client, secret):
    app, c = client
    resp = _sign_in(app, c, secret, "/audit?kind=score.served")
    assert resp.headers["Location"] == "/audit?kind=score.served"
