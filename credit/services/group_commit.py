"""Group commit of served-score traces (issue 10): one durable COMMIT for every trace
that was waiting for the append lock, instead of one COMMIT each.

How it works (leader/follower, one :class:`GroupAppender` per process, shared by the
threads of a gthread worker):

1. A request computes its score in a read snapshot, serialises the trace's payload and
   puts it in the process's queue of pending traces.
2. It then waits for the process's *flush* mutex. Whoever holds it is the leader: it
   takes *every* pending trace (its own and those queued while the previous leader was
   committing), opens one write transaction (persistence/served_scores.py) — the
   database's append lock, as for any write, so other processes and other writers are
   serialised as before — assigns
   each trace its position and ``at`` in queue order, inserts them and COMMITs once.
   Only then does it mark them done and release the mutex.
3. A follower that gets the mutex and finds its trace done returns at once: its
   answer was written by an earlier leader's commit, which has returned.

So each request is answered only after the COMMIT that holds its entry (an acknowledged
trace survives SIGKILL) and, on a SQLite file, after the WAL sync that follows it
(persistence/wal_sync.py; PostgreSQL flushes its WAL in COMMIT), so it survives power
loss too; positions stay gap-free because a failed batch rolls back whole and every
request in it fails (nothing of it was acknowledged); ``at`` strictly increases within a
batch as between batches (AuditLog.next_at).

This is PostgreSQL's own group commit (``commit_delay``: the first backend to flush the
WAL flushes it for everyone who queued behind it) moved one level up, where it also
saves the lock hand-over and the transaction; unlike Trillian's sequencer there is no
timer (a lone request is never delayed to wait for company) and no separate integration
step (a queued trace is never acknowledged before it is in the chain). SQLite's WAL
cannot batch commits across processes (one writer at a time), which is why this
batching is inside a process (``credit serve --threads``, README "Worker model"); what
processes do share on SQLite is the disk flush, which each append makes after releasing
the lock (persistence/wal_sync.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from credit.errors import ConnectionLost, Unavailable
from credit.persistence.served_scores import PendingEntry

#: At most this many traces in one transaction (a bound, not a target: a batch holds
#: whatever was waiting, which is at most the process's threads).
MAX_BATCH = 256


@dataclass
class Appended:
    position: int
    at: str
    sha256: str


class _Pending:
    __slots__ = ("entry", "result", "error", "done")

    def __init__(self, entry: PendingEntry):
        self.entry = entry
        self.result: Appended | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupAppender:
    """Appends entries whose payload is already canonical text, several per COMMIT."""

    def __init__(self, write: Callable[[list[PendingEntry]], list[tuple[int, str, str]]],
                 *, max_batch: int = MAX_BATCH):
        #: Appends a batch in one transaction (ServedScoreStore.append).
        self._write_batch = write
        self._max_batch = max_batch
        self._queue_mutex = threading.Lock()
        self._pending: list[_Pending] = []
        self._flush = threading.Lock()
        #: Entries queued, batches that wrote at least one entry, and entries written
        #: (tests and the bench).
        self.queued = 0
        self.batches = 0
        self.entries = 0

    def append(self, kind: str, actor: str, payload_text: str, uscc: str | None = None,
               token_id: int | None = None, expires_at_us: int | None = None
               ) -> Appended | None:
        """Returns once the entry is committed, or None when it was not written because
        the token ``token_id`` was revoked meanwhile or would have expired by the
        entry's ``at`` (persistence/served_scores.py); raises what the commit raised."""
        item = _Pending(PendingEntry(kind, actor, payload_text, uscc, token_id,
                                     expires_at_us))
        with self._queue_mutex:
            self._pending.append(item)
            self.queued += 1
        while not item.done:
            with self._flush:
                if item.done:
                    break
                with self._queue_mutex:
                    batch = self._pending[:self._max_batch]
                    del self._pending[:self._max_batch]
                self._write(batch)
        if item.error is not None:
            raise item.error
        return item.result

    def _write(self, batch: list[_Pending]) -> None:
        try:
            results = self._write_batch([p.entry for p in batch])
        except BaseException as exc:  # every request of the batch learns of it
            for p in batch + self._queued_behind(exc):
                p.error, p.done = exc, True
            if not isinstance(exc, Exception):
                raise
            return
        written = sum(1 for r in results if r)
        self.batches += 1 if written else 0  # a batch whose every entry was refused wrote nothing
        self.entries += written
        for p, r in zip(batch, results, strict=True):
            p.result, p.done = (Appended(*r) if r else None), True

    def _queued_behind(self, exc: BaseException) -> list[_Pending]:
        """When the database was busy or unreachable (the append lock not granted within
        its bound: a stopped holder), the entries queued while this batch waited fail
        with it: they were waiting for the same lock, and a second leader would make
        each wait one more bound (README: a stopped holder costs each waiter one bound
        and a 503). A lost connection fails only its own batch: the next leader opens
        another (api/auth.py runs the request once more)."""
        if not isinstance(exc, Unavailable) or isinstance(exc, ConnectionLost):
            return []
        with self._queue_mutex:
            queued, self._pending = self._pending, []
        return queued
