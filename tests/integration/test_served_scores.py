"""Issue 10: a served score is computed in a read snapshot at the chain's committed head,
outside the append lock; its trace is group-committed (services/group_commit.py). On
SQLite and PostgreSQL:

* a default score is computed while another transaction holds the append lock, sees
  only what was committed, and is answered only after its own trace is committed;
* a ``known_at`` not earlier than the committed head's ``at`` waits for the lock;
* traces waiting for the lock are appended several per transaction, gap-free, each
  request answered with its own entry; a failed batch acknowledges nothing;
* a trace served under the old rule (knowledge = its own position) still replays;
* on PostgreSQL a single entry is one call of ``audit_append_served`` (served_scores.py),
  which waits for the append lock, appends after a writer that got in after the read,
  is never used for a batch, and answers 503 without writing or retrying when its
  connection is lost during it (ConnectionLost, run once more, when the connection was
  found dead before it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest

from credit.errors import ConnectionLost, Unauthenticated, Unavailable
from credit.persistence.served_scores import PendingEntry
from credit.services import scoring
from credit.services.audit import verify_chain, verify_trace
from credit.services.context import Actor
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score
from credit.services.tokens import authenticate, create_token, revoke_token

from .helpers import (
    EVALUATOR,
    HOUSING,
    S1,
    Computations,
    all_entries,
    entry,
    head,
    make_uscc,
    record_body,
)

AS_OF = date(2026, 6, 30)
WAIT = 60  # seconds a thread may take to get where the test expects it (never reached)


def create(ctx, **overrides) -> dict:
    return json.loads(create_record(ctx, HOUSING, record_body(**overrides)).body)


def in_thread(fn, *args):
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, out


def until(condition, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_a_default_score_is_computed_outside_the_append_lock(ctx, monkeypatch):
    rec = create(ctx)
    computed = Computations(monkeypatch)
    committed_head = head(ctx)[0]
    with ctx.uow(write=True) as writer:  # another writer holds the append lock ...
        writer.audit.append("test.held", "test", {"n": 1})  # ... and is not committed
        t, out = in_thread(score, ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
        # the score is computed while the lock is held elsewhere ...
        assert computed.wait_for(1)
        # ... but not answered: its trace waits for the lock
        t.join(timeout=0.2)
        assert t.is_alive() and not out
        writer.commit()
    t.join(timeout=WAIT)
    body = out["value"]
    trace = entry(ctx, body["trace_id"])
    # it saw the committed head, not the uncommitted entry; its trace came after both
    assert trace["payload"]["knowledge_position"] == committed_head == rec["audit_position"]
    assert body["trace_id"] == committed_head + 2
    assert body["known_at"] == entry(ctx, committed_head)["at"] < trace["at"]
    assert body["score"] == "92.00" and body["trace_sha256"] == trace["sha256"]
    assert verify_trace(ctx, body["trace_id"])["ok"] is True


def test_a_known_at_not_earlier_than_the_head_waits_for_the_lock(ctx, clock, monkeypatch):
    create(ctx)
    clock.advance(minutes=1)
    computed = Computations(monkeypatch)
    known_at = clock()  # later than the head's at: an entry with at ≤ it may still come
    with ctx.uow(write=True) as writer:
        writer.audit.append("test.held", "test", {"n": 1})
        t, out = in_thread(score, ctx, EVALUATOR,
                           ScoreQuery(S1, "housing", AS_OF, known_at=known_at))
        assert not computed.wait_for(1, timeout=0.3)  # nothing computed under the lock
        writer.commit()
    t.join(timeout=WAIT)
    body = out["value"]
    held = head(ctx)[0] - 1
    # computed after the lock: the entry committed meanwhile (at ≤ known_at) is known
    assert entry(ctx, body["trace_id"])["payload"]["knowledge_position"] == held
    assert verify_trace(ctx, body["trace_id"])["ok"] is True


def test_an_earlier_known_at_is_computed_in_the_snapshot(ctx, clock, monkeypatch):
    rec = create(ctx)
    clock.advance(minutes=1)
    create(ctx, document_no="绍柯建罚〔2026〕2号")
    computed = Computations(monkeypatch)
    known_at = entry(ctx, rec["audit_position"])["at"]
    from credit.domain.dates import parse_instant
    with ctx.uow(write=True) as writer:
        writer.audit.append("test.held", "test", {"n": 1})
        t, out = in_thread(score, ctx, EVALUATOR,
                           ScoreQuery(S1, "housing", AS_OF, known_at=parse_instant(known_at)))
        assert computed.wait_for(1)
        writer.commit()
    t.join(timeout=WAIT)
    body = out["value"]
    assert body["known_at"] == known_at and body["score"] == "92.00"  # one record known
    assert entry(ctx, body["trace_id"])["payload"]["knowledge_position"] == \
        rec["audit_position"]


def test_waiting_traces_are_committed_together_gap_free(ctx, monkeypatch):
    n = 6
    usccs = [make_uscc(i) for i in range(1, n + 1)]
    for i, uscc in enumerate(usccs):
        create(ctx, uscc=uscc, document_no=f"绍柯建罚〔2026〕{i + 10}号")
    start = head(ctx)[0]
    appender = ctx.appender()
    queued_before = appender.queued
    with ctx.uow(write=True) as writer:  # hold the lock while all n queue up
        threads = [in_thread(score, ctx, EVALUATOR, ScoreQuery(u, "housing", AS_OF))
                   for u in usccs]
        until(lambda: appender.queued - queued_before == n)
        writer.rollback()
    for t, _ in threads:
        t.join(timeout=WAIT)
    bodies = [out["value"] for _, out in threads]
    # gap-free, each request its own entry, exactly as returned
    assert sorted(b["trace_id"] for b in bodies) == list(range(start + 1, start + n + 1))
    for uscc, b in zip(usccs, bodies, strict=True):
        e = entry(ctx, b["trace_id"])
        assert e["sha256"] == b["trace_sha256"] and e["payload"]["uscc"] == uscc == b["uscc"]
        assert e["payload"]["knowledge_position"] == start
    # fewer commits than traces: the first leader's batch, then everyone else's
    assert appender.entries == n and appender.batches <= 2
    entries = all_entries(ctx)
    assert [e["position"] for e in entries] == list(range(1, start + n + 1))
    assert verify_chain(ctx)["ok"] is True


def locked_way_only(store, monkeypatch) -> None:
    """On PostgreSQL, the locked way for a single entry too (SQLite has only that)."""
    monkeypatch.setattr(store, "one_call", False)


def test_a_failed_batch_acknowledges_nothing(ctx, monkeypatch):
    create(ctx)
    before = head(ctx)
    store = ctx.uow.served_scores
    locked_way_only(store, monkeypatch)

    def fail(conn, tx):  # the COMMIT fails after the batch's INSERTs were sent
        raise Unavailable("the disk is full")

    monkeypatch.setattr(store, "_commit", fail)
    with pytest.raises(Unavailable):
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert head(ctx) == before  # rolled back whole: no entry, no gap
    monkeypatch.undo()
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert body["trace_id"] == before[0] + 1
    assert verify_chain(ctx)["ok"] is True


def test_a_trace_served_under_the_old_rule_still_replays(ctx, clock):
    """Before issue 10 a default score's knowledge was its own trace's position and
    instant; such traces record that knowledge and replay with it."""
    create(ctx)
    clock.advance(minutes=1)
    model = ctx.model(None)
    body = scoring._score_under_lock(ctx, EVALUATOR, model, ScoreQuery(S1, "housing"),
                                     AS_OF)
    trace = entry(ctx, body["trace_id"])
    assert trace["payload"]["knowledge_position"] == body["trace_id"]
    assert trace["payload"]["known_at"] == trace["at"]
    assert verify_trace(ctx, body["trace_id"])["ok"] is True
    # and a score under the new rule next to it
    new = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert entry(ctx, new["trace_id"])["payload"]["knowledge_position"] == body["trace_id"]
    assert verify_trace(ctx, new["trace_id"])["ok"] is True


def test_postgresql_runs_a_served_score_without_a_nested_begin(ctx):
    """The read runs outside any transaction and the append opens exactly one: psycopg
    must not add its own BEGIN in front of either (the server warns "there is already a
    transaction in progress" when it does, as it did while autocommit was set on the
    pool's proxy instead of the driver's connection)."""
    engine = ctx.uow.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: psycopg's implicit transactions")
    from sqlalchemy import event
    notices: list[str] = []
    engine.dispose()  # the connections opened from now on report their notices

    @event.listens_for(engine, "connect")
    def _notices(dbapi_conn, _record):
        dbapi_conn.add_notice_handler(lambda d: notices.append(d.message_primary))

    create(ctx)
    for _ in range(3):
        body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
        assert entry(ctx, body["trace_id"])["sha256"] == body["trace_sha256"]
    assert notices == []
    event.remove(engine, "connect", _notices)


def sent_by_a_score(ctx, tmp_path, name: str = "libpq.trace") -> list[str]:
    """The statements psycopg sends for one served score on a new connection, after its
    set-up, from libpq's own protocol trace (simple queries and the Parse of prepared
    ones)."""
    from sqlalchemy import event
    engine = ctx.uow.engine
    trace = (tmp_path / name).open("w")
    engine.dispose()

    @event.listens_for(engine, "connect", insert=True)  # before the engine's own set-up
    def _trace(dbapi_conn, _record):
        dbapi_conn.pgconn.trace(trace.fileno())

    try:
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    finally:
        event.remove(engine, "connect", _trace)
        engine.dispose()
        trace.close()
    # libpq's trace: time, F (frontend) or B, length, message type, content (which may
    # run over several lines: the SQL's own line breaks)
    text = (tmp_path / name).read_text()
    fields = [m.split("\t", 4) for m in re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)]
    queries = [f"{f[3]} {f[4]}" for f in fields if len(f) > 4 and f[1] == "F"
               and f[3] in ("Query", "Parse")]
    # the thread's connection is new (dispose() above): its one set-up message first
    assert "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED" \
        in queries[0] and "SET lock_timeout" in queries[0]
    return queries[1:]


def postgresql_only(ctx) -> None:
    if ctx.uow.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: its one-call append and what psycopg sends")


def test_postgresql_reads_a_default_score_in_one_message_and_appends_in_one(
        ctx, tmp_path):
    """The read is one statement with no BEGIN before it (autocommit on the driver's
    connection); the append is one autocommit call of ``audit_append_served``, which
    locks, reads the head and inserts: no BEGIN, no COMMIT, no head read of its own.
    A score the worker's memo does not hold reads its rows in one statement between."""
    postgresql_only(ctx)
    create(ctx)
    miss, hit = (sent_by_a_score(ctx, tmp_path, name) for name in ("miss", "hit"))
    assert len(miss) == 3, miss
    assert "json_agg" in miss[1] and "audit_entries" not in miss[1]  # the rows
    for queries in (hit, [miss[0], miss[2]]):
        assert len(queries) == 2, queries
        assert "audit_entries ORDER BY position DESC LIMIT 1)" in queries[0]  # the read
        assert "json_agg" not in queries[0]  # the rows' hashes, not the rows
        assert "FROM audit_append_served(" in queries[1] and "BEGIN" not in queries[1]


