"""A served score's two transactions, on the database driver's own connection.

Every ``GET …/score`` computed outside the append lock (issue 10; API.md §4, §6
"Knowledge") runs exactly two short transactions:

1. **The read.** With the default knowledge it is one statement at the chain's committed
   head (:meth:`ServedScoreStore.read_at_head`): the head, the token's revocation, the
   subject's registered name, and which records and events it holds up to that head
   (their hashes, history_rows.HistoryDigest). It runs outside any explicit
   transaction, so it sees one snapshot and, on PostgreSQL, costs one round trip. Only
   a score the worker's memo does not hold reads the rows themselves, in one more
   statement bounded by the same head (:meth:`ServedScoreStore.history_at`): rows at
   or below a committed head are committed and never change, so both statements see
   the same history. (A score with an earlier ``known_at`` is rarer and reads through
   the unit of work's repositories, as a replay does.)
2. **The append** (:meth:`ServedScoreStore.append`): the append lock, the head again,
   one INSERT for every trace of the group (services/group_commit.py), one COMMIT. It
   follows exactly the lock, ``position`` and ``at`` rules of
   :class:`~credit.persistence.audit_log.AuditLog` and uses its entry-text and hash
   functions, so the bytes are the same.

**One call on PostgreSQL** (issue 10, nineteenth pass). There the append of a single
entry (every append of a sync worker, the default) is one autocommit statement, a call
of ``audit_append_served`` (migration 0010): the function takes the append lock, reads
the head and the token's revocation after it (a PL/pgSQL function's statements each take
a fresh snapshot under READ COMMITTED, which every connection sets when it opens,
database.make_engine; under a server or role default of REPEATABLE READ or SERIALIZABLE
the head would be read in the snapshot taken before the lock, and the INSERT would
collide with the primary key: a unique violation, which no failure maps, so a 500),
derives ``position`` and ``at`` exactly as
audit_log.py does, and inserts the entry. Its text stays Python's: the caller sends the
pieces before and after the ``at`` (audit_log.entry_pieces), and the function fills in
the ``at``, the position and the previous hash, the three values known only under the
lock (tests/integration/test_served_append_function.py holds it to Python's bytes). The
lock is held for one statement inside the server, never across a round trip, and the
append never has to be redone because another writer appended first. It replaced a
guarded INSERT (tenth pass: read the head, then lock and insert in one statement with
``ON CONFLICT (position) DO NOTHING``, and the locked way whenever the head had moved),
which cost two round trips, and five when the head had moved. The call is its own
COMMIT, so a connection lost during it leaves the outcome unknown: 503, never retried,
as a lost COMMIT; one the server had already closed while it sat idle is found before
the call is sent, without a round trip, and the request runs once more
(``_raise_if_closed_by_server``). A batch (gthread workers under load) goes the locked way, which
already shares its round trips; SQLite always does, its statements costing no round
trip.
While the call waits for the append lock it holds no lock on ``audit_entries`` yet (the
function takes the advisory lock before its first statement on the table), so the
advisory lock is always taken first, as audit_log.py requires.

**A limit of the one call.** Its ``at`` is read from the clock before the lock is
granted. A lock holder that resolves a ``known_at`` later than the head's ``at`` and
then writes nothing (``credit rate-all --known-at``, batch/ratings.py) may therefore see
a ``score.served`` entry stamped at or before that instant land after it, so resolving
the same instant again later gives a higher position. What it knows is the same: a
served score's trace creates no record, event or subject, which is all a rating reads.
Every other lock holder that resolves knowledge (a score under the lock, an evaluation)
writes its own entry, and a call waiting behind it reads that entry as the head and
stamps its own ``at`` later.

**A token revoked in flight.** A request authenticates before it computes, so its
token may be revoked by the time its entry is appended; were the entry appended, it
would follow that token's ``token.revoked`` in the log. Each entry therefore carries its
token's id, and the append refuses it (None instead of a result; the request answers
401) when the token is revoked at the moment the entry would be written: the locked way
reads the batch's revoked tokens with the head, in one statement under the lock, and
the one call looks the token up under the lock before it reads the head. The write use
cases make the same check in their unit of work (services/tokens.write_as). Likewise an
entry whose ``at`` would not be earlier than its token's expiry (``expires_at_us``,
carried with it) is not written: a token that expires while its request is in flight
causes no entry stamped at or after its end.

Why not the unit of work: a served score is the one use case whose whole cost is a few
statements, and the ORM session's set-up, its ``begin`` event, Core's per-statement
compilation-cache look-up and result processing were most of what it paid for them
(bench/README.md, "Issue 10"). So these statements are plain SQL on the pooled DBAPI
connection (SQLAlchemy still owns the pool, the connect-time PRAGMAs and the
disconnect detection). On PostgreSQL the read, a miss's read of the rows and the one
call go further down, to libpq itself: prepared once per connection and run by
prepared_calls.py, psycopg's general ``execute`` having cost as much per statement as
the round trip's system calls (the locked way's statements, rarer, stay psycopg's).
Everything else keeps the unit of work.

Each thread keeps one connection of its own for these statements (taken from the
engine once, then detached from its pool: checking a connection out and back in, with
its reset, cost as much as the read itself). On PostgreSQL it stays in autocommit, so the
read is one statement with no BEGIN/ROLLBACK around it and the append's transaction is
opened and ended by the statements it sends. A connection the driver reports dead is
invalidated and replaced on the next use; if that happened before COMMIT was sent nothing
was written and :class:`ConnectionLost` lets the request run once more (api/auth.py), as
with the unit of work. The engine's ``dispose()`` closes them.

**Waiting for the append lock on SQLite:** an append first waits in the database's
append queue (append_queue.py), as every writer does, then takes ``BEGIN IMMEDIATE``.

**Reaching the disk on SQLite:** these connections commit with ``synchronous=NORMAL`` and
the append syncs the WAL after it has released both locks, before it returns
(wal_sync.py: why an acknowledged trace is still on disk, and why nothing unsynced is
ever shown).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import Engine, event

from credit.domain.dates import to_micros
from credit.domain.token_expiry import expired_at
from credit.errors import Unavailable

from .append_queue import AppendQueue
from .audit_log import APPEND_LOCK, GENESIS, Head, entry_pieces, entry_row, next_instant
from .database import sqlite_file
from .failures import altered_text, failure, refuses_access, unreadable
from .history_rows import HistoryDigest, HistoryTexts, digest_sql, history_sql
from .prepared_calls import PreparedCall, replace_parameters
from .wal_sync import LATE_SYNCHRONOUS, WalSync

_HEAD = "SELECT position, at_us, sha256 FROM audit_entries ORDER BY position DESC LIMIT 1"
_COLUMNS = "position, kind, at_us, actor, uscc, text, sha256"
_INSERT_MANY = f"INSERT INTO audit_entries ({_COLUMNS}) VALUES "
# PostgreSQL's append of one entry (module docstring): one call of the function of
# migration 0010, which returns the entry's position, ``at`` and hash, or no row when it
# wrote nothing (the token revoked, or expired by that ``at``).
_PG_APPEND_ONE = (
    "SELECT entry_position, entry_at, entry_sha256 FROM audit_append_served("
    ":kind, :actor, :uscc, :before_at, :after_at, :now_us, :token, :expires_us)")
# The head and which of a batch's tokens are revoked (a comma-separated list, or NULL),
# read under the append lock in one statement. An empty chain gives no row, and no
# token can have been revoked then (a revocation is an entry).
_HEAD_AND_REVOKED = ("SELECT position, at_us, sha256, (SELECT {agg} FROM token_revocations "
                     "WHERE token_id IN ({{ids}})) "
                     "FROM audit_entries ORDER BY position DESC LIMIT 1")
_ID_LIST = {"postgresql": "string_agg(CAST(token_id AS text), ',')",
            "sqlite": "group_concat(token_id)"}
# Everything a default score reads, at the committed head, in one statement (one
# snapshot; on PostgreSQL one round trip), the history as its rows' hashes
# (history_rows.digest_sql).
_AT_HEAD = """
WITH h AS (SELECT position, at_us, sha256 FROM audit_entries ORDER BY position DESC LIMIT 1)
SELECT h.position, h.at_us, h.sha256,
       (SELECT 1 FROM token_revocations WHERE token_id = :token) AS revoked,
       s.name, s.registered_position, {history}
