"""Throughput and latency of served scores over HTTP (issue: HTTP API).

Builds (once) a SQLite database of 100,000 enterprises and 1,000,000 records with
bench/synthetic.py, starts ``credit serve --workers 2`` on it, and measures with wrk:

* throughput: ``wrk -t1 -c8 -d10s`` on one enterprise with about 20 records, ``as_of``
  today and ``known_at`` omitted (so every request appends its trace);
* latency: ``wrk -t1 -c1 -d10s --latency`` (p50, p99);
* a 50-bidder evaluation (median of 5).

    python bench/serve_scores.py [--db var/bench.db] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic import generate, make_uscc  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def credit(*args, env) -> str:
    out = subprocess.run([str(ROOT / ".venv/bin/credit"), *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def wrk(url: str, token: str, threads: int, conns: int, seconds: int) -> str:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n'
                 'done = function(summary, latency, requests)\n'
                 '  io.write(string.format("NON2XX %d\\n", summary.errors.status))\n'
                 '  for _, p in pairs({50, 99}) do\n'
                 '    io.write(string.format("P%d %.3f\\n", p, latency:percentile(p) / 1000))\n'
                 '  end\nend\n')
    script.close()
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", script.name, url], capture_output=True, text=True, check=True)
    os.unlink(script.name)
    return out.stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=str(ROOT / "var/bench.db"))
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--enterprises", type=int, default=100_000)
    p.add_argument("--records", type=int, default=1_000_000)
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make deps)")
    db = Path(args.db)
    if args.rebuild or not db.exists():
        t = time.perf_counter()
        from datetime import date
        info = generate(db, args.enterprises, args.records, date.today())
        print(f"generated {info['records']} records for {info['enterprises']} enterprises "
              f"in {time.perf_counter() - t:.0f} s")
    identity_key = Path(db).parent / "identity-key"  # credit serve refuses to start without
    if not identity_key.exists():
        identity_key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    env = dict(os.environ, CREDIT_DATABASE_URL=f"sqlite:///{db}",
               CREDIT_SECRET_KEY="bench-" + "0" * 32, CREDIT_IDENTITY_KEY=str(identity_key))
    token = credit("token", "create", "--role", "evaluator", "--name", "bench-evaluator", env=env)
    port = free_port()
    server = subprocess.Popen([str(ROOT / ".venv/bin/credit"), "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        uscc = make_uscc(1)
        url = f"{base}/subjects/{uscc}/score?sector=housing"
        wrk(url, token, 1, 8, 2)  # warm-up
        through = wrk(url, token, 1, 8, 10)
        latency = wrk(url, token, 1, 1, 10)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", through).group(1))
        non2xx = int(re.search(r"NON2XX (\d+)", through).group(1)) + int(
            re.search(r"NON2XX (\d+)", latency).group(1))
        p50 = float(re.search(r"P50 ([\d.]+)", latency).group(1))
        p99 = float(re.search(r"P99 ([\d.]+)", latency).group(1))
        body = json.dumps({"tender": {"code": "BENCH-1", "name": "bench"}, "sector": "housing",
                           "as_of": time.strftime("%Y-%m-%d"),
                           "bidders": [{"uscc": make_uscc(i + 1)} for i in range(50)]}).encode()
        times = []
        for _ in range(5):
            req = urllib.request.Request(f"{base}/evaluations", data=body, method="POST",
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
            t = time.perf_counter()
            with urllib.request.urlopen(req) as resp:
                resp.read()
            times.append((time.perf_counter() - t) * 1000)
        print(f"throughput (wrk -t1 -c8 -d10s): {rps:.0f} scores/s")
        print(f"latency (wrk -t1 -c1 -d10s): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        print(f"non-2xx responses: {non2xx}")
        print(f"50-bidder evaluation: median {statistics.median(times):.0f} ms "
              f"(runs: {', '.join(f'{t:.0f}' for t in times)})")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