def test_postgresql_a_call_deallocated_behind_its_back_is_prepared_again(ctx, tmp_path):
    """The served score's statements are prepared once per connection
    (persistence/prepared_calls.py); psycopg deallocates every prepared statement of a
    connection after a ROLLBACK, and the next score prepares them again and is served."""
    postgresql_only(ctx)
    create(ctx)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    ctx.uow.served_scores._own.conn.dbapi_connection.execute("DEALLOCATE ALL")
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert entry(ctx, body["trace_id"])["sha256"] == body["trace_sha256"]
    assert verify_chain(ctx)["ok"] is True


def test_postgresql_an_error_of_a_prepared_call_is_psycopgs_own(ctx):
    """An error result is raised as the exception psycopg raises for it, so that the
    store maps it as before; the connection stays usable; text goes both ways in the
    connection's own encoding, whatever it is."""
    postgresql_only(ctx)
    import psycopg

    from credit.persistence.prepared_calls import PreparedCall
    conn = ctx.uow.engine.raw_connection()
    conn.detach()  # closed for good below: its encoding is changed
    try:
        driver, prepared, types = conn.dbapi_connection, set(), (int, str)
        driver.autocommit = True
        call = PreparedCall("credit_test_divide", "SELECT 10 / CAST(:x AS int), :y")
        assert call.first_row(driver, {"x": 5, "y": "挂"}, prepared, types) == (2, "挂")
        with pytest.raises(psycopg.errors.DivisionByZero):
            call.first_row(driver, {"x": 0, "y": None}, prepared, types)
        assert call.first_row(driver, {"x": 2, "y": None}, prepared, types) == (5, None)
        assert PreparedCall("credit_test_none", "SELECT 1 WHERE false").first_row(
            driver, {}, prepared, (int,)) is None
        driver.execute("SET client_encoding TO 'GBK'")
        assert driver.info.encoding == "gbk"
        assert call.first_row(driver, {"x": 1, "y": "绍兴柯桥"}, prepared, types) == (
            10, "绍兴柯桥")
    finally:
        conn.close()