FROM h LEFT JOIN subjects s ON s.uscc = :uscc"""
# A subject's rows up to a position, for a score the memo does not hold.
_HISTORY_AT = "SELECT {history}"
# The columns of the statements sent by name, by type (int or str, by position): how
# the text PostgreSQL sends is converted (prepared_calls.py).
_COLUMN_TYPES = {"at_head": (int, int, str, int, str, int, str, str),
                 "history_at": (str, str),
                 "append_one": (int, str, str)}


@dataclass(frozen=True)
class Opening:
    """What the read found besides the history: the committed head, whether the token
    is revoked, and the subject's registered name and position (None if unregistered;
    the same two fields as a subject row)."""

    head: Head
    revoked: bool
    name: str | None
    registered_position: int | None


@dataclass(frozen=True)
class PendingEntry:
    """A served score's entry waiting for the append: its payload is canonical text;
    ``token_id`` is the token that caused it (None: no token to re-check)."""

    kind: str
    actor: str
    payload_text: str
    uscc: str | None
    token_id: int | None = None
    #: When that token expires (µs since the epoch; None: never): an entry whose ``at``
    #: would not be earlier is not written.
    expires_at_us: int | None = None


@dataclass(frozen=True)
class AtHead:
    """A default score's read: the opening, and which rows the history known at the head
    holds — the key of a score the worker remembers (services/result_memo.py); the rows
    themselves only when it does not (:meth:`ServedScoreStore.history_at`)."""

    opening: Opening
    history: HistoryDigest


class ServedScoreStore:
    """The snapshot read and the group append of served scores (module docstring)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 queue: AppendQueue | None = None, wal: WalSync | None = None):
        self.engine = engine
        #: SQLite: the append queue every writer of the database waits in.
        self.queue = queue or AppendQueue.for_engine(engine)
        #: SQLite file: the WAL each append syncs once it has released the locks.
        self.wal = wal or WalSync.for_engine(engine)
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"
        sql = {"at_head": _AT_HEAD.format(
                   history=digest_sql(engine.dialect.name, ":uscc", "h.position")),
               "history_at": _HISTORY_AT.format(
                   history=history_sql(engine.dialect.name, ":uscc", ":pos"))}
        #: SQLite: the statements its driver runs; PostgreSQL: what ``_calls`` prepares.
        self._sql = sql
        #: PostgreSQL: the same and the one-call append, each prepared once per
        #: connection and run through libpq (prepared_calls.py).
        self._calls = {k: PreparedCall(f"credit_served_{k}", v)
                       for k, v in (sql | {"append_one": _PG_APPEND_ONE}).items()
                       } if self.postgres else {}
        self._head_and_revoked = _HEAD_AND_REVOKED.format(agg=_ID_LIST[engine.dialect.name])
        self._inserts: dict[int, str] = {}
        #: PostgreSQL: a single entry is one call (module docstring); the tests turn it
        #: off to run the locked way there too.
        self.one_call = self.postgres
        # An in-memory database lives in its pool's one connection: never take it out.
        self._detach = self.postgres or sqlite_file(engine.url) is not None
        self._own = threading.local()
        self._opened: list = []  # every thread's connection, for dispose()
        self._opened_lock = threading.Lock()
        event.listen(engine, "engine_disposed", self._close_all)

    def read_at_head(self, token_id: int | None, uscc: str) -> AtHead | None:
        """The opening and the subject's history at the committed head (the default
        knowledge), in one statement outside any explicit transaction; None when the
        chain is empty."""
        with self._connection() as (conn, _tx):
            row = self._first_row(conn, "at_head", {"token": token_id, "uscc": uscc})
        if row is None:
            return None
        opening = Opening(Head(row[0], row[1], row[2]), row[3] is not None, row[4], row[5])
        return AtHead(opening, HistoryDigest.read(row[6], row[7]))

    def history_at(self, uscc: str, position: int) -> HistoryTexts:
        """The subject's records and events up to ``position`` (a committed head), in
        one statement outside any explicit transaction."""
        with self._connection() as (conn, _tx):
            row = self._first_row(conn, "history_at", {"uscc": uscc, "pos": position})
        return HistoryTexts.read(row[0], row[1])

    def _first_row(self, conn, statement: str, params: dict) -> tuple | None:
        """One statement outside any explicit transaction (or, for the one call, its
        own): its first row, or None. On PostgreSQL a prepared call through libpq, which
        converts the columns by their ``_COLUMN_TYPES`` in the connection's encoding."""
        if self.postgres:
            return self._calls[statement].first_row(conn.dbapi_connection, params,
                                                    _prepared(conn),
                                                    _COLUMN_TYPES[statement])
        cur = conn.cursor()
        try:
            cur.execute(self._sql[statement], params)
            return cur.fetchone()
        finally:
            cur.close()

    def append(self, entries: list[PendingEntry]) -> list[tuple[int, str, str] | None]:
        """Append ``entries`` in order under the append lock and COMMIT once; returns each
        one's position, ``at`` and ``sha256``, or None for an entry not written because
        its token is revoked (module docstring, "A token revoked in flight"). Nothing is
        written unless all the others are. On PostgreSQL a single entry is one call of
        ``audit_append_served`` (module docstring)."""
        if self.one_call and len(entries) == 1:
            return [self._append_one(entries[0])]
        return self._append_locked(entries)

    def _append_one(self, entry: PendingEntry) -> tuple[int, str, str] | None:
        """PostgreSQL, one entry: one autocommit call that locks, reads the head and
        inserts the entry after it (migration 0010); None when it wrote nothing."""
        before_at, after_at = entry_pieces(entry.kind, entry.actor, entry.payload_text)
        params = {"kind": entry.kind, "actor": entry.actor, "uscc": entry.uscc,
                  "before_at": before_at, "after_at": after_at,
                  "now_us": to_micros(self.clock()), "token": entry.token_id,
                  "expires_us": entry.expires_at_us}
        with self._connection() as (conn, tx):
            _raise_if_closed_by_server(conn.dbapi_connection)
            # Prepared first, in a round trip of its own that commits nothing.
            self._calls["append_one"].prepare(conn.dbapi_connection, _prepared(conn))
            tx.commit_sent = True  # the call is its own COMMIT
            row = self._first_row(conn, "append_one", params)
        return (row[0], row[1], row[2]) if row else None

    def _append_locked(self, entries: list[PendingEntry]
                       ) -> list[tuple[int, str, str] | None]:
        """The append lock, the head and the batch's revoked tokens, one INSERT of the
        others, one COMMIT (and on a SQLite file the late WAL sync)."""
        self.wal.refuse_if_failed()  # before anything is written (wal_sync.py)
        tokens = sorted({int(e.token_id) for e in entries if e.token_id})
        # The queue outside the connection's block: a failed transaction is rolled back
        # before the next writer may go.
        with self.queue.held(), self._connection() as (conn, tx):
            cur = conn.cursor()
            try:
                head, revoked = self._lock_and_head(cur, tokens)
                self.wal.refuse_if_failed()  # a failure that came while it waited
                kept = [e for e in entries if e.token_id not in revoked]
                params, results = self._entries(head, kept)
                rows = sum(1 for r in results if r)
                if rows:
                    cur.execute(self._insert(rows), params)
                self._commit(conn, tx)
            finally:
                cur.close()
        if getattr(self._own, "late", False):
            # Committed unsynced: the flush, outside the locks, before anyone is answered
            # (wal_sync.py).
            self.wal.sync(after_append=True)
        written = iter(results)
        return [None if e.token_id in revoked else next(written) for e in entries]

    def _lock_and_head(self, cur, tokens: list[int]) -> tuple[Head, set[int]]:
        """Take the append lock, then read the head (audit_log.py's rule) and which of
        ``tokens`` are revoked, in one statement. On PostgreSQL BEGIN, the lock and that
        statement go in one message (the simple query protocol, no parameters: the key is
        our constant); under READ COMMITTED each statement of the message takes its own
        snapshot, so the head is read after the lock is granted."""
        head_sql = (self._head_and_revoked.format(ids=", ".join(map(str, tokens)))
                    if tokens else _HEAD)  # ints from our own rows: no quoting needed
        if self.postgres:
            cur.execute(f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK}); {head_sql}")
            cur.nextset()
            cur.nextset()
        else:
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(head_sql)
        row = cur.fetchone()
        revoked = row[3] if tokens and row is not None else None
        return _head(row), {int(t) for t in revoked.split(",")} if revoked else set()

    def _insert(self, n: int) -> str:
        """One INSERT of ``n`` rows (one round trip, whatever the batch)."""
        sql = self._inserts.get(n)
        if sql is None:
            sql = self._placeholders(_INSERT_MANY + _rows(n))
            self._inserts[n] = sql
        return sql

    def _placeholders(self, sql: str) -> str:
        """``:name`` (sqlite3) or ``%(name)s`` (psycopg)."""
        return replace_parameters(sql, "%({})s".format) if self.postgres else sql

    @staticmethod
    def _commit(conn, tx: "_Transaction") -> None:
        tx.commit_sent = True
        conn.commit()  # (psycopg in autocommit: COMMIT of the transaction BEGIN opened)

    def _entries(self, head: Head, entries: list[PendingEntry]):
        """Each entry's row (audit_log.entry_row, as every append) as INSERT parameters,
        numbered from 0 in order, and its position, ``at`` and ``sha256`` — or None for
        an entry whose token would have expired by its ``at`` (not written)."""
        params, results, rows = {}, [], 0
        for e in entries:
            at = next_instant(head, self.clock())
            if expired_at(e.expires_at_us, to_micros(at)):
                results.append(None)
                continue
            row, at_text = entry_row(head, e.kind, e.actor, e.payload_text, e.uscc, at)
            head = Head(row["position"], row["at_us"], row["sha256"])
            params.update({f"{k}{rows}": v for k, v in row.items()})
            rows += 1
            results.append((head.position, at_text, head.sha256))
        return params, results

    @contextmanager
    def _connection(self):
        """This thread's connection and its transaction's state. A connection the
        driver reports dead is invalidated (the next call opens another); a driver error
        becomes what failures.py says, as in the unit of work."""
        dbapi = self.engine.dialect.loaded_dbapi
        conn = self._thread_connection()
        tx = _Transaction()
        try:
            yield conn, tx
        except BaseException as exc:
            lost = isinstance(exc, dbapi.Error) and self.engine.dialect.is_disconnect(
                exc, conn.dbapi_connection, None)
            if lost:
                self._discard(conn, exc)
            else:
                self._end_transaction(conn)
            if not isinstance(exc, dbapi.Error):
                raise
            mapped = failure(lost=lost, commit_sent=tx.commit_sent,
                             operational=isinstance(exc, dbapi.OperationalError)
                             or unreadable(exc), refused=refuses_access(exc),
                             altered=altered_text(exc))
            if mapped is None:
                raise
            raise mapped from exc

    def _end_transaction(self, conn) -> None:
        """After a failure, leave no transaction open on the thread's connection (a
        failed COMMIT may leave SQLite's open, with its lock): roll it back, or discard
        the connection if even that fails."""
        driver = conn.dbapi_connection
        try:
            if self.postgres:
                open_ = driver.info.transaction_status.name != "IDLE"
            else:
                open_ = driver.in_transaction
            if open_:
                conn.rollback()
        except Exception:
            self._discard(conn)

    def _thread_connection(self):
        """This thread's own connection, opened on first use in this process (a forked
        worker never uses its parent's)."""
        own = self._own
        conn = getattr(own, "conn", None)
        if conn is not None and own.pid == os.getpid():
            return conn
        try:
            conn = self.engine.raw_connection()
        except Exception as exc:
            raise Unavailable("the database cannot be reached") from exc
        try:
            if self._detach:
                conn.detach()  # ours until closed: never back in the pool nor reset by it
            if self.postgres:
                # Set on the driver's connection itself (the proxy only forwards reads).
                conn.dbapi_connection.autocommit = True
            late = self.wal.late(conn.dbapi_connection)  # False unless a SQLite file
            if late:
                # Ours alone (detached): every append syncs the WAL itself, after the locks.
                conn.dbapi_connection.execute(f"PRAGMA synchronous={LATE_SYNCHRONOUS}")
        except Exception as exc:
            _close(conn, exc)
            raise Unavailable("the database connection could not be set up") from exc
        own.conn, own.pid, own.late = conn, os.getpid(), late
        self._register(conn)
        return conn

    def _register(self, conn) -> None:
        """Remember the connection for dispose(), and close those of threads that have
        ended (a server that starts a thread per request must not keep one each)."""
        me = (os.getpid(), threading.current_thread(), conn)
        with self._opened_lock:
            ended = [c for p, t, c in self._opened if p == me[0] and not t.is_alive()]
            self._opened = [o for o in self._opened if o[2] not in ended] + [me]
        for c in ended:
            _close(c)

    def _discard(self, conn, exc: BaseException | None = None) -> None:
        _close(conn, exc)
        if getattr(self._own, "conn", None) is conn:
            self._own.conn = None
        with self._opened_lock:
            self._opened = [o for o in self._opened if o[2] is not conn]

    def _close_all(self, _engine=None) -> None:
        """Engine.dispose(): close every connection this process opened here (a parent's
        are left to the parent). Meant for shutdown and tests: a thread still using its
        connection then fails, and its request is retried once on a new one."""
        with self._opened_lock:
            mine = [c for p, _t, c in self._opened if p == os.getpid()]
            self._opened = []
        for conn in mine:
            _close(conn)
        self._own = threading.local()
        self.wal.close()


