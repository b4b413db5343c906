"""HTTP at its edges (API.md §1, §2): a method no route serves, a header line gunicorn
refuses or joins, a proxy header a client sends, the OpenAPI document's public checks,
the 401's challenge, and no token secret in gunicorn's logs — under ``credit serve``
with sync and gthread workers. Found by reviews of authentication and of the change
that mended it (each failed before its fix)."""
from __future__ import annotations

import base64
import socket
import time

import pytest
import requests

from credit.services.tokens import create_token
from tests.e2e.conftest import S1, assert_error, record_body
from tests.live_server import LiveServer


def _allow(r) -> set[str]:
    return {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/audit/entries",
                                  f"/api/v1/subjects/{S1}/score?sector=housing"])
def test_options_is_405_without_a_token(api, path):
    """API.md §1: step 1, a wrong method is 405 with or without a token, with the error
    body (Flask answered OPTIONS itself: 200, no body, no token needed)."""
    assert_error(api.request("OPTIONS", path), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/records"])
def test_a_405_offers_only_the_methods_served(api, path):
    r = api.request("DELETE", path)
    assert r.status_code == 405 and "OPTIONS" not in _allow(r) and "GET" in _allow(r)


def test_the_score_route_offers_neither_head_nor_options(api):
    """A HEAD would log a trace too, so it is 405 (API.md §4): no Allow offers it."""
    path = f"/api/v1/subjects/{S1}/score?sector=housing"
    assert api.request("HEAD", path, "auditor").status_code == 405
    assert _allow(api.request("OPTIONS", path)) == {"GET"}


def test_the_openapi_route_applies_the_public_checks(api):
    """The public routes' checks (api/auth.public): a header line over 8 KiB is 413, an
    unknown query parameter 400 — for the OpenAPI document as for /health."""
    for path in ("/api/v1/health", "/api/v1/openapi.json"):
        assert_error(api.get(path, headers={"X-Pad": "a" * 9000}), 413, "payload_too_large")
        assert api.get(path + "?x=1").status_code == 400
        assert api.get(path).status_code == 200


def test_a_401_names_the_bearer_scheme(api):
    """RFC 9110 §11.6.1 and RFC 6750 §3: a 401 carries ``WWW-Authenticate``."""
    r = api.get("/api/v1/audit/entries")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert "WWW-Authenticate" not in api.get("/api/v1/audit/entries", "auditor").headers


def test_a_body_is_read_per_request_even_inside_one_app_context(app, api):
    """The body a request read is kept for that request (a retry on a fresh connection
    reads it again), not for the app context two requests may share."""
    with app.app_context():
        r1 = api.post("/api/v1/records", record_body(document_no="一号"), "regulator")
        r2 = api.post("/api/v1/records", record_body(document_no="二号"), "regulator")
    assert r1.status_code == 201 and r2.status_code == 201, r2.get_data(as_text=True)
    assert r2.get_json()["document_no"] == "二号"


# ------------------------------------------------------------------ credit serve

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


@pytest.fixture(params=[1, 4], ids=["sync", "gthread"])
def server(request, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("one backend is enough: gunicorn's parser")
    access = tmp_path / "access.log"
    with LiveServer(database_url, tmp_path, workers=1, threads=request.param,
                    env={"CREDIT_LOG_LEVEL": "info", "CREDIT_ACCESS_LOG": str(access)}
                    ) as live:
        live.access_log = access
        yield live


def _logged(read, what: str) -> str:
    """What a log holds once ``what`` is in it (gunicorn writes after answering)."""
    deadline = time.monotonic() + 10
    while what not in read() and time.monotonic() < deadline:
        time.sleep(0.05)
    return read()


def test_a_malformed_authorization_line_keeps_the_token_out_of_the_log(server, ctx):
    """tokens.py: a failed authentication is logged with at most 8 hex digits of the
    secret's SHA-256 — never the secret. A header line without a colon is gunicorn's
    400, whose log line (and error body) quoted the line: the live token."""
    _, secret = create_token(ctx, "op", role="auditor", name="审计")
    out = _raw(server.port, (f"GET /api/v1/audit/entries HTTP/1.1\r\nHost: x\r\n"
                             f"Authorization Bearer {secret}\r\n\r\n").encode())
    assert " 400 " in out.splitlines()[0] and secret not in out
    logged = _logged(server.log, "Invalid request")
    assert "Invalid request" in logged and secret not in logged
    assert "kqc_…" in logged  # the line is there, the secret masked


def test_a_token_sent_as_basic_is_not_in_the_access_log(server, ctx):
    """gunicorn's access line names a ``Basic`` Authorization header's user, decoded: a
    client sending its token that way (``curl -u TOKEN:``) is 401, and its live secret
    was written in clear."""
    _, secret = create_token(ctx, "op", role="auditor", name="审计")
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    r = requests.get(server.url("/api/v1/audit/entries"),
                     headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert r.status_code == 401
    logged = _logged(lambda: server.access_log.read_text(errors="replace")
                     if server.access_log.exists() else "", "/api/v1/audit/entries")
    assert "/api/v1/audit/entries" in logged and secret not in logged


def test_a_header_line_is_measured_as_sent(server, ctx):
    """API.md §1: 413 for a header *line* over 8 KiB. gunicorn joins two X-Pad lines of
    5 KiB into one value, which was refused 413; one line of 9 KiB still is."""
    _, secret = create_token(ctx, "op", role="auditor", name="审计")
    auth = f"Authorization: Bearer {secret}\r\n"
    one = _raw(server.port, (f"GET /api/v1/audit/entries HTTP/1.1\r\nHost: x\r\n{auth}"
                             "X-Pad: " + "a" * 9000 + "\r\n\r\n").encode())
    assert one.split()[1] == "413" and "X-Pad" in one, one[:300]
    two = _raw(server.port, (f"GET /api/v1/audit/entries HTTP/1.1\r\nHost: x\r\n{auth}"
                             + ("X-Pad: " + "a" * 5000 + "\r\n") * 2 + "\r\n").encode())
    assert two.split()[1] == "200", two[:300]


@pytest.mark.parametrize("extra", ["SCRIPT_NAME: /elsewhere\r\n",
                                   "Transfer-Encoding: foo\r\n"])
def test_no_header_a_client_sends_is_a_5xx(server, extra):
    """API.md §1: nothing a client sends may produce a 500. gunicorn answered a
    SCRIPT_NAME from 127.0.0.1 that does not prefix the path with 500, and a transfer
    coding it does not know with 501 ``internal_error``."""
    out = _raw(server.port, ("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + extra
                             + "\r\n").encode())
    assert not out.split()[1].startswith("5"), out[:400]


def test_options_is_405_under_credit_serve(server):
    r = requests.options(server.url("/api/v1/records"), timeout=10)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert "OPTIONS" not in _allow(r)