def test_postgresql_the_locked_way_is_begin_lock_and_head_one_insert_one_commit(
        ctx, tmp_path, monkeypatch):
    postgresql_only(ctx)
    create(ctx)
    locked_way_only(ctx.uow.served_scores, monkeypatch)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))  # remembered: no rows read
    queries = sent_by_a_score(ctx, tmp_path)
    assert len(queries) == 4, queries
    assert "audit_entries ORDER BY position DESC LIMIT 1)" in queries[0]  # the read
    assert queries[1].startswith('Query') and "BEGIN; SELECT pg_advisory_xact_lock" \
        in queries[1]
    assert "INSERT INTO audit_entries" in queries[2]
    assert queries[3].startswith('Query') and '"COMMIT"' in queries[3]


def another_writer_appends_after_the_head_is_read(ctx, monkeypatch) -> list[int]:
    """Once, when the rows are computed while the store's connection holds no
    transaction (a head read outside the lock, as the tenth pass's guarded way did),
    another writer appends and commits; returns the positions it got. (Under the locked
    way's own lock the other writer would wait for it forever.)"""
    store = ctx.uow.served_scores
    original, got = store._entries, []

    def entries(head, pending):
        idle = store._own.conn.dbapi_connection.info.transaction_status.name == "IDLE"
        if idle and not got:
            with ctx.uow(write=True) as writer:
                got.append(writer.audit.append("test.between", "test", {"n": 1})["position"])
                writer.commit()
        return original(head, pending)

    monkeypatch.setattr(store, "_entries", entries)
    return got


