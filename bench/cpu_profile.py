"""CPU per served score and per 50-bidder evaluation, in-process (issue 10 CPU pass).

Wall clock on a shared 2-core machine is noise; this counts the process's CPU time
(``time.process_time``, every thread of the process) instead, so the figure says what
the service's Python costs per request whatever else runs on the machine. One subject
with 18 records in housing and 50 bidders with 3 records each, on a fresh SQLite file
database under ``var/bench/`` (or a fresh PostgreSQL database with ``--pg``); after a
warm-up (so every score after the first is served from the worker's memo of unchanged
histories, services/result_memo.py, as the bench's repeated requests are; ``--no-memo``
computes each afresh):

* ``GET /api/v1/subjects/{uscc}/score`` through Flask's test client (``create_app``,
  real bearer token) and ``scoring.score`` (the service function alone), N each;
* ``POST /api/v1/evaluations`` with 50 bidders, through the test client and through
  ``scoring.create_evaluation``, M each;

then one cProfile run per path (top 30 by tottime, with ``--profile``).

With ``--parts``, where a served score's time goes: each part called on its own with
the inputs the service gives it (the read at the head, the engine, the trace payload,
its canonical text, its hash, the append with its COMMIT and WAL sync; and what a score
whose history is remembered does instead: the read with the payload rebased, the text
from the remembered members), CPU and wall time, beside the logged-read ceiling
(bench/logged_read.py) through its own test client on a table of its own in the same
database.

    .venv/bin/python bench/cpu_profile.py [--scores 2000] [--evaluations 30] [--profile]
    .venv/bin/python bench/cpu_profile.py --parts [--pg]
    .venv/bin/python bench/cpu_profile.py --framework

With ``--framework``, what the API's layers cost around the service call: the same
request as a direct WSGI call (no test client), then with ``scoring.score`` replaced by
a function returning its body, and a bare Flask route returning that body.

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
from credit.services.result_memo import ResultMemo  # noqa: E402
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


def _per_call(fn, n: int) -> tuple[float, float]:
    """CPU and wall milliseconds per call (each the median of 3 runs of n/3 calls)."""
    cpu, wall = [], []
    per = max(1, n // 3)
    for _ in range(3):
        t, w = time.process_time(), time.perf_counter()
        for _ in range(per):
            fn()
        cpu.append((time.process_time() - t) * 1000 / per)
        wall.append((time.perf_counter() - w) * 1000 / per)
    return sorted(cpu)[1], sorted(wall)[1]


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


def _parts(ctx, actor, url: str) -> dict:
    """A served score's parts, each called with what the service hands it (the default
    knowledge: the committed head), and the ceiling's whole request for scale."""
    from credit import canonical_text
    from credit.domain.canonical import sha256_hex
    from credit.domain.dates import from_micros
    from credit.domain.engine import evaluate
    from credit.domain.records import Knowledge
    from credit.domain.trace import trace_payload
    from credit.persistence.served_scores import PendingEntry

    store, model, as_of = ctx.uow.served_scores, ctx.model(None), ctx.today()
    read = store.read_at_head(None, USCC)
    head = read.opening.head
    knowledge = Knowledge(head.position, from_micros(head.at_us))

    rows = store.history_at(USCC, head.position)  # what a score the memo misses reads

    def engine():  # the history parsed, then scored
        return evaluate(model, USCC, rows.records(), rows.events(), "housing", as_of,
                        knowledge)

    def payload():  # the service's own step: the trace and the token that caused it
        return scoring._stamped(trace_payload(result, read.opening.name), actor)

    result = engine()
    p = payload()
    text = canonical_text.dumps(p)
    entry = PendingEntry("score.served", actor.name, text, USCC)
    query = scoring.ScoreQuery(USCC, "housing")

    def at_head():  # what a repeated score does instead of the four parts after the read
        return scoring._payload_at_head(ctx, actor, model, query, as_of)

    _, hit, texts = at_head()
    hit = scoring._stamped(hit, actor)
    return {
        "part: read at the head (one statement)": lambda: store.read_at_head(None, USCC),
        "part: a miss's read of the rows (one statement)":
            lambda: store.history_at(USCC, head.position),
        f"part: engine (history parsed, evaluate, {len(rows.records())} records)": engine,
        "part: trace payload (dict)": payload,
        f"part: canonical text ({len(text):,} chars)": lambda: canonical_text.dumps(p),
        "part: memo hit (the read, the payload rebased)": at_head,
        "part: memo hit's text (the short members written)":
            lambda: canonical_text.dumps_with(hit, texts),
        "part: sha256 of the text": lambda: sha256_hex(text),
        "part: append (lock, INSERT, COMMIT, WAL sync)": lambda: store.append([entry]),
        "ceiling: logged read, HTTP (test client)": _ceiling(url),
    }


