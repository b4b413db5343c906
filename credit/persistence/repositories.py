"""Repositories: typed access to the append-only tables. They add and query; they
never commit (the unit of work does) and never update or delete."""

from __future__ import annotations

import functools
import json
from datetime import date
from typing import Callable, Iterator

from sqlalchemy import and_, bindparam, exists, func, select, text
from sqlalchemy.orm import Session

from credit.domain import canonical
from credit.domain.dates import parse_stored_instant
from credit.domain.records import Record, RecordEvent
from credit.errors import IntegrityFailure

from .audit_log import columns_match, hashes_to, parse_entry, shown_text, stored_instant
from .failures import UNREADABLE_VALUE, UnreadableHistory
from .history_rows import (
    EVENT_COLUMNS,
    NO_HISTORY,
    NO_ROWS,
    RECORD_COLUMNS,
    HistoryDigest,
    HistoryTexts,
    digest_sql,
    event_from_row,
    history_sql,
    record_from_row,
)
from .tables import (
    ApplicationDecisionRow,
    ApplicationRow,
    AuditEntryRow,
    EndedSessionRow,
    EvaluationRow,
    IdempotencyRow,
    RecordEventRow,
    RecordRow,
    SubjectRow,
    TokenRevocationRow,
    TokenRow,
)

RECORD_HASH_FIELDS = ("id", "uscc", "subject_name", "sector", "code", "decided_on",
                      "valid_until", "document_no", "issued_by", "project_code",
                      "project_name", "occurred_on", "note", "entered_by", "recorded_at",
                      "audit_position")
RECORD_SOURCE_FIELDS = ("source_warning", "source_performance")
"""What created a record when the service created it itself (API.md §3). Each is a
nullable column, hashed only when set, so every earlier record's hash stays as it was;
``source_performance`` and ``source_application`` are added here the same way."""
EVENT_HASH_FIELDS = ("id", "record_id", "uscc", "kind", "document_no", "reason", "repaired_on",
                     "entered_by", "recorded_at", "audit_position")
IDEMPOTENCY_HASH_FIELDS = ("token_id", "method", "path", "key", "request_sha256", "status",
                           "audit_position")
ENDED_SESSION_HASH_FIELDS = ("session_sha256", "token_id", "audit_position")
APPLICATION_HASH_FIELDS = ("id", "record_id", "uscc", "sector", "kind", "reason",
                           "requested_repair_on", "submitted_by", "submitted_at",
                           "audit_position")
DECISION_HASH_FIELDS = ("application_id", "action", "reason", "document_no", "record_event_id",
                        "decided_by", "decided_at", "audit_position")


def _jsonable(value):
    return value.isoformat() if isinstance(value, date) else value


def record_facts(row: RecordRow) -> dict:
    """The immutable fields of a record, as hashed (API.md §3): a source key is present
    only on records the service created itself."""
    facts = {f: _jsonable(getattr(row, f)) for f in RECORD_HASH_FIELDS}
    for f in RECORD_SOURCE_FIELDS:
        value = getattr(row, f, None)
        if value is not None:
            facts[f] = value
    return facts


def event_facts(row: RecordEventRow) -> dict:
    return {f: _jsonable(getattr(row, f)) for f in EVENT_HASH_FIELDS}


def idempotency_facts(row: IdempotencyRow) -> dict:
    """What the creating entry's hash of a remembered reply covers: the key's scope,
    the request's hash, the status and the SHA-256 of the exact body."""
    facts = {f: getattr(row, f) for f in IDEMPOTENCY_HASH_FIELDS}
    facts["body_sha256"] = canonical.sha256_hex(row.body)
    return facts


def ended_session_facts(row: EndedSessionRow) -> dict:
    return {f: getattr(row, f) for f in ENDED_SESSION_HASH_FIELDS}


def application_facts(row: ApplicationRow) -> dict:
    """The immutable fields of an application, as hashed (its creating entry holds it)."""
    return {f: _jsonable(getattr(row, f)) for f in APPLICATION_HASH_FIELDS}