def test_a_writer_that_appends_after_the_read_comes_before_the_trace(ctx, monkeypatch):
    """Another writer appends and commits between the score's read at the head and its
    append: the trace follows that entry, linked to it, and its knowledge is still the
    head it read (on PostgreSQL the one call reads the head under the lock)."""
    create(ctx)
    before = head(ctx)[0]
    store = ctx.uow.served_scores
    original = store.read_at_head

    def read_then_another_writer(token_id, uscc):
        read = original(token_id, uscc)
        with ctx.uow(write=True) as writer:
            writer.audit.append("test.between", "test", {"n": 1})
            writer.commit()
        return read

    monkeypatch.setattr(store, "read_at_head", read_then_another_writer)
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    trace = entry(ctx, body["trace_id"])
    assert body["trace_id"] == before + 2 and trace["sha256"] == body["trace_sha256"]
    assert trace["prev_sha256"] == entry(ctx, before + 1)["sha256"]
    assert trace["payload"]["knowledge_position"] == before
    assert [e["position"] for e in all_entries(ctx)] == list(range(1, before + 3))
    assert verify_chain(ctx)["ok"] is True and verify_trace(ctx, before + 2)["ok"] is True


def test_postgresql_a_batch_is_never_partly_written(ctx, monkeypatch):
    """Several entries go the locked way at once, their rows computed under the lock: no
    other writer gets in between (a head read outside it could let one take head + 1
    and leave the batch a wrong link), and all three follow the head."""
    postgresql_only(ctx)
    create(ctx)
    before = head(ctx)[0]
    store = ctx.uow.served_scores
    between = another_writer_appends_after_the_head_is_read(ctx, monkeypatch)
    batch = [PendingEntry("test.batch", "test", f'{{"n":{i}}}', None) for i in range(3)]
    results = store.append(batch)
    assert between == []
    assert [r[0] for r in results] == [before + 1, before + 2, before + 3]
    assert [(e["position"], e["kind"]) for e in all_entries(ctx)[-3:]] == [
        (before + 1, "test.batch"), (before + 2, "test.batch"), (before + 3, "test.batch")]
    assert verify_chain(ctx)["ok"] is True