def _framework(ctx, secret: str, actor) -> dict:
    """The WSGI call of a served score, with and without the service's work, beside a
    bare Flask route returning the same body (module docstring)."""
    import io

    from flask import Flask

    from api import create_app
    app = create_app({"CREDIT_CONTEXT": ctx})
    body = scoring.score(ctx, actor, scoring.ScoreQuery(USCC, "housing"))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/api/v1/subjects/{USCC}/score",
               "QUERY_STRING": "sector=housing", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.errors": sys.stderr,
               "HTTP_AUTHORIZATION": f"Bearer {secret}", "HTTP_HOST": "127.0.0.1:8000",
               "REMOTE_ADDR": "127.0.0.1"}

    def call(wsgi) -> None:
        status = []
        out = b"".join(wsgi(dict(environ, **{"wsgi.input": io.BytesIO(b"")}),
                            lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), out[:300]

    def stubbed() -> None:
        real = scoring.score
        scoring.score = lambda *_: dict(body)
        try:
            call(app)
        finally:
            scoring.score = real

    bare = Flask("bare")
    bare.add_url_rule("/api/v1/subjects/<uscc>/score", "score", lambda uscc: body)
    return {"framework: WSGI call, the real score": lambda: call(app),
            "framework: WSGI call, scoring.score returning its body": stubbed,
            "framework: a bare Flask route returning the body": lambda: call(bare)}


def _ceiling(url: str):
    """bench/logged_read.py's request, on its own table in the bench database (it
    reads the URL, SQLAlchemy's form included, from LOGGED_READ_URL at import)."""
    os.environ["LOGGED_READ_URL"] = url
    import logged_read
    client = logged_read.app.test_client()

    def call():
        r = client.get("/read")
        assert r.status_code == 200, r.get_data(as_text=True)

    return call


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scores", type=int, default=2000)
    p.add_argument("--evaluations", type=int, default=30)
    p.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    p.add_argument("--profile", action="store_true", help="cProfile top 30 per path")
    p.add_argument("--only", default="", help="run only paths whose label contains this")
    p.add_argument("--parts", action="store_true",
                   help="a served score's parts and the ceiling (CPU and wall)")
    p.add_argument("--framework", action="store_true",
                   help="the API's layers around the service call (WSGI, stubbed, bare Flask)")
    p.add_argument("--no-memo", action="store_true",
                   help="compute every score afresh (services/result_memo.py remembers "
                        "nothing)")
    args = p.parse_args()
    url = _database(args.pg)
    ctx = build_context(url)
    if args.no_memo:
        ctx.results = ResultMemo(capacity=0)
    secret, actor = _populate(ctx)
    counts = {"scores": args.scores, "evaluations": args.evaluations}
    paths = _paths(ctx, secret, actor)
    if args.parts:
        paths = {k: v for k, v in paths.items() if k.startswith("score")}
        paths.update({k: ("scores", fn) for k, fn in _parts(ctx, actor, url).items()})
    if args.framework:
        paths = {k: ("scores", fn) for k, fn in _framework(ctx, secret, actor).items()}
    paths = {k: v for k, v in paths.items() if args.only in k}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {'PostgreSQL' if args.pg else 'SQLite (WAL)'}; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    for label, (kind, fn) in paths.items():
        for _ in range(max(3, counts[kind] // 50)):  # warm-up
            fn()
        cpu, wall = _per_call(fn, counts[kind])
        print(f"{label:<50} {cpu:8.3f} ms CPU, {wall:8.3f} ms wall per call "
              f"({counts[kind]} calls)")
    if args.profile:
        for label, (kind, fn) in paths.items():
            _profile(label, fn, max(1, counts[kind] // 4))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    ctx.uow.engine.dispose()


if __name__ == "__main__":
    main()
