"""HTTP at its edges (API.md §1, §2): a method no route serves, a header line gunicorn
refuses or joins, the OpenAPI document's public checks, the 401's challenge, and no
token secret in gunicorn's log. Found by a review of authentication (each failed before
its fix)."""
from __future__ import annotations

import socket
import time

import pytest

from credit.services.tokens import create_token
from tests.e2e.conftest import S1, assert_error
from tests.live_server import LiveServer


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/audit/entries",
                                  f"/api/v1/subjects/{S1}/score?sector=housing"])
def test_options_without_a_token_is_refused(api, path):
    """API.md §1: every failure has the error body; step 1 wrong method 405 (with or
    without a token); §2: any other route without a valid token: 401. Flask's automatic
    OPTIONS answers 200 with an empty body, no token needed."""
    r = api.request("OPTIONS", path)
    assert r.status_code in (401, 405), (r.status_code, r.headers.get("Allow"), r.data)


def _raw(port: int, data: bytes) -> str:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    out = b""
    s.settimeout(5)
    try:
        while chunk := s.recv(65536):
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out.decode("latin-1")


@pytest.fixture
def server(database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("one backend is enough: gunicorn's parser")
    with LiveServer(database_url, tmp_path, workers=1,
                    env={"CREDIT_LOG_LEVEL": "info"}) as live:
        yield live


def test_a_malformed_authorization_line_keeps_the_token_out_of_the_log(server, ctx):
    """tokens.py: failed authentications are logged with at most 8 hex digits of the
    secret's SHA-256 — never the secret itself. A header line without a colon is
    gunicorn's 400, and gunicorn logs the whole line (the live token) at WARNING."""
    _, secret = create_token(ctx, "op", role="auditor", name="审计")
    out = _raw(server.port, (f"GET /api/v1/audit/entries HTTP/1.1\r\nHost: x\r\n"
                             f"Authorization Bearer {secret}\r\n\r\n").encode())
    assert " 400 " in out.splitlines()[0]
    deadline = time.monotonic() + 10  # gunicorn writes its line after answering
    while "Invalid request" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = server.log()
    assert "Invalid request" in logged and secret not in logged
    assert "kqc_…" in logged  # the line is there, the secret masked


def test_two_header_lines_under_8kib_are_not_413(server, ctx):
    """API.md §1: 413 for a header line over 8 KiB. Two X-Pad lines of 5 KiB each (each
    line under 8 KiB) are joined by gunicorn into one environ value and refused 413."""
    _, secret = create_token(ctx, "op", role="auditor", name="审计")
    pad = "X-Pad: " + "a" * 5000 + "\r\n"
    out = _raw(server.port, (f"GET /api/v1/audit/entries HTTP/1.1\r\nHost: x\r\n"
                             f"Authorization: Bearer {secret}\r\n" + pad * 2 + "\r\n").encode())
    assert out.splitlines()[0].split()[1] == "200", out[:400]


def test_the_openapi_route_applies_the_public_checks(api):
    """api/auth.public() says it covers health, OpenAPI and the public key, but
    flask-smorest's /api/v1/openapi.json is not wrapped: a 9 KiB header line is 200
    (API.md §1: 413 for a header line over 8 KiB; /health answers 413) and an unknown
    query parameter is 200 (README: a 400 also on a GET route that takes no parameter)."""
    assert_error(api.get("/api/v1/health", headers={"X-Pad": "a" * 9000}), 413,
                 "payload_too_large")
    assert_error(api.get("/api/v1/openapi.json", headers={"X-Pad": "a" * 9000}), 413,
                 "payload_too_large")


def test_the_openapi_route_refuses_an_unknown_parameter(api):
    assert api.get("/api/v1/health?x=1").status_code == 400
    assert api.get("/api/v1/openapi.json?x=1").status_code == 400


def test_a_401_names_the_bearer_scheme(api):
    """RFC 9110 §11.6.1 and RFC 6750 §3: a 401 carries ``WWW-Authenticate``."""
    r = api.get("/api/v1/audit/entries")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert "WWW-Authenticate" not in api.get("/api/v1/audit/entries", "auditor").headers