def test_postgresql_the_one_call_reads_committed_whatever_the_default(ctx, clock):
    """With the server's (or role's) default isolation SERIALIZABLE, a call that waited
    for the lock while another writer appended head + 1 would read the head in its
    snapshot from before the lock and collide with that entry (a unique violation, under
    REPEATABLE READ too: a 500): every PostgreSQL connection sets READ COMMITTED itself
    (database.make_engine)."""
    postgresql_only(ctx)
    from credit.persistence.database import make_engine
    from credit.persistence.served_scores import ServedScoreStore
    create(ctx)
    before = head(ctx)[0]
    engine = make_engine(ctx.uow.engine.url.render_as_string(hide_password=False),
                         connect_args={"options": "-c default_transaction_isolation="
                                                  "serializable"})
    store = ServedScoreStore(engine, clock)
    try:
        with ctx.uow(write=True) as writer:  # holds the lock, head + 1 not committed
            writer.audit.append("test.held", "test", {"n": 1})
            t, out = in_thread(store.append,
                               [PendingEntry("test.one_call", "test", '{"n":1}', None)])
            until(lambda: waiting_for_the_append_lock(ctx, ONE_CALL))
            writer.commit()
        t.join(timeout=WAIT)
        with store._connection() as (conn, _tx):
            cur = conn.cursor()
            cur.execute("SHOW transaction_isolation")
            isolation = cur.fetchone()[0]
            cur.close()
    finally:
        engine.dispose()
    assert isolation == "read committed"
    assert "error" not in out, out
    assert [r[0] for r in out["value"]] == [before + 2]
    assert verify_chain(ctx)["ok"] is True


ONE_CALL = "SELECT entry_position, entry_at, entry_sha256 FROM audit_append_served("


def waiting_for_the_append_lock(ctx, statement: str) -> list[int]:
    """Backends of the test database whose ``statement`` waits for an advisory lock."""
    from sqlalchemy import text
    with ctx.uow.engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory' "
            "AND query LIKE :q"), {"q": statement + "%"}).scalars())


def test_postgresql_the_one_call_waits_for_the_append_lock(ctx):
    """The call takes the append lock itself: while another writer holds it (with
    nothing appended), the call waits, and appends once it is released."""
    postgresql_only(ctx)
    create(ctx)
    before = head(ctx)[0]
    with ctx.uow(write=True) as writer:
        t, out = in_thread(score, ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
        until(lambda: waiting_for_the_append_lock(ctx, ONE_CALL))
        assert t.is_alive() and not out
        writer.rollback()
    t.join(timeout=WAIT)
    assert out["value"]["trace_id"] == before + 1


def test_postgresql_a_connection_lost_in_the_one_call_is_503_not_retried(ctx):
    """The call is its own COMMIT: lost while it runs, the outcome is unknown to the
    service, so the request answers 503 and is not run again. (Here it was waiting for
    the lock, so nothing was written.)"""
    postgresql_only(ctx)
    from sqlalchemy import text
    create(ctx)
    before = head(ctx)
    with ctx.uow(write=True) as writer:
        t, out = in_thread(score, ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
        until(lambda: waiting_for_the_append_lock(ctx, ONE_CALL))
        with ctx.uow.engine.connect() as conn:
            for pid in waiting_for_the_append_lock(ctx, ONE_CALL):
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        t.join(timeout=WAIT)
        writer.rollback()
    error = out.get("error")  # not ConnectionLost, which api/auth.py would run again
    assert isinstance(error, Unavailable) and not isinstance(error, ConnectionLost)
    assert head(ctx) == before
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))  # on a new connection
    assert body["trace_id"] == before[0] + 1
    assert verify_chain(ctx)["ok"] is True


