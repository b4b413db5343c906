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

Why the promise "acknowledged means on disk" still holds:

- The sync starts after COMMIT has returned, and ``fdatasync`` writes every dirty page
  of the file, whichever process or descriptor wrote it.
- It is the file SQLite writes. It is opened by name for each sync, and while any
  connection has the database open in WAL mode (the appender's own connection is open
  through all of this) SQLite neither deletes nor replaces it. It only writes it again
  from the first frame once a checkpoint has copied every frame into the database file
  and, with ``NORMAL``, synced that file: frames overwritten before our sync are on
  disk already.
- A power cut loses at most a suffix of unsynced, unacknowledged appends: WAL frames
  carry cumulative checksums and recovery keeps the longest valid prefix, so the chain
  stays a gap-free prefix of itself.
- Nothing that a power cut could take back is ever shown. Between COMMIT and the sync
  another connection can already read the entry. But another served score answers only
  after its own sync, which covers everything it read; a writing unit of work commits
  with ``FULL``, whose sync covers every earlier frame; and every other unit of work on
  the file syncs the WAL as it ends (uow.py). So no response carries a position that
  could later name a different entry.
- A sync that fails leaves the outcome unknown, as a connection lost during COMMIT
  does: 503, never an acknowledgement.

PostgreSQL and in-memory databases have nothing to sync here (PostgreSQL flushes its own
WAL at COMMIT; an in-memory database has no file).
"""

from __future__ import annotations

import os

from sqlalchemy import Engine

from credit.errors import Unavailable

from . import database

#: What a served score's own connections set instead of ``FULL`` (module docstring).
LATE_SYNCHRONOUS = "NORMAL"


class WalSync:
    """Syncs one SQLite database file's WAL to disk (module docstring)."""

    def __init__(self, path: str | None):
        #: The WAL file (None: nothing to sync on this database).
        self.path = path

    @classmethod
    def for_engine(cls, engine: Engine) -> "WalSync":
        """The WAL of the database file ``engine`` writes to, if it is one."""
        name = database.sqlite_file(engine.url)
        return cls(os.path.abspath(f"{name}-wal") if name else None)

    @property
    def late(self) -> bool:
        """Whether appends on this database commit unsynced and call :meth:`sync`."""
        return self.path is not None

    def sync(self) -> None:
        """Return once every frame written to the WAL so far is on disk. No WAL file:
        nothing was written since the last checkpoint removed it."""
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise Unavailable("the database's log could not be synced to disk") from exc
        try:
            os.fdatasync(fd)
        except OSError as exc:
            raise Unavailable("the database's log could not be synced to disk") from exc
        finally:
            os.close(fd)
