"""Issue 10 in one run: served scores against the minimal logged-read ceiling, on SQLite
and PostgreSQL, on the bench population (100,000 enterprises, 1,000,000 records).

    .venv/bin/python bench/issue10.py                  # everything (about 15–25 min)
    .venv/bin/python bench/issue10.py --quick          # 5 s wrk runs, no load mix

1. Builds (or reuses) the population: ``var/bench.db`` by bench/synthetic.py (records
   with the hash chain that created them), copied into the PostgreSQL database
   ``credit_bench_issue10`` (COPY), both migrated to the newest revision.
2. Per backend, PostgreSQL first (see main()): the ceiling (bench/logged_read.py, 2 sync
   gunicorn workers, its own table) and ``credit serve --workers 2`` (sync workers, the
   default), both up at once and measured in turn with ``wrk -t1 -c8 -d10s`` — ceiling,
   service, ceiling, … (``--rounds`` service runs, each divided by the mean of the
   ceiling runs either side; the median of those ratios is the figure) — on one subject
   with 20 records, ``as_of`` today, ``known_at`` omitted; then ``wrk -t1 -c1 -d10s``
   on each (p50, p99) and a 50-bidder evaluation (median of 5; its bidders are the same
   each time, so a worker's memo of unchanged histories answers them after the first,
   services/result_memo.py; then again on a server with the memo off, bench/no_memo.py,
   every bidder computed afresh). Unless
   ``--no-compare``, gthread workers (``--threads 4`` and ``8``) are measured after
   that, to show the choice.
3. bench/load_mix.py on PostgreSQL (90 % scores, 10 % writes).
4. ``credit audit verify`` on the SQLite population: full before the measurements,
   ``--incremental`` after them (it walks the traces they appended).

Prints every figure with the machine and the load average. Traffic goes to 127.0.0.1
only; every wrk run is bounded in time; only processes started here are stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic import generate, make_uscc  # noqa: E402

from api.server import THREADS  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
BIN = ROOT / ".venv/bin"
RESULTS: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    RESULTS.append(line)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the population

def sqlite_population(db: Path, enterprises: int, records: int) -> None:
    have = 0
    if db.exists():
        with sqlite3.connect(db) as c:
            try:
                have = c.execute("SELECT count(*) FROM records").fetchone()[0]
            except sqlite3.Error:
                have = 0
    if have < records:
        t = time.perf_counter()
        info = generate(db, enterprises, records, date.today())
        say(f"built {db.name}: {info['records']:,} records, {info['enterprises']:,} "
            f"enterprises in {time.perf_counter() - t:.0f} s")
    from credit.persistence.database import upgrade
    upgrade(f"sqlite:///{db}")


def _pg(dbname: str):
    import psycopg
    return psycopg.connect(f"{PG_ADMIN}/{dbname}", autocommit=True)


def fresh_pg(dbname: str) -> str:
    with _pg("postgres") as c:
        c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{dbname}"')
    return f"{PG_ADMIN}/{dbname}"


def pg_population(db: Path, dbname: str, records: int) -> str:
    from credit.persistence.database import upgrade
    url = f"{PG_ADMIN}/{dbname}"
    try:
        with _pg(dbname) as c:
            have = c.execute("SELECT count(*) FROM records").fetchone()[0]
    except Exception:  # noqa: BLE001 - absent database or table: build it
        have = 0
    if have >= records:
        upgrade(url)
        return url
    t = time.perf_counter()
    fresh_pg(dbname)
    upgrade(url)
    src = sqlite3.connect(db)
    with _pg(dbname) as c:
        for table in ("audit_entries", "subjects", "records", "record_events"):
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(cols)
            with c.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                for row in src.execute(f"SELECT {names} FROM {table}"):
                    cp.write_row(row)
        c.execute("ANALYZE")
    say(f"copied the population into PostgreSQL {dbname} in {time.perf_counter() - t:.0f} s")
    return url


# ------------------------------------------------------------------ servers and wrk

class Server:
    def __init__(self, argv: list[str], env: dict, health: str):
        self.port = free_port()
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     cwd=ROOT)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + health, timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{argv} did not start")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def wrk(url: str, token: str | None, conns: int, seconds: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    if token:
        script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    script.write('done = function(summary, latency, requests)\n'
                 '  io.write(string.format("NON2XX %d\\n", summary.errors.status))\n'
                 '  for _, p in pairs({50, 99}) do\n'
                 '    io.write(string.format("P%d %.3f\\n", p, latency:percentile(p) / 1000))\n'
                 '  end\nend\n')
    script.close()
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", script.name, url], capture_output=True, text=True,
                         check=True).stdout
    os.unlink(script.name)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "non2xx": int(re.search(r"NON2XX (\d+)", out).group(1)),
            "p50": float(re.search(r"P50 ([\d.]+)", out).group(1)),
            "p99": float(re.search(r"P99 ([\d.]+)", out).group(1))}


def credit_env(url: str, workdir: Path) -> dict:
    key = workdir / "identity-key"
    if not key.exists():
        key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    return dict(os.environ, CREDIT_DATABASE_URL=url, CREDIT_SECRET_KEY="bench-" + "0" * 32,
                CREDIT_IDENTITY_KEY=str(key), CREDIT_LOG_LEVEL="warning")


def token(env: dict) -> str:
    out = subprocess.run([str(BIN / "credit"), "token", "create", "--role", "evaluator",
                          "--name", "bench-evaluator"], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def evaluation(base: str, secret: str, runs: int = 5, warm_up: int = 2) -> list[float]:
    """Milliseconds per 50-bidder evaluation, ``runs`` of them after ``warm_up`` untimed
    ones (one per worker: a fresh worker's first evaluation also pays for importing and
    compiling what that path needs)."""
    times = []
    for r in range(warm_up + runs):
        body = json.dumps({"tender": {"code": f"BENCH-{time.time_ns()}-{r}", "name": "bench"},
                           "sector": "housing", "as_of": date.today().isoformat(),
                           "bidders": [{"uscc": make_uscc(i + 1)} for i in range(50)]})
        req = urllib.request.Request(f"{base}/api/v1/evaluations", data=body.encode(),
                                     method="POST",
                                     headers={"Authorization": f"Bearer {secret}",
                                              "Content-Type": "application/json"})
        t = time.perf_counter()
        with urllib.request.urlopen(req) as resp:
            resp.read()
        if r >= warm_up:
            times.append((time.perf_counter() - t) * 1000)
    return times


# ------------------------------------------------------------------ the measurements

def ceiling_server(url: str) -> Server:
    env = dict(os.environ, LOGGED_READ_URL=url)
    return Server([str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:{port}",
                   "--pythonpath", str(ROOT / "bench"), "logged_read:app"], env, "/read")


def service_server(url: str, workdir: Path, threads: int) -> tuple[Server, str]:
    env = credit_env(url, workdir)
    secret = token(env)
    return Server([str(BIN / "credit"), "serve", "--port", "{port}", "--workers", "2",
                   "--threads", str(threads)], env, "/api/v1/health"), secret


def bench_app_server(url: str, workdir: Path, app: str, **env_extra: str
                     ) -> tuple[Server, str]:
    """The service altered by a bench module (``app``: ``module:app`` under bench/, e.g.
    bench/no_memo.py, bench/free_compute.py), served as ``credit serve`` serves it: 2
    sync workers of its worker class, no keep-alive; with its token."""
    env = dict(credit_env(url, workdir), **env_extra)
    secret = token(env)
    return Server([str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:{port}",
                   "--worker-class", "api.server.JsonErrorSyncWorker", "--keep-alive", "0",
                   "--pythonpath", f"{ROOT},{ROOT / 'bench'}", app], env,
                  "/api/v1/health"), secret


def score_url(srv: Server) -> str:
    return f"{srv.base}/api/v1/subjects/{make_uscc(1)}/score?sector=housing"


def alternate(ceiling: Server, services: list[tuple[Server, str]], seconds: int,
              rounds: int) -> tuple[list[dict], list[list[dict]], list[list[float]]]:
    """``wrk -c8`` on the ceiling and the services (each with its token) in turn
    (C S… C S… C), all servers up all along: each service run is divided by the mean of
    the two ceiling runs either side of it, so a minute in which the machine is slower
    or faster (these VMs move by a quarter between runs) weighs on both sides of the
    ratio. Returns the ceiling's runs, and each service's runs and ratios."""
    read = ceiling.base + "/read"
    wrk(read, None, 8, 2)
    for service, secret in services:
        wrk(score_url(service), secret, 8, 2)
    cs, runs = [wrk(read, None, 8, seconds)], [[] for _ in services]
    for _ in range(rounds):
        for out, (service, secret) in zip(runs, services, strict=True):
            out.append(wrk(score_url(service), secret, 8, seconds))
        cs.append(wrk(read, None, 8, seconds))
    ratios = [[s["rps"] / ((a["rps"] + b["rps"]) / 2) for s, a, b in zip(ss, cs, cs[1:],
                                                                           strict=False)]
              for ss in runs]
    return cs, runs, ratios


def backend(name: str, url: str, ceiling_url: str, workdir: Path, seconds: int,
            compare: bool, rounds: int) -> None:
    say(f"\n### {name} ({load()})")
    ceiling = ceiling_server(ceiling_url)
    try:
        service, secret = service_server(url, workdir, THREADS)
        try:
            cs, (ss,), (ratios,) = alternate(ceiling, [(service, secret)], seconds, rounds)
            c1 = wrk(ceiling.base + "/read", None, 1, seconds)
            s1 = wrk(score_url(service), secret, 1, seconds)
            ev = evaluation(service.base, secret)
        finally:
            service.stop()
    finally:
        ceiling.stop()
    cold, cold_secret = bench_app_server(url, workdir, "no_memo:app")
    try:
        ev_cold = evaluation(cold.base, cold_secret)
    finally:
        cold.stop()
    c8 = statistics.median(c["rps"] for c in cs)
    s8 = statistics.median(s["rps"] for s in ss)
    say(f"`wrk -c8` alternated, {rounds} service runs between {rounds + 1} ceiling runs: "
        f"ceiling {_rates(cs)}; service {_rates(ss)}; each service run against the mean "
        f"of the ceiling runs either side: {', '.join(f'{r:.0%}' for r in ratios)}")
    say("| what | wrk -t1 -c8 (median) | non-2xx | -c1 p50 | -c1 p99 |")
    say("|---|---|---|---|---|")
    say(f"| logged-read ceiling (2 sync workers) | {c8:,.0f}/s | "
        f"{sum(c['non2xx'] for c in cs) + c1['non2xx']} | "
        f"{c1['p50']:.2f} ms | {c1['p99']:.2f} ms |")
    say(f"| `GET …/score` ({_kind(THREADS)}, the default) | {s8:,.0f}/s "
        f"(**{statistics.median(ratios):.0%}** of the ceiling, median of the "
        f"{rounds}) | {sum(s['non2xx'] for s in ss) + s1['non2xx']} | "
        f"{s1['p50']:.2f} ms | {s1['p99']:.2f} ms |")
    if compare:
        for threads in (t for t in (1, 4, 8) if t != THREADS):
            t = other_worker_model(url, workdir, seconds, threads)
            say(f"| `GET …/score` ({_kind(threads)}) | {t['c8']['rps']:,.0f}/s "
                f"({t['c8']['rps'] / c8:.0%} of the median ceiling) | {t['c8']['non2xx']} | "
                f"{t['c1']['p50']:.2f} ms | {t['c1']['p99']:.2f} ms |")
    say(f"\n50-bidder evaluation (after one untimed per worker): median "
        f"{statistics.median(ev):.0f} ms "
        f"(runs {', '.join(f'{x:.0f}' for x in ev)}); every bidder computed afresh "
        f"(bench/no_memo.py): median {statistics.median(ev_cold):.0f} ms "
        f"(runs {', '.join(f'{x:.0f}' for x in ev_cold)}); {load()}")


def _rates(runs: list[dict]) -> str:
    return ", ".join(f"{r['rps']:,.0f}" for r in runs) + "/s"


def other_worker_model(url: str, workdir: Path, seconds: int, threads: int) -> dict:
    """Another worker model, for comparison only (after the alternated runs)."""
    srv, secret = service_server(url, workdir, threads)
    try:
        wrk(score_url(srv), secret, 8, 2)
        return {"c8": wrk(score_url(srv), secret, 8, seconds),
                "c1": wrk(score_url(srv), secret, 1, seconds)}
    finally:
        srv.stop()


def _kind(threads: int) -> str:
    return "2 sync workers" if threads == 1 else f"2 gthread workers × {threads}"


def load_mix(seconds: int) -> None:
    url = fresh_pg("credit_bench_loadmix")
    say(f"\n### bench/load_mix.py on PostgreSQL, {seconds} s ({load()})")
    run = subprocess.run([str(BIN / "python"), str(ROOT / "bench/load_mix.py"),
                          "--database-url", url, "--seconds", str(seconds)],
                         capture_output=True, text=True)
    line = next((x for x in run.stdout.splitlines() if x.startswith("LOAD_RESULT ")), None)
    if line is None:
        say(f"load_mix failed: {run.stdout[-2000:]} {run.stderr[-2000:]}")
        return
    r = json.loads(line[len("LOAD_RESULT "):])
    say(f"{r.get('throughput_rps')} req/s, p50 {r.get('p50_ms')} ms, p99 {r.get('p99_ms')} ms,"
        f" chain {'ok' if r.get('chain_ok') else 'BROKEN'}; {load()}")


def verify_times(url: str, workdir: Path, incremental: bool) -> None:
    """The full run before the service is measured (it stores its head); the
    incremental one after, so that it walks what the measurements appended."""
    env = credit_env(url, workdir)
    say(f"\n### credit audit verify on the SQLite population ({load()})")
    runs = [["audit", "verify", "--incremental"]] if incremental else [["audit", "verify"]]
    for args in runs:
        t = time.perf_counter()
        run = subprocess.run([str(BIN / "credit"), *args], env=env, capture_output=True,
                             text=True)
        elapsed = time.perf_counter() - t
        result = json.loads(run.stdout.strip().splitlines()[-1])
        say(f"`credit {' '.join(args)}`: {elapsed:.1f} s, {result['entries_checked']:,} "
            f"entries, ok={result['ok']}; {load()}")


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo")
                   if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.machine()} {os.cpu_count()} CPUs ({cpu}), Python "
            f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=str(ROOT / "var/bench.db"))
    p.add_argument("--pg-db", default="credit_bench_issue10")
    p.add_argument("--enterprises", type=int, default=100_000)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="5 s runs, no load mix")
    p.add_argument("--no-compare", action="store_true", help="skip the other worker models")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--rounds", type=int, default=3,
                   help="service runs, each between two ceiling runs (default 3)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make deps)")
    seconds = 5 if args.quick else args.seconds
    say(f"machine: {machine()}; {load()}")
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    sqlite_population(db, args.enterprises, args.records)
    pg_url = pg_population(db, args.pg_db, args.records)
    work = Path(tempfile.mkdtemp(prefix="issue10-"))
    if not args.no_verify:
        verify_times(f"sqlite:///{db}", work, incremental=False)
    ceiling_db = work / "ceiling.db"
    # PostgreSQL first: the full verify above has just churned the SQLite file through
    # the page cache, and measured right after it the SQLite service ran slower.
    backend("PostgreSQL", pg_url, fresh_pg("credit_bench_ceiling"), work, seconds,
            not args.no_compare, args.rounds)
    backend("SQLite", f"sqlite:///{db}", f"sqlite:///{ceiling_db}", work, seconds,
            not args.no_compare, args.rounds)
    if not args.quick:
        load_mix(60)
    if not args.no_verify:
        verify_times(f"sqlite:///{db}", work, incremental=True)
    shutil.rmtree(work, ignore_errors=True)
    print("\n".join(["", "SUMMARY", *RESULTS]))


if __name__ == "__main__":
    main()