def test_postgresql_a_connection_dead_before_the_one_call_is_run_once_more(ctx, clock):
    """The thread's own connection died while it sat idle (a restart, an idle backend
    terminated) and a score whose read does not use it (an earlier ``known_at``; every
    agency score) reaches the call: nothing was sent, so it is ConnectionLost, which
    api/auth.py runs once more, not the 503 of a call lost while it runs; nothing is
    written, and the request run again appends on a new connection."""
    postgresql_only(ctx)
    from sqlalchemy import text

    from credit.domain.dates import parse_instant
    rec = create(ctx)
    clock.advance(minutes=1)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))  # the thread's connection
    store = ctx.uow.served_scores
    pid = store._own.conn.dbapi_connection.info.backend_pid
    with ctx.uow.engine.connect() as conn:  # (waits until the backend has ended)
        assert conn.execute(text("SELECT pg_terminate_backend(:p, 60000)"),
                            {"p": pid}).scalar() is True
    before = head(ctx)
    earlier = parse_instant(entry(ctx, rec["audit_position"])["at"])
    query = ScoreQuery(S1, "housing", AS_OF, known_at=earlier)
    with pytest.raises(ConnectionLost):
        score(ctx, EVALUATOR, query)
    assert head(ctx) == before
    assert score(ctx, EVALUATOR, query)["trace_id"] == before[0] + 1
    assert verify_chain(ctx)["ok"] is True


def _closed(driver) -> bool:
    if hasattr(driver, "closed"):  # psycopg
        return bool(driver.closed)
    try:  # sqlite3: a closed connection refuses every statement
        driver.execute("SELECT 1")
    except Exception:
        return True
    return False


def test_each_thread_keeps_one_connection_and_dispose_closes_it(ctx):
    """A served score's statements run on a connection of the thread's own, outside the
    pool (served_scores.py); Engine.dispose() closes it, and the next score opens
    another."""
    create(ctx)
    store = ctx.uow.served_scores
    first = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert len(store._opened) == 1  # two scores, read and append each: one connection
    mine = store._opened[0][2].dbapi_connection

    def in_a_thread():
        seen = []
        worker = threading.Thread(target=lambda: seen.append(
            score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))))
        worker.start()
        worker.join(WAIT)
        assert seen
        return next(c for _p, t, c in store._opened if t is worker).dbapi_connection

    theirs = in_a_thread()  # another thread, its own connection
    assert len(store._opened) == 2 and not _closed(theirs)
    third = in_a_thread()  # the ended thread's connection is closed when the next opens
    assert len(store._opened) == 2 and _closed(theirs) and not _closed(third)
    ctx.uow.engine.dispose()
    assert store._opened == [] and _closed(mine) and _closed(third)
    again = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert again["trace_id"] == first["trace_id"] + 4
    assert verify_chain(ctx)["ok"] is True


def test_a_failed_commit_leaves_no_transaction_open(ctx, monkeypatch):
    """A COMMIT that fails may leave the transaction open (SQLite documents it): the
    thread's connection is rolled back, so the append lock is free and the next score
    appends at the next position."""
    create(ctx)
    before = head(ctx)
    store = ctx.uow.served_scores

    def fail(conn, tx):
        tx.commit_sent = True  # as far as the caller knows, COMMIT went out and failed
        raise ctx.uow.engine.dialect.loaded_dbapi.OperationalError("disk I/O error")

    locked_way_only(store, monkeypatch)
    monkeypatch.setattr(store, "_commit", fail)
    with pytest.raises(Unavailable):
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    monkeypatch.undo()
    driver = store._opened[0][2].dbapi_connection
    if ctx.uow.engine.dialect.name == "postgresql":
        assert driver.info.transaction_status.name == "IDLE"
    else:
        assert not driver.in_transaction
    assert head(ctx) == before
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert body["trace_id"] == before[0] + 1
    assert verify_chain(ctx)["ok"] is True


# ------------------------------------------------------------------ a token revoked in flight

