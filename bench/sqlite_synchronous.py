"""What ``PRAGMA synchronous=FULL`` costs against ``NORMAL`` on SQLite (issue 9 item 10).

The service runs SQLite with ``synchronous=FULL`` (credit/persistence/database.py): each
COMMIT syncs the WAL before it returns, so an acknowledged write survives a power cut.
This bench measures the price on the two paths that commit: **record writes**
(``records.create_record``, one ``record.created`` entry each) and **served scores**
(``scoring.score``, which appends its trace). Both run in-process through the services
(no HTTP, no wrk), on a file database under ``var/bench/`` (a real disk, not tmpfs), one
fresh database per mode. Rounds alternate the modes so that other load on the machine
hits both alike. NORMAL is forced by a connection listener added after the service's
own, only here.

Since issue 10 a served score commits on a connection of its own with ``NORMAL`` and
syncs the WAL itself once both locks are released (credit/persistence/wal_sync.py), in
either mode: its two rows measure the same path and should agree. Only the record
write compares the modes.

    .venv/bin/python bench/sqlite_synchronous.py [--rounds 3] [--writes 150] [--scores 300]

Figures only; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import event, text  # noqa: E402
from synthetic import make_uscc  # noqa: E402

from credit.persistence.database import upgrade  # noqa: E402
from credit.services import records, scoring  # noqa: E402
from credit.services.bootstrap import build_context  # noqa: E402
from credit.services.context import Actor  # noqa: E402

MODES = ("NORMAL", "FULL")
USCC = "91330603MA2D4F6E84"
REGULATOR = Actor("柯桥区住房和城乡建设局", "regulator", token_id=1,
                  sectors=frozenset(["housing", "transport", "water"]))
EVALUATOR = Actor("bench-evaluator", "evaluator", token_id=2)
CODES = ("BID-NOSIGN", "SITE-PM-ABSENT", "WAGE-ARREARS")


def _context(folder: Path, mode: str):
    path = folder / f"sync-{mode.lower()}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    ctx = build_context(url)
    engine = ctx.uow.engine
    if mode != "FULL":
        @event.listens_for(engine, "connect")
        def _override(dbapi_conn, _record):  # runs after the service's own listener
            dbapi_conn.execute(f"PRAGMA synchronous={mode}")
    engine.dispose()
    with engine.connect() as c:
        got = c.execute(text("PRAGMA synchronous")).scalar()
    assert got == {"NORMAL": 1, "FULL": 2}[mode], (mode, got)
    return ctx


def _record(n: int, uscc: str = USCC) -> dict:
    return {"uscc": uscc, "subject_name": "绍兴柯桥建工集团有限公司", "sector": "housing",
            "code": CODES[n % len(CODES)], "decided_on": "2026-01-10",
            "document_no": f"绍柯建罚〔2026〕{n}号", "issued_by": "柯桥区住房和城乡建设局"}


def _timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _summary(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return (f"median {statistics.median(ms):6.2f} ms  p90 {q[89]:6.2f} ms  "
            f"p99 {q[98]:6.2f} ms  {1000 * len(ms) / sum(ms):7.0f} ops/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--writes", type=int, default=150, help="record writes per round")
    p.add_argument("--scores", type=int, default=300, help="served scores per round")
    p.add_argument("--folder", default=str(ROOT / "var/bench"))
    args = p.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    ctxs = {mode: _context(folder, mode) for mode in MODES}
    counters = {mode: 0 for mode in MODES}
    as_of = date(2026, 6, 30)
    query = scoring.ScoreQuery(USCC, "housing", as_of)
    writes = {mode: [] for mode in MODES}
    scores = {mode: [] for mode in MODES}
    for mode, ctx in ctxs.items():  # the scored subject has 20 records in both
        for _ in range(20):
            counters[mode] += 1
            records.create_record(ctx, REGULATOR, _record(counters[mode]))
        scoring.score(ctx, EVALUATOR, query)  # warm-up
    for _ in range(args.rounds):
        for mode, ctx in ctxs.items():
            def write(_i, ctx=ctx, mode=mode):  # other subjects: the scored one keeps 20
                counters[mode] += 1
                records.create_record(ctx, REGULATOR, _record(counters[mode],
                                                              make_uscc(counters[mode])))
            writes[mode] += _timed(write, args.writes)
            scores[mode] += _timed(lambda _i, ctx=ctx: scoring.score(ctx, EVALUATOR, query),
                                   args.scores)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, SQLite (WAL) on {folder}; load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"{args.rounds} rounds alternating the modes; each round {args.writes} record "
          f"writes and {args.scores} served scores per mode")
    for label, table in (("record write (POST /records use case)", writes),
                         ("served score (GET …/score use case, appends its trace)", scores)):
        print(label)
        for mode in MODES:
            print(f"  {mode:<6} {_summary(table[mode])}")
        extra = statistics.median(table["FULL"]) - statistics.median(table["NORMAL"])
        print(f"  FULL costs {extra:+.2f} ms per commit at the median "
              f"({100 * extra / statistics.median(table['NORMAL']):+.0f} %)")
    for ctx in ctxs.values():
        ctx.uow.engine.dispose()


if __name__ == "__main__":
    main()
