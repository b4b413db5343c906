"""The append queue (credit/persistence/append_queue.py): on a SQLite file every writer —
a unit of work that writes as well as a served score's append — waits for the queue's
file lock before SQLite's, and holds it until its transaction has ended; a writer that
waited longer than the busy timeout answers 503 and writes nothing. PostgreSQL has no
queue (its advisory lock is one), so these run on SQLite files only."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from datetime import date

import pytest

from credit.errors import Unavailable
from credit.persistence import append_queue, database
from credit.persistence.append_queue import AppendQueue
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

from .helpers import EVALUATOR, HOUSING, S1, head, record_body

WAIT = 60
AS_OF = date(2026, 6, 30)


@pytest.fixture
def queue(ctx) -> AppendQueue:
    q = ctx.uow.queue
    if q.path is None:
        pytest.skip("SQLite database files only: PostgreSQL's advisory lock is a queue")
    return q


@pytest.fixture(autouse=True)
def alarm_left_as_found():
    """Every test leaves SIGALRM and the real-time timer as it found them (the default
    and off); a test that leaks them fails itself instead of whichever test runs next."""
    yield
    left = signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert left == (signal.SIG_DFL, (0.0, 0.0))


class Holder:
    """Holds the queue from outside (as another process would) until ``seconds`` have
    passed or :meth:`now` lets go, whichever comes first; the descriptor is closed once."""

    def __init__(self, path: str, seconds: float):
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._guard, self._open = threading.Lock(), True
        self.released_at: float | None = None
        self._timer = threading.Timer(seconds, self._release)
        self._timer.start()

    def _release(self) -> None:
        with self._guard:
            if self._open:
                self._open = False
                # The time is taken before the close: a waiter can take the lock (and
                # read its own clock) the instant the descriptor closes, before this
                # thread runs again, so a time taken after would race it.
                self.released_at = time.monotonic()
                os.close(self._fd)

    def join(self, timeout: float) -> None:
        """Wait until it has let go by itself."""
        self._timer.join(timeout)

    def now(self) -> None:
        """Let go now (a no-op if it has already)."""
        self._timer.cancel()
        self._release()


def seconds_until_busy(path: str, write) -> float:
    """How long ``write`` waits behind a holder of the queue at ``path`` that does not let
    go (for 5 s) before it answers 503 busy."""
    release = Holder(path, 5)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="busy"):
            write()
        return time.monotonic() - started
    finally:
        release.now()


def write_nothing(q: AppendQueue):
    """A write that only takes the queue ``q``."""
    def write():
        with q.held():
            pass
    return write


def create(ctx) -> dict:
    return json.loads(create_record(ctx, HOUSING, record_body()).body)


def test_a_write_waits_in_the_queue_and_goes_when_it_is_released(ctx, queue):
    release = Holder(queue.path, 0.3)
    started = time.monotonic()
    rec = create(ctx)
    waited = time.monotonic() - started
    release.join(WAIT)
    assert waited >= 0.25  # it did not reach SQLite's lock (which was free) before
    assert rec["audit_position"] == head(ctx)[0]


def test_a_write_that_waited_past_the_busy_timeout_answers_busy(ctx, queue, monkeypatch):
    before = head(ctx)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    release = Holder(queue.path, 0.3)
    try:
        with pytest.raises(Unavailable):
            create(ctx)
    finally:
        release.join(WAIT)
    assert head(ctx) == before
    assert create(ctx)["audit_position"] == before[0] + 1


def test_a_served_score_that_waited_past_the_busy_timeout_answers_busy(ctx, queue,
                                                                        monkeypatch):
    """A served score's append waits in the same queue: an appender that waited longer
    than the busy timeout answers 503 without touching SQLite's lock (the appenders
    queued behind a long writer fail together, not one busy timeout each), and nothing
    is written."""
    create(ctx)
    before = head(ctx)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    release = Holder(queue.path, 0.3)
    try:
        with pytest.raises(Unavailable):
            score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    finally:
        release.join(WAIT)
    assert head(ctx) == before
    assert score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))["trace_id"] == before[0] + 1


def test_the_queue_is_held_until_the_unit_of_work_ends_even_when_it_fails(ctx, queue):
    entered = threading.Event()
    before = head(ctx)[0]
    with pytest.raises(RuntimeError, match="the use case failed"):
        with ctx.uow(write=True) as uow:
            uow.audit.append("test.held", "test", {"n": 1})
            t = threading.Thread(target=lambda: (create(ctx), entered.set()))
            t.start()
            assert not entered.wait(0.3)  # the other writer waits for us ...
            raise RuntimeError("the use case failed")
    t.join(WAIT)  # ... and goes once we rolled back
    assert entered.is_set()
    assert head(ctx)[0] == before + 1  # the record's entry only: ours was rolled back


def test_the_queue_is_reentrant_within_a_thread(tmp_path):
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    other = []
    with q.held():
        with q.held():  # a second descriptor's flock would wait for ourselves
            pass
        t = threading.Thread(target=lambda: q.held().__enter__() or other.append(1))
        t.start()
        t.join(0.2)
        assert not other  # still ours after the inner block
    t.join(WAIT)
    assert other == [1]


def test_no_queue_for_postgresql_or_memory(ctx):
    from sqlalchemy import create_engine
    assert AppendQueue.for_engine(create_engine("sqlite://")).path is None
    assert AppendQueue.for_engine(
        create_engine("postgresql+psycopg://x@127.0.0.1/none")).path is None


def test_two_queue_objects_on_one_file_are_one_queue_for_a_thread(tmp_path):
    """Re-entrancy is per lock file and process, not per object: a second AppendQueue on
    the same file (another factory on the same database) does not wait for ourselves."""
    path = str(tmp_path / "x.db-append.lock")
    done = threading.Event()

    def nested():
        with AppendQueue(path).held(), AppendQueue(path).held():
            done.set()

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(5)
    assert done.is_set()


def test_a_lock_file_that_cannot_be_opened_turns_the_queue_off_and_says_so(tmp_path,
                                                                             caplog):
    q = AppendQueue(str(tmp_path / "missing-dir" / "x.db-append.lock"))
    with caplog.at_level("WARNING", logger="credit.persistence.append_queue"):
        for _ in range(2):
            with q.held():
                pass
    said = [r for r in caplog.records if "append queue off" in r.getMessage()]
    assert len(said) == 1


def test_a_stopped_holder_costs_a_main_thread_writer_one_busy_timeout_not_forever(
        ctx, queue, monkeypatch):
    """A holder that never lets go (stopped, not dead): a writer in the main thread (a
    sync worker, a CLI command) waits one busy timeout, then answers 503, and writes
    nothing; the alarm it used is put back as it was."""
    assert threading.current_thread() is threading.main_thread()
    before = head(ctx)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    waited = seconds_until_busy(queue.path, lambda: create(ctx))
    assert 0.15 <= waited < 5
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert head(ctx) == before
    assert create(ctx)["audit_position"] == before[0] + 1


def test_a_served_score_behind_a_stopped_holder_answers_busy_in_one_busy_timeout(
        ctx, queue, monkeypatch):
    create(ctx)
    before = head(ctx)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    waited = seconds_until_busy(
        queue.path, lambda: score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF)))
    assert 0.15 <= waited < 5
    assert head(ctx) == before


def test_the_alarm_of_someone_else_is_never_taken(tmp_path, monkeypatch):
    """A main thread whose SIGALRM is already in use keeps it: the wait polls instead,
    answers 503 once the busy timeout has passed (long before the holder lets go), and
    the owner's handler is untouched and still fires."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    fired = []

    def owner(_signum, _frame):
        fired.append(1)

    previous = signal.signal(signal.SIGALRM, owner)
    try:
        release = Holder(q.path, 5)
        started = time.monotonic()
        with pytest.raises(Unavailable):
            with q.held():
                pass
        assert 0.04 <= time.monotonic() - started < 4
        assert fired == []
        release.now()
        assert signal.getsignal(signal.SIGALRM) is owner
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        time.sleep(0.2)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_thread_other_than_the_main_one_answers_busy_in_one_busy_timeout(
        tmp_path, monkeypatch):
    """Python runs signal handlers in the main thread only: another thread (a gthread
    worker's) polls, and answers 503 once the busy timeout has passed, not when a holder
    that does not let go finally does (it used to wait for it, unbounded)."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    outcome = []

    def write():
        started = time.monotonic()
        try:
            with q.held():
                outcome.append("held")
        except Unavailable:
            outcome.append(time.monotonic() - started)

    release = Holder(q.path, 5)
    t = threading.Thread(target=write)
    t.start()
    t.join(WAIT)
    assert len(outcome) == 1 and outcome[0] != "held" and 0.04 <= outcome[0] < 4
    release.now()
    with q.held():  # and the queue is free again
        pass


def test_a_polling_thread_gets_the_lock_once_the_holder_lets_go(tmp_path, monkeypatch):
    """Within the busy timeout a polling waiter is not refused: it takes the lock after
    the holder releases it (and the sleeps between its tries stay short)."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 5000)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    outcome = []

    def write():
        with q.held():
            outcome.append(time.monotonic())

    release = Holder(q.path, 0.2)
    t = threading.Thread(target=write)
    t.start()
    t.join(WAIT)
    release.join(WAIT)
    assert len(outcome) == 1 and release.released_at is not None
    assert release.released_at <= outcome[0] < release.released_at + 2


