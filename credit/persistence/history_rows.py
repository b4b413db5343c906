"""A subject's history as the engine's domain objects, from the rows of the history
queries: one column order for every query that reads it (the served score's plain SQL,
the unit of work's Core statements), converted by position, not by name — an evaluation
converts a thousand rows and a served score twenty on every call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from credit.domain.dates import parse_stored_instant
from credit.domain.records import Record, RecordEvent

RECORD_COLUMNS = ("id", "uscc", "sector", "code", "decided_on", "valid_until", "document_no",
                  "audit_position", "recorded_at", "project_code", "sha256")
EVENT_COLUMNS = ("record_id", "kind", "audit_position", "recorded_at", "repaired_on",
                 "document_no", "reason")


def _date(value) -> date | None:
    # SQLite stores SQLAlchemy's Date as ISO text (and so do JSON arrays); drivers that
    # know the type return dates.
    return date.fromisoformat(value) if isinstance(value, str) else value


def record_from_row(r) -> Record:
    """A row in RECORD_COLUMNS order."""
    return Record(id=r[0], uscc=r[1], sector=r[2], code=r[3], decided_on=_date(r[4]),
                  valid_until=_date(r[5]), document_no=r[6], audit_position=r[7],
                  recorded_at=parse_stored_instant(r[8]), project_code=r[9], sha256=r[10])


def event_from_row(e) -> RecordEvent:
    """A row in EVENT_COLUMNS order."""
    return RecordEvent(record_id=e[0], kind=e[1], audit_position=e[2],
                       recorded_at=parse_stored_instant(e[3]), repaired_on=_date(e[4]),
                       document_no=e[5], reason=e[6])


#: Where a row of each query holds its audit position.
_RECORD_POSITION = RECORD_COLUMNS.index("audit_position")
_EVENT_POSITION = EVENT_COLUMNS.index("audit_position")


@dataclass(frozen=True, slots=True)
class HistoryRows:
    """A subject's history as the database returned it: its record rows (RECORD_COLUMNS
    order) and event rows (EVENT_COLUMNS order), immutable tuples, converted to the
    engine's values only when asked (:meth:`domain`), as a served score's ``AtHead``
    parses its texts only when asked. An evaluation's bidder whose score is remembered
    (services/result_memo.py) is keyed by ``rows`` alone: equal rows convert to equal
    records and events, so a hit never converts a thousand rows."""

    records: tuple
    events: tuple

    @property
    def rows(self) -> tuple[tuple, tuple]:
        """Every row, as one value to compare."""
        return self.records, self.events

    @property
    def positions(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The rows' audit positions: equal rows have equal positions."""
        return (tuple([r[_RECORD_POSITION] for r in self.records]),
                tuple([e[_EVENT_POSITION] for e in self.events]))

    def domain(self) -> tuple[list[Record], list[RecordEvent]]:
        """The records and events, as the engine takes them."""
        return ([record_from_row(r) for r in self.records],
                [event_from_row(e) for e in self.events])
