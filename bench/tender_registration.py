"""Registering a 50-bid tender against three years of history (WARNINGS.md; issue 11):
20,000 earlier tenders of 1,000 bidders (each with documents, an upload, a deposit
account and usually a project manager; nine in ten awarded), then POST /tenders of a
50-bid tender — validation, personal values hashed, the snapshot read, all 13 screens,
the rows and audit entries written and committed — timed through the use case and
through the HTTP app (create_app's test client). Budget: ≤ 100 ms.

Also prints the query plans of the two snapshot queries (the cross-tender screens),
``EXPLAIN ANALYZE`` on PostgreSQL and ``EXPLAIN QUERY PLAN`` on SQLite, to show that they
use ``ix_bid_parties_uscc_opened`` and ``ix_bid_personnel_id_hash``, not a scan.

    .venv/bin/python bench/tender_registration.py [--backend sqlite|postgresql|both]

The history is written once through the service's own functions (validate_tender,
store_registration, store_award — the rows and hash chain are exactly what the service
writes; 500 tenders per transaction) and kept: var/bench-tenders-history.db, and the
PostgreSQL database ``credit_bench_tenders`` (127.0.0.1:5432, trust auth). Each run
measures on a fresh copy of it (var/bench-tenders-run.db, ``credit_bench_tenders_run``),
with a different sample of 50 bidders per measured tender.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from credit.domain.dates import CST  # noqa: E402
from credit.persistence.database import upgrade  # noqa: E402
from credit.services.bootstrap import build_context  # noqa: E402
from credit.services.context import Actor  # noqa: E402
from credit.services.identity import identity_key  # noqa: E402
from credit.services.tender_inputs import validate_tender  # noqa: E402
from credit.services.tenders import (  # noqa: E402
    register_tender,
    screen_definition,
    store_award,
    store_registration,
)
from tests.tender_data import id_number, make_uscc  # noqa: E402

PG_ADMIN = os.environ.get("CREDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_NAME = "credit_bench_tenders"
PLATFORM = Actor("柯桥区公共资源交易中心", "platform")
SECTORS = ("housing", "transport", "water")
PERSONS = 3000


def person(i: int) -> str:
    born = date(1960, 1, 1) + timedelta(days=(i * 37) % 12000)
    return id_number(i, born=born.strftime("%Y%m%d"), region=f"3306{(i // 1000) % 100:02d}")


def hexid(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


def a_bid(rng: random.Random, uscc: str, price: int, submitted: str) -> dict:
    bid = {"bidder": uscc, "bidder_name": f"浙江某建设有限公司{uscc[-6:]}",
           "price": f"{price}.00", "status": "valid" if rng.random() > 0.08 else "rejected",
           "submitted_at": submitted,
           "documents": [{"machine_code": hexid(rng), "file_id": hexid(rng, 8)}],
           "uploads": [{"mac": hexid(rng), "cpu": hexid(rng, 16), "disk": hexid(rng, 8),
                        "ip": f"115.{rng.randrange(256)}.{rng.randrange(256)}."
                              f"{rng.randrange(1, 255)}"}],
           "deposit_account": f"6222{rng.randrange(10**14):014d}"}
    if bid["status"] == "rejected":
        bid["reject_reason"] = "未按要求提交投标保证金"
    if rng.random() < 0.8:
        bid["personnel"] = [{"role": "project_manager",
                             "id_number": person(rng.randrange(PERSONS))}]
    return bid


def a_tender(rng: random.Random, code: str, opened: datetime, bidders: list[str]) -> dict:
    sector = rng.choice(SECTORS)
    at = opened.isoformat()
    sub = (opened - timedelta(minutes=40)).isoformat()
    base = rng.randrange(500_000, 9_000_000)
    return {"code": code, "name": f"柯桥区工程 {code}", "sector": sector,
            "tenderee": {"uscc": "11330621002587465Y", "name": "柯桥区某镇人民政府"},
            "agency": None, "method": rng.choice(["lowest_price", "comprehensive", "benchmark"]),
            "ceiling_price": f"{base * 11 // 10}.00", "opened_at": at,
            "bids": [a_bid(rng, u, base + rng.randrange(-base // 10, base // 10), sub)
                     for u in bidders]}


def build_history(ctx, tenders: int, bidders: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    pool = [make_uscc(i, prefix="91330603") for i in range(1, bidders + 1)]
    key = identity_key(ctx)
    definition = screen_definition(ctx)
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=3 * 365)
    step = (now - timedelta(days=1) - start) / tenders
    batch = 500
    t0 = time.perf_counter()
    for first in range(0, tenders, batch):
        with ctx.uow(write=True) as uow:
            for i in range(first, min(first + batch, tenders)):
                opened = (start + step * i).astimezone(CST).replace(microsecond=0)
                chosen = rng.sample(pool, rng.randrange(5, 11))
                doc = validate_tender(a_tender(rng, f"H-{i:06d}", opened, chosen), key, now)
                tender = store_registration(uow, PLATFORM, doc, definition,
                                            uow.audit.head().position, ())
                valid = [b for b in doc["bids"] if b["status"] == "valid"]
                if valid and rng.random() < 0.9:
                    win = min(valid, key=lambda b: float(b["price"]))
                    awarded = opened.date() + timedelta(days=rng.randrange(3, 20))
                    row = uow.tenders.by_code(tender["code"])
                    store_award(uow, PLATFORM, row, {
                        "winner": win["bidder"], "awarded_on": awarded,
                        "contract_price": win["price"],
                        "completion_due": awarded + timedelta(days=rng.randrange(180, 720))})
            uow.commit()
        done = min(first + batch, tenders)
        print(f"  history: {done:,}/{tenders:,} tenders ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr, end="\r")
    print(file=sys.stderr)


def fifty_bids(rng: random.Random, code: str, bidders: int) -> dict:
    """The measured tender: 50 bids of pool bidders (every one with years of co-bidding
    history), project managers from the pool (some under contract elsewhere), and two
    bids prepared on one machine."""
    pool = [make_uscc(i, prefix="91330603") for i in range(1, bidders + 1)]
    opened = datetime.now(CST).replace(microsecond=0) - timedelta(minutes=5)
    body = a_tender(rng, code, opened, rng.sample(pool, 50))
    body["bids"][7]["documents"] = body["bids"][3]["documents"]
    return body


def measure(ctx, bidders: int, runs: int, label: str) -> dict:
    from api import create_app
    from credit.services.tokens import create_token
    rng = random.Random(f"{label}-{time.time_ns()}")
    service, http, warnings = [], [], []
    for i in range(runs):
        body = fifty_bids(rng, f"BENCH-{label}-{time.time_ns()}-{i}", bidders)
        t = time.perf_counter()
        out = register_tender(ctx, PLATFORM, body)
        service.append((time.perf_counter() - t) * 1000)
        warnings.append(len(json.loads(out.body)["warnings"]))
    app = create_app({"CREDIT_CONTEXT": ctx, "TESTING": True})
    client = app.test_client()
    secret = create_token(ctx, "bench", role="platform", name="bench-platform")[1]
    for i in range(runs):
        body = fifty_bids(rng, f"BENCH-HTTP-{label}-{time.time_ns()}-{i}", bidders)
        t = time.perf_counter()
        r = client.post("/api/v1/tenders", json=body,
                        headers={"Authorization": f"Bearer {secret}"})
        http.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 201, r.get_data(as_text=True)
    return {"service": service, "http": http, "warnings": warnings}


def plans(ctx, bidders: int) -> list[str]:
    """The snapshot's queries' plans for the measured tender's bidders and managers."""
    from credit.persistence import tender_repository as repo
    from credit.services.tender_inputs import tender_from_document
    body = fifty_bids(random.Random("plan"), "PLAN", bidders)
    tender = tender_from_document(validate_tender(body, identity_key(ctx),
                                                  datetime.now(timezone.utc)))
    managers = sorted({pm for b in tender.bids if b.valid for pm in b.project_managers})
    usccs = sorted({b.bidder.uscc for b in tender.bids})
    with ctx.uow(write=False) as uow:
        position = uow.audit.head().position
        conn = uow.session.connection()
        dialect = conn.dialect
        start = tender.opened_on - timedelta(days=365)
        ids = sorted({r.tender_id for r in conn.execute(
            repo.co_bid_query(position, start, tender.opened_on, usccs))})[:1000]
        out = []
        for name, q in (
                ("co-bidding (screen 13)",
                 repo.co_bid_query(position, start, tender.opened_on, usccs)),
                ("project managers elsewhere (screen 12)", repo.managers_query(managers)),
                (f"awards of the {len(ids)} tenders found", repo.awards_query(ids, position)),
                ("their codes and opening dates", repo.tenders_query(ids))):
            sql = str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            prefix = ("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if dialect.name == "postgresql"
                      else "EXPLAIN QUERY PLAN ")
            rows = conn.execute(text(prefix + sql)).all()
            lines = [r[0] if dialect.name == "postgresql" else f"{r[-1]}" for r in rows]
            lines = [re.sub(r"'\{[^}]{60,}\}'", "'{…}'", line) for line in lines]
            out.append(f"-- {name}\n" + "\n".join(lines))
    return out