def test_an_interval_timer_of_someone_else_is_never_taken(tmp_path, monkeypatch):
    """A main thread whose real-time interval timer is running (with the default
    SIGALRM handler still in place) keeps it: the wait polls instead, and the timer is
    left exactly as its owner armed it."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 50)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the owner ignores it
    try:
        signal.setitimer(signal.ITIMER_REAL, 100, 100)
        release = Holder(q.path, 5)
        started = time.monotonic()
        with pytest.raises(Unavailable):
            with q.held():
                pass
        assert 0.04 <= time.monotonic() - started < 4  # polled: one busy timeout
        release.now()
        assert signal.getsignal(signal.SIGALRM) is signal.SIG_IGN
        remaining, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 99 < remaining <= 100 and interval == 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_alarm_that_came_too_early_to_interrupt_the_wait_is_followed_by_another(
        tmp_path, monkeypatch):
    """An alarm that arrives after Python's last look for signals but before ``flock``
    enters the kernel interrupts nothing (its handler runs only when ``flock``
    returns). Its effect is simulated by a handler that ignores its first call: the
    wait must still end soon after the busy timeout, on the next alarm, not when the
    holder lets go."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    ring = append_queue._Alarm.ring
    calls = []

    def lose_the_first(alarm, signum, frame):
        calls.append(signum)
        if len(calls) > 1:
            ring(alarm, signum, frame)

    monkeypatch.setattr(append_queue._Alarm, "ring", lose_the_first)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    waited = seconds_until_busy(q.path, write_nothing(q))
    assert len(calls) == 2 and 0.15 <= waited < 2
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


