"""The append queue: how writers wait for the append lock on a SQLite database file.

SQLite's lock is not a queue. A writer that finds it taken sleeps in the busy handler
(1 ms, then 2, 5, 10 … ms) and tries again, however soon the holder is done: two
workers writing a few hundred microseconds each spent a fifth of their time asleep that
way (bench/README.md, "Issue 10"). So on a database file every writer of this service —
a unit of work that writes (uow.py) and a served score's append (served_scores.py) —
first takes an exclusive ``flock`` on ``<database>-append.lock``; the kernel wakes the
waiters the moment it is released (as PostgreSQL wakes those of its advisory lock), and
only then does the writer take ``BEGIN IMMEDIATE``. It is released when the writer's
transaction has ended: at the end of the unit of work, after COMMIT or ROLLBACK
(SQLAlchemy's connection events come too early for that: the session still holds its
connection).

The file lock only orders our own writers. SQLite's lock still serialises every writer,
so a process that does not take the file lock (a migration, another tool) is as safe as
before, and a killed process's file lock is released by the kernel.

A writer that got the file lock only after the busy timeout answers 503 at once, without
trying SQLite's lock: when something holds SQLite's lock for long, the queue's head waits
up to the busy timeout in ``BEGIN IMMEDIATE`` and everyone behind it fails right after,
not one busy timeout each.

The wait itself is bounded by the same busy timeout (a tenth more if its first alarm came
too early to interrupt it) where Python can interrupt it: in a
process's main thread (a sync worker's request, a CLI command), a blocking ``flock`` is
interrupted by ``SIGALRM`` when the busy timeout runs out, and the writer answers 503. So
a holder that is *stopped*, not dead (an import suspended with Ctrl-Z, a process in a
debugger), costs each waiter one busy timeout and a clear 503, not a request held until
gunicorn's worker timeout kills the worker. ``flock`` itself cannot time out, and polling
instead cost a tenth of the throughput; the timer costs nothing when the lock is free
(the first try does not block) and about six system calls when it is not. Where no alarm
can interrupt the wait — a gthread worker's threads (Python runs signal handlers in the
main thread only), and a main thread whose ``SIGALRM`` or interval timer something else
already uses (it is never taken from its owner) — the writer polls instead: it tries
the lock without blocking, sleeping 0.2 ms, then twice as long each time up to 5 ms,
and answers 503 once the busy timeout has passed. That costs a waiter up to 5 ms of
latency after the lock is released, in exchange for the same bound as the main thread's;
before, such a wait was unbounded (issue 10: a stopped holder held every thread of a
gthread worker). The bound is on the file lock's wait
only: a writer that got the file lock just inside the busy timeout may then wait up to
another one in ``BEGIN IMMEDIATE`` if something else holds SQLite's lock, about 60 s in
all: gunicorn's worker timeout, so that request may still end with the worker killed.
The service's writers hold the queue
for milliseconds and an import batch for about a quarter of a second
(batch/importer.py).

The queue is re-entrant within a thread, per lock file and process (however many
:class:`AppendQueue` objects name it): a write opened while the same thread already holds
it goes straight to SQLite's lock, as it did before there was a queue (``flock`` on a
second descriptor of the same file would wait for ourselves forever). The lock file is
opened read-only (``flock`` needs no more), so a file created by another user still
serves; if it cannot be opened at all the queue is off, which is logged once, and
SQLite's lock alone serialises. PostgreSQL and in-memory databases have no queue: the
advisory lock is one already, and an in-memory database has one connection.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine

from credit.errors import Unavailable

from . import database

log = logging.getLogger(__name__)
#: Per thread: the (process, lock file) pairs it holds, for re-entrancy.
_HOLDING = threading.local()


class AppendQueue:
    """The file lock that orders this database's writers (module docstring)."""

    def __init__(self, path: str | None):
        #: The lock file (None: no queue on this database).
        self.path = path
        self._warned = False

    @classmethod
    def for_engine(cls, engine: Engine) -> "AppendQueue":
        """The queue of the database ``engine`` writes to."""
        name = database.sqlite_file(engine.url)
        return cls(f"{name}-append.lock" if name else None)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the queue, then hold it until the block ends (closing the file
        releases the lock). No queue, a lock file that cannot be opened, or a thread
        that holds it already: nothing to wait for here (SQLite's own lock still
        serialises)."""
        key, holding = (os.getpid(), self.path), _holding()
        fd = None if self.path is None or key in holding else self._open()
        if fd is None:
            yield
            return
        try:
            self._wait(fd)
            holding.add(key)
            yield
        finally:
            holding.discard(key)
            os.close(fd)

    def _open(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("append queue off: cannot open %s (%s); writers wait in "
                            "SQLite's busy handler instead", self.path, exc)
            return None

    @staticmethod
    def _wait(fd: int) -> None:
        """Wait for the file lock; the kernel wakes the waiters as soon as it is
        released. Waited longer than the busy timeout, or interrupted when it ran out:
        503 (module docstring)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        limit = database.SQLITE_BUSY_TIMEOUT_MS / 1000
        started = time.monotonic()
        if _alarm_is_free():
            try:
                _wait_with_alarm(fd, limit)
            except _Expired:
                raise _busy() from None
        else:
            _wait_polling(fd, started + limit)
        if time.monotonic() - started > limit:
            raise _busy()


