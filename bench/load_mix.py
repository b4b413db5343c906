"""Load figures for bench/README.md: wrk against a real ``credit serve`` with a realistic
mix — 90 % score reads (each appends its trace), 10 % record writes.

    .venv/bin/python bench/load_mix.py                       # SQLite, 60 s
    .venv/bin/python bench/load_mix.py --database-url postgresql://postgres@127.0.0.1/x
    .venv/bin/python bench/load_mix.py --seconds 10 --connections 8 --workers 4

It creates a fresh database (SQLite under a temporary folder, or the named PostgreSQL
database, which must exist and be empty), seeds 60 enterprises with records in every
sector, creates a regulator and an evaluator token, starts ``credit serve`` on a free
loopback port, runs ``wrk`` with bench/load_mix.lua, stops the server, verifies the
audit chain and every row (``credit audit verify``) and prints the figures (Markdown)
and one JSON line ``LOAD_RESULT {...}``. Exit status 1 when any request failed or the
chain is broken.
Traffic goes to 127.0.0.1 only; wrk runs for a bounded time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTORS = ("housing", "transport", "water")
SEED_CODES = ("BID-NOSIGN", "SITE-QUALITY", "AWARD-CITY", "SAFE-ACC-GENERAL",
              "AWARD-PROVINCIAL", "SITE-PM-ABSENT")


def usccs(n: int) -> list[str]:
    from stdnum.cn import uscc as gb32100
    out = []
    for i in range(1, n + 1):
        body = f"91330621{i:09d}"
        out.append(body + gb32100.calc_check_digit(body))
    return out


def seed(url: str, subjects: list[str]) -> dict:
    """Migrate, seed records, create a regulator and an evaluator token."""
    from credit.persistence.database import upgrade
    from credit.services.bootstrap import build_context
    from credit.services.context import Actor
    from credit.services.records import create_record
    from credit.services.tokens import create_token
    upgrade(url)
    ctx = build_context(url)
    reg = Actor("柯桥区联合监管", "regulator", sectors=frozenset(SECTORS))
    today = ctx.today()
    n = 0
    for i, uscc in enumerate(subjects):
        for j in range(i % 4):
            n += 1
            decided = today - timedelta(days=20 + 37 * j + i)
            create_record(ctx, reg, {
                "uscc": uscc, "subject_name": f"绍兴柯桥第{i}建设有限公司",
                "sector": SECTORS[(i + j) % 3], "code": SEED_CODES[(i * 3 + j) % len(SEED_CODES)],
                "decided_on": decided.isoformat(), "document_no": f"种子〔2026〕{n}号",
                "issued_by": "柯桥区住房和城乡建设局", "project_code": f"KQ-{i % 7}"})
    _, writer = create_token(ctx, "bench", role="regulator", name="压测监管",
                             sectors=list(SECTORS))
    _, reader = create_token(ctx, "bench", role="evaluator", name="压测评标")
    decided = (today - timedelta(days=10)).isoformat()
    ctx.uow.engine.dispose()
    return {"writer": writer, "reader": reader, "decided": decided,
            "seeded": n}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, token: str | None = None, timeout: float = 600) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                 if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def start_server(url: str, port: int, workers: int, workdir: Path) -> subprocess.Popen:
    identity_key = workdir / "identity-key"
    if not identity_key.exists():
        identity_key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    env = dict(os.environ, CREDIT_DATABASE_URL=url, CREDIT_LOG_LEVEL="warning",
               CREDIT_SECRET_KEY=os.environ.get("CREDIT_SECRET_KEY", "bench-" + "0" * 58),
               CREDIT_IDENTITY_KEY=str(identity_key))
    log = open(workdir / "server.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from credit.cli import main; main()", "serve", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"credit serve exited: see {workdir / 'server.log'}")
        try:
            if get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    sys.exit("credit serve did not become healthy")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the group started above, nothing else
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    ap.add_argument("--subjects", type=int, default=60)
    ap.add_argument("--write-share", type=int, default=10, help="percent of writes")
    ap.add_argument("--database-url", default=None,
                    help="default: a fresh SQLite file in a temporary folder")
    ap.add_argument("--timeout", default="10s", help="wrk per-request timeout")
    args = ap.parse_args(argv)

    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (`make deps`, or apt-get install wrk)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="credit-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    subjects = usccs(args.subjects)
    secrets_ = seed(url, subjects)
    port = free_port()
    proc = start_server(url, port, args.workers, workdir)
    try:
        env = dict(os.environ, CREDIT_READ_TOKEN=secrets_["reader"],
                   CREDIT_WRITE_TOKEN=secrets_["writer"], CREDIT_USCCS=",".join(subjects),
                   CREDIT_DECIDED_ON=secrets_["decided"],
                   CREDIT_WRITE_SHARE=str(args.write_share))
        run = subprocess.run(
            [wrk, "-t", str(args.threads), "-c", str(args.connections),
             "-d", f"{args.seconds}s", "--timeout", args.timeout, "--latency",
             "-s", str(Path(__file__).with_name("load_mix.lua")),
             f"http://127.0.0.1:{port}"],
            env=env, capture_output=True, text=True, timeout=args.seconds + 120)
        print(run.stdout, end="")
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        line = next(ln for ln in run.stdout.splitlines() if ln.startswith("WRK_RESULT "))
        result = json.loads(line.split(" ", 1)[1])
    finally:
        stop_server(proc)  # graceful: requests still in flight when wrk stopped finish
    # Verified once the server is idle: on PostgreSQL a verification racing writers can
    # report a false row_unreferenced (see tests/integration/test_tamper.py).
    from credit.services.audit import verify_chain
    from credit.services.bootstrap import build_context
    ctx = build_context(url)
    t0 = time.monotonic()
    verify = verify_chain(ctx)
    verify_s = time.monotonic() - t0
    ctx.uow.engine.dispose()
    status = 200
    seconds = result["duration_us"] / 1e6
    errors = sum(result["errors"].values())
    backend = url.split(":", 1)[0].split("+")[0]
    out = {
        "backend": backend, "seconds": round(seconds, 1), "workers": args.workers,
        "wrk_threads": args.threads, "connections": args.connections,
        "requests": result["requests"], "throughput_rps": round(result["requests"] / seconds, 1),
        "p50_ms": result["latency_us"]["p50"] / 1000, "p90_ms": result["latency_us"]["p90"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000, "max_ms": result["latency_us"]["max"] / 1000,
        "errors": errors, "error_detail": result["errors"], "answered": result["answered"],
        "sent": result["sent"], "seeded_records": secrets_["seeded"],
        "chain_ok": bool(verify.get("ok")) and status == 200,
        "entries_checked": verify.get("entries_checked"), "first_bad": verify.get("first_bad"),
        "verify_seconds": round(verify_s, 1),
    }
    print(f"\n| backend | workers | conns | seconds | requests | req/s | p50 ms | p90 ms | "
          f"p99 ms | errors | chain |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
          f"| {backend} | {args.workers} | {args.connections} | {out['seconds']} | "
          f"{out['requests']} | {out['throughput_rps']} | {out['p50_ms']:.1f} | "
          f"{out['p90_ms']:.1f} | {out['p99_ms']:.1f} | {errors} | "
          f"{'ok' if out['chain_ok'] else 'BROKEN'} ({out['entries_checked']} entries) |")
    print("LOAD_RESULT " + json.dumps(out, ensure_ascii=False))
    if args.database_url is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if errors == 0 and out["chain_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
