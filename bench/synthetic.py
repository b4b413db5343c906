"""A realistic synthetic Keqiao population written straight into a migrated database:
subjects, records with the catalogue's mix of codes over five years, a few revocations
and repairs, and the hash-chained audit entries that created them — so that the result
verifies exactly like a database the service filled itself, only much faster.

    python bench/synthetic.py --db var/bench.db --enterprises 100000 --records 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stdnum.cn import uscc as gb32100  # noqa: E402

from credit.domain.dates import ONE_MICROSECOND, default_valid_until, format_instant, to_micros  # noqa: E402
from credit.persistence.database import upgrade  # noqa: E402
from scoring_models import default_registry  # noqa: E402

# Relative frequency of each code in a regulator's year (site conduct dominates).
MIX = {
    "SITE-PM-ABSENT": 14, "ADMIN-CRITICISM": 12, "SITE-STAFF-MISMATCH": 10, "SITE-QUALITY": 8,
    "ADMIN-PENALTY": 8, "SITE-RECTIFY-REFUSE": 6, "WAGE-ARREARS": 4, "SUB-ILLEGAL": 3,
    "BID-ABANDON": 3, "BID-NOSIGN": 3, "BID-COMPLAINT": 2, "FALSE-INFO": 2,
    "SAFE-ACC-GENERAL": 1.5, "BID-FRAUD": 1, "BID-COLLUDE": 0.7, "BID-BRIBE": 0.3,
    "SAFE-CONCEAL": 0.4, "SAFE-ACC-LARGER": 0.4, "SAFE-ACC-MAJOR": 0.1, "SUB-TRANSFER": 0.3,
    "QUAL-LEND": 0.3, "WAGE-BLACKLIST": 0.2, "BID-BAN": 0.5,
    "AWARD-CITY": 6, "AWARD-PROVINCIAL": 3, "AWARD-NATIONAL": 0.6,
    "SITE-STANDARD-CITY": 6, "SITE-STANDARD-PROVINCIAL": 3, "COMMEND-EMERGENCY": 1,
}
SECTORS = ("housing", "transport", "water")
REGULATORS = {"housing": "柯桥区住房和城乡建设局", "transport": "柯桥区交通运输局",
              "water": "柯桥区水利局"}


def dumps(v) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_uscc(i: int) -> str:
    body = f"91330603{i:09d}"
    return body + gb32100.calc_check_digit(body)


def generate(db: Path, enterprises: int, records: int, today: date, seed: int = 7,
             heavy: int = 200) -> dict:
    """Fill a fresh database. The first ``heavy`` enterprises get about 20 records each
    (the scored enterprises of the benchmarks)."""
    if db.exists():
        db.unlink()
    upgrade(f"sqlite:///{db}")
    model = default_registry().active
    rng = random.Random(seed)
    codes = list(MIX)
    weights = [MIX[c] for c in codes]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    start = datetime(today.year - 5, 1, 1, tzinfo=timezone.utc)
    at = start
    prev = "0" * 64
    position = 0
    rid = 0
    subjects, rec_rows, entries = [], [], []
    counts = [20] * min(heavy, enterprises)
    rest = max(records - sum(counts), 0)
    others = enterprises - len(counts)
    for i in range(others):
        counts.append(rest // others + (1 if i < rest % others else 0))

    def flush():
        conn.executemany(
            "INSERT INTO records (id, uscc, subject_name, sector, code, decided_on, "
            "valid_until, document_no, issued_by, project_code, project_name, occurred_on, "
            "note, entered_by, recorded_at, audit_position, sha256) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rec_rows)
        conn.executemany("INSERT INTO audit_entries VALUES (?,?,?,?,?,?,?)", entries)
        conn.executemany("INSERT INTO subjects VALUES (?,?,?)", subjects)
        rec_rows.clear(), entries.clear(), subjects.clear()

    span = (today - start.date()).days
    for e in range(enterprises):
        uscc = make_uscc(e + 1)
        name = f"绍兴柯桥第{e + 1}建设工程有限公司"
        for k in range(counts[e]):
            rid += 1
            position += 1
            at = at + timedelta(seconds=rng.randint(1, 120))
            code = rng.choices(codes, weights)[0]
            entry = model.catalogue[code]
            decided = today - timedelta(days=rng.randrange(span))
            if entry.explicit:
                valid_until = decided + timedelta(days=rng.randint(30, 700))
            else:
                valid_until = default_valid_until(decided, entry.validity_months)
            sector = SECTORS[(e + k) % 3] if rng.random() < 0.3 else SECTORS[e % 3]
            project = f"KQ-{rng.randrange(5000)}" if entry.is_good else None
            facts = {
                "id": rid, "uscc": uscc, "subject_name": name, "sector": sector, "code": code,
                "decided_on": decided.isoformat(), "valid_until": valid_until.isoformat(),
                "document_no": f"绍柯{sector[0].upper()}〔{decided.year}〕{rid}号",
                "issued_by": REGULATORS[sector], "project_code": project,
                "project_name": None, "occurred_on": None, "note": None,
                "entered_by": REGULATORS[sector], "recorded_at": format_instant(at),
                "audit_position": position,
            }
            rsha = sha(dumps(facts))
            body = {"position": position, "kind": "record.created", "at": format_instant(at),
                    "actor": REGULATORS[sector], "payload": {"record": facts, "sha256": rsha},
                    "prev_sha256": prev}
            text = dumps(body)
            prev = sha(text)
            entries.append((position, "record.created", to_micros(at), REGULATORS[sector],
                            uscc, text, prev))
            rec_rows.append((rid, uscc, name, sector, code, decided.isoformat(),
                             valid_until.isoformat(), facts["document_no"],
                             REGULATORS[sector], project, None, None, None,
                             REGULATORS[sector], facts["recorded_at"], position, rsha))
            if k == 0:
                subjects.append((uscc, name, position))
        if len(rec_rows) >= 50_000:
            flush()
    flush()
    conn.commit()
    conn.close()
    assert at + ONE_MICROSECOND < datetime.now(timezone.utc), "synthetic history in the future"
    return {"enterprises": enterprises, "records": rid, "entries": position,
            "heavy": [make_uscc(i + 1) for i in range(min(heavy, enterprises))]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default="var/bench.db")
    p.add_argument("--enterprises", type=int, default=100_000)
    p.add_argument("--records", type=int, default=1_000_000)
    args = p.parse_args()
    t = time.perf_counter()
    info = generate(Path(args.db), args.enterprises, args.records, date.today())
    print(f"wrote {info['enterprises']} enterprises, {info['records']} records, "
          f"{info['entries']} audit entries to {args.db} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
