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

from api.server import freeze_survivors  # noqa: E402
from credit.domain.dates import CST  # noqa: E402
from credit.persistence.database import upgrade  # noqa: E402
from credit.services.bootstrap import build_context  # noqa: E402
from credit.services.context import Actor  # noqa: E402
from credit.services.identity import identity_key  # noqa: E402
from credit.services.tender_inputs import validate_tender  # noqa: E402
from credit.services.tenders import (  # noqa: E402
    new_award,
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
PMS_PER_BIDDER = 10


def person(i: int) -> str:
    born = date(1960, 1, 1) + timedelta(days=(i * 37) % 12000)
    return id_number(i, born=born.strftime("%Y%m%d"), region=f"3306{(i // 1000) % 100:02d}")


def hexid(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


class Firms:
    """The bidders and their project managers (10 each). A firm names a manager who is
    not under contract on the opening day (建市〔2014〕118号), as firms do; the history
    thus holds few overlapping contracts, and PM-ELSEWHERE stays an exception."""

    def __init__(self, bidders: int):
        self.pool = [make_uscc(i, prefix="91330603") for i in range(1, bidders + 1)]
        self.index = {u: i for i, u in enumerate(self.pool)}
        self.busy_until: dict[int, date] = {}

    def free_manager(self, rng: random.Random, uscc: str, day: date) -> int | None:
        first = self.index[uscc] * PMS_PER_BIDDER
        free = [p for p in range(first, first + PMS_PER_BIDDER)
                if self.busy_until.get(p, date.min) < day]
        return rng.choice(free) if free else None

    def busy_manager(self, rng: random.Random, day: date) -> int | None:
        busy = [p for p, until in self.busy_until.items() if until >= day]
        return rng.choice(busy) if busy else None


def a_bid(rng: random.Random, uscc: str, price: int, submitted: str,
          manager: int | None) -> dict:
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
    if manager is not None:
        bid["personnel"] = [{"role": "project_manager", "id_number": person(manager)}]
    return bid


def a_tender(rng: random.Random, code: str, opened: datetime, bidders: list[str],
             managers: list[int | None]) -> dict:
    sector = rng.choice(SECTORS)
    at = opened.isoformat()
    sub = (opened - timedelta(minutes=40)).isoformat()
    base = rng.randrange(500_000, 9_000_000)
    return {"code": code, "name": f"柯桥区工程 {code}", "sector": sector,
            "tenderee": {"uscc": "11330621002587465Y", "name": "柯桥区某镇人民政府"},
            "agency": None, "method": rng.choice(["lowest_price", "comprehensive", "benchmark"]),
            "ceiling_price": f"{base * 11 // 10}.00", "opened_at": at,
            "bids": [a_bid(rng, u, base + rng.randrange(-base // 10, base // 10), sub, m)
                     for u, m in zip(bidders, managers, strict=True)]}


def _one_history_tender(uow, rng, firms: Firms, i: int, opened: datetime, key, now,
                        definition) -> None:
    chosen = rng.sample(firms.pool, rng.randrange(5, 11))
    managers = [firms.free_manager(rng, u, opened.date()) for u in chosen]
    doc = validate_tender(a_tender(rng, f"H-{i:06d}", opened, chosen, managers), key, now)
    store_registration(uow, PLATFORM, doc, definition, uow.audit.head().position, ())
    valid = [(b, m) for b, m in zip(doc["bids"], managers, strict=True)
             if b["status"] == "valid"]
    if valid and rng.random() < 0.9:
        win, manager = min(valid, key=lambda bm: float(bm[0]["price"]))
        awarded = opened.date() + timedelta(days=rng.randrange(3, 20))
        due = awarded + timedelta(days=rng.randrange(180, 540))
        tender = uow.tenders.by_code(doc["code"])
        store_award(uow, PLATFORM, tender, *new_award(uow, PLATFORM, tender, {
            "winner": win["bidder"], "awarded_on": awarded, "contract_price": win["price"],
            "completion_due": due}))
        if manager is not None:
            firms.busy_until[manager] = due


def build_history(ctx, tenders: int, bidders: int, seed: int = 11) -> Firms:
    rng = random.Random(seed)
    firms = Firms(bidders)
    key = identity_key(ctx)
    definition = screen_definition(ctx)
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=3 * 365)
    step = (now - timedelta(days=1) - start) / tenders
    t0 = time.perf_counter()
    for first in range(0, tenders, 500):
        with ctx.uow(write=True) as uow:
            for i in range(first, min(first + 500, tenders)):
                opened = (start + step * i).astimezone(CST).replace(microsecond=0)
                _one_history_tender(uow, rng, firms, i, opened, key, now, definition)
            uow.commit()
        done = min(first + 500, tenders)
        print(f"  history: {done:,}/{tenders:,} tenders ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return firms


def fifty_bids(rng: random.Random, code: str, firms: Firms) -> dict:
    """The measured tender: 50 bids of pool bidders (every one with years of co-bidding
    history), each naming a project manager of its firm who is free today except two
    who are under contract elsewhere (PM-ELSEWHERE), and two bids prepared on one
    machine (SAME-PREPARER)."""
    opened = datetime.now(CST).replace(microsecond=0) - timedelta(minutes=5)
    bidders = rng.sample(firms.pool, 50)
    managers = [firms.free_manager(rng, u, opened.date()) for u in bidders]
    managers[10], managers[20] = (firms.busy_manager(rng, opened.date()),
                                  firms.busy_manager(rng, opened.date()))
    body = a_tender(rng, code, opened, bidders, managers)
    body["bids"][7]["documents"] = body["bids"][3]["documents"]
    for n in (10, 20):
        body["bids"][n]["status"] = "valid"
        body["bids"][n].pop("reject_reason", None)
    return body


def _timed(results: dict, path: str, call) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    results[path]["wall"].append((time.perf_counter() - wall) * 1000)
    results[path]["cpu"].append((time.process_time() - cpu) * 1000)
    return out


def measure(ctx, firms: Firms, runs: int, label: str) -> dict:
    """Wall time and this process's CPU time of each registration (the CPU time is what
    other jobs on a shared machine inflate least; on PostgreSQL it leaves out the
    server's own work)."""
    from api import create_app
    from credit.services.tokens import create_token
    rng = random.Random(f"{label}-{time.time_ns()}")
    results = {p: {"wall": [], "cpu": []} for p in ("service", "http")}
    # as a served worker has it (api.server.worker_app): without it each full collection
    # walked the history's build and the models again, about 35 ms of a registration
    freeze_survivors()
    warnings = []
    for i in range(runs):
        body = fifty_bids(rng, f"BENCH-{label}-{time.time_ns()}-{i}", firms)
        out = _timed(results, "service", lambda b=body: register_tender(ctx, PLATFORM, b))
        warnings.append(len(json.loads(out.body)["warnings"]))
    app = create_app({"CREDIT_CONTEXT": ctx, "TESTING": True})
    freeze_survivors()
    client = app.test_client()
    secret = create_token(ctx, "bench", role="platform", name="bench-platform")[1]
    for i in range(runs):
        body = fifty_bids(rng, f"BENCH-HTTP-{label}-{time.time_ns()}-{i}", firms)
        r = _timed(results, "http", lambda b=body: client.post(
            "/api/v1/tenders", json=b, headers={"Authorization": f"Bearer {secret}"}))
        assert r.status_code == 201, r.get_data(as_text=True)
    return {**results, "warnings": warnings}


def plans(ctx, firms: Firms) -> list[str]:
    """The snapshot's queries' plans for the measured tender's bidders and managers."""
    from credit.persistence import tender_repository as repo
    from credit.services.tender_inputs import tender_from_document
    body = fifty_bids(random.Random("plan"), "PLAN", firms)
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
        name = dialect.name
        out = []
        for title, q in (
                ("co-bidding (screen 13)",
                 repo.co_bid_query(position, start, tender.opened_on, usccs, name)),
                ("project managers elsewhere (screen 12)", repo.managers_query(managers, name)),
                (f"awards of {len(ids)} tenders found", repo.awards_query(ids, position, name)),
                ("their codes and opening dates", repo.tenders_query(ids, name))):
            if name == "postgresql":
                compiled = q.compile(dialect=dialect)
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                                            + str(compiled), compiled.params).all()
                lines = [r[0] for r in rows]
            else:
                sql = str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                lines = [r[-1] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()]
            lines = [re.sub(r"'\{[^}]{60,}\}'", "'{…}'", line) for line in lines]
            out.append(f"-- {title}\n" + "\n".join(lines))
    return out


def _history(backend: str, tenders: int, bidders: int, key: Path) -> tuple[str, Firms]:
    """The URL of the pristine history database, built once, and its firms (whose
    managers' contracts the build tracked, kept beside it)."""
    if backend == "sqlite":
        url = f"sqlite:///{ROOT / 'var' / 'bench-tenders-history.db'}"
    else:
        _pg_create(PG_NAME)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME
    state = ROOT / "var" / f"bench-tenders-{backend}-firms.json"
    upgrade(url)
    ctx = build_context(url)
    ctx.settings = ctx.settings.with_(identity_key_path=str(key))
    with ctx.uow(write=False) as uow:
        have = uow.tenders.next_id() - 1
    if have != tenders or not state.exists():
        if have:
            sys.exit(f"{url} holds {have} tenders (want {tenders}) or {state} is missing: "
                     "remove the history first")
        print(f"building the history on {backend} …", file=sys.stderr)
        firms = build_history(ctx, tenders, bidders)
        state.write_text(json.dumps({str(k): v.isoformat()
                                     for k, v in firms.busy_until.items()}), encoding="utf-8")
    firms = Firms(bidders)
    firms.busy_until = {int(k): date.fromisoformat(v)
                        for k, v in json.loads(state.read_text(encoding="utf-8")).items()}
    ctx.uow.engine.dispose()
    return url, firms


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
    history, firms = _history(backend, tenders, bidders, key)
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
    return ctx, firms


def report(backend: str, result: dict) -> str:
    def row(name, times):
        xs = sorted(times["wall"])
        p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
        return (f"| {backend} | {name} | {statistics.median(xs):.1f} | {p95:.1f} | "
                f"{xs[-1]:.1f} | {statistics.median(times['cpu']):.1f} |")
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
    lines = ["| backend | path | median ms | p95 ms | max ms | median CPU ms (client) |",
             "|---|---|---:|---:|---:|---:|"]
    for backend in backends:
        ctx, firms = context(backend, args.tenders, args.bidders)
        for plan in plans(ctx, firms):
            print(f"\n[{backend}] {plan}")
        result = measure(ctx, firms, args.runs, backend)
        lines.append(report(backend, result))
        print(f"\n[{backend}] warnings per measured tender: {sorted(set(result['warnings']))}")
        ctx.uow.engine.dispose()
    print("\n" + "\n".join(lines))
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
