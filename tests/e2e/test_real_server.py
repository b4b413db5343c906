"""The real thing: ``credit serve`` (gunicorn, two threaded workers) as a subprocess on the
test database, tokens made with ``credit token create``, driven over HTTP with
``requests`` and over a raw socket — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")

from tests.e2e.conftest import ERROR_KEYS, S1, S2, S3  # noqa: E402
from tests.e2e.log_lines import SERVICE_LINE  # noqa: E402

pytestmark = pytest.mark.db

CST = timezone(timedelta(hours=8))
STARTUP_TIMEOUT = 40


def _credit_command() -> list[str]:
    exe = Path(sys.executable).with_name("credit")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from credit.cli import main; main()"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    port: int
    env: dict
    cwd: Path
    secrets: list = field(default_factory=list)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(_credit_command() + list(args), env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=60, check=check)

    def token(self, role: str, name: str, *extra: str) -> str:
        """``credit token create``: the secret is alone on the last line of stdout."""
        out = self.cli("token", "create", "--role", role, "--name", name, *extra)
        return out.stdout.strip().splitlines()[-1]

    def raw(self, data: bytes) -> tuple[int, dict, bytes]:
        """Send raw bytes; (status, headers, body) of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        response = b"".join(chunks)
        head, _, body = response.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        return status, headers, body