def token_actor(ctx, name: str = "评标系统乙") -> Actor:
    """An evaluator with a real token (a revocation needs its row)."""
    token_id, _secret = create_token(ctx, "op", role="evaluator", name=name)
    return Actor(name, "evaluator", token_id=token_id)


def revoked_after_the_read(ctx, monkeypatch, actor: Actor) -> list[int]:
    """Once, right after a default score's read at the head (which found the token
    valid), the token is revoked: its ``token.revoked`` is committed before the score's
    entry is appended. Returns the head position after the revocation."""
    store, after = ctx.uow.served_scores, []
    original = store.read_at_head

    def read_then_revoke(token_id, uscc):
        read = original(token_id, uscc)
        if not after:
            assert revoke_token(ctx, "安全管理员", actor.token_id) is True
            after.append(head(ctx)[0])
        return read

    monkeypatch.setattr(store, "read_at_head", read_then_revoke)
    return after


@pytest.mark.parametrize("deferred", [False, True], ids=["first-use", "cached-token"])
def test_a_score_whose_token_is_revoked_while_it_is_computed_is_refused(
        ctx, monkeypatch, deferred):
    """The revocation commits between the read (token valid) and the append: the score
    answers 401 and nothing follows ``token.revoked`` — on PostgreSQL the one call finds
    the revocation under the lock; on SQLite the locked way reads it with the head."""
    create(ctx)
    actor = token_actor(ctx)
    if deferred:  # as the score route sends a remembered token (api/auth.py)
        actor = replace(actor, confirmed=False)
    after = revoked_after_the_read(ctx, monkeypatch, actor)
    with pytest.raises(Unauthenticated):
        score(ctx, actor, ScoreQuery(S1, "housing", AS_OF))
    assert head(ctx)[0] == after[0] and all_entries(ctx)[-1]["kind"] == "token.revoked"
    assert verify_chain(ctx)["ok"] is True


def test_a_batch_leaves_out_only_the_entries_of_revoked_tokens(ctx, monkeypatch):
    """A group append (the locked way, several entries) whose batch holds an entry of a
    token revoked meanwhile writes the others, gap-free and in order, and reports the
    revoked one as not written."""
    create(ctx)
    kept, gone = token_actor(ctx, "评标系统丙"), token_actor(ctx, "评标系统丁")
    revoke_token(ctx, "安全管理员", gone.token_id)
    before = head(ctx)[0]
    store = ctx.uow.served_scores
    batch = [PendingEntry("test.batch", a.name, f'{{"n":{i}}}', None, a.token_id)
             for i, a in enumerate([kept, gone, kept, gone])]
    results = store.append(batch)
    assert [r and r[0] for r in results] == [before + 1, None, before + 2, None]
    assert [(e["position"], e["payload"]) for e in all_entries(ctx)[-2:]] == [
        (before + 1, {"n": 0}), (before + 2, {"n": 2})]
    assert store.append([batch[1]]) == [None] and head(ctx)[0] == before + 2
    assert verify_chain(ctx)["ok"] is True


# ------------------------------------------------------------------ a token expiring in flight

def expiring(ctx, clock, role: str = "evaluator", **kw) -> Actor:
    """An actor authenticated with a token that expires a minute from now."""
    _id, secret = create_token(ctx, "op", role=role, name=f"一分钟后过期的{role}",
                               expires_at=clock() + timedelta(minutes=1), **kw)
    return authenticate(ctx, secret)


def test_a_score_whose_token_expires_while_it_is_computed_is_refused(ctx, clock,
                                                                      monkeypatch):
    """The token was valid when the request authenticated and read; it expires before
    the entry is appended: 401, and nothing is stamped at or after its expiry (on
    PostgreSQL the one call writes nothing; on SQLite the locked way writes nothing)."""
    create(ctx)
    actor = expiring(ctx, clock)
    store, before = ctx.uow.served_scores, head(ctx)
    original = store.read_at_head

    def read_then_expire(token_id, uscc):
        read = original(token_id, uscc)
        clock.advance(minutes=1)  # now == the expiry: an entry now would be at or after it
        return read

    monkeypatch.setattr(store, "read_at_head", read_then_expire)
    with pytest.raises(Unauthenticated):
        score(ctx, actor, ScoreQuery(S1, "housing", AS_OF))
    assert head(ctx) == before
    monkeypatch.undo()
    clock.advance(seconds=-1)  # (a second before the expiry the same actor is served)
    assert score(ctx, actor, ScoreQuery(S1, "housing", AS_OF))["trace_id"] == before[0] + 1


