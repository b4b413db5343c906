"""Where the machine's time goes per request, for the logged-read ceiling and for served
scores (issue 10, eleventh pass).

In-process profiles (bench/cpu_profile.py) see only the Python process. Under
``wrk -c8`` a request also costs gunicorn's accept/parse/write, the kernel's TCP and file
system work, the disk write-back done by kernel threads, PostgreSQL's backends and wrk
itself. This runs both servers as bench/issue10.py does (the ceiling of
bench/logged_read.py and ``credit serve --workers 2``, on the bench population), and for
each ``wrk -t1 -c8`` run reads, before and after:

* ``/proc/stat``: the machine's user, system, idle, I/O wait and soft-IRQ time;
* ``/proc/<pid>/stat`` of every process: CPU by owner — the server's processes, the
  PostgreSQL backends, kernel threads (children of ``kthreadd``), everything else;
* wrk's own CPU (``RUSAGE_CHILDREN``: it runs as our child);
* ``/proc/diskstats``: bytes written to the disk.

Each figure is divided by the requests served, in microseconds (KiB for the disk).

    .venv/bin/python bench/issue10.py --quick --no-verify --no-compare   # builds the population
    .venv/bin/python bench/machine_cpu.py sqlite [--runs 2] [--seconds 8]
    .venv/bin/python bench/machine_cpu.py pg     [--runs 2]   # PostgreSQL's copy, made if absent

The service appends a trace per request to the bench population, as bench/issue10.py
does. Figures only; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import issue10  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def processes() -> dict[int, tuple[str, int, int, int]]:
    """pid → (command, parent pid, user ticks, system ticks)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                line = fh.read()
        except OSError:
            continue
        comm = line[line.index("(") + 1:line.rindex(")")]
        fields = line[line.rindex(")") + 2:].split()
        out[int(pid)] = (comm, int(fields[1]), int(fields[11]), int(fields[12]))
    return out


def descendants(root: int) -> set[int]:
    children = collections.defaultdict(list)
    for pid, (_, ppid, _, _) in processes().items():
        children[ppid].append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children[pid]
    return found


def owner(pid: int, comm: str, ppid: int, servers: dict[str, set[int]]) -> str:
    for name, pids in servers.items():
        if pid in pids:
            return name
    if comm.startswith("postgres"):
        return "PostgreSQL backends"
    if pid == 2 or ppid == 2:
        return "kernel threads"
    return "other processes"


def machine() -> list[int]:
    with open("/proc/stat") as fh:
        return [int(x) for x in fh.readline().split()[1:9]]


def disk_bytes() -> int:
    """Sectors written to whole disks (not partitions, loop or zram devices) × 512."""
    total = 0
    with open("/proc/diskstats") as fh:
        for line in fh:
            f = line.split()
            name = f[2]
            whole = (name.startswith(("vd", "sd", "xvd")) and not name[-1].isdigit()) or (
                name.startswith("nvme") and "p" not in name[4:])
            if whole:
                total += int(f[9])
    return total * 512


def measure(label: str, url: str, token: str | None, servers: dict[str, set[int]],
            seconds: int) -> None:
    issue10.wrk(url, token, 8, 2)  # warm-up
    p0, m0, d0 = processes(), machine(), disk_bytes()
    w0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = issue10.wrk(url, token, 8, seconds)
    w1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p1, m1, d1 = processes(), machine(), disk_bytes()
    n = run["rps"] * seconds
    per = {}
    for pid, (comm, ppid, user, system) in p1.items():
        before = p0.get(pid)
        u0, s0 = (before[2], before[3]) if before and before[0] == comm else (0, 0)
        who = owner(pid, comm, ppid, servers)
        per[f"{who}, user"] = per.get(f"{who}, user", 0) + (user - u0) / HZ
        per[f"{who}, system"] = per.get(f"{who}, system", 0) + (system - s0) / HZ
    per["wrk, user"] = w1.ru_utime - w0.ru_utime
    per["wrk, system"] = w1.ru_stime - w0.ru_stime
    delta = dict(zip(STAT_FIELDS, (b - a for a, b in zip(m0, m1, strict=True)), strict=True))
    busy = sum(delta.values()) - delta["idle"] - delta["iowait"]
    print(f"\n{label}: {run['rps']:,.0f}/s, {run['non2xx']} non-2xx; per request: "
          f"machine busy {busy / HZ / n * 1e6:,.0f} µs "
          f"({', '.join(f'{k} {v / HZ / n * 1e6:,.0f}' for k, v in delta.items() if v)}); "
          f"disk written {(d1 - d0) / n / 1024:.1f} KiB")
    for key, value in sorted(per.items(), key=lambda kv: -kv[1]):
        if value / n * 1e6 >= 5:
            print(f"  {key:<36} {value / n * 1e6:7,.0f} µs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", choices=("sqlite", "pg"))
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--db", default=str(ROOT / "var/bench.db"))
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="machine-cpu-"))
    if args.backend == "sqlite":
        url, ceiling_url = f"sqlite:///{args.db}", f"sqlite:///{work}/ceiling.db"
    else:
        # Copied from the SQLite population if absent (bench/issue10.py).
        url = issue10.pg_population(Path(args.db), "credit_bench_issue10", 1_000_000)
        ceiling_url = issue10.fresh_pg("credit_bench_ceiling")
    print(f"{issue10.machine()}; {issue10.load()}")
    ceiling = issue10.ceiling_server(ceiling_url)
    try:
        service, secret = issue10.service_server(url, work, issue10.THREADS)
        try:
            servers = {"ceiling's workers": descendants(ceiling.proc.pid),
                       "service's workers": descendants(service.proc.pid)}
            for _ in range(args.runs):
                measure("ceiling", ceiling.base + "/read", None, servers, args.seconds)
                measure("service", issue10.score_url(service), secret, servers, args.seconds)
        finally:
            service.stop()
    finally:
        ceiling.stop()
    print(f"\n{issue10.load()}")


if __name__ == "__main__":
    main()