@contextmanager
def credit_server(database_url: str, workdir: Path, tokens: tuple = (), workers: int = 2,
                  log_level: str = "warning"):
    """``credit serve`` on ``database_url``; ``tokens`` (role, name, options...) are made
    with ``credit token create`` while the server boots, their secrets in ``srv.secrets``;
    its stdout and stderr go to ``workdir / "server.log"``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    identity_key = workdir / "identity-key"  # credit serve refuses to start without one
    identity_key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    env.update(CREDIT_DATABASE_URL=database_url, CREDIT_SECRET_KEY="e2e-" + "s" * 32,
               CREDIT_IDENTITY_KEY=str(identity_key), CREDIT_LOG_LEVEL=log_level)
    port = _free_port()
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _credit_command() + ["serve", "--port", str(port), "--workers", str(workers)],
            env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            srv = Server(base=base, port=port, env=env, cwd=workdir)
            srv.secrets = [srv.token(*spec) for spec in tokens]
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"credit serve exited with {proc.returncode}:\n"
                                + log_path.read_text(errors="replace"))
                try:
                    if requests.get(base + "/api/v1/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("credit serve did not answer /api/v1/health:\n"
                                + log_path.read_text(errors="replace"))
                time.sleep(0.1)
            yield srv
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _assert_error_body(body: bytes, status: int, error: str | None = None) -> dict:
    doc = json.loads(body.decode("utf-8"))
    assert set(doc) == ERROR_KEYS, doc
    assert doc["code"] == status and doc["status"] == HTTPStatus(status).phrase
    assert isinstance(doc["message"], str) and doc["message"]
    assert isinstance(doc["errors"], dict)
    if error:
        assert doc["error"] == error, doc
    return doc


def test_real_server_end_to_end(database_url, tmp_path):
    today = datetime.now(CST).date()
    decided = (today - timedelta(days=30)).isoformat()
    tokens = (("regulator", "柯桥区住房和城乡建设局", "--sector", "housing"),
              ("evaluator", "评标系统"), ("auditor", "审计员"),
              ("enterprise", "绍兴柯桥建工集团有限公司", "--uscc", S1))
    with credit_server(database_url, tmp_path / "srv", tokens) as srv:
        assert requests.get(srv.base + "/api/v1/health", timeout=30).json() == {
            "status": "ok", "database": "ok", "model": "keqiao-2025@2"}
        reg, ev, aud, ent = srv.secrets
        assert all(t.startswith("kqc_") for t in (reg, ev, aud, ent))
        http = TimeoutSession()

        def h(tok, **extra):
            return {"Authorization": f"Bearer {tok}", **extra}

        # a record, idempotently
        body = {"uscc": S1, "subject_name": "绍兴柯桥建工集团有限公司", "sector": "housing",
                "code": "BID-NOSIGN", "decided_on": decided, "document_no": "绍柯建罚〔2026〕1号",
                "issued_by": "柯桥区住房和城乡建设局"}
        r = http.post(srv.base + "/api/v1/records", json=body, headers=h(reg, **{
            "Idempotency-Key": "real-1"}))
        assert r.status_code == 201, r.text
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        rec = r.json()
        assert rec["uscc"] == S1 and rec["status"] == "active" and rec["counts_today"] is True
        again = http.post(srv.base + "/api/v1/records", json=body, headers=h(reg, **{
            "Idempotency-Key": "real-1"}))
        assert again.status_code == 201 and again.content == r.content

        # a score, traced
        s = http.get(srv.base + f"/api/v1/subjects/{S1}/score",
                     params={"sector": "housing"}, headers=h(ev))
        assert s.status_code == 200, s.text
        score = s.json()
        assert score["score"] == "92.00" and score["grade"] == "C"
        assert score["as_of"] == today.isoformat()
        t = http.get(srv.base + f"/api/v1/traces/{score['trace_id']}", headers=h(ev))
        assert t.status_code == 200 and t.json()["sha256"] == score["trace_sha256"]
        # known_at with '+' sent as %2B by requests
        k = http.get(srv.base + f"/api/v1/subjects/{S1}/score", headers=h(aud),
                     params={"sector": "housing", "known_at": rec["recorded_at"]})
        assert k.status_code == 200 and k.json()["known_at"] == rec["recorded_at"]
        assert k.json()["score"] == "92.00"
        # HEAD on the score route: 405, nothing served
        hd = http.head(srv.base + f"/api/v1/subjects/{S1}/score?sector=housing", headers=h(ev))
        assert hd.status_code == 405

        # an evaluation, frozen
        evaluation = {"tender": {"code": "KQ-2026-0012", "name": "柯桥区某安置房项目施工"},
                      "sector": "housing", "as_of": today.isoformat(),
                      "bidders": [{"uscc": S1}, {"consortium": [S2, S3]}]}
        e = http.post(srv.base + "/api/v1/evaluations", json=evaluation, headers=h(ev))
        assert e.status_code == 201, e.text
        doc = e.json()
        assert [x["score"] for x in doc["results"]] == ["92.00", "100.00"]
        g = http.get(srv.base + f"/api/v1/evaluations/{doc['id']}", headers=h(aud))
        assert g.status_code == 200 and g.content == e.content

        # the enterprise sees its own file and who pulled it
        inq = http.get(srv.base + f"/api/v1/subjects/{S1}/inquiries", headers=h(ent)).json()
        assert inq["items"][0]["evaluation_id"] == doc["id"]
        assert http.get(srv.base + f"/api/v1/subjects/{S2}/score?sector=housing",
                        headers=h(ent)).status_code == 403
        # S2 has no record: unknown (check 9) before another's (check 10), API.md §1
        assert http.get(srv.base + f"/api/v1/subjects/{S2}", headers=h(ent)).status_code == 404

        # audit: the whole chain verifies, and so does a trace
        v = http.get(srv.base + "/api/v1/audit/verify", headers=h(aud))
        assert v.status_code == 200
        entries = http.get(srv.base + "/api/v1/audit/entries?limit=500", headers=h(aud)).json()
        assert v.json() == {"ok": True, "entries_checked": len(entries["items"]),
                            "first_bad": None}
        tv = http.get(srv.base + f"/api/v1/traces/{score['trace_id']}/verify", headers=h(aud))
        assert tv.json()["ok"] is True and tv.json()["replay_ok"] is True
        cli = srv.cli("audit", "verify", check=False)
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout.strip().splitlines()[-1])["ok"] is True

        # errors are JSON all the way down: the app's ...
        big = http.post(srv.base + "/api/v1/records", data=b"x" * (1024 * 1024 + 1),
                        headers=h(reg, **{"Content-Type": "application/json"}))
        assert big.status_code == 413
        _assert_error_body(big.content, 413, "payload_too_large")
        nf = http.get(srv.base + "/api/v1/nope")
        assert nf.status_code == 404
        _assert_error_body(nf.content, 404, "not_found")
        assert http.get(srv.base + "/api/v1/records").status_code == 401
        # ... and gunicorn's own refusals (a malformed request line or header)
        for raw in (b"GARBAGE\r\n\r\n",
                    b"GET /api/v1/health HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"):
            status, headers, payload = srv.raw(raw)
            assert status == 400, (raw, status, payload)
            assert headers["content-type"].startswith("application/json")
            _assert_error_body(payload, 400)
        status, headers, payload = srv.raw(
            b"DELETE /api/v1/records HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 405
        _assert_error_body(payload, 405, "method_not_allowed")

        # concurrent retries with one key, across both workers, create one record
        body2 = dict(body, document_no="绍柯建罚〔2026〕2号")

        def post(_):
            return http_post(srv.base + "/api/v1/records", body2,
                             h(reg, **{"Idempotency-Key": "real-concurrent"}))

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(post, range(6)))
        assert {a.status_code for a in answers} == {201}
        assert len({a.content for a in answers}) == 1
        listed = http.get(srv.base + f"/api/v1/records?uscc={S1}", headers=h(aud)).json()
        assert [x["document_no"] for x in listed["items"]].count("绍柯建罚〔2026〕2号") == 1
        assert http.get(srv.base + "/api/v1/audit/verify", headers=h(aud)).json()["ok"] is True


class TimeoutSession(requests.Session):
    """A session whose requests never hang the suite."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(*args, **kwargs)


def http_post(url, body, headers):
    # one connection per thread: requests.Session is not thread-safe
    return requests.post(url, json=body, headers=headers, timeout=30)


