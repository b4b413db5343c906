"""Issue 10, the late WAL sync (credit/persistence/wal_sync.py): on a SQLite file a served
score's append commits unsynced (``synchronous=NORMAL`` on the score store's own
connection) and syncs the very WAL file SQLite writes once it has released the append
queue and SQLite's lock, before it returns; every unit of work syncs as it ends; a failed
sync fails closed (503 now, and for every process until an operator removes the marker).
Every other writer keeps ``FULL`` (test_durability.py). PostgreSQL flushes its own WAL at
COMMIT and has nothing to sync here."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from datetime import date

import pytest

from credit.errors import Conflict, Unavailable
from credit.persistence import wal_sync
from credit.persistence.database import make_engine
from credit.persistence.uow import UnitOfWorkFactory
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

from .helpers import EVALUATOR, HOUSING, S1, entry, record_body

AS_OF = date(2026, 6, 30)
NORMAL, FULL = 1, 2  # PRAGMA synchronous


@pytest.fixture
def wal(ctx) -> wal_sync.WalSync:
    w = ctx.uow.wal
    if w.path is None:
        pytest.skip("SQLite database files only: PostgreSQL flushes its WAL at COMMIT")
    return w


def sqlite_wal_inodes() -> set[int]:
    """The inodes of the ``-wal`` files this process's SQLite connections hold open."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").endswith("-wal"):
                inodes.add(os.stat(f"/proc/self/fd/{fd}").st_ino)
        except OSError:
            continue
    return inodes


class Syncs:
    """Records every WAL sync and what the database looked like from outside while it
    ran: which file it synced, whether the queue and SQLite's lock were free, and the
    committed head."""

    def __init__(self, monkeypatch, wal: wal_sync.WalSync, queue_path: str):
        self.seen: list[dict] = []
        self.database = wal.database
        self.queue_path = queue_path
        real = os.fdatasync

        def observed(fd):
            self.seen.append({"inode": os.fstat(fd).st_ino,
                              "sqlite_holds": sqlite_wal_inodes(),
                              "queue_free": self._queue_free(),
                              "sqlite_free": self._sqlite_free(),
                              "head": self._head()})
            real(fd)

        monkeypatch.setattr(wal_sync.os, "fdatasync", observed)

    def _queue_free(self) -> bool:
        fd = os.open(self.queue_path, os.O_RDONLY | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    def _outside(self) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=0, isolation_level=None)

    def _sqlite_free(self) -> bool:
        con = self._outside()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            con.close()

    def _head(self) -> int:
        con = self._outside()
        try:
            return con.execute("SELECT max(position) FROM audit_entries").fetchone()[0]
        finally:
            con.close()


def create(ctx, n: int = 1) -> dict:
    body = record_body(document_no=f"绍柯建罚〔2026〕{n}号")
    return json.loads(create_record(ctx, HOUSING, body).body)


def test_a_served_score_is_synced_after_the_locks_and_before_it_is_answered(
        ctx, wal, monkeypatch):
    create(ctx)
    syncs = Syncs(monkeypatch, wal, ctx.uow.queue.path)
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert len(syncs.seen) == 1, syncs.seen  # the default score: no unit of work at all
    seen = syncs.seen[0]
    assert seen["inode"] in seen["sqlite_holds"]  # the very file SQLite writes
    assert seen["head"] == body["trace_id"]  # committed (and visible) before the sync …
    assert seen["queue_free"] and seen["sqlite_free"]  # … and the locks were released
    assert entry(ctx, body["trace_id"])["sha256"] == body["trace_sha256"]


def test_the_score_store_commits_unsynced_and_units_of_work_synced(ctx, wal):
    create(ctx)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    own = ctx.uow.served_scores._thread_connection().dbapi_connection
    assert own.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
    with ctx.uow(write=True) as uow:
        assert uow.session.connection().exec_driver_sql(
            "PRAGMA synchronous").scalar() == FULL


def test_every_unit_of_work_syncs_as_it_ends(ctx, wal, monkeypatch):
    create(ctx)
    syncs = Syncs(monkeypatch, wal, ctx.uow.queue.path)
    with ctx.uow(write=False) as uow:
        uow.audit.head()
        assert syncs.seen == []  # not while it reads …
    assert len(syncs.seen) == 1  # … but before its caller can answer
    with ctx.uow(write=True) as uow:
        uow.audit.head()  # a writer that gives up: it read under the lock
    assert len(syncs.seen) == 2
    create(ctx, 2)  # one that commits: its FULL COMMIT synced, and so does its end
    assert len(syncs.seen) >= 3


def test_a_symlinked_database_syncs_the_file_sqlite_writes(ctx, wal, tmp_path, monkeypatch):
    link = tmp_path / "elsewhere" / "credit.db"
    link.parent.mkdir()
    link.symlink_to(wal.database)
    engine = make_engine(f"sqlite:///{link}")
    try:
        factory = UnitOfWorkFactory(engine)
        assert factory.wal.path == wal.path  # resolved as SQLite resolves it
        conn = engine.raw_connection()
        try:
            assert factory.wal.late(conn.dbapi_connection) is True
        finally:
            conn.close()
    finally:
        engine.dispose()


def test_a_file_sqlite_does_not_report_keeps_full(ctx, wal, tmp_path):
    elsewhere = wal_sync.WalSync(str(tmp_path / "other.db"))
    conn = ctx.uow.engine.raw_connection()
    try:
        assert elsewhere.late(conn.dbapi_connection) is False
    finally:
        conn.close()