def decision_facts(row: ApplicationDecisionRow) -> dict:
    return {f: _jsonable(getattr(row, f)) for f in DECISION_HASH_FIELDS}


def to_domain_record(row: RecordRow) -> Record:
    return Record(id=row.id, uscc=row.uscc, sector=row.sector, code=row.code,
                  decided_on=row.decided_on, valid_until=row.valid_until,
                  document_no=row.document_no, audit_position=row.audit_position,
                  recorded_at=parse_stored_instant(row.recorded_at),
                  project_code=row.project_code,
                  sha256=row.sha256)


_R, _E, _T = RecordRow.__table__, RecordEventRow.__table__, TokenRow.__table__
_HISTORY_RECORDS = select(*(_R.c[name] for name in RECORD_COLUMNS)).where(
    _R.c.uscc == bindparam("uscc"), _R.c.audit_position <= bindparam("pos"))
_HISTORY_EVENTS = select(*(_E.c[name] for name in EVENT_COLUMNS)).where(
    _E.c.uscc == bindparam("uscc"), _E.c.audit_position <= bindparam("pos"))
_SUBJECT = select(SubjectRow.__table__).where(SubjectRow.__table__.c.uscc == bindparam("u"))
_SUBJECTS = select(SubjectRow.__table__).where(
    SubjectRow.__table__.c.uscc.in_(bindparam("usccs", expanding=True)))
_TOKEN_BY_HASH = select(_T).where(_T.c.secret_sha256 == bindparam("h"))
_TOKEN_REVOKED = select(TokenRevocationRow.__table__.c.token_id).where(
    TokenRevocationRow.__table__.c.token_id == bindparam("id"))


# Many subjects' histories (:func:`history_sql`) or their digests (:func:`digest_sql`), a
# USCC per row of a list sent as one parameter: per dialect the statement, the USCC's
# column and the list as sent (an array on PostgreSQL, a JSON array on SQLite).
_HISTORIES = {
    "postgresql": ("SELECT u.uscc, {history} FROM unnest(CAST(:usccs AS text[])) AS u(uscc)",
                   "u.uscc", list),
    "sqlite": ("SELECT u.value, {history} FROM json_each(:usccs) AS u", "u.value",
               json.dumps)}


@functools.cache
def _histories_statement(dialect: str, columns: Callable[[str, str, str], str]):
    sql, uscc, _ = _HISTORIES[dialect]
    return text(sql.format(history=columns(dialect, uscc, ":pos")))


#: USCCs per ``IN (…)`` query of a batch look-up.
_IN_CHUNK = 500


#: The highest id ``tokens.id`` (INTEGER) holds.
TOKEN_ID_MAX = 2**31 - 1


class _Repo:
    def __init__(self, session: Session):
        self.session = session

    def _next_id(self, column) -> int:
        return int(self.session.execute(select(func.max(column))).scalar() or 0) + 1


class SubjectRepository(_Repo):
    def get(self, uscc: str):
        """The subject row (uscc, name, registered_position) or None; Core, because every
        served score asks for the registered name."""
        return self.session.connection().execute(_SUBJECT, {"u": uscc}).first()

    def add(self, uscc: str, name: str, position: int) -> SubjectRow:
        row = SubjectRow(uscc=uscc, name=name, registered_position=position)
        self.session.add(row)
        self.session.flush()  # get() reads through Core, which does not autoflush
        return row

    def all(self) -> list[SubjectRow]:
        return list(self.session.scalars(select(SubjectRow).order_by(SubjectRow.uscc)))

    def of_many(self, usccs: list[str]) -> dict:
        """The registered subjects among ``usccs``, as :meth:`get` reads each (an
        evaluation's bidders, a batch import's look-up; 500 per query)."""
        conn = self.session.connection()
        out = {}
        for part in range(0, len(usccs), _IN_CHUNK):
            for subject in conn.execute(_SUBJECTS,
                                        {"usccs": usccs[part:part + _IN_CHUNK]}).all():
                out[subject.uscc] = subject
        return out