# ---- deviations of the real server ---------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    """A server on a fresh SQLite file migrated with ``credit db upgrade`` (for checks of
    the HTTP layer that do not depend on the database backend)."""
    tmp_path = tmp_path_factory.mktemp("http-layer")
    url = f"sqlite:///{tmp_path / 'credit.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env["CREDIT_DATABASE_URL"] = url
    subprocess.run(_credit_command() + ["db", "upgrade"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    tokens = (("regulator", "柯桥区住房和城乡建设局", "--sector", "housing"),)
    with credit_server(url, tmp_path / "srv", tokens, workers=1) as srv:
        yield srv


def _header_request(path: str, line_length: int, token: str | None = None) -> bytes:
    name = "X-Padding"
    value = "a" * (line_length - len(name) - 2)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{name}: {value}\r\n"
            "Connection: close\r\n\r\n").encode("ascii")


def test_real_server_401_before_413_for_a_long_header_line(sqlite_server):
    status, _, payload = sqlite_server.raw(_header_request("/api/v1/records", 9000))
    assert status == 401, payload
    _assert_error_body(payload, 401, "unauthenticated")


def test_real_server_accepts_a_header_line_of_exactly_8_kib(sqlite_server):
    status, _, payload = sqlite_server.raw(_header_request("/api/v1/health", 8 * 1024))
    assert status == 200, payload


def _chunked_post(srv: Server, path: str, chunks: bytes,
                  content_type: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {srv.secrets[0]}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode("ascii") + chunks


def _chunk(payload: bytes, size: int = 64 * 1024) -> bytes:
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


def _record_json(document_no: str, pad: int = 0) -> bytes:
    body = {"uscc": S1, "subject_name": "绍兴柯桥建工集团有限公司", "sector": "housing",
            "code": "BID-NOSIGN", "decided_on": "2026-01-10", "document_no": document_no,
            "issued_by": "柯桥区住房和城乡建设局"}
    text = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return text[:-1] + b" " * pad + b"}"


def test_real_server_reads_a_chunked_body(sqlite_server):
    status, _, payload = sqlite_server.raw(_chunked_post(
        sqlite_server, "/api/v1/records", _chunk(_record_json("chunked-1"))))
    assert status == 201, payload
    assert json.loads(payload)["document_no"] == "chunked-1"


def test_real_server_chunked_body_over_1_mib_is_413(sqlite_server):
    status, _, payload = sqlite_server.raw(_chunked_post(
        sqlite_server, "/api/v1/records", _chunk(_record_json("chunked-2", 2 * 1024 * 1024))))
    assert status == 413, payload
    _assert_error_body(payload, 413, "payload_too_large")


def test_real_server_bad_chunked_framing_is_not_a_500(sqlite_server):
    status, _, payload = sqlite_server.raw(_chunked_post(
        sqlite_server, "/api/v1/records", b"zz\r\n{}\r\n0\r\n\r\n"))
    assert 400 <= status < 500, payload
    _assert_error_body(payload, status)


def test_real_server_chunked_checks_come_in_the_order_of_api_md(sqlite_server):
    """API.md §1: 413 (step 4) before 415 (step 5) before 400 ``malformed_json`` (step
    6), for a chunked body too, whose size is known only once it is read."""
    big = _chunk(_record_json("chunked-3", 2 * 1024 * 1024))
    for chunks, content_type, status, error in (
            (big, "text/plain", 413, "payload_too_large"),
            (b"zz\r\n{}\r\n0\r\n\r\n", "text/plain", 415, "unsupported_media_type"),
            (b"zz\r\n{}\r\n0\r\n\r\n", "application/json", 400, "malformed_json")):
        got, _, payload = sqlite_server.raw(_chunked_post(
            sqlite_server, "/api/v1/records", chunks, content_type))
        assert got == status, (content_type, payload)
        _assert_error_body(payload, status, error)


def _service_lines(log_text: str) -> list[tuple[str, str, str]]:
    return [(m["level"], m["logger"], m["message"])
            for m in map(SERVICE_LINE.match, log_text.splitlines()) if m]


@pytest.mark.parametrize("level", ["info", "warning"])
def test_real_server_writes_the_services_log_lines_at_its_level(tmp_path, level):
    """A worker's own log lines reach the server's log, formatted like gunicorn's and
    named by their logger, at CREDIT_LOG_LEVEL: an authentication without a token is an
    INFO line, one with an unknown token a WARNING (services/tokens.py)."""
    url = f"sqlite:///{tmp_path / 'credit.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    subprocess.run(_credit_command() + ["db", "upgrade"], env=dict(env, CREDIT_DATABASE_URL=url),
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    with credit_server(url, tmp_path / "srv", workers=1, log_level=level) as srv:
        path = "/api/v1/subjects/91330603MA2D4F6E84/score?sector=housing"
        assert requests.get(srv.base + path, timeout=10).status_code == 401
        assert requests.get(srv.base + path, headers={"Authorization": "Bearer not-a-token"},
                            timeout=10).status_code == 401
    lines = _service_lines((tmp_path / "srv" / "server.log").read_text(errors="replace"))
    no_token = ("INFO", "credit.auth", "authentication failed: no bearer token")
    unknown = [line for line in lines if line[:2] == ("WARNING", "credit.auth")
               and line[2].startswith("authentication failed: unknown token")]
    assert len(unknown) == 1, lines
    assert (no_token in lines) == (level == "info"), lines
