"""Data for the batch benchmarks (bench/bench_batch.py).

* ``build_store``: the project's synthetic store (``bench/synthetic.py``: 100,000
  enterprises, 1,000,000 records over five years in the catalogue's mix of codes, with
  the hash chain that created them), plus what it lacks for batch rating: revocations
  (about 1 % of records) and credit repairs (about 10 % of the repairable penalties that
  can still be repaired), appended as ``record.revoked`` / ``record.repaired`` entries
  that continue the chain, so ``credit audit verify`` still passes.
* ``import_rows`` / ``write_xlsx`` / ``write_csv``: a regulator's sheet of new decisions
  with the Chinese headers, Excel dates and the BID-BAN's 有效期至.

    python bench/batch_data.py --db var/bench/batch.db
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from credit.domain import canonical  # noqa: E402
from credit.domain.dates import (  # noqa: E402
    ONE_DAY,
    cst_date,
    default_valid_until,
    earliest_repair_on,
    format_instant,
    from_micros,
)
from credit.persistence.repositories import event_facts  # noqa: E402
from credit.persistence.tables import RecordEventRow  # noqa: E402
from scoring_models import default_registry  # noqa: E402


def _synthetic():
    spec = importlib.util.spec_from_file_location("bench_synthetic", ROOT / "bench/synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_store(db: Path, enterprises: int = 100_000, records: int = 1_000_000,
                seed: int = 11) -> dict:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    info = _synthetic().generate(db, enterprises, records, date.today())
    info.update(add_events(db, seed=seed))
    return info


def add_events(db: Path, seed: int = 11, revoke: float = 0.01, repair: float = 0.10) -> dict:
    """Revoke and repair a random share of the records, continuing the hash chain."""
    model = default_registry().active
    rng = random.Random(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    position, at_us, prev = con.execute(
        "SELECT position, at_us, sha256 FROM audit_entries ORDER BY position DESC LIMIT 1"
    ).fetchone()
    today = cst_date(datetime.now().astimezone())
    rows = con.execute("SELECT id, uscc, sector, code, decided_on FROM records").fetchall()
    event_id = con.execute("SELECT COALESCE(MAX(id), 0) FROM record_events").fetchone()[0]
    events, entries = [], []
    revoked = repaired = 0
    for rid, uscc, sector, code, decided in rows:
        entry = model.catalogue[code]
        roll = rng.random()
        if roll < revoke:
            kind, repaired_on = "revocation", None
        elif roll < revoke + repair and entry.repairable and not entry.explicit:
            d = date.fromisoformat(decided)
            lo = earliest_repair_on(d, entry.repair_min_months)
            hi = min(default_valid_until(d, entry.validity_months), today - ONE_DAY)
            if lo > hi:
                continue
            kind, repaired_on = "repair", lo + timedelta(days=rng.randrange((hi - lo).days + 1))
        else:
            continue
        event_id += 1
        position += 1
        at_us += rng.randint(1, 60) * 1_000_000
        at = format_instant(from_micros(at_us))
        actor = f"{sector} regulator"
        row = RecordEventRow(
            id=event_id, record_id=rid, uscc=uscc, kind=kind,
            document_no=f"{'撤' if kind == 'revocation' else '修'}〔{event_id}〕号",
            reason="经行政复议撤销" if kind == "revocation" else "完成整改，信用修复",
            repaired_on=repaired_on, entered_by=actor, recorded_at=at,
            audit_position=position)
        facts = event_facts(row)  # exactly what the service hashes
        sha = canonical.digest(facts)
        events.append((event_id, rid, uscc, kind, row.document_no, row.reason,
                       facts["repaired_on"], actor, at, position, sha))
        body = {"position": position,
                "kind": "record.revoked" if kind == "revocation" else "record.repaired",
                "at": at, "actor": actor, "payload": {"event": facts, "sha256": sha},
                "prev_sha256": prev}
        text = canonical.dumps(body)
        prev = canonical.sha256_hex(text)
        entries.append((position, body["kind"], at_us, actor, uscc, text, prev))
        revoked += kind == "revocation"
        repaired += kind == "repair"
    con.executemany("INSERT INTO record_events (id, record_id, uscc, kind, document_no, "
                    "reason, repaired_on, entered_by, recorded_at, audit_position, sha256) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)", events)
    con.executemany("INSERT INTO audit_entries (position, kind, at_us, actor, uscc, text, "
                    "sha256) VALUES (?,?,?,?,?,?,?)", entries)
    con.commit()
    con.close()
    return {"revoked": revoked, "repaired": repaired, "entries": position}


IMPORT_HEADER = ["序号", "统一社会信用代码", "企业名称", "行为代码", "决定日期", "决定文号",
                 "决定机关", "项目编号", "项目名称", "有效期至", "备注"]


def import_rows(n: int = 100_000, seed: int = 5) -> list[list]:
    """``n`` new decisions for ``n // 10`` firms (USCCs unused by the store), in the
    catalogue's mix, decided over the past five years."""
    syn = _synthetic()
    model = default_registry().active
    rng = random.Random(seed)
    codes, weights = list(syn.MIX), list(syn.MIX.values())
    today = date.today()
    out = []
    for i in range(n):
        firm = 5_000_000 + rng.randrange(max(1, n // 10))
        code = rng.choices(codes, weights)[0]
        entry = model.catalogue[code]
        d = today - timedelta(days=rng.randrange(1, 5 * 365))
        until = None
        if entry.explicit:
            until = datetime.combine(min(d + timedelta(days=rng.randint(30, 700)),
                                         default_valid_until(d, entry.explicit_max_months)),
                                     datetime.min.time())
        out.append([i + 1, syn.make_uscc(firm), f"绍兴柯桥导入第{firm}建设有限公司", code,
                    datetime.combine(d, datetime.min.time()), f"绍柯建罚〔{d.year}〕导{i}号",
                    "柯桥区住房和城乡建设局",
                    f"KQ-{rng.randrange(5000)}" if entry.is_good else None, None, until, None])
    return out


def write_xlsx(rows: list[list], path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("不良行为记录")
    ws.append(IMPORT_HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)


def write_csv(rows: list[list], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(IMPORT_HEADER)
        for r in rows:
            w.writerow(["" if v is None else v.date().isoformat() if isinstance(v, datetime)
                        else v for v in r])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="var/bench/batch.db")
    p.add_argument("--enterprises", type=int, default=100_000)
    p.add_argument("--records", type=int, default=1_000_000)
    args = p.parse_args()
    t = time.perf_counter()
    info = build_store(Path(args.db), args.enterprises, args.records)
    print(f"{args.db}: {info['enterprises']:,} enterprises, {info['records']:,} records, "
          f"{info['revoked']:,} revoked, {info['repaired']:,} repaired, {info['entries']:,} "
          f"audit entries ({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
