"""What a served score could reach if computing it cost nothing (issue 10, twelfth pass).

An upper bound for every optimisation of the score's own work: the engine, the trace
payload and its canonical text. (Since the twenty-fourth pass the service itself
remembers a subject's payload and most of its text while the history is unchanged,
services/result_memo.py, so on the bench's one subject the two now differ only by the
rebasing and the few members written per request.) The service is served as
``credit serve`` serves it (2 sync workers, the same worker class, ``gc.freeze()``), and
with ``FREE_COMPUTE=1`` each worker computes its first score as usual and then *reuses*
that payload and its canonical text for every later request. Everything else still runs
per request: the token's authentication, the read at the committed head (its history
unparsed), the entry's text and hash, the append with its lock and COMMIT (and on SQLite
the WAL sync), the response. So a later trace repeats the first one's ``known_at`` and
``knowledge_position``: wrong content, which is why this runs only on *copies* of the
bench databases (a SQLite file copy; ``CREATE DATABASE … TEMPLATE`` on PostgreSQL),
removed at the end. The chain itself stays valid (each entry hashes its own text).

    .venv/bin/python bench/free_compute.py sqlite|pg [--rounds 3] [--seconds 5]

It needs the population of bench/issue10.py (run that first). It prints, per round,
the ceiling (the mean of the runs either side), the service as it is and the service
with free computation, each as a share of the ceiling. Figures only.

As a gunicorn app (``free_compute:app``) it is the service, patched when
``FREE_COMPUTE=1``; the patch reaches into private names of credit/services/scoring.py,
as ``cpu_profile.py --parts`` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_PG = "credit_bench_free_compute"


def _patch() -> None:
    """Compute the first score; hand the same payload and text to every later request,
    after its read at the head has run."""
    from credit.services import scoring
    real_at_head = scoring._payload_at_head
    real_text = scoring.canonical_text
    first: dict = {}

    def at_head(ctx, actor, model, q, as_of):
        if "payload" not in first:
            first["payload"] = real_at_head(ctx, actor, model, q, as_of)
            return first["payload"]
        read = ctx.uow.served_scores.read_at_head(
            None if actor.confirmed else actor.token_id, q.uscc)
        if read is not None and read.opening.revoked:
            scoring.refuse_revoked(actor)
        return first["payload"]

    class Text:
        # A member's text, as the memo writes it on the first score: the real one.
        dumps = staticmethod(real_text.dumps)

        @staticmethod
        def dumps_with(value, texts):  # the whole payload's: the first, every time
            if "text" not in first:
                first["text"] = real_text.dumps_with(value, texts)
            return first["text"]

    scoring._payload_at_head = at_head
    scoring.canonical_text = Text


def _app():
    if os.environ.get("FREE_COMPUTE") == "1":
        _patch()
    from api.server import worker_app
    return worker_app()  # as credit serve builds it in each worker


if __name__ != "__main__":  # imported by a gunicorn worker (no preload: after fork)
    app = _app()


def _server(url: str, work: Path, free: bool):
    import issue10
    return issue10.bench_app_server(url, work, "free_compute:app",
                                    FREE_COMPUTE="1" if free else "0")


def _copies(kind: str, work: Path) -> tuple[str, str, str]:
    """(the service's database, its scratch copy, the ceiling's database) as URLs."""
    import issue10
    if kind == "sqlite":
        db = ROOT / "var/bench.db"
        # SQLite's backup, not a file copy: the population is in WAL mode.
        with sqlite3.connect(db) as source, sqlite3.connect(work / "free.db") as target:
            source.backup(target)
        return f"sqlite:///{db}", f"sqlite:///{work / 'free.db'}", \
            f"sqlite:///{work / 'ceiling.db'}"
    with issue10._pg("postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {COPY_PG} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {COPY_PG} TEMPLATE credit_bench_issue10")
    return f"{issue10.PG_ADMIN}/credit_bench_issue10", f"{issue10.PG_ADMIN}/{COPY_PG}", \
        issue10.fresh_pg("credit_bench_ceiling")


def _rounds(ceiling, real, free, rounds: int, seconds: int) -> list[tuple[float, float]]:
    """issue10.alternate with both services between the ceiling runs: per round, each
    one's share of the mean of the ceiling runs either side."""
    import issue10
    cs, (rs, fs), (r_ratios, f_ratios) = issue10.alternate(ceiling, [real, free], seconds,
                                                            rounds)
    for i, (r, f) in enumerate(zip(rs, fs, strict=True)):
        c = (cs[i]["rps"] + cs[i + 1]["rps"]) / 2
        print(f"ceiling {c:,.0f}/s; service {r['rps']:,.0f}/s ({r_ratios[i]:.0%}); "
              f"free computation {f['rps']:,.0f}/s ({f_ratios[i]:.0%}); non-2xx "
              f"{r['non2xx']} + {f['non2xx']}")
    return list(zip(r_ratios, f_ratios, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("backend", choices=("sqlite", "pg"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import issue10
    print(f"machine: {issue10.machine()}; {issue10.load()}")
    work = Path(tempfile.mkdtemp(prefix="free-compute-"))
    servers = []
    try:
        url, copy, ceiling_url = _copies(args.backend, work)
        # Each server is listed as soon as it runs, so that a later failure stops it.
        servers.append(issue10.ceiling_server(ceiling_url))
        servers.append(_server(url, work, False))
        servers.append(_server(copy, work, True))
        rows = _rounds(servers[0], servers[1], servers[2], args.rounds, args.seconds)
    finally:
        for s in servers:
            (s[0] if isinstance(s, tuple) else s).stop()
        shutil.rmtree(work, ignore_errors=True)
        if args.backend == "pg":
            with issue10._pg("postgres") as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {COPY_PG} WITH (FORCE)")
    print(f"median share of the ceiling: service "
          f"{statistics.median(r for r, _ in rows):.0%}, free computation "
          f"{statistics.median(f for _, f in rows):.0%}; {issue10.load()}")


if __name__ == "__main__":
    main()