#: The polling wait's first and longest sleep between tries (module docstring).
POLL_FIRST, POLL_LONGEST = 0.0002, 0.005


def _wait_polling(fd: int, deadline: float) -> None:
    """Try the file lock again and again, sleeping 0.2 ms, then twice as long each
    time up to 5 ms, until it is granted or ``deadline`` (``time.monotonic``) has
    passed: then 503. For a wait that no alarm can interrupt (module docstring)."""
    pause = POLL_FIRST
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise _busy()
        time.sleep(min(pause, left))
        pause = min(pause * 2, POLL_LONGEST)


def _busy() -> Unavailable:
    return Unavailable("the database is busy: another writer held the append lock longer "
                       "than the busy timeout")


class _Expired(Exception):
    """The busy timeout ran out while waiting for the file lock."""


def _alarm_is_free() -> bool:
    """Whether this wait may use ``SIGALRM``: in the main thread (Python runs signal
    handlers there only), with no handler and no real-time interval timer of someone
    else's (never taken from its owner), once leftovers of our own earlier waits are
    reclaimed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    _reclaim_leftovers()
    return (signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def _reclaim_leftovers() -> None:
    """Finish the clean-up of earlier waits' alarms that another signal's exception
    (Ctrl-C, gunicorn's ``SIGQUIT``) cut short: such an alarm is ours and inert, and left
    installed it would make every later wait unbounded."""
    left = _installed_alarm()
    while left is not None and not left.on:
        left.disarm()
        left = _installed_alarm()


def _installed_alarm() -> "_Alarm | None":
    """The alarm of ours whose ``ring`` is the ``SIGALRM`` handler, if one is."""
    left = getattr(signal.getsignal(signal.SIGALRM), "__self__", None)
    return left if isinstance(left, _Alarm) else None


def _wait_with_alarm(fd: int, seconds: float) -> None:
    """Block for the file lock until ``SIGALRM`` says ``seconds`` have passed; then
    :class:`_Expired`, raised here and nowhere else.

    The timer repeats (every tenth of the limit): an alarm that arrives after Python's
    last check for signals but before ``flock`` enters the kernel interrupts nothing (its
    handler would run only when ``flock`` returns); the next alarm interrupts it. One
    try/finally and no generator, so nothing can slip between the wait and the clean-up.
    The clean-up first makes the alarm inert (a plain attribute store: Python looks for
    signals at none of its instructions, unless a trace function such as pdb's is set),
    and the handler that raises puts everything back itself first, so an alarm never
    leaves a live handler behind. Two cases stay open: another signal's exception inside
    the clean-up leaves the inert alarm installed, perhaps with its timer still
    repeating, until its next tick or the next wait in this thread finishes the clean-up
    (:func:`_reclaim_leftovers`); and an alarm swallowed by a finaliser that happened to
    run at that moment leaves this one wait unbounded."""
    seconds = max(seconds, 0.001)  # a zero timer would arm nothing
    alarm = _Alarm(signal.getsignal(signal.SIGALRM))
    try:
        signal.signal(signal.SIGALRM, alarm.ring)
        signal.setitimer(signal.ITIMER_REAL, seconds, max(seconds / 10, 0.001))
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        alarm.on = False  # inert before the first call, where Python looks for signals
        alarm.disarm()


class _Alarm:
    """One wait's alarm: raises :class:`_Expired` at most once, and only until the wait
    is over."""

    __slots__ = ("on", "previous")

    def __init__(self, previous):
        self.on = True
        #: The handler to put back (the default or ``SIG_IGN``: :func:`_alarm_is_free`).
        self.previous = previous

    def ring(self, _signum, _frame) -> None:
        """The ``SIGALRM`` handler: put everything back, and end the wait unless it is
        over already (an inert alarm still ringing is a clean-up that another signal's
        exception cut short: this finishes it)."""
        live = self.on
        self.disarm()
        if live:
            raise _Expired()

    def disarm(self) -> None:
        """Stop the timer and put the previous handler back; later alarms change
        nothing. Idempotent."""
        self.on = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


def _holding() -> set:
    holding = getattr(_HOLDING, "keys", None)
    if holding is None:
        holding = _HOLDING.keys = set()
    return holding