def test_a_write_whose_token_expires_in_flight_is_refused(ctx, clock):
    """Authenticated a moment before its token expires, the write reaches the lock after
    it: 401 and nothing written (tokens.write_as)."""
    actor = expiring(ctx, clock, role="regulator", sectors=["housing"])
    before = head(ctx)
    clock.advance(minutes=1)
    with pytest.raises(Unauthenticated):
        create_record(ctx, actor, record_body())
    assert head(ctx) == before


def test_an_evaluation_whose_token_expires_half_way_writes_nothing(ctx, clock, monkeypatch):
    """The lock was taken (and the token confirmed) before the expiry, but the
    evaluation's entries are stamped as it goes, one per bidder: the first entry that
    would be stamped at or after the expiry refuses the whole evaluation, 401, nothing
    written (tokens.write_as, AuditLog.stamp_before). Done within the token's life, the
    same evaluation is created."""
    create(ctx)
    engine = scoring.evaluate
    body = {"tender": {"code": "KQ-EXP-1", "name": "到期测试"}, "sector": "housing",
            "as_of": AS_OF.isoformat(), "bidders": [{"uscc": S1}, {"uscc": make_uscc(7)}]}

    def evaluate_taking(seconds: int):  # each bidder's score takes this long
        def slow(*args, **kw):
            clock.advance(seconds=seconds)
            return engine(*args, **kw)
        monkeypatch.setattr(scoring, "evaluate", slow)

    actor, before = expiring(ctx, clock), head(ctx)  # a minute left
    evaluate_taking(40)  # the second bidder's entry would be stamped at +80 s
    with pytest.raises(Unauthenticated):
        scoring.create_evaluation(ctx, actor, body)
    assert head(ctx) == before
    actor = expiring(ctx, clock)
    evaluate_taking(25)  # +50 s, and the evaluation's own entry just after
    created = scoring.create_evaluation(ctx, actor, body)
    assert created.status == 201 and head(ctx)[0] == before[0] + 4  # the token, 2, 1


def test_a_score_stamped_at_a_known_at_after_the_expiry_is_refused(ctx, clock):
    """A ``known_at`` a moment ahead (within the clock skew) is computed under the lock
    and its trace stamped at that ``known_at`` (scoring.serving_knowledge): when the
    token expires before it, 401 and nothing written, though the lock was granted
    before the expiry. A ``known_at`` before the expiry is served."""
    create(ctx)
    _id, secret = create_token(ctx, "op", role="evaluator", name="半秒后过期",
                               expires_at=clock() + timedelta(milliseconds=500))
    actor, before = authenticate(ctx, secret), head(ctx)
    ahead = clock() + timedelta(milliseconds=900)
    with pytest.raises(Unauthenticated):
        score(ctx, actor, ScoreQuery(S1, "housing", AS_OF, known_at=ahead))
    assert head(ctx) == before
    soon = clock() + timedelta(milliseconds=400)
    body = score(ctx, actor, ScoreQuery(S1, "housing", AS_OF, known_at=soon))
    assert body["trace_id"] == before[0] + 1 and entry(ctx, before[0] + 1)["at"] == \
        body["known_at"]


def test_postgresql_a_database_without_the_append_function_is_503(ctx):
    """A database not migrated to 0010 (``credit db upgrade`` not run after an update)
    cannot take the one call: 503, as for any database without the service's schema
    (failures.py), not a 500; nothing written."""
    postgresql_only(ctx)
    from sqlalchemy import text
    create(ctx)
    before = head(ctx)
    with ctx.uow.engine.begin() as conn:
        conn.execute(text("DROP FUNCTION audit_append_served"))
    with pytest.raises(Unavailable):
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert head(ctx) == before