class RecordRepository(_Repo):
    def next_id(self) -> int:
        return self._next_id(RecordRow.id)

    def next_event_id(self) -> int:
        return self._next_id(RecordEventRow.id)

    def add(self, row: RecordRow) -> RecordRow:
        self.session.add(row)
        self.session.flush()
        return row

    def add_unflushed(self, row: RecordRow) -> RecordRow:
        """Add without flushing: a batch import's rows go to the database together when
        its unit of work commits."""
        self.session.add(row)
        return row

    def keys_of_subjects(self, usccs: list[str]) -> set[tuple[str, str, str]]:
        """``(uscc, code, document_no)`` of every record (revoked or not) of ``usccs``,
        500 USCCs per query: a batch import's duplicate look-up."""
        keys: set[tuple[str, str, str]] = set()
        for part in range(0, len(usccs), _IN_CHUNK):
            chunk = usccs[part:part + _IN_CHUNK]
            keys.update((r.uscc, r.code, r.document_no) for r in self.session.execute(
                select(RecordRow.uscc, RecordRow.code, RecordRow.document_no)
                .where(RecordRow.uscc.in_(chunk))))
        return keys

    def add_event(self, row: RecordEventRow) -> RecordEventRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, record_id: int) -> RecordRow | None:
        return self.session.get(RecordRow, record_id)

    def events_of(self, record_id: int) -> list[RecordEventRow]:
        return list(self.session.scalars(
            select(RecordEventRow).where(RecordEventRow.record_id == record_id)
            .order_by(RecordEventRow.audit_position)))

    def events_of_many(self, record_ids: list[int]) -> dict[int, list[RecordEventRow]]:
        out: dict[int, list[RecordEventRow]] = {i: [] for i in record_ids}
        if record_ids:
            for ev in self.session.scalars(
                    select(RecordEventRow).where(RecordEventRow.record_id.in_(record_ids))
                    .order_by(RecordEventRow.audit_position)):
                out[ev.record_id].append(ev)
        return out

    def revoked_with_key(self, uscc: str, code: str, document_no: str) -> list[RecordRow]:
        """The revoked records with this (uscc, code, document_no)."""
        revoked = exists().where(and_(RecordEventRow.record_id == RecordRow.id,
                                      RecordEventRow.kind == "revocation"))
        return list(self.session.scalars(
            select(RecordRow).where(RecordRow.uscc == uscc, RecordRow.code == code,
                                    RecordRow.document_no == document_no, revoked)
            .order_by(RecordRow.id)))

    def live_duplicate(self, uscc: str, code: str, document_no: str) -> RecordRow | None:
        """A non-revoked record with the same (uscc, code, document_no)."""
        revoked = exists().where(and_(RecordEventRow.record_id == RecordRow.id,
                                      RecordEventRow.kind == "revocation"))
        return self.session.scalars(
            select(RecordRow).where(RecordRow.uscc == uscc, RecordRow.code == code,
                                    RecordRow.document_no == document_no, ~revoked)
            .limit(1)).first()

    def history(self, uscc: str, max_position: int | None = None
                ) -> tuple[list[Record], list[RecordEvent]]:
        """All of a subject's records and events (optionally only those known at a
        position), as the engine's domain objects."""
        # Core statements built once (no per-call compilation or cache-key work): this
        # runs inside the append lock on every served score.
        limit = max_position if max_position is not None else 2**63 - 1
        conn = self.session.connection()
        try:
            records = [record_from_row(row) for row in
                       conn.execute(_HISTORY_RECORDS, {"uscc": uscc, "pos": limit})]
            events = [event_from_row(row) for row in
                      conn.execute(_HISTORY_EVENTS, {"uscc": uscc, "pos": limit})
                      ] if records else []
        except UNREADABLE_VALUE as exc:
            raise UnreadableHistory(uscc) from exc
        return records, events

    def history_digests(self, usccs: list[str], max_position: int
                        ) -> dict[str, HistoryDigest]:
        """Which records and events many subjects hold up to ``max_position`` (an
        evaluation's bidders), in one statement, as the digests a default score reads
        (``HistoryDigest``, by the same SQL, so the memo's keys are equal whichever read
        them); every USCC asked for is in the answer, NO_ROWS if need be."""
        return self._many(usccs, max_position, digest_sql, HistoryDigest.read, NO_ROWS)

    def histories(self, usccs: list[str], max_position: int) -> dict[str, HistoryTexts]:
        """Many subjects' records and events up to ``max_position``, in one statement, as
        the texts a default score reads when its memo misses (``HistoryTexts``); every
        USCC asked for is in the answer, NO_HISTORY if need be."""
        return self._many(usccs, max_position, history_sql, HistoryTexts.read, NO_HISTORY)

    def _many(self, usccs: list[str], max_position: int, columns, read, nothing) -> dict:
        dialect = self.session.get_bind().dialect.name
        wanted = sorted(set(usccs))
        params = {"usccs": _HISTORIES[dialect][2](wanted), "pos": max_position}
        found = dict.fromkeys(wanted, nothing)
        for uscc, records, events in self.session.connection().execute(
                _histories_statement(dialect, columns), params):
            found[uscc] = read(records, events)
        return found

    def page(self, *, uscc=None, sector=None, code=None, limit=100, after=None
             ) -> list[RecordRow]:
        """Newest first by audit position."""
        q = select(RecordRow)
        if uscc:
            q = q.where(RecordRow.uscc == uscc)
        if sector:
            q = q.where(RecordRow.sector == sector)
        if code:
            q = q.where(RecordRow.code == code)
        if after is not None:
            q = q.where(RecordRow.audit_position < after)
        return list(self.session.scalars(
            q.order_by(RecordRow.audit_position.desc()).limit(limit)))

    def of_subject(self, uscc: str) -> list[RecordRow]:
        return list(self.session.scalars(
            select(RecordRow).where(RecordRow.uscc == uscc).order_by(RecordRow.audit_position)))

    def iter_all(self) -> Iterator[RecordRow]:
        return iter(self.session.scalars(select(RecordRow).order_by(RecordRow.id))
                    .yield_per(2000))

    def first_per_subject(self, since: int = 0) -> list[tuple[str, int, str]]:
        """``(uscc, audit_position, subject_name)`` of each subject's first record (the
        one that registered it); with ``since``, its first record after that position."""
        first = (select(RecordRow.uscc, func.min(RecordRow.audit_position).label("pos"))
                 .where(RecordRow.audit_position > since)
                 .group_by(RecordRow.uscc).subquery())
        q = (select(RecordRow.uscc, RecordRow.audit_position, RecordRow.subject_name)
             .join(first, and_(RecordRow.uscc == first.c.uscc,
                               RecordRow.audit_position == first.c.pos))
             .order_by(RecordRow.uscc))
        return [tuple(r) for r in self.session.execute(q)]

    def subjects_with_codes(self, codes: list[str], *, after: str | None = None,
                            limit: int = 500) -> list[str]:
        """USCCs (ascending) of subjects with at least one record of ``codes``: the only
        ones a listing rule can concern."""
        q = select(RecordRow.uscc).where(RecordRow.code.in_(codes)).distinct()
        if after is not None:
            q = q.where(RecordRow.uscc > after)
        return list(self.session.scalars(q.order_by(RecordRow.uscc).limit(limit)))

    def many(self, record_ids: list[int]) -> dict[int, RecordRow]:
        if not record_ids:
            return {}
        return {r.id: r for r in self.session.scalars(
            select(RecordRow).where(RecordRow.id.in_(record_ids)))}

    def iter_all_events(self) -> Iterator[RecordEventRow]:
        return iter(self.session.scalars(select(RecordEventRow).order_by(RecordEventRow.id))
                    .yield_per(2000))


