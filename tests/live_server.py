"""Helpers of the reliability suites (e2e crash and authorization, stress, bench): a real
``credit serve`` in its own process group, tokens of every role, valid USCCs and
request bodies, raw tampering behind the service's back.

Only processes started here are signalled, always by their own process group id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
from stdnum.cn import uscc as gb32100

ROOT = Path(__file__).resolve().parents[1]
SECTORS = ("housing", "transport", "water")


# ---------------------------------------------------------------- data

def make_uscc(n: int, prefix: str = "91330621") -> str:
    """A valid synthetic USCC number ``n`` (check character per GB 32100-2015)."""
    body = f"{prefix}{n:09d}"
    return body + gb32100.calc_check_digit(body)


def record_body(uscc: str, document_no: str, *, sector: str = "housing",
                code: str = "BID-NOSIGN", decided_on: str | None = None,
                name: str = "绍兴柯桥测试建设有限公司") -> dict:
    if decided_on is None:
        from credit.domain.dates import cst_date
        from credit.persistence.uow import system_clock
        decided_on = (cst_date(system_clock()) - timedelta(days=30)).isoformat()
    return {"uscc": uscc, "subject_name": name, "sector": sector, "code": code,
            "decided_on": decided_on, "document_no": document_no,
            "issued_by": "柯桥区住房和城乡建设局"}


@dataclass
class Tokens:
    """Secrets by role; ``regulators`` by sector, ``regulator`` holds every sector."""

    by_role: dict[str, str] = field(default_factory=dict)
    regulators: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, role: str) -> str:
        return self.by_role[role]

    def all_secrets(self) -> list[str]:
        return list(self.by_role.values()) + list(self.regulators.values())


ENTERPRISE_USCC = "91330603MA2D4F6E84"
# The tenderee of the tenders in tests/tender_data.py (PERFORMANCE.md §1 example).
TENDEREE_USCC = "11330621002587465Y"


def make_tokens(ctx, *, enterprise_uscc: str = ENTERPRISE_USCC) -> Tokens:
    """One token per role (the regulator holds every sector; ``platform`` registers
    tenders), one regulator per sector, a second evaluator, all created through the
    service."""
    from credit.services.tokens import create_token
    t = Tokens()

    def add(key, role, name, **kw):
        token_id, secret = create_token(ctx, "test-operator", role=role, name=name, **kw)
        t.ids[key], t.names[key] = token_id, name
        return secret

    t.by_role["regulator"] = add("regulator", "regulator", "柯桥区联合监管",
                                 sectors=list(SECTORS))
    t.by_role["evaluator"] = add("evaluator", "evaluator", "柯桥区评标系统")
    t.by_role["auditor"] = add("auditor", "auditor", "柯桥区审计局")
    t.by_role["admin"] = add("admin", "admin", "系统管理员")
    t.by_role["enterprise"] = add("enterprise", "enterprise", "浙江柯桥建工集团有限公司",
                                  uscc=enterprise_uscc)
    t.by_role["evaluator2"] = add("evaluator2", "evaluator", "另一评标系统")
    t.by_role["platform"] = add("platform", "platform", "柯桥区公共资源交易中心")
    # A tenderee (招标人) bound to one USCC: a township government (PERFORMANCE.md §1).
    t.by_role["tenderee"] = add("tenderee", "tenderee", "柯桥区某镇人民政府",
                                uscc=TENDEREE_USCC)
    for s in SECTORS:
        t.regulators[s] = add(f"regulator:{s}", "regulator", f"{s} 监管", sectors=[s])
    return t


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------- a live server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``credit serve`` on 127.0.0.1, in a process group of its own."""

    def __init__(self, database_url: str, workdir: Path, *, workers: int = 2,
                 env: dict | None = None, threads: int | None = None):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.workers = workers
        self.threads = threads  # None: credit serve's default worker model
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = self.workdir / "server.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self, timeout: float = 60.0) -> "LiveServer":
        self.port = free_port()
        env = dict(os.environ)
        self.workdir.mkdir(parents=True, exist_ok=True)
        identity_key = self.workdir / "identity-key"  # credit serve refuses to start without
        if not identity_key.exists():
            identity_key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
        env.update({"CREDIT_DATABASE_URL": self.database_url,
                    "CREDIT_SECRET_KEY": "test-secret-key-" + "0" * 32,
                    "CREDIT_IDENTITY_KEY": str(identity_key),
                    "CREDIT_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"})
        env.update(self.extra_env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from credit.cli import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
            + (["--threads", str(self.threads)] if self.threads else []),
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"credit serve exited with {self.proc.returncode}:\n"
                                   + self.log())
            try:
                if requests.get(self.url("/api/v1/health"), timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("credit serve did not become healthy:\n" + self.log())

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _signal_group(self, sig) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)  # the group we started (start_new_session)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: no cleanup runs anywhere."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- raw tampering

def drop_append_only(conn, table: str) -> None:
    """Remove the defence-in-depth triggers of ``table``: detection must not need them."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    else:
        conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def raw(ctx, sql: str, params: dict | None = None, *, tables=()) -> int:
    """One raw statement behind the service, triggers of ``tables`` removed first;
    returns the row count."""
    from sqlalchemy import text
    with ctx.uow.engine.begin() as conn:
        for t in tables:
            drop_append_only(conn, t)
        return conn.execute(text(sql), params or {}).rowcount


def query(ctx, sql: str, params: dict | None = None) -> list:
    from sqlalchemy import text
    with ctx.uow.engine.connect() as conn:
        return list(conn.execute(text(sql), params or {}))
