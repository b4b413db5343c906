"""The rows a batch run reads: every subject, record and event known at an audit
position, as plain tuples for :mod:`credit.batch.population` to turn into columns.

Dates come out as whole days since 1970-01-01, computed by the database, so that a
million records cross the driver as integers; records are streamed in chunks (on
PostgreSQL through a server-side cursor) instead of being buffered whole.
"""

from __future__ import annotations

from datetime import date
from typing import Iterator

from sqlalchemy import Date, Integer, bindparam, cast, func, literal, select
from sqlalchemy.orm import Session

from .tables import RecordEventRow, RecordRow, SubjectRow

_S, _R, _E = SubjectRow.__table__, RecordRow.__table__, RecordEventRow.__table__
#: 1970-01-01 as a Julian day number (SQLite's julianday counts from noon).
_UNIX_EPOCH_JULIAN = 2440587.5


def _day_number(column, dialect: str):
    """``column`` (a date) as days since 1970-01-01, computed in SQL."""
    if dialect == "sqlite":
        return cast(func.julianday(column) - _UNIX_EPOCH_JULIAN, Integer)
    return column - literal(date(1970, 1, 1), Date)


class PopulationRows:
    """Read-only queries of a whole population as known at an audit position."""

    def __init__(self, session: Session):
        self.session = session

    def _connection(self):
        return self.session.connection()

    def subjects(self, max_position: int) -> list[tuple]:
        """``(uscc, name, registered_position)`` of every subject registered by then."""
        q = select(_S.c.uscc, _S.c.name, _S.c.registered_position).where(
            _S.c.registered_position <= bindparam("p"))
        return [tuple(r) for r in self._connection().execute(q, {"p": max_position})]

    def records(self, max_position: int, chunk: int) -> Iterator[list[tuple]]:
        """``(uscc, id, sector, code, decided day, valid_until day, document_no,
        audit_position, project_code)`` of every record known by then, ``chunk`` rows
        at a time."""
        conn = self._connection()
        dialect = conn.dialect.name
        q = select(_R.c.uscc, _R.c.id, _R.c.sector, _R.c.code,
                   _day_number(_R.c.decided_on, dialect),
                   _day_number(_R.c.valid_until, dialect), _R.c.document_no,
                   _R.c.audit_position, _R.c.project_code,
                   ).where(_R.c.audit_position <= bindparam("p"))
        result = conn.execute(q.execution_options(stream_results=True, yield_per=chunk),
                              {"p": max_position})
        try:
            for part in result.partitions(chunk):
                yield part
        finally:
            result.close()

    def events(self, max_position: int) -> list[tuple]:
        """``(record_id, kind, audit_position, repaired_on day or None)`` of every event
        recorded by then."""
        dialect = self._connection().dialect.name
        q = select(_E.c.record_id, _E.c.kind, _E.c.audit_position,
                   _day_number(_E.c.repaired_on, dialect),
                   ).where(_E.c.audit_position <= bindparam("p"))
        return [tuple(r) for r in self._connection().execute(q, {"p": max_position})]
