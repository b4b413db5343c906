"""Issue 10, the late WAL sync (credit/persistence/wal_sync.py): on a SQLite file a served
score's append commits unsynced (``synchronous=NORMAL`` on the score store's own
connection) and syncs the WAL itself once it has released the append queue and SQLite's
lock, before it returns; a unit of work that did not commit syncs as it ends; a failed
sync answers 503. Every other writer keeps ``FULL`` (test_durability.py). PostgreSQL
flushes its own WAL at COMMIT and has nothing to sync here."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from datetime import date

import pytest

from credit.errors import Unavailable
from credit.persistence import wal_sync
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


class Syncs:
    """Records every WAL sync and what the database looked like from outside while it
    ran: whether the queue and SQLite's lock were free, and the committed head."""

    def __init__(self, monkeypatch, wal: wal_sync.WalSync, queue_path: str):
        self.seen: list[dict] = []
        self.database = wal.path[:-len("-wal")]
        self.queue_path = queue_path
        real = os.fdatasync

        def observed(fd):
            self.seen.append({"inode": os.fstat(fd).st_ino,
                              "wal_inode": os.stat(wal.path).st_ino,
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
    assert seen["inode"] == seen["wal_inode"]  # the WAL SQLite writes, not a stale file
    assert seen["head"] == body["trace_id"]  # committed (and visible) before the sync …
    assert seen["queue_free"] and seen["sqlite_free"]  # … and the locks were released
    assert entry(ctx, body["trace_id"])["sha256"] == body["trace_sha256"]


def test_the_score_store_commits_unsynced_and_units_of_work_synced(ctx, wal):
    create(ctx)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    store = ctx.uow.served_scores
    own = store._thread_connection().dbapi_connection
    assert own.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
    with ctx.uow(write=True) as uow:
        assert uow.session.connection().exec_driver_sql(
            "PRAGMA synchronous").scalar() == FULL


def test_a_unit_of_work_that_did_not_commit_syncs_as_it_ends(ctx, wal, monkeypatch):
    create(ctx)
    syncs = Syncs(monkeypatch, wal, ctx.uow.queue.path)
    with ctx.uow(write=False) as uow:
        uow.audit.head()
        assert syncs.seen == []  # not while it reads …
    assert len(syncs.seen) == 1  # … but before its caller can answer
    with ctx.uow(write=True) as uow:
        uow.audit.head()  # a writer that gives up: it read under the lock
    assert len(syncs.seen) == 2
    create(ctx, 2)  # a writer that commits: its own COMMIT (FULL) synced everything
    assert len(syncs.seen) == 2


def test_a_failed_sync_is_503_and_no_answer(ctx, wal, monkeypatch):
    create(ctx)

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(wal_sync.os, "fdatasync", broken)
    with pytest.raises(Unavailable) as caught:
        score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert caught.value.status == 503
    assert "synced" in caught.value.message


def test_no_wal_file_means_nothing_to_sync(tmp_path):
    missing = wal_sync.WalSync(str(tmp_path / "never-written.db-wal"))
    missing.sync()  # no error: nothing was written since the last checkpoint
    assert wal_sync.WalSync(None).late is False
    assert missing.late is True
