"""Shared helpers of the integration suites: actors, valid request bodies, the audit
head, row counts and raw (behind-the-service) database access for tampering."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select, text
from stdnum.cn import uscc as gb32100

from credit.domain.dates import parse_instant
from credit.persistence.tables import (
    AuditEntryRow,
    EvaluationRow,
    IdempotencyRow,
    RecordEventRow,
    RecordRow,
    SubjectRow,
)
from credit.services import scoring
from credit.services.context import Actor
from tests.live_server import drop_append_only

# Real, valid codes (../data/uscc-real.txt and the spec's worked example).
S1 = "91330603MA2D4F6E84"
S2 = "91110000600037341L"
S3 = "91110000710926094P"
S4 = "91310000631696382C"
S5 = "913304007429141869"
S6 = "91320214745555318W"

HOUSING = Actor("柯桥区住房和城乡建设局", "regulator", token_id=1,
                sectors=frozenset(["housing"]))
TRANSPORT = Actor("柯桥区交通运输局", "regulator", token_id=3,
                  sectors=frozenset(["transport"]))
WATER = Actor("柯桥区水利局", "regulator", token_id=6, sectors=frozenset(["water"]))
HOUSING_2 = Actor("柯桥区住建局第二窗口", "regulator", token_id=5,
                  sectors=frozenset(["housing"]))
EVALUATOR = Actor("评标系统", "evaluator", token_id=2)
EVALUATOR_2 = Actor("另一评标系统", "evaluator", token_id=4)
AUDITOR = Actor("审计员", "auditor", token_id=7)
ADMIN = Actor("管理员", "admin", token_id=8)

INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+08:00$")


def make_uscc(n: int, prefix: str = "91330621") -> str:
    """A valid synthetic USCC number ``n`` (check character per GB 32100-2015)."""
    body = f"{prefix}{n:09d}"
    return body + gb32100.calc_check_digit(body)


def wrong_check(uscc: str) -> str:
    """The same code with a wrong check character."""
    good = uscc[17]
    bad = "0" if good != "0" else "1"
    return uscc[:17] + bad


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()  # record_body(field=DROP) leaves the field out


def record_body(**overrides) -> dict:
    """A valid POST /records body: BID-NOSIGN (−8, general, 12 m, repair after 3 m) for S1
    in housing, decided 2026-01-10 (the fake clock's today is 2026-06-01 CST)."""
    body = {
        "uscc": S1,
        "subject_name": "绍兴柯桥建工集团有限公司",
        "sector": "housing",
        "code": "BID-NOSIGN",
        "decided_on": "2026-01-10",
        "document_no": "绍柯建罚〔2026〕1号",
        "issued_by": "柯桥区住房和城乡建设局",
    }
    for k, v in overrides.items():
        if v is DROP:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def revocation_body(**overrides) -> dict:
    body = {"document_no": "绍柯建撤〔2026〕1号", "reason": "经行政复议撤销原处罚决定"}
    body.update(overrides)
    return body


def repair_body(repaired_on: str, **overrides) -> dict:
    body = {"repaired_on": repaired_on, "document_no": "绍柯建修〔2026〕1号",
            "reason": "已完成整改并提交信用承诺"}
    body.update(overrides)
    return body


def canonical_sha256(value) -> str:
    """SHA-256 of the canonical JSON of API.md §6, computed independently of the service."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def head(ctx) -> tuple[int, str]:
    """(position, sha256) of the newest audit entry."""
    with ctx.uow(write=False) as uow:
        row = uow.session.execute(
            select(AuditEntryRow.position, AuditEntryRow.sha256)
            .order_by(AuditEntryRow.position.desc()).limit(1)).first()
    return (0, "0" * 64) if row is None else (row.position, row.sha256)


def counts(ctx) -> dict[str, int]:
    """Row counts of every table a use case may write."""
    out = {}
    with ctx.uow(write=False) as uow:
        for name, model in (("audit", AuditEntryRow), ("records", RecordRow),
                            ("events", RecordEventRow), ("subjects", SubjectRow),
                            ("evaluations", EvaluationRow), ("idempotency", IdempotencyRow)):
            out[name] = uow.session.execute(select(func.count()).select_from(model)).scalar()
    return out


def snapshot(ctx):
    """Everything that must stay unchanged after a refused request."""
    return head(ctx), counts(ctx)


def all_entries(ctx) -> list[dict]:
    from credit.services.audit import list_entries
    out, after = [], 0
    while True:
        page = list_entries(ctx, after=after, limit=500)
        out += page["items"]
        if page["next"] is None:
            return out
        after = int(page["next"])


def entry(ctx, position: int) -> dict:
    from credit.services.audit import get_entry
    return get_entry(ctx, position)


def instant(text_: str) -> datetime:
    return parse_instant(text_)


def tamper(ctx, table: str, sql: str, params: dict | None = None) -> int:
    """Run one raw statement on ``table`` with its append-only triggers removed;
    returns the number of rows affected."""
    with ctx.uow.engine.begin() as conn:
        drop_append_only(conn, table)
        result = conn.execute(text(sql), params or {})
        return result.rowcount


def expect(exc_type, error: str):
    """pytest.raises for a CreditError with a given ``error`` code."""
    return _Expect(exc_type, error)


class _Expect:
    def __init__(self, exc_type, error):
        self.exc_type, self.error = exc_type, error
        self._cm = pytest.raises(exc_type)

    def __enter__(self):
        self.info = self._cm.__enter__()
        return self.info

    def __exit__(self, *exc):
        suppressed = self._cm.__exit__(*exc)
        if suppressed:
            got = self.info.value
            assert got.error == self.error, (got.error, got.message, got.errors)
        return suppressed


class Computations:
    """Counts finished score computations (the engine, ``scoring.evaluate``, returning)."""

    def __init__(self, monkeypatch):
        self.done = 0
        self.cond = threading.Condition()
        original = scoring.evaluate

        def counted(*args, **kwargs):
            out = original(*args, **kwargs)
            with self.cond:
                self.done += 1
                self.cond.notify_all()
            return out

        monkeypatch.setattr(scoring, "evaluate", counted)

    def wait_for(self, n: int, timeout: float = 60) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.done >= n, timeout=timeout)