class ApplicationRepository(_Repo):
    """Applications and their decisions (both append-only)."""

    def next_id(self) -> int:
        return self._next_id(ApplicationRow.id)

    def add(self, row: ApplicationRow) -> ApplicationRow:
        self.session.add(row)
        self.session.flush()
        return row

    def add_decision(self, row: ApplicationDecisionRow) -> ApplicationDecisionRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, application_id: int) -> ApplicationRow | None:
        return self.session.get(ApplicationRow, application_id)

    def decision_of(self, application_id: int) -> ApplicationDecisionRow | None:
        return self.session.get(ApplicationDecisionRow, application_id)

    def decisions_of_many(self, ids: list[int]) -> dict[int, ApplicationDecisionRow]:
        if not ids:
            return {}
        return {d.application_id: d for d in self.session.scalars(
            select(ApplicationDecisionRow).where(ApplicationDecisionRow.application_id.in_(ids)))}

    def pending_for_record(self, record_id: int) -> ApplicationRow | None:
        """The record's undecided application, if any (there is at most one)."""
        decided = exists().where(ApplicationDecisionRow.application_id == ApplicationRow.id)
        return self.session.scalars(
            select(ApplicationRow).where(ApplicationRow.record_id == record_id, ~decided)
            .limit(1)).first()

    def page(self, *, uscc: str | None = None, sectors: list[str] | None = None,
             status: str | None = None, limit: int = 100, after: int | None = None
             ) -> list[ApplicationRow]:
        """Newest first by id; ``status`` pending (no decision) or a decision's action
        (``accepted`` ← accept, ``rejected`` ← reject)."""
        q = select(ApplicationRow)
        if uscc:
            q = q.where(ApplicationRow.uscc == uscc)
        if sectors is not None:
            q = q.where(ApplicationRow.sector.in_(sectors))
        decision = select(ApplicationDecisionRow.application_id).where(
            ApplicationDecisionRow.application_id == ApplicationRow.id)
        if status == "pending":
            q = q.where(~decision.exists())
        elif status in ("accepted", "rejected"):
            action = "accept" if status == "accepted" else "reject"
            q = q.where(decision.where(ApplicationDecisionRow.action == action).exists())
        if after is not None:
            q = q.where(ApplicationRow.id < after)
        return list(self.session.scalars(q.order_by(ApplicationRow.id.desc()).limit(limit)))

    def of_subject(self, uscc: str) -> list[ApplicationRow]:
        return list(self.session.scalars(
            select(ApplicationRow).where(ApplicationRow.uscc == uscc)
            .order_by(ApplicationRow.id)))

    def iter_all(self) -> Iterator[ApplicationRow]:
        return iter(self.session.scalars(select(ApplicationRow).order_by(ApplicationRow.id)))

    def iter_all_decisions(self) -> Iterator[ApplicationDecisionRow]:
        return iter(self.session.scalars(select(ApplicationDecisionRow)
                                         .order_by(ApplicationDecisionRow.application_id)))