class Interrupted(Exception):
    """What another signal's handler raises (as Ctrl-C raises KeyboardInterrupt)."""


def interrupt(_signum, _frame):
    raise Interrupted()


@pytest.fixture
def sigusr1():
    """SIGUSR1 stands for another signal whose handler raises."""
    previous = signal.signal(signal.SIGUSR1, interrupt)
    yield
    signal.signal(signal.SIGUSR1, previous)


def test_another_signals_exception_during_the_wait_puts_the_alarm_back_and_lets_go(
        tmp_path, monkeypatch, sigusr1):
    """Ctrl-C (or any handler that raises) while the writer waits: its exception goes
    through unchanged, the alarm is put back as it was, and the queue is not kept."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 10_000)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    release = Holder(q.path, 1.0)
    threading.Timer(0.1, os.kill, [os.getpid(), signal.SIGUSR1]).start()
    with pytest.raises(Interrupted):
        with q.held():
            pass
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    release.join(WAIT)
    with q.held():  # our descriptor was closed: the queue is free
        pass


class CutShort:
    """``signal`` as append_queue sees it, with SIGUSR1 (whose handler raises) raised
    once in the middle of the alarm's clean-up, ``where`` says."""

    def __init__(self, where: str):
        self.where, self.cut = where, False

    def __getattr__(self, name):
        return getattr(signal, name)

    def cut_here(self, where: str) -> None:
        if self.where == where and not self.cut:
            self.cut = True
            signal.raise_signal(signal.SIGUSR1)  # its handler runs before the next call

    def setitimer(self, which, value, *interval):
        if value == 0:
            self.cut_here("before the timer stops")
        answer = signal.setitimer(which, value, *interval)
        if value == 0:
            self.cut_here("before the handler is back")
        return answer


@pytest.mark.parametrize("where", ["as the clean-up starts", "before the timer stops",
                                   "before the handler is back"])
def test_a_clean_up_cut_short_by_another_signal_is_finished_later(
        tmp_path, monkeypatch, sigusr1, where):
    """Another signal's exception inside the alarm's clean-up leaves our alarm installed,
    inert: it never raises, and either its own next tick (its timer still runs) or the
    next wait (it does not) finishes the clean-up, so that wait is bounded again."""
    cut_short = CutShort(where)
    disarm = append_queue._Alarm.disarm

    def starts_cut_short(alarm):
        cut_short.cut_here("as the clean-up starts")  # as if at its first line
        disarm(alarm)

    monkeypatch.setattr(append_queue._Alarm, "disarm", starts_cut_short)
    monkeypatch.setattr(append_queue, "signal", cut_short)
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    release = Holder(q.path, 0.1)  # lets go long before the alarm
    with pytest.raises(Interrupted):
        with q.held():
            pass
    assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL  # left behind
    release.join(WAIT)
    time.sleep(1.2)  # past the busy timeout: what was left behind must be inert
    if where != "before the handler is back":  # its timer ran: it cleaned up after itself
        assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    assert seconds_until_busy(q.path, write_nothing(q)) < 2  # bounded: it was ours


def test_a_zero_busy_timeout_still_arms_the_alarm(tmp_path, monkeypatch):
    """A busy timeout of 0 would arm no timer at all (setitimer's zero means off): the
    wait would then be unbounded. It gets the shortest timer instead."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 0)
    q = AppendQueue(str(tmp_path / "x.db-append.lock"))
    assert seconds_until_busy(q.path, write_nothing(q)) < 2
