"""The late WAL sync: how a served score's trace reaches the disk of a SQLite file
without the append lock being held through the flush (issue 10).

With ``synchronous=FULL`` SQLite syncs the WAL inside COMMIT, while the writer still
holds the lock, so every writer also waits for the previous one's disk flush (the
logged-read ceiling of bench/logged_read.py works that way). A served score's append
instead commits with ``synchronous=NORMAL`` — the WAL frames are written, not synced —
and, once it has released the append queue and SQLite's lock, syncs the WAL file itself
(:meth:`WalSync.sync`); only then is the request answered. This is PostgreSQL's split
between inserting WAL under a lock and flushing it outside (``XLogInsert`` and
``XLogFlush``): a flush writes everything written before it, so the flushes of appenders
in different processes that overlap share the file system's journal commit. That is the
group commit across processes that SQLite's own ``FULL`` cannot give (one writer at a
time, each flushing alone). Every other writer keeps ``FULL``.

Why the promise "acknowledged means on disk" still holds (Linux; elsewhere, and
wherever the file SQLite writes cannot be confirmed, appends keep ``FULL``):

- The sync starts after COMMIT has returned, and ``fdatasync`` writes every dirty page
  of the file, whichever process or descriptor wrote it. The first sync of a new WAL
  file also syncs its directory, as SQLite does, so the file itself survives.
- It is the file SQLite writes: the path is the one SQLite reports for the database
  (``PRAGMA database_list``, symbolic links resolved as SQLite resolves them) plus
  ``-wal``, checked when the score store's connection is opened. While any connection
  has the database open in WAL mode (the appender's own is open through all of this)
  SQLite neither deletes nor replaces that file; it only writes it again from the first
  frame once a checkpoint has copied every frame into the database file and synced it
  (as it does under ``NORMAL`` too): frames overwritten before our sync are on disk
  already. So after an append the file must exist; its absence is an error.
- A power cut loses at most a suffix of unsynced, unacknowledged appends: WAL frames
  carry cumulative checksums and recovery keeps the longest valid prefix, so the chain
  stays a gap-free prefix of itself.
- Nothing that a power cut could take back is ever shown. Between COMMIT and the sync
  another connection can already read the entry. But another served score answers only
  after its own sync, which covers everything it read, and every unit of work syncs the
  WAL as it ends (uow.py), before its caller answers. So no response carries a position
  that could later name a different entry.
- A failed sync fails closed, as PostgreSQL PANICs. Under ``FULL`` a failed sync inside
  COMMIT leaves the transaction unpublished; here the entry is already visible, and
  Linux reports a write-back error only once: a later sync through another descriptor
  may succeed although earlier frames never reached the disk. So the first failure
  answers 503 and leaves ``<database>-wal.sync-failed`` beside the database; every
  later sync of every process that finds it answers 503 too, reads included, until an
  operator has checked the disk and the chain (``credit audit verify``) and removed it.

PostgreSQL and in-memory databases have nothing to sync here (PostgreSQL flushes its own
WAL at COMMIT; an in-memory database has no file).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref

from sqlalchemy import Engine

from credit.errors import Unavailable

from . import database

log = logging.getLogger(__name__)

#: What a served score's own connections set instead of ``FULL`` (module docstring).
LATE_SYNCHRONOUS = "NORMAL"
#: Beside the database: a sync failed, nothing is acknowledged until it is removed.
FAILED_SUFFIX = "-wal.sync-failed"
#: Where ``fdatasync`` reaches the disk and the argument above was made.
SUPPORTED = sys.platform.startswith("linux") and hasattr(os, "fdatasync")


class WalSync:
    """Syncs one SQLite database file's WAL to disk (module docstring)."""

    def __init__(self, database_path: str | None):
        #: The database file, as SQLite resolves it (database.sqlite_file); None:
        #: nothing to sync here.
        self.database = database_path
        #: Its WAL file.
        self.path = f"{self.database}-wal" if self.database else None
        self._failed_marker = f"{self.database}{FAILED_SUFFIX}" if self.database else None
        #: (descriptor, process, (device, inode)) of the WAL file this process holds.
        self._held: tuple[int, int, tuple[int, int]] | None = None
        self._release: weakref.finalize | None = None
        self._lock = threading.Lock()
        #: This process saw a sync fail (even if the marker could not be written).
        self._broken = False

    @classmethod
    def for_engine(cls, engine: Engine) -> "WalSync":
        """The WAL of the database file ``engine`` writes to, if it is one."""
        return cls(database.sqlite_file(engine.url))

    def late(self, sqlite_connection) -> bool:
        """Whether appends through ``sqlite_connection`` (a driver connection to this
        database) may commit unsynced and call :meth:`sync`: on Linux, when the file
        SQLite reports for the main database is the one this object syncs."""
        if self.path is None or not SUPPORTED:
            return False
        row = sqlite_connection.execute("PRAGMA database_list").fetchone()
        reported = row[2] if row else ""
        if reported and os.path.realpath(reported) == self.database:
            return True
        log.warning("late WAL sync off: SQLite reports %r for %s; served scores commit "
                    "with synchronous=FULL", reported, self.database)
        return False

    def sync(self, *, after_append: bool = False) -> None:
        """Return once every frame written to the WAL so far is on disk. No WAL file
        after an append is an error (our frames went elsewhere: fail closed); otherwise
        nothing was written since the last checkpoint removed it. A file that cannot be
        opened is a 503 (nothing was lost: the next sync writes what this one did not);
        a sync that fails fails closed (module docstring)."""
        if self.path is None:
            return
        self.refuse_if_failed()
        try:
            fd, new = self._descriptor()
        except FileNotFoundError as exc:
            if after_append:
                self._fail(exc)
            return
        except OSError as exc:
            raise Unavailable("the database's log could not be opened to sync it") from exc
        try:
            if new:  # as SQLite's first sync of a WAL file: the file, then its entry
                os.fsync(fd)
                self._sync_directory()
            else:
                os.fdatasync(fd)
        except OSError as exc:
            self._fail(exc)
        finally:
            os.close(fd)

    def refuse_if_failed(self) -> None:
        """503 once a sync has failed, in this process or in any that left the marker
        (module docstring). Every writer asks before it takes the append lock, not
        only as it syncs: otherwise each write would commit, then be refused, and a
        client that retries would add another entry each time that nobody was told of."""
        if self.path is not None and (self._broken or os.path.exists(self._failed_marker)):
            raise Unavailable("an earlier write to disk failed: nothing is acknowledged "
                              "until an operator has checked the database")

    def _descriptor(self) -> tuple[int, bool]:
        """A duplicate (``close()`` may run meanwhile: dispose) of the WAL file this
        process holds open from one sync to the next, and whether the file is new to
        it. Held open because a failed write-back is reported to a descriptor that was
        open when it happened (and to its duplicates), and because a file held open
        keeps its inode, so a WAL file created anew under the same name is told apart
        from it."""
        with self._lock:
            held = self._held
            now = os.stat(self.path)
            if held is not None and held[1] == os.getpid() and held[2] == (
                    now.st_dev, now.st_ino):
                return os.dup(held[0]), False
            fd = os.open(self.path, os.O_RDONLY)
            self.close()
            info = os.fstat(fd)
            self._held = (fd, os.getpid(), (info.st_dev, info.st_ino))
            self._release = weakref.finalize(self, _close_quietly, fd)
            return os.dup(fd), True

    def close(self) -> None:
        """Let go of the WAL file this process holds (the engine's ``dispose()``; also
        when this object is collected)."""
        held, release = self._held, self._release
        self._held = self._release = None
        if release is not None and held[1] == os.getpid():
            release()
        elif release is not None:
            release.detach()  # a parent's descriptor: the parent closes it

    def _sync_directory(self) -> None:
        fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _fail(self, exc: OSError) -> None:
        """Leave the marker every process checks, then answer 503."""
        self._broken = True
        log.critical("syncing %s failed (%s): acknowledgements stop until %s is removed",
                     self.path, exc, self._failed_marker)
        try:
            os.close(os.open(self._failed_marker, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError:
            log.critical("could not create %s", self._failed_marker)
        raise Unavailable("the database's log could not be synced to disk") from exc


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