class TokenRepository(_Repo):
    def iter_revocations(self) -> Iterator[TokenRevocationRow]:
        return iter(self.session.scalars(select(TokenRevocationRow)
                                         .order_by(TokenRevocationRow.token_id)))

    def next_id(self) -> int:
        return self._next_id(TokenRow.id)

    def add(self, row: TokenRow) -> TokenRow:
        self.session.add(row)
        self.session.flush()
        return row

    def by_secret_hash(self, secret_sha256: str):
        """The token with this secret hash (a plain row, read on every request: Core,
        not the ORM, keeps it cheap)."""
        return self.session.connection().execute(_TOKEN_BY_HASH, {"h": secret_sha256}).first()

    def get(self, token_id: int) -> TokenRow | None:
        """The token of this id; None for an id the column cannot hold (``tokens.id``
        is a 32-bit INTEGER: PostgreSQL refuses a larger value outright, SQLite finds
        nothing), so that every backend answers an unknown id alike."""
        if not 1 <= token_id <= TOKEN_ID_MAX:
            return None
        return self.session.get(TokenRow, token_id)

    def is_revoked(self, token_id: int) -> bool:
        return self.session.connection().execute(_TOKEN_REVOKED, {"id": token_id}
                                                 ).first() is not None

    def revoke(self, token_id: int, position: int) -> None:
        self.session.add(TokenRevocationRow(token_id=token_id, audit_position=position))
        self.session.flush()

    def all(self) -> list[TokenRow]:
        return list(self.session.scalars(select(TokenRow).order_by(TokenRow.id)))

    def enterprise_token_ids(self, uscc: str) -> set[int]:
        """Ids of every enterprise token of ``uscc`` (revoked ones too: past look-ups)."""
        return set(self.session.scalars(select(TokenRow.id).where(
            TokenRow.role == "enterprise", TokenRow.uscc == uscc)))

    def revoked_ids(self) -> set[int]:
        return set(self.session.scalars(select(TokenRevocationRow.token_id)))


