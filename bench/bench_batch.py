"""Benchmarks of batch rating, export and import (figures in bench/README.md).

1. In memory: score the whole synthetic population (100,000 enterprises, 1,000,000
   records) with the batch engine, and with the single-subject engine looped over the
   same records already grouped in memory, traces included; check that both agree for
   every enterprise.
2. ``credit rate-all`` end to end from the SQLite store to .csv / .parquet (and .xlsx,
   for information): wall time and peak memory of the process.
3. ``credit import`` of 100,000 rows (.csv and .xlsx) into a fresh store, while this
   process keeps serving scores from the same store (the import must not starve them);
   then the same file again (everything already present).

    python bench/batch_data.py            # once: var/bench/batch.db (≈ 2 minutes)
    python bench/bench_batch.py           # all three; --only memory|rate-all|import
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from credit.batch.population import load  # noqa: E402
from credit.batch.vector import money_text, rate  # noqa: E402
from credit.domain.dates import from_micros, parse_instant  # noqa: E402
from credit.domain.engine import evaluate  # noqa: E402
from credit.domain.money import fmt  # noqa: E402
from credit.domain.records import Knowledge, Record, RecordEvent  # noqa: E402
from credit.domain.trace import trace_payload  # noqa: E402
from credit.persistence.database import make_engine, upgrade  # noqa: E402
from credit.persistence.population import PopulationRows  # noqa: E402
from scoring_models import default_registry  # noqa: E402

MODEL = default_registry().active
CREDIT = str(Path(sys.executable).with_name("credit"))
SECTOR = "housing"


def machine() -> dict:
    lscpu = subprocess.run("lscpu | head", shell=True, capture_output=True, text=True).stdout
    return {"nproc": os.cpu_count(), "lscpu_head": lscpu.strip(),
            "python": platform.python_version(), "platform": platform.platform()}


# Started from this (large) process, a child's peak RSS would count the pages it shared
# with us before exec; a small launcher process starts the command and measures it.
LAUNCHER = """
import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - t} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run(cmd: list[str], env: dict) -> dict:
    """Wall time and peak RSS of one CLI run."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as figures:
        p = subprocess.run([sys.executable, "-c", LAUNCHER, figures.name, *cmd], env=env,
                           stdout=out, stderr=subprocess.STDOUT)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        seconds, rss_kb, code = figures.read().split()
    if p.returncode or int(code) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{text}")
    return {"seconds": round(float(seconds), 2), "peak_rss_mb": round(int(rss_kb) / 1024),
            "exit": int(code), "output": text.strip()}


def grouped_domain(conn):
    """The engine's objects, grouped by USCC, as a caller holding them in memory would."""
    records, events = defaultdict(list), defaultdict(list)
    for rid, uscc, sector, code, decided, until, doc, pos, at, project in conn.exec_driver_sql(
            "SELECT id, uscc, sector, code, decided_on, valid_until, document_no, "
            "audit_position, recorded_at, project_code FROM records"):
        records[uscc].append(Record(rid, uscc, sector, code, date.fromisoformat(decided),
                                    date.fromisoformat(until), doc, pos, parse_instant(at),
                                    project))
    for rid, uscc, kind, pos, at, on in conn.exec_driver_sql(
            "SELECT record_id, uscc, kind, audit_position, recorded_at, repaired_on "
            "FROM record_events"):
        events[uscc].append(RecordEvent(rid, kind, pos, parse_instant(at),
                                        date.fromisoformat(on) if on else None))
    names = dict(conn.exec_driver_sql("SELECT uscc, name FROM subjects").fetchall())
    return records, events, names


def memory(db: Path, as_of: date) -> dict:
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        head, at_us = conn.exec_driver_sql(
            "SELECT position, at_us FROM audit_entries ORDER BY position DESC LIMIT 1").one()
        t = time.perf_counter()
        population = load(PopulationRows(Session(bind=conn)), head)
        load_seconds = time.perf_counter() - t
        records, events, names = grouped_domain(conn)
    engine.dispose()
    knowledge = Knowledge(head, from_micros(at_us))
    batch_times = []
    for _ in range(5):
        t = time.perf_counter()
        ratings = rate(MODEL, population, SECTOR, as_of, head)
        batch_times.append(time.perf_counter() - t)
    usccs = list(population.subjects["uscc"])
    t = time.perf_counter()
    results = {}
    for uscc in usccs:
        result = evaluate(MODEL, uscc, records[uscc], events[uscc], SECTOR, as_of, knowledge)
        trace_payload(result, names[uscc])
        results[uscc] = result
    engine_seconds = time.perf_counter() - t
    # Agreement, every enterprise, every published column.
    f = ratings.frame
    score, bid, mult = (money_text(f[c]) for c in ("score", "bid_points",
                                                   "inspection_multiplier"))
    mismatches = 0
    for i, uscc in enumerate(usccs):
        r = results[uscc]
        want = (fmt(r.score), r.grade, r.eligible_to_bid, fmt(r.bid_points),
                fmt(r.inspection_multiplier),
                ";".join(f"{m.measure}:{m.until}" if m.until else m.measure for m in r.measures),
                ";".join(f"{x['code']} {x['contribution']}" for x in r.reasons
                         if x["kind"] == "record"))
        got = (score[i], f["grade"][i], bool(f["eligible_to_bid"][i]), bid[i], mult[i],
               f["measures"][i], f["reasons"][i])
        mismatches += want != got
    best = min(batch_times)
    return {
        "enterprises": len(usccs), "records": len(population.records),
        "events": len(population.events), "load_from_sqlite_seconds": round(load_seconds, 2),
        "batch_seconds_best_of_5": round(best, 3),
        "batch_seconds_median": round(statistics.median(batch_times), 3),
        "engine_loop_with_traces_seconds": round(engine_seconds, 1),
        "speedup": round(engine_seconds / best, 1), "mismatches": mismatches,
        "grades": f["grade"].value_counts().sort_index().to_dict(),
    }


