"""The unit of work: one database transaction per use case (Cosmic Python ch. 6).

Services open it, work through its repositories and call ``commit``; leaving the block
without committing rolls everything back, so a use case never half-writes.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from credit.errors import Unavailable

from .agency_repository import AgencyRepository
from .append_queue import AppendQueue
from .audit_log import AuditLog
from .database import writer
from .failures import unit_of_work_failure
from .performance_repository import PerformanceRepository
from .population import PopulationRows
from .repositories import (
    ApplicationRepository,
    AuditQueries,
    EndedSessionRepository,
    EvaluationRepository,
    IdempotencyRepository,
    RecordRepository,
    SubjectRepository,
    TokenRepository,
)
from .served_scores import ServedScoreStore
from .tender_repository import TenderRepository, WarningRepository
from .verifications import VerificationRepository
from .wal_sync import WalSync


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class SqlUnitOfWork:
    """``write=True`` takes the append lock at the start (needed by anything that
    appends to the audit log, including a served score): on SQLite it first waits in
    the append queue (append_queue.py) and holds it until the unit of work ends.

    On a SQLite file every unit of work syncs the WAL as it ends, before its caller
    answers: what it read may include a served score's append that is committed but not
    yet synced (wal_sync.py). (One that wrote was synced by its own ``FULL`` COMMIT, but
    a COMMIT with nothing to write syncs nothing; a sync with nothing to write is cheap.)"""

    def __init__(self, engine: Engine, *, write: bool, snapshot: bool = False,
                 clock: Callable[[], datetime] = system_clock,
                 write_engine: Engine | None = None, queue: AppendQueue | None = None,
                 wal: WalSync | None = None):
        self.engine = engine
        self._write_engine = write_engine
        self._queue = queue or AppendQueue.for_engine(engine)
        self._wal = wal or WalSync.for_engine(engine)
        self._held = ExitStack()
        self.write = write
        self.snapshot = snapshot
        self.clock = clock
        self.session: Session | None = None

    def __enter__(self) -> "SqlUnitOfWork":
        bind = (self._write_engine or writer(self.engine)) if self.write else self.engine
        self.session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        s = self.session
        self.audit = AuditLog(s, self.clock)
        self.audit_queries = AuditQueries(s)
        self.subjects = SubjectRepository(s)
        self.records = RecordRepository(s)
        self.tokens = TokenRepository(s)
        self.evaluations = EvaluationRepository(s)
        self.idempotency = IdempotencyRepository(s)
        self.population = PopulationRows(s)
        self.sessions = EndedSessionRepository(s)
        self.applications = ApplicationRepository(s)
        self.tenders = TenderRepository(s)
        self.warnings = WarningRepository(s)
        self.agencies = AgencyRepository(s)
        self.performance = PerformanceRepository(s)
        self.verifications = VerificationRepository(s)
        self._committed = False
        if self.snapshot and self.engine.dialect.name == "postgresql":
            # One snapshot for the whole unit (READ COMMITTED would see rows committed
            # half-way through a long read, e.g. audit verify under concurrent writers).
            # SQLite read transactions are snapshots already (WAL).
            try:
                s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            except BaseException as exc:
                self._abandon(exc)
        self._committing = False
        if self.write:
            self._take_append_lock()
        return self

    def _take_append_lock(self) -> None:
        """The append queue (SQLite), then the database's append lock and the head. On
        failure nothing stays held: the session is closed and the queue released."""
        try:
            # Before anything is written (wal_sync.py): before the wait, and again once
            # the lock is held, for a failure that came while this writer waited.
            self._wal.refuse_if_failed()
            self._held.enter_context(self._queue.held())
            self.audit.lock()
            self._wal.refuse_if_failed()
        except BaseException as exc:
            self._abandon(exc)

    def _abandon(self, exc: BaseException) -> None:
        """A unit that failed to start (``__exit__`` will not run): close what it holds
        and raise what the failure means (an unreachable database: Unavailable)."""
        try:
            self.session.close()
        finally:
            self._held.close()
        mapped = unit_of_work_failure(exc, commit_sent=False)
        if mapped is None:
            raise exc
        raise mapped from exc

    def commit(self) -> None:
        self._committing = True
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() ends the transaction (a rollback unless committed) without expiring
        # loaded objects, so results stay readable after the block; then the next
        # writer may go.
        try:
            self.session.close()
        finally:
            self._held.close()
        self._sync_before_answer(exc)
        # Died before COMMIT was sent: nothing was written, a retry is safe; during
        # COMMIT: the outcome is unknown (failures.py).
        mapped = unit_of_work_failure(exc, commit_sent=self._committing)
        if mapped is not None:
            raise mapped from exc

    def _sync_before_answer(self, exc: BaseException | None) -> None:
        """The WAL on disk before the caller answers (wal_sync.py). A unit of work that
        is failing already keeps its own error (a lost connection keeps its retry); the
        failed sync is logged, and every later answer refused."""
        try:
            self._wal.sync()
        except Unavailable:
            if exc is None:
                raise


class UnitOfWorkFactory:
    """What services receive: ``uow(write=...)`` opens a unit of work."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = system_clock):
        self.engine = engine
        self.clock = clock
        #: SQLite: the queue every writer of this database waits in (append_queue.py).
        self.queue = AppendQueue.for_engine(engine)
        #: SQLite file: its WAL, synced after unsynced appends and before answers
        #: that read it (wal_sync.py).
        self.wal = WalSync.for_engine(engine)
        #: A served score's snapshot read and group append (served_scores.py).
        self.served_scores = ServedScoreStore(engine, clock, self.queue, self.wal)
        # Built once: Engine.execution_options makes a new option engine on each call.
        self._write_engine = writer(engine)

    def __call__(self, *, write: bool, snapshot: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, snapshot=snapshot, clock=self.clock,
                             write_engine=self._write_engine, queue=self.queue,
                             wal=self.wal)
