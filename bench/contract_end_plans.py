"""The query plans of screen 12's contract ends (WARNINGS.md screen 12, PERFORMANCE.md §2):
the snapshot reads the final evaluations of the awards it holds, then their approving
reviews known at its position (credit/persistence/tender_repository.py,
``finals_query`` / ``approvals_query``). Prints ``EXPLAIN ANALYZE`` on PostgreSQL and
``EXPLAIN QUERY PLAN`` on SQLite for 1,000 tender ids against 30,000 evaluations (two in
three final, every one reviewed, half of them approved), to show that they use
``ix_performance_evaluations_tender_id`` and the reviews' primary key, not a scan.

    .venv/bin/python bench/contract_end_plans.py [--backend sqlite|postgresql|both]

Only the two tables are created, in a scratch database dropped afterwards
(``credit_bench_contract_end`` on 127.0.0.1:5432, trust auth; var/bench-contract-end.db).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from credit.persistence import tender_repository as repo  # noqa: E402
from credit.persistence.performance_tables import (  # noqa: E402
    PerformanceEvaluationRow,
    PerformanceReviewRow,
)

PG_ADMIN = os.environ.get("CREDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_NAME = "credit_bench_contract_end"
N = 30_000
_E, _R = PerformanceEvaluationRow.__table__, PerformanceReviewRow.__table__


def _fill(engine) -> None:
    day = date(2026, 1, 1)
    with engine.begin() as c:
        c.execute(_E.insert(), [dict(
            id=i, tender_id=i, sector="transport", kind="final" if i % 3 else "periodic",
            period_end=day, completed_on=day, deductions="[]", project_manager_on_site=True,
            score="100.00", rating="excellent", definition="d", definition_sha256="0" * 64,
            submitted_by="bench", submitted_at="t", audit_position=2 * i)
            for i in range(1, N + 1)])
        c.execute(_R.insert(), [dict(
            evaluation_id=i, action="approve" if i % 2 else "return", reason="bench",
            reviewed_on=day, warning_id=None, reviewed_by="bench", reviewed_at="t",
            audit_position=2 * i + 1) for i in range(1, N + 1)])
        if engine.dialect.name == "postgresql":
            c.execute(text("ANALYZE performance_evaluations"))
            c.execute(text("ANALYZE performance_reviews"))


def plans(engine) -> list[str]:
    _E.metadata.create_all(engine, tables=[_E, _R])
    _fill(engine)
    ids = sorted(random.Random(12).sample(range(1, N + 1), 1000))
    name, out = engine.dialect.name, []
    with engine.connect() as conn:
        finals = [i for i in ids if i % 3]
        for title, q in (("final evaluations of 1,000 awarded tenders",
                          repo.finals_query(ids, 3 * N, name)),
                         (f"their approvals ({len(finals)} ids)",
                          repo.approvals_query(finals, 3 * N, name))):
            if name == "postgresql":
                compiled = q.compile(dialect=engine.dialect)
                lines = [r[0] for r in conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled),
                    compiled.params).all()]
            else:
                sql = str(q.compile(dialect=engine.dialect,
                                    compile_kwargs={"literal_binds": True}))
                lines = [r[-1] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()]
            lines = [re.sub(r"'\{[^}]{60,}\}'", "'{…}'", line) for line in lines]
            out.append(f"-- {title}\n" + "\n".join(lines))
    return out


def _pg(statement: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(statement)
    admin.dispose()


def run(backend: str) -> None:
    if backend == "sqlite":
        path = ROOT / "var" / "bench-contract-end.db"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        engine = create_engine(f"sqlite:///{path}")
    else:
        _pg(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        _pg(f'CREATE DATABASE "{PG_NAME}"')
        engine = create_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME)
    try:
        print(f"== {backend}\n" + "\n".join(plans(engine)))
    finally:
        engine.dispose()
        if backend == "sqlite":
            path.unlink(missing_ok=True)
        else:
            _pg(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = p.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend)


if __name__ == "__main__":
    main()
