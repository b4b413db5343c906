"""Stored verifications of the audit log and the range-restricted reads of an
incremental ``audit verify`` (API.md §6, issue 10): the rows created by entries after a
verified position, table by table."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .failures import UNREADABLE_VALUE
from .tables import AuditEntryRow, Base, RecordRow, SubjectRow, VerificationRow
from .tender_repository import CHILD_TABLES
from .tender_tables import BidPartyRow, TenderRow, WarningRow

#: USCCs per ``IN (…)`` query.
_IN_CHUNK = 500
#: The highest id a BIGINT holds.
MAX_ID = 2**63 - 1

# The tender loop's tables grouped under a parent whose row carries the position; every
# other table's rows carry the position of the entry that created them (any mapped
# table with an ``audit_position`` column: a table added later needs nothing here).
_GROUP_PARENT = {"warning_bids": (WarningRow, "warning_id"),
                 **{t: (TenderRow, "tender_id") for t in CHILD_TABLES}}


def _since(table: str, cls, position: int) -> tuple:
    """``(condition, order)`` of :meth:`VerificationRepository.rows_since`."""
    if table not in _GROUP_PARENT:
        # One row per creating entry: read through the position's index, in position
        # order (ordering by the key would make SQLite walk the whole table).
        cond = cls.audit_position > position
        if table == "idempotency_keys":
            cond = or_(cond, cls.audit_position.is_(None))
        return cond, [cls.audit_position]
    parent, column = _GROUP_PARENT[table]
    old = select(parent.id).where(parent.audit_position <= position)
    # A group's rows together.
    return getattr(cls, column).not_in(old), list(cls.__table__.primary_key.columns)


def _primary(row, pk) -> tuple:
    """A mapped row's primary key, in the order of its table's key columns."""
    return tuple(getattr(row, c.key) for c in pk)


def _mapped(table: str):
    """The mapped class of ``table`` (any table of the schema)."""
    for mapper in Base.registry.mappers:
        if mapper.class_.__tablename__ == table:
            return mapper.class_
    raise KeyError(f"no mapped table {table!r}")


class RunTrust(Protocol):
    """Which stored runs a configuration trusts (services/run_seals.py): those signed
    with ``key_id`` (None: no key can be read, so none) that ``accepts``."""

    key_id: str | None

    def accepts(self, row: VerificationRow) -> bool: ...


def _text_or_bytes(stored: bytes) -> str | bytes:
    try:
        return stored.decode("utf-8")
    except UnicodeDecodeError:
        return stored


class VerificationRepository:
    def __init__(self, session: Session):
        self.session = session

    # ------------------------------------------------------------ stored results
    def incremental_start(self, trust: "RunTrust | None" = None) -> VerificationRow | None:
        """The stored run an incremental verification may start from (API.md §6), None
        when it must walk from the start of the chain.

        Runs are ordered by when they started (``verified_at``, the instant each run's
        snapshot was taken; one fixed-width form, so text order is time order): a run
        that started earlier may be stored later, and what it saw is older. Without any
        failed run, the intact run that reached furthest. Once a run has failed, an
        intact run is a starting point only if it started no earlier than a run that
        walked the whole chain intact after the newest failure started: that failure is
        found again by every later run, until a whole walk shows it gone, instead of
        being stepped over by a run that started past it (or that started from a run
        that did).

        With ``trust`` (a signing key is configured, services/run_seals.py), only the
        intact runs it accepts count, as starting points and as whole walks; every
        failed run counts, trusted or not (one forged can only make runs walk more)."""
        failed = self.session.execute(select(func.max(VerificationRow.verified_at))
                                      .where(VerificationRow.ok.is_(False))).scalar()
        intact = select(VerificationRow).where(VerificationRow.ok.is_(True))
        if failed is not None:
            whole = self._first(select(VerificationRow).where(
                VerificationRow.ok.is_(True), VerificationRow.from_position == 0,
                VerificationRow.verified_at > failed).order_by(
                VerificationRow.verified_at, VerificationRow.id), trust)
            if whole is None:
                return None
            intact = intact.where(VerificationRow.verified_at >= whole.verified_at)
        return self._first(intact.order_by(VerificationRow.position.desc(),
                                           VerificationRow.id.desc()), trust)

    def _first(self, query, trust: "RunTrust | None") -> VerificationRow | None:
        """The first row of ``query`` that ``trust`` accepts (any, without it): among
        the rows signed with its key only (none, without a key it can read), so that
        rows inserted unsigned cost no check."""
        if trust is None:
            return self.session.scalars(query.limit(1)).first()
        if trust.key_id is None:
            return None
        rows = self.session.scalars(query.where(
            VerificationRow.key_id == trust.key_id,
            VerificationRow.signature.is_not(None))).yield_per(100)
        try:
            return next((row for row in rows if trust.accepts(row)), None)
        finally:
            rows.close()

    def newest(self, trust: "RunTrust | None" = None) -> VerificationRow | None:
        """The run that started last (what the console shows): a run stored after
        another may have started before it, and then saw less. With ``trust``, the
        newest of the runs it accepts and the failed runs (a failure is shown however
        it was stored)."""
        query = select(VerificationRow).order_by(VerificationRow.verified_at.desc(),
                                                 VerificationRow.id.desc())
        if trust is None:
            return self.session.scalars(query.limit(1)).first()
        shown = VerificationRow.ok.is_(False)
        if trust.key_id is not None:
            shown = or_(shown, and_(VerificationRow.key_id == trust.key_id,
                                    VerificationRow.signature.is_not(None)))
        rows = self.session.scalars(query.where(shown)).yield_per(100)
        try:
            return next((row for row in rows if not row.ok or trust.accepts(row)), None)
        finally:
            rows.close()

    def add(self, run: dict, seal: dict) -> VerificationRow:
        """Store a run: ``run`` holds its columns (``first_bad`` as text), ``seal`` its
        ``key_id`` and ``signature`` (both None when unsigned)."""
        row = VerificationRow(id=self._next_id(), **run, **seal)
        self.session.add(row)
        self.session.flush()
        return row

    def _next_id(self) -> int:
        """One more than the highest id; should a row inserted around the service hold
        the highest id there is, the lowest unused one instead, so that no run can be
        kept from being stored (the id only breaks ties of ``verified_at``)."""
        top = int(self.session.execute(select(func.max(VerificationRow.id))).scalar() or 0)
        if top < MAX_ID:
            return top + 1
        free = 1
        for taken in self.session.scalars(select(VerificationRow.id).where(
                VerificationRow.id >= 1).order_by(VerificationRow.id)):
            if taken > free:
                break
            free = taken + 1
        return free

    @contextmanager
    def text_as_stored(self) -> Iterator[None]:
        """Inside the block, on SQLite, a TEXT value that is not UTF-8 is read as the
        bytes stored, not refused. SQLite keeps any bytes written as TEXT behind the
        service; its driver cannot decode them and refuses the whole read, so a
        verification could neither walk past such an entry nor locate it (it answered
        as a database that cannot be reached). Read as bytes, the value is what the
        checks already find altered: a text that does not hash, a column that is not
        its entry's. Only for a verification's walk: a Python call per value read."""
        raw = self.session.connection().connection.driver_connection
        if not hasattr(raw, "text_factory"):  # PostgreSQL refuses such text on write
            yield
            return
        kept, raw.text_factory = raw.text_factory, _text_or_bytes
        try:
            yield
        finally:
            raw.text_factory = kept

    # ------------------------------------------------- what came after a position
    def entry(self, position: int) -> AuditEntryRow | None:
        return self.session.get(AuditEntryRow, position)

    def entries_after(self, position: int) -> Iterator[AuditEntryRow]:
        return iter(self.session.scalars(
            select(AuditEntryRow).where(AuditEntryRow.position > position)
            .order_by(AuditEntryRow.position)).yield_per(2000))

    def rows_since(self, table: str, position: int) -> Iterator:
        """The rows of ``table`` created after ``position`` — by their own
        ``audit_position``, or for a tender's or a warning's rows by their group not
        being one created at or before it (so rows forged into a new or a non-existent
        group are read too) — in key order."""
        cls = _mapped(table)
        cond, order = _since(table, cls, position)
        return iter(self.session.scalars(select(cls).where(cond).order_by(*order))
                    .yield_per(2000))

    def rows_that_read(self, table: str, since: int | None,
                       unreadable: list[tuple]) -> Iterator:
        """Every row of ``table`` (with ``since``: those :meth:`rows_since` reads) in key
        order, read a chunk at a time and, in a chunk that does not read back, one row
        at a time; the primary key of each row that does not (a value edited behind
        the service into one its column cannot give back, UNREADABLE_VALUE) is added to
        ``unreadable``. The slow path a verification takes after a table's streamed read
        failed, so that it still checks, and locates, every other row."""
        cls = _mapped(table)
        pk = list(cls.__table__.primary_key.columns)
        q = select(*pk).order_by(*pk)
        if since is not None:
            q = q.where(_since(table, cls, since)[0])
        keys = [tuple(k) for k in self.session.execute(q)]
        # Chunks by the key's first column (the row's id, or its group): an IN list on
        # it reads through the primary key's index on both backends, where a list of
        # composite keys may not; rows of those groups that are not asked for (rows
        # before ``since``) are passed over.
        firsts = sorted({k[0] for k in keys})
        wanted = set(keys)
        for part in range(0, len(firsts), _IN_CHUNK):
            chunk = firsts[part:part + _IN_CHUNK]
            try:
                rows = self.session.scalars(select(cls).where(pk[0].in_(chunk))
                                            .order_by(*pk)).all()
            except UNREADABLE_VALUE:
                these = set(chunk)
                rows = list(self._one_by_one(cls, [k for k in keys if k[0] in these],
                                             unreadable))
            yield from (r for r in rows if _primary(r, pk) in wanted)

    def _one_by_one(self, cls, keys: list[tuple], unreadable: list[tuple]) -> Iterator:
        for key in keys:
            try:
                yield self.session.get(cls, key)
            except UNREADABLE_VALUE:
                unreadable.append(key)

    def origins_until(self, usccs: list[str], position: int) -> dict[str, tuple[int, str]]:
        """``(audit_position, name)`` of what registered each of ``usccs`` at or before
        ``position``: its first record or its first bid party, whichever came first
        (none: nothing at or before ``position`` names it)."""
        out: dict[str, tuple[int, str]] = {}
        for part in range(0, len(usccs), _IN_CHUNK):
            chunk = usccs[part:part + _IN_CHUNK]
            for cls, name in ((RecordRow, RecordRow.subject_name),
                              (BidPartyRow, BidPartyRow.name)):
                first = (select(cls.uscc, func.min(cls.audit_position).label("pos"))
                         .where(cls.uscc.in_(chunk), cls.audit_position <= position)
                         .group_by(cls.uscc).subquery())
                rows = self.session.execute(
                    select(cls.uscc, cls.audit_position, name).join(
                        first, and_(cls.uscc == first.c.uscc,
                                    cls.audit_position == first.c.pos)))
                for uscc, pos, named in rows:
                    if uscc not in out or pos < out[uscc][0]:
                        out[uscc] = (pos, named)
        return out

    def subjects_since(self, position: int) -> list[SubjectRow]:
        return list(self.session.scalars(
            select(SubjectRow).where(SubjectRow.registered_position > position)
            .order_by(SubjectRow.uscc)))
