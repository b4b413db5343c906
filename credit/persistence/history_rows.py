"""A subject's history as the engine's domain objects, from the rows of the history
queries: one column order for every query that reads it (the served score's and an
evaluation's JSON texts, the unit of work's Core statements), converted by position,
not by name — a first evaluation converts a thousand rows, a served score twenty."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import orjson

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


@dataclass(frozen=True, slots=True)
class HistoryTexts:
    """A subject's history as the database wrote it: its record rows (RECORD_COLUMNS
    order) and event rows (EVENT_COLUMNS order) as two JSON arrays in the order of their
    ids (:func:`history_sql`), None when there are none; parsed only when asked. Equal
    texts are equal histories, so the served scores' memo (services/result_memo.py)
    keys on the texts alone — a default score's (served_scores.py ``AtHead``) and an
    evaluation's bidder's (``RecordRepository.histories``) alike, read by the same SQL."""

    records_text: str | None
    events_text: str | None

    @classmethod
    def read(cls, records_text: str | None, events_text: str | None) -> "HistoryTexts":
        """From the two columns of :func:`history_sql`: an empty array (SQLite's
        aggregate of no rows; PostgreSQL's is NULL) is no rows, so that both read alike."""
        return cls(_rows_text(records_text), _rows_text(events_text))

    def records(self) -> list[Record]:
        return [record_from_row(r) for r in _parsed(self.records_text)]

    def events(self) -> list[RecordEvent]:
        return [event_from_row(e) for e in _parsed(self.events_text)]


#: No history at all: a subject with neither records nor events.
NO_HISTORY = HistoryTexts(None, None)


def _rows_text(value: str | None) -> str | None:
    return None if value is None or value == "[]" else value


def _parsed(text: str | None) -> list:
    return orjson.loads(text) if text is not None else []


# The dialect's JSON aggregate and array; sent as text and parsed by orjson (psycopg
# would parse a json column with the stdlib's json, three times slower).
_JSON = {"postgresql": {"agg": "json_agg", "arr": "json_build_array"},
         "sqlite": {"agg": "json_group_array", "arr": "json_array"}}
# One subject's rows of a table up to a position, aggregated in the order of their ids,
# so that two reads of the same rows are the same text: an aggregate's order is
# otherwise the plan's. PostgreSQL orders inside the aggregate; SQLite 3.40 cannot (3.44
# can), and aggregates an ordered subquery (a co-routine: never flattened into an
# aggregate) in its order.
_IN_ID_ORDER = {
    "postgresql": ("CAST((SELECT {agg}({arr}({columns}) ORDER BY t.id) FROM {table} t "
                   "WHERE t.uscc = {uscc} AND t.audit_position <= {position}) AS text)"),
    "sqlite": ("(SELECT {agg}({arr}({columns})) FROM (SELECT * FROM {table} "
               "WHERE uscc = {uscc} AND audit_position <= {position} ORDER BY id) t)")}


def history_sql(dialect: str, uscc: str, position: str) -> str:
    """The two SQL expressions (records, then events, comma-separated) that give
    :class:`HistoryTexts`'s texts of the subject ``uscc`` (an SQL expression) known at
    ``position`` (one too): every read of a history that the memo keys on uses them."""
    def rows(table: str, columns: tuple[str, ...]) -> str:
        return _IN_ID_ORDER[dialect].format(
            **_JSON[dialect], table=table, uscc=uscc, position=position,
            columns=", ".join(f"t.{c}" for c in columns))
    return f"{rows('records', RECORD_COLUMNS)}, {rows('record_events', EVENT_COLUMNS)}"
