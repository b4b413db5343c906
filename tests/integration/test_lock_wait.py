"""A holder of the append lock that is stopped, not dead (an import suspended with
Ctrl-Z, a process in a debugger), costs each waiter one bounded wait and a 503 — on
PostgreSQL too, where nothing bounded ``pg_advisory_xact_lock`` (database.LOCK_WAIT_MS,
every connection's ``lock_timeout``; the SQLite side is test_append_queue.py). Found by a
review of concurrency: a write and a served score waited for as long as the holder was
stopped."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from credit.errors import CreditError
from credit.persistence import database
from credit.persistence.audit_log import APPEND_LOCK
from credit.services.bootstrap import build_context
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

from .helpers import EVALUATOR, HOUSING, S1, head, record_body

pytestmark = pytest.mark.db


@pytest.mark.parametrize("what", ["write", "served_score"])
def test_a_stopped_holder_of_the_append_lock_is_a_503_after_the_bound(
        database_url, clock, monkeypatch, what):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's bound is its busy timeout (test_append_queue.py)")
    monkeypatch.setattr(database, "LOCK_WAIT_MS", 300)  # read by each new connection
    ctx = build_context(database_url, clock=clock)
    holder_engine = create_engine(database.normalise_url(database_url))
    try:
        create_record(ctx, HOUSING, record_body(decided_on="2026-01-10"))  # a head
        before = head(ctx)
        with holder_engine.connect() as holder, holder.begin():
            holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK})
            outcome: dict = {}  # ... and the holder is stopped here

            def call():
                try:
                    if what == "write":
                        create_record(ctx, HOUSING, record_body(document_no="W-2"))
                    else:
                        score(ctx, EVALUATOR, ScoreQuery(S1, "housing"))
                    outcome["result"] = "answered"
                except CreditError as exc:
                    outcome["result"] = (exc.status, exc.error)

            waiter = threading.Thread(target=call, daemon=True)
            waiter.start()
            waiter.join(timeout=20)
            assert not waiter.is_alive(), "still waiting for the stopped holder"
        assert outcome["result"] == (503, "database_unavailable")
        assert head(ctx) == before  # nothing written
    finally:
        holder_engine.dispose()
        ctx.uow.engine.dispose()