def _history(backend: str, tenders: int, bidders: int, key: Path) -> str:
    """The URL of the pristine history database, built once."""
    if backend == "sqlite":
        url = f"sqlite:///{ROOT / 'var' / 'bench-tenders-history.db'}"
    else:
        _pg_create(PG_NAME)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME
    upgrade(url)
    ctx = build_context(url)
    ctx.settings = ctx.settings.with_(identity_key_path=str(key))
    with ctx.uow(write=False) as uow:
        have = uow.tenders.next_id() - 1
    if have != tenders:
        if have:
            sys.exit(f"{url} holds {have} tenders, not {tenders}: remove it first")
        print(f"building the history on {backend} …", file=sys.stderr)
        build_history(ctx, tenders, bidders)
    ctx.uow.engine.dispose()
    return url


def _pg_create(name: str, template: str | None = None, *, fresh: bool = False) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if fresh:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                           {"n": name}).first()
        if not exists:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"'
                              + (f' TEMPLATE "{template}"' if template else ""))
    admin.dispose()


def context(backend: str, tenders: int, bidders: int):
    """A service context on a fresh copy of the history: measured registrations must not
    become the next run's history (they would co-bid with each other)."""
    key = ROOT / "var" / "bench-identity-key"
    key.parent.mkdir(exist_ok=True)
    if not key.exists():
        key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    history = _history(backend, tenders, bidders, key)
    if backend == "sqlite":
        run = ROOT / "var" / "bench-tenders-run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{run}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(history.removeprefix("sqlite:///"), run)
        url = f"sqlite:///{run}"
    else:
        _pg_create(PG_NAME + "_run", PG_NAME, fresh=True)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME + "_run"
    ctx = build_context(url)
    ctx.settings = ctx.settings.with_(identity_key_path=str(key))
    if backend == "postgresql":
        with ctx.uow.engine.begin() as c:
            c.exec_driver_sql("ANALYZE")
    return ctx


def report(backend: str, result: dict) -> str:
    def row(name, xs):
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
        return f"| {backend} | {name} | {statistics.median(xs):.1f} | {p95:.1f} | {xs[-1]:.1f} |"
    return "\n".join([row("use case (register_tender)", result["service"]),
                      row("HTTP POST /api/v1/tenders (test client)", result["http"])])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--tenders", type=int, default=20_000)
    p.add_argument("--bidders", type=int, default=1_000)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    lines = ["| backend | path | median ms | p95 ms | max ms |", "|---|---|---:|---:|---:|"]
    for backend in backends:
        ctx = context(backend, args.tenders, args.bidders)
        for plan in plans(ctx, args.bidders):
            print(f"\n[{backend}] {plan}")
        result = measure(ctx, args.bidders, args.runs, backend)
        lines.append(report(backend, result))
        print(f"\n[{backend}] warnings per measured tender: {sorted(set(result['warnings']))}")
        ctx.uow.engine.dispose()
    print("\n" + "\n".join(lines))
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
