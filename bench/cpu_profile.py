"""CPU per served score and per 50-bidder evaluation, in-process (issue 10 CPU pass).

Wall clock on a shared 2-core machine is noise; this counts the process's CPU time
(``time.process_time``, every thread of the process) instead, so the figure says what
the service's Python costs per request whatever else runs on the machine. One subject
with 18 records in housing and 50 bidders with 3 records each, on a fresh SQLite file
database under ``var/bench/`` (or a fresh PostgreSQL database with ``--pg``); after a
warm-up:

* ``GET /api/v1/subjects/{uscc}/score`` through Flask's test client (``create_app``,
  real bearer token) and ``scoring.score`` (the service function alone), N each;
* ``POST /api/v1/evaluations`` with 50 bidders, through the test client and through
  ``scoring.create_evaluation``, M each;

then one cProfile run per path (top 30 by tottime, with ``--profile``).

    .venv/bin/python bench/cpu_profile.py [--scores 2000] [--evaluations 30] [--profile]

Figures only; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic import make_uscc  # noqa: E402

from credit.persistence.database import upgrade  # noqa: E402
from credit.services import records, scoring  # noqa: E402
from credit.services.bootstrap import build_context  # noqa: E402
from credit.services.tokens import authenticate, create_token  # noqa: E402

USCC = "91330603MA2D4F6E84"
CODES = ("BID-NOSIGN", "SITE-PM-ABSENT", "WAGE-ARREARS")
BIDDERS = [make_uscc(i + 1) for i in range(50)]


def _database(pg: bool) -> str:
    if pg:
        from sqlalchemy import create_engine, text
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("DROP DATABASE IF EXISTS credit_bench_cpu"))
            c.execute(text("CREATE DATABASE credit_bench_cpu"))
        admin.dispose()
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/credit_bench_cpu"
    else:
        folder = ROOT / "var/bench"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cpu-profile.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    upgrade(url)
    return url


def _record(n: int, uscc: str) -> dict:
    return {"uscc": uscc, "subject_name": f"绍兴柯桥建工集团有限公司{uscc[-4:]}",
            "sector": "housing", "code": CODES[n % len(CODES)],
            "decided_on": f"2026-{1 + n % 9:02d}-{10 + n % 15:02d}",
            "document_no": f"绍柯建罚〔2026〕{n}号", "issued_by": "柯桥区住房和城乡建设局"}


def _populate(ctx) -> tuple[str, object]:
    _, reg = create_token(ctx, "bench", role="regulator", name="柯桥区住房和城乡建设局",
                          sectors=["housing"])
    regulator = authenticate(ctx, reg)
    n = 0
    for uscc, count in [(USCC, 18)] + [(u, 3) for u in BIDDERS]:
        for _ in range(count):
            n += 1
            records.create_record(ctx, regulator, _record(n, uscc))
    _, secret = create_token(ctx, "bench", role="evaluator", name="bench-evaluator")
    return secret, authenticate(ctx, secret)


class Evaluations:
    def __init__(self):
        self.n = 0

    def body(self) -> dict:
        self.n += 1
        return {"tender": {"code": f"BENCH-CPU-{self.n}", "name": "bench"},
                "sector": "housing", "as_of": "2026-11-30",
                "bidders": [{"uscc": u} for u in BIDDERS]}


def _cpu_per_call(fn, n: int) -> float:
    """CPU milliseconds per call (median of 3 runs of n/3 calls)."""
    runs = []
    per = max(1, n // 3)
    for _ in range(3):
        t = time.process_time()
        for _ in range(per):
            fn()
        runs.append((time.process_time() - t) * 1000 / per)
    return sorted(runs)[1]


def _profile(label: str, fn, n: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        fn()
    prof.disable()
    print(f"\n--- cProfile: {label}, {n} calls, top 30 by tottime")
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def _paths(ctx, secret: str, actor) -> dict:
    from api import create_app
    client = create_app({"CREDIT_CONTEXT": ctx, "TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    query = scoring.ScoreQuery(USCC, "housing")
    ev = Evaluations()

    def http_score():
        r = client.get(f"/api/v1/subjects/{USCC}/score?sector=housing", headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)

    def http_evaluation():
        r = client.post("/api/v1/evaluations", headers=headers,
                        data=json.dumps(ev.body(), ensure_ascii=False).encode(),
                        content_type="application/json")
        assert r.status_code == 201, r.get_data(as_text=True)

    return {
        "score, HTTP (test client)": ("scores", http_score),
        "score, scoring.score": ("scores", lambda: scoring.score(ctx, actor, query)),
        "50-bidder evaluation, HTTP (test client)": ("evaluations", http_evaluation),
        "50-bidder evaluation, scoring.create_evaluation":
            ("evaluations", lambda: scoring.create_evaluation(ctx, actor, ev.body())),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scores", type=int, default=2000)
    p.add_argument("--evaluations", type=int, default=30)
    p.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    p.add_argument("--profile", action="store_true", help="cProfile top 30 per path")
    p.add_argument("--only", default="", help="run only paths whose label contains this")
    args = p.parse_args()
    ctx = build_context(_database(args.pg))
    secret, actor = _populate(ctx)
    counts = {"scores": args.scores, "evaluations": args.evaluations}
    paths = {k: v for k, v in _paths(ctx, secret, actor).items() if args.only in k}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {'PostgreSQL' if args.pg else 'SQLite (WAL)'}; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    for label, (kind, fn) in paths.items():
        for _ in range(max(3, counts[kind] // 50)):  # warm-up
            fn()
        ms = _cpu_per_call(fn, counts[kind])
        print(f"{label:<50} {ms:8.3f} ms CPU per call ({counts[kind]} calls)")
    if args.profile:
        for label, (kind, fn) in paths.items():
            _profile(label, fn, max(1, counts[kind] // 4))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    ctx.uow.engine.dispose()


if __name__ == "__main__":
    main()
