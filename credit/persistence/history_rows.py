"""A subject's history as the engine's domain objects, from the rows of the history
queries: one column order for every query that reads it (the served score's and an
evaluation's JSON texts, the unit of work's Core statements), converted by position,
not by name — a first evaluation converts a thousand rows, a served score twenty.

And a history's identity for the served scores' memo (services/result_memo.py): the
rows' own SHA-256 hashes in the order of their ids (:class:`HistoryDigest`), which the
database returns for a fraction of what writing the rows out as JSON costs it."""

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
class HistoryDigest:
    """Which rows a subject's history holds: the stored ``sha256`` of each record row and
    of each event row, comma-separated in the order of their ids (:func:`digest_sql`),
    None when there are none.

    Each row's ``sha256`` is the SHA-256 of its canonical facts (API.md §3,
    persistence/repositories.py ``RECORD_HASH_FIELDS``, ``EVENT_HASH_FIELDS``), which
    hold every column the engine reads (RECORD_COLUMNS, EVENT_COLUMNS) — the id and the
    audit position included, so a row written again after a restore is another row. It
    is written with the row, which is never updated, and ``credit audit verify``
    re-hashes every row against it. So two equal digests are the same rows, and the
    served scores' memo keys on the digest instead of the rows: a default score's
    (served_scores.py ``AtHead``) and an evaluation's bidder's
    (``RecordRepository.history_digests``) alike, read by the same SQL."""

    records: str | None
    events: str | None

    @classmethod
    def read(cls, records: str | None, events: str | None) -> "HistoryDigest":
        """From the two columns of :func:`digest_sql` (an aggregate of no rows is NULL
        on both backends; an empty text is read as none too)."""
        return cls(records or None, events or None)


#: The digest of no history at all.
NO_ROWS = HistoryDigest(None, None)


@dataclass(frozen=True, slots=True)
class HistoryTexts:
    """A subject's history as the database wrote it: its record rows (RECORD_COLUMNS
    order) and event rows (EVENT_COLUMNS order) as two JSON arrays in the order of their
    ids (:func:`history_sql`), None when there are none; parsed only when asked — read
    only for a score the memo does not hold (:class:`HistoryDigest`)."""

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


# One subject's rows of a table up to a position, aggregated in the order of their ids,
# so that two reads of the same rows are the same text: an aggregate's order is
# otherwise the plan's. PostgreSQL orders inside the aggregate; SQLite 3.40 cannot (3.44
# can), and aggregates an ordered subquery (a co-routine: never flattened into an
# aggregate) in its order.
_IN_ID_ORDER = {
    "postgresql": ("(SELECT {aggregate} FROM {table} t "
                   "WHERE t.uscc = {uscc} AND t.audit_position <= {position})"),
    "sqlite": ("(SELECT {aggregate} FROM (SELECT * FROM {table} "
               "WHERE uscc = {uscc} AND audit_position <= {position} ORDER BY id) t)")}
# The rows as a JSON array of arrays, sent as text and parsed by orjson (psycopg would
# parse a json column with the stdlib's json, three times slower).
_ROWS = {"postgresql": "CAST(json_agg(json_build_array({columns}) ORDER BY t.id) AS text)",
         "sqlite": "json_group_array(json_array({columns}))"}
# The rows' hashes, comma-separated.
_HASHES = {"postgresql": "string_agg(t.sha256, ',' ORDER BY t.id)",
           "sqlite": "group_concat(t.sha256, ',')"}


def _records_and_events(dialect: str, uscc: str, position: str, aggregate) -> str:
    return ", ".join(_IN_ID_ORDER[dialect].format(
        aggregate=aggregate(columns), table=table, uscc=uscc, position=position)
        for table, columns in (("records", RECORD_COLUMNS), ("record_events", EVENT_COLUMNS)))


def history_sql(dialect: str, uscc: str, position: str) -> str:
    """The two SQL expressions (records, then events, comma-separated) that give
    :class:`HistoryTexts`'s texts of the subject ``uscc`` (an SQL expression) known at
    ``position`` (one too)."""
    return _records_and_events(dialect, uscc, position, lambda columns: _ROWS[dialect].format(
        columns=", ".join(f"t.{c}" for c in columns)))


def digest_sql(dialect: str, uscc: str, position: str) -> str:
    """The two SQL expressions (records, then events, comma-separated) that give
    :class:`HistoryDigest` of the subject ``uscc`` (an SQL expression) known at
    ``position`` (one too): every read of a history that the memo keys on uses them."""
    return _records_and_events(dialect, uscc, position, lambda _columns: _HASHES[dialect])