class EvaluationRepository(_Repo):
    def next_id(self) -> int:
        return self._next_id(EvaluationRow.id)

    def add(self, row: EvaluationRow) -> EvaluationRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, evaluation_id: int) -> EvaluationRow | None:
        return self.session.get(EvaluationRow, evaluation_id)

    def iter_all(self) -> Iterator[EvaluationRow]:
        return iter(self.session.scalars(select(EvaluationRow).order_by(EvaluationRow.id)))

    def owners(self, since: int | None = None) -> Iterator[tuple[int, int]]:
        """``(id, created_by_token)`` of every evaluation (with ``since``: of those
        created after that position), without the documents."""
        q = select(EvaluationRow.id, EvaluationRow.created_by_token)
        if since is not None:
            q = q.where(EvaluationRow.audit_position > since)
        return iter(self.session.execute(q.order_by(EvaluationRow.id)))


class IdempotencyRepository(_Repo):
    def find(self, token_id: int, method: str, paths: tuple[str, ...], key: str
             ) -> IdempotencyRow | None:
        """The row remembered for the key under the first of ``paths`` that has one, in
        one query (the primary key's index: token, method, path, key)."""
        found = {r.path: r for r in self.session.scalars(select(IdempotencyRow).where(
            IdempotencyRow.token_id == token_id, IdempotencyRow.method == method,
            IdempotencyRow.path.in_(paths), IdempotencyRow.key == key))}
        return next((found[p] for p in paths if p in found), None)

    def add(self, row: IdempotencyRow) -> IdempotencyRow:
        self.session.add(row)
        self.session.flush()
        return row

    def iter_all(self) -> Iterator[IdempotencyRow]:
        return iter(self.session.scalars(select(IdempotencyRow).order_by(
            IdempotencyRow.token_id, IdempotencyRow.method, IdempotencyRow.path,
            IdempotencyRow.key)).yield_per(2000))


_ENDED = EndedSessionRow.__table__
_SESSION_ENDED = select(_ENDED.c.session_sha256).where(
    _ENDED.c.session_sha256 == bindparam("h"))


class EndedSessionRepository(_Repo):
    """Console sessions that were signed out (by the SHA-256 of the session id)."""

    def add(self, row: EndedSessionRow) -> EndedSessionRow:
        self.session.add(row)
        self.session.flush()
        return row

    def is_ended(self, session_sha256: str) -> bool:
        """Asked on every console request: one primary-key look-up through Core."""
        return self.session.connection().execute(
            _SESSION_ENDED, {"h": session_sha256}).first() is not None

    def iter_all(self) -> Iterator[EndedSessionRow]:
        return iter(self.session.scalars(select(EndedSessionRow).order_by(
            EndedSessionRow.session_sha256)).yield_per(2000))


def _leniently(row: AuditEntryRow) -> dict:
    """An entry for a list that must open whatever the log holds (the console's audit
    page and evaluation list). One altered after it was written — its stored text no
    longer hashing to its stored hash, a text the service cannot have written
    (parse_entry), or a text whose position, kind, actor or time differ from its
    look-up columns (the text and its hash rewritten together) — is given as what its
    look-up columns say, with an empty payload, marked ``altered``: nothing of the
    edited text is shown or used as the service's."""
    if not hashes_to(row.text, row.sha256):
        return _as_columns(row)
    try:
        entry = parse_entry(row)
    except IntegrityFailure:
        return _as_columns(row)
    # Not columns_match: a payload rewritten into another shape (its enterprise with it)
    # is listed by its own row, summarised as "not the service's form".
    columns = _as_columns(row)
    if any(entry.get(k) != columns[k] for k in ("position", "kind", "actor", "at")):
        return columns
    return entry