def _raise_if_closed_by_server(driver) -> None:
    """Before the one call (PostgreSQL), which is its own COMMIT: raise the driver's
    OperationalError if the server has already closed this idle connection (a restart,
    an idle backend terminated). Found by the call itself, that would be a 503 for a
    request that wrote nothing; found here, nothing was sent, so it is a connection lost
    before COMMIT and the request runs once more on a new one (failures.py). libpq's
    PQconsumeInput reads what the server sent, without a round trip or a wait; the first
    read takes the server's last message ("terminating connection …"), the second finds
    the connection's end. (A connection that dies later, or whose end has not arrived
    yet, is still found by the call: 503.)"""
    for _ in range(2):
        driver.pgconn.consume_input()


def _prepared(conn) -> set[bytes]:
    """The names prepared on this connection (prepared_calls.py), kept with it: a new
    connection starts with none."""
    return conn.info.setdefault("credit.prepared_calls", set())


def _rows(n: int) -> str:
    """The VALUES rows of ``n`` entries: ``(:position0, …), (:position1, …)``."""
    return ", ".join("(" + ", ".join(f":{c}{i}" for c in _COLUMNS.split(", ")) + ")"
                     for i in range(n))


def _head(row) -> Head:
    """The head from a row of ``_HEAD`` (the genesis when the chain is empty)."""
    return Head(row[0], row[1], row[2]) if row else Head(0, None, GENESIS)


def _close(conn, exc: BaseException | None = None) -> None:
    """Close a detached connection's driver connection (invalidating a detached proxy
    only forgets it: there is no pool record to close it)."""
    driver = conn.dbapi_connection
    if driver is None:
        return
    conn.invalidate(exc)
    try:
        driver.close()
    except Exception:  # already closed by the server: nothing left to release
        pass


class _Transaction:
    """Whether COMMIT was sent: after that, a lost connection leaves the outcome
    unknown and the request must not be retried."""

    __slots__ = ("commit_sent",)

    def __init__(self):
        self.commit_sent = False