def test_a_failed_sync_fails_closed_until_the_marker_is_removed(ctx, wal, monkeypatch):
    create(ctx)
    real = os.fdatasync

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(wal_sync.os, "fdatasync", broken)
    with pytest.raises(Unavailable) as caught:
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert caught.value.status == 503
    marker = wal.database + wal_sync.FAILED_SUFFIX
    assert os.path.exists(marker)
    monkeypatch.setattr(wal_sync.os, "fdatasync", real)  # the disk "works" again …
    other = wal_sync.WalSync(wal.database)  # … and another process syncs
    with pytest.raises(Unavailable):
        other.sync()
    with pytest.raises(Unavailable):  # reads too: nothing is answered
        with ctx.uow(write=False) as uow:
            uow.audit.head()
    os.unlink(marker)  # the operator has checked the disk and the chain …
    with pytest.raises(Unavailable):  # … but the process that saw it fail still refuses
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    other.sync()  # a restarted process goes on


def test_after_a_failed_sync_no_write_commits_before_it_is_refused(ctx, wal):
    """Every 503 of the failed state writes nothing: a served score's append and a unit
    of work refuse before they take the lock, not after their COMMIT (a client retrying
    its 503 would otherwise add an entry, and a record, each time)."""
    create(ctx)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))

    def stored() -> tuple:  # read past the service, which answers nothing now
        con = sqlite3.connect(wal.database)
        try:
            return con.execute("SELECT (SELECT max(position) FROM audit_entries), "
                               "(SELECT count(*) FROM records)").fetchone()
        finally:
            con.close()

    marker = wal.database + wal_sync.FAILED_SUFFIX
    open(marker, "w").close()
    before = stored()
    for _ in range(3):
        with pytest.raises(Unavailable):
            score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
        with pytest.raises(Unavailable):
            create(ctx, 2)
    assert stored() == before
    os.unlink(marker)  # checked by the operator: this process never saw a failure
    assert create(ctx, 2)["id"] and stored()[1] == before[1] + 1


def test_a_failure_that_comes_while_a_writer_waits_stops_it_too(ctx, wal, monkeypatch):
    """The marker appears while a write waits for the append lock (another process's
    sync failed meanwhile): the write refuses once it holds the lock, before it writes."""
    from credit.persistence.audit_log import AuditLog
    create(ctx)
    marker = wal.database + wal_sync.FAILED_SUFFIX
    lock = AuditLog.lock

    def lock_then_fail(self):
        lock(self)
        open(marker, "w").close()

    monkeypatch.setattr(AuditLog, "lock", lock_then_fail)
    con = sqlite3.connect(wal.database)
    before = con.execute("SELECT count(*) FROM records").fetchone()
    with pytest.raises(Unavailable):
        create(ctx, 2)
    assert con.execute("SELECT count(*) FROM records").fetchone() == before
    # and a served score's append, once its group holds the lock
    monkeypatch.undo()
    os.unlink(marker)
    store = ctx.uow.served_scores
    lock_and_head = store._lock_and_head

    def locked_then_fail(cur, tokens):
        got = lock_and_head(cur, tokens)
        open(marker, "w").close()
        return got

    monkeypatch.setattr(store, "_lock_and_head", locked_then_fail)
    head = con.execute("SELECT max(position) FROM audit_entries").fetchone()
    with pytest.raises(Unavailable):
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert con.execute("SELECT max(position) FROM audit_entries").fetchone() == head
    con.close()
    os.unlink(marker)


def test_a_failing_sync_does_not_hide_the_error_already_raised(ctx, wal, monkeypatch):
    create(ctx)

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(wal_sync.os, "fdatasync", broken)
    with pytest.raises(Conflict):
        create(ctx)  # the duplicate's 409 stands; the sync's failure is logged
    os.unlink(wal.database + wal_sync.FAILED_SUFFIX)


def test_no_wal_file_is_nothing_to_sync_except_after_an_append(tmp_path):
    missing = wal_sync.WalSync(str(tmp_path / "never-written.db"))
    missing.sync()  # a reader: nothing was written since the last checkpoint
    with pytest.raises(Unavailable):
        missing.sync(after_append=True)  # an append's file cannot have gone
    assert (tmp_path / ("never-written.db" + wal_sync.FAILED_SUFFIX)).exists()
    assert wal_sync.WalSync(None).path is None


def test_the_first_sync_of_a_new_wal_file_syncs_its_directory(tmp_path, monkeypatch):
    db, wal_file = tmp_path / "d.db", tmp_path / "d.db-wal"
    wal_file.write_bytes(b"frames")
    synced = []
    real = os.fsync
    monkeypatch.setattr(wal_sync.os, "fsync", lambda fd: (synced.append(
        os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    w = wal_sync.WalSync(str(db))
    w.sync(after_append=True)
    w.sync(after_append=True)
    assert synced == [str(wal_file), str(tmp_path)]  # once, for the new file
    os.unlink(wal_file)
    wal_file.write_bytes(b"a new file under the same name")
    w.sync(after_append=True)
    assert synced == [str(wal_file), str(tmp_path)] * 2
    w.close()


def test_dispose_lets_go_of_the_wal_and_a_sync_after_it_reopens(ctx, wal):
    create(ctx)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    held = wal._held[0]
    ctx.uow.engine.dispose()
    with pytest.raises(OSError):
        os.fstat(held)  # closed
    body = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert wal._held is not None
    assert entry(ctx, body["trace_id"])["sha256"] == body["trace_sha256"]
