"""The append queue: how writers wait for the append lock on a SQLite database file.

SQLite's lock is not a queue. A writer that finds it taken sleeps in the busy handler
(1 ms, then 2, 5, 10 … ms) and tries again, however soon the holder is done: two
workers writing a few hundred microseconds each spent a fifth of their time asleep that
way (bench/README.md, "Issue 10"). So on a database file every writer of this service —
a unit of work that writes (uow.py) and a served score's append (served_scores.py) —
first takes an exclusive ``flock`` on ``<database>-append.lock``, which the kernel hands
to the next waiter the moment it is released (as PostgreSQL hands over its advisory
lock), and only then ``BEGIN IMMEDIATE``. It is released when the writer's transaction
has ended: at the end of the unit of work, after COMMIT or ROLLBACK (SQLAlchemy's
connection events come too early for that: the session still holds its connection).

The file lock only orders our own writers. SQLite's lock still serialises every writer,
so a process that does not take the file lock (a migration, another tool) is as safe as
before, and a killed process's file lock is released by the kernel.

A writer that got the file lock only after the busy timeout answers 503 at once, without
trying SQLite's lock: when something holds SQLite's lock for long, the queue's head waits
up to the busy timeout in ``BEGIN IMMEDIATE`` and everyone behind it fails right after,
not one busy timeout each. (A holder that is stopped, not dead, keeps the queue waiting
until the worker timeout.)

The queue is re-entrant within a thread: a write opened while the same thread already
holds the queue goes straight to SQLite's lock, as it did before there was a queue
(``flock`` on a second descriptor of the same file would wait for ourselves forever).
PostgreSQL and in-memory databases have no queue: the advisory lock is one already, and
an in-memory database has one connection.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine

from credit.errors import Unavailable

from . import database


class AppendQueue:
    """The file lock that orders this database's writers (module docstring)."""

    def __init__(self, path: str | None):
        #: The lock file (None: no queue on this database).
        self.path = path
        self._held = threading.local()

    @classmethod
    def for_engine(cls, engine: Engine) -> "AppendQueue":
        """The queue of the database ``engine`` writes to."""
        name = engine.url.database
        if engine.dialect.name != "sqlite" or name in (None, "", ":memory:"):
            return cls(None)
        return cls(os.path.abspath(f"{name}-append.lock"))

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the queue, then hold it until the block ends (closing the file
        releases the lock). No queue, a lock file that cannot be opened, or a thread
        that holds it already: nothing to wait for here (SQLite's own lock still
        serialises)."""
        if self.path is None or getattr(self._held, "depth", 0):
            yield
            return
        fd = self._open()
        if fd is None:
            yield
            return
        try:
            self._wait(fd)
            self._held.depth = 1
            yield
        finally:
            self._held.depth = 0
            os.close(fd)

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return None

    @staticmethod
    def _wait(fd: int) -> None:
        """Wait for the file lock; the kernel wakes the next waiter as soon as it is
        released (polling it cost a tenth of the throughput). Waited longer than the
        busy timeout: 503 (module docstring)."""
        started = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)
        if time.monotonic() - started > database.SQLITE_BUSY_TIMEOUT_MS / 1000:
            raise Unavailable("the database is busy: another writer held the append lock "
                              "longer than the busy timeout")