def rate_all(db: Path, out_dir: Path, as_of: date) -> dict:
    env = dict(os.environ, CREDIT_DATABASE_URL=f"sqlite:///{db.resolve()}",
               CREDIT_OPERATOR="bench")
    out = {}
    for suffix in (".csv", ".parquet", ".xlsx"):
        path = out_dir / f"ratings{suffix}"
        r = run([CREDIT, "rate-all", "--sector", SECTOR, "--as-of", as_of.isoformat(),
                 "--out", str(path)], env)
        r["bytes"] = path.stat().st_size
        out[suffix] = r
    return out


def _scores_meanwhile(db: Path, stop: threading.Event, latencies: list) -> None:
    from credit.services.bootstrap import build_context
    from credit.services.context import Actor
    from credit.services.scoring import ScoreQuery, score

    ctx = build_context(f"sqlite:///{db.resolve()}")
    who = Actor("bench evaluator", "evaluator")
    q = ScoreQuery("91330603MA2D4F6E84", SECTOR, date.today())
    while not stop.is_set():
        t = time.perf_counter()
        score(ctx, who, q)
        latencies.append(time.perf_counter() - t)
        time.sleep(0.05)
    ctx.uow.engine.dispose()


def imports(out_dir: Path, rows: int) -> dict:
    import batch_data

    data = batch_data.import_rows(rows)
    files = {".csv": out_dir / f"import-{rows}.csv", ".xlsx": out_dir / f"import-{rows}.xlsx"}
    batch_data.write_csv(data, files[".csv"])
    batch_data.write_xlsx(data, files[".xlsx"])
    out = {}
    for suffix, path in files.items():
        db = out_dir / f"import{suffix.replace('.', '-')}.db"
        for s in ("", "-wal", "-shm"):
            Path(f"{db}{s}").unlink(missing_ok=True)
        upgrade(f"sqlite:///{db.resolve()}")
        env = dict(os.environ, CREDIT_DATABASE_URL=f"sqlite:///{db.resolve()}")
        cmd = [CREDIT, "import", str(path), "--sector", SECTOR, "--entered-by", "bench"]
        stop, latencies = threading.Event(), []
        scorer = threading.Thread(target=_scores_meanwhile, args=(db, stop, latencies))
        scorer.start()
        first = run(cmd, env)
        stop.set()
        scorer.join()
        first["scores_served_meanwhile"] = len(latencies)
        if latencies:
            first["score_latency_max_ms"] = round(1000 * max(latencies))
            first["score_latency_median_ms"] = round(1000 * statistics.median(latencies))
        again = run(cmd, env)
        out[suffix] = {"first": first, "again": again}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="var/bench/batch.db")
    p.add_argument("--out", default="var/bench")
    p.add_argument("--as-of", default=date.today().isoformat())
    p.add_argument("--import-rows", type=int, default=100_000)
    p.add_argument("--only", choices=("memory", "rate-all", "import"))
    args = p.parse_args()
    db, out_dir, as_of = Path(args.db), Path(args.out), date.fromisoformat(args.as_of)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.only != "import" and not db.exists():
        raise SystemExit(f"{db} is missing: run python bench/batch_data.py --db {db}")
    results = {"machine": machine(), "when": datetime.now().isoformat(timespec="seconds"),
               "as_of": as_of.isoformat()}
    if args.only in (None, "memory"):
        results["memory"] = memory(db, as_of)
        print(json.dumps(results["memory"], indent=2, ensure_ascii=False), flush=True)
    if args.only in (None, "rate-all"):
        copy = out_dir / "rate-all.db"  # rate-all logs an entry: keep the store pristine
        shutil.copyfile(db, copy)
        results["rate_all"] = rate_all(copy, out_dir, as_of)
        print(json.dumps(results["rate_all"], indent=2, ensure_ascii=False), flush=True)
    if args.only in (None, "import"):
        results["import"] = imports(out_dir, args.import_rows)
        print(json.dumps(results["import"], indent=2, ensure_ascii=False), flush=True)
    path = out_dir / f"batch-results-{args.only or 'all'}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"results → {path}")


if __name__ == "__main__":
    main()