def _hashed(row: AuditEntryRow) -> dict:
    """:func:`parse_entry` for a list that states what the entries say as fact (an
    enterprise's inquiry log: who pulled its score): a text that no longer hashes to its
    stored hash — an actor forged into it, say — is refused (IntegrityFailure), never
    listed as the service's."""
    if not hashes_to(row.text, row.sha256):
        raise IntegrityFailure(f"Audit entry {row.position} no longer hashes to its stored "
                               "hash: it was altered. `credit audit verify` locates it.")
    entry = parse_entry(row)
    # The list was selected by the look-up columns: a trace moved to another enterprise
    # (or actor) by its column alone still hashes, and must not be listed there.
    if not columns_match(row, entry):
        raise IntegrityFailure(f"Audit entry {row.position} is not listed where its text "
                               "says: its look-up columns were altered. `credit audit "
                               "verify` locates it.")
    return entry


def _as_columns(row: AuditEntryRow) -> dict:
    return {"position": row.position, "kind": shown_text(row.kind),
            "actor": shown_text(row.actor), "at": stored_instant(row.at_us), "payload": {},
            "sha256": shown_text(row.sha256), "altered": True}


class AuditQueries(_Repo):
    """Read side of the audit log."""

    def get(self, position: int) -> dict | None:
        row = self.session.get(AuditEntryRow, position)
        return parse_entry(row) if row else None

    def row(self, position: int) -> AuditEntryRow | None:
        """The stored entry unparsed (its text, hash and look-up columns), for a check
        that must answer even when the text was edited into something unreadable."""
        return self.session.get(AuditEntryRow, position)

    def follows(self, position: int) -> bool:
        """Whether any entry comes after ``position`` (its position column only: a page
        of an intact entry must not depend on what another entry holds)."""
        return self.session.execute(select(AuditEntryRow.position).where(
            AuditEntryRow.position > position).limit(1)).first() is not None

    def page(self, *, after: int = 0, limit: int = 100, kind: str | None = None,
             upto: int | None = None, lenient: bool = False) -> list[dict]:
        """Entries after ``after`` (and at or below ``upto``), oldest first. An entry
        whose text the service cannot have written is refused (parse_entry), or with
        ``lenient`` given as what its look-up columns say (:func:`_leniently`)."""
        q = select(AuditEntryRow).where(AuditEntryRow.position > after)
        if upto is not None:
            q = q.where(AuditEntryRow.position <= upto)
        if kind:
            q = q.where(AuditEntryRow.kind == kind)
        read = _leniently if lenient else parse_entry
        return [read(r) for r in self.session.scalars(
            q.order_by(AuditEntryRow.position).limit(limit))]

    def traces(self, *, uscc=None, actor=None, from_us=None, to_us=None, limit=100,
               before=None, lenient: bool = False, hashed: bool = False) -> list[dict]:
        """``score.served`` entries newest first (``lenient``: as :meth:`page`;
        ``hashed``: each text checked against its stored hash, :func:`_hashed`)."""
        q = select(AuditEntryRow).where(AuditEntryRow.kind == "score.served")
        if uscc:
            q = q.where(AuditEntryRow.uscc == uscc)
        if actor:
            q = q.where(AuditEntryRow.actor == actor)
        if from_us is not None:
            q = q.where(AuditEntryRow.at_us >= from_us)
        if to_us is not None:
            q = q.where(AuditEntryRow.at_us <= to_us)
        if before is not None:
            q = q.where(AuditEntryRow.position < before)
        read = _leniently if lenient else _hashed if hashed else parse_entry
        return [read(r) for r in self.session.scalars(
            q.order_by(AuditEntryRow.position.desc()).limit(limit))]

    def iter_kind(self, kind: str) -> Iterator[dict]:
        """Every entry of one kind, ascending (parsed)."""
        for row in self.session.scalars(select(AuditEntryRow).where(AuditEntryRow.kind == kind)
                                        .order_by(AuditEntryRow.position)).yield_per(2000):
            yield parse_entry(row)

    def iter_rows(self) -> Iterator[AuditEntryRow]:
        return iter(self.session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.position))
                    .yield_per(2000))
