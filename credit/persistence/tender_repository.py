"""Repositories of tenders and warnings (WARNINGS.md): add and query, never commit,
never update or delete.

The snapshot the cross-tender screens read (:meth:`TenderRepository.snapshot`) is built
from indexed look-ups, never from a scan of the history:

* co-bidding (screen 13): the bid-party rows of this tender's bidders inside the window,
  through ``ix_bid_parties_uscc_opened`` (one index range per bidder), keeping the
  tenders where two or more of them bid (a pair is what the screen counts);
* project managers elsewhere (screen 12): the personnel rows carrying this tender's
  project managers' keyed hashes, through ``ix_bid_personnel_id_hash``;
* then, by primary key, the tenders found, their awards known by then and the bidders
  of their bids (which bid won);
* a contract's end (screen 12): the final evaluations of the awarded tenders found
  (``ix_performance_evaluations_tender_id``), then their approving reviews known by then
  (primary key ``evaluation_id``).

The joins are done here rather than in SQL so that no planner can prefer hashing whole
tables to a few hundred key look-ups.

"Known before this registration" is everything with ``audit_position ≤ k``: positions are
assigned under the append lock and committed in order, so that set never changes and a
replay at the same ``k`` reads exactly the same snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Iterable, Iterator

from sqlalchemy import ARRAY, and_, any_, bindparam, exists, false, func, or_, select
from sqlalchemy.orm import Session

from credit.domain.performance import contract_end
from credit.domain.storable_text import unstorable
from credit.domain.tenders import PriorAward, PriorTender, Snapshot

from .performance_tables import PerformanceEvaluationRow, PerformanceReviewRow
from .tables import RecordRow, SubjectRow
from .tender_tables import (
    AwardRow,
    BidDocumentRow,
    BidPartyRow,
    BidPersonRow,
    BidRow,
    BidUploadRow,
    DisposalRow,
    TenderExclusionRow,
    TenderRow,
    WarningBidRow,
    WarningRow,
)

_P, _T, _A = BidPartyRow.__table__, TenderRow.__table__, AwardRow.__table__
_PERS = BidPersonRow.__table__
_EV, _RV = PerformanceEvaluationRow.__table__, PerformanceReviewRow.__table__

# Child tables of a tender in the order their rows are written and hashed.
CHILD_TABLES = {"bids": BidRow, "bid_parties": BidPartyRow, "bid_documents": BidDocumentRow,
                "bid_uploads": BidUploadRow, "bid_personnel": BidPersonRow,
                "tender_exclusions": TenderExclusionRow}
ROW_CLASSES = {"tenders": TenderRow, **CHILD_TABLES, "awards": AwardRow,
               "warnings": WarningRow, "warning_bids": WarningBidRow,
               "warning_disposals": DisposalRow}


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


class TenderRepository:
    def __init__(self, session: Session):
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # ---------------------------------------------------------------- writes
    def next_id(self) -> int:
        return int(self.session.execute(select(func.max(TenderRow.id))).scalar() or 0) + 1

    def add(self, rows: dict[str, list]) -> None:
        """Insert a registration's rows (``{table: [row, ...]}``) with Core bulk inserts:
        a 200-bid tender is about a thousand rows."""
        conn = self.session.connection()
        for table, items in rows.items():
            if items:
                cls = ROW_CLASSES[table]
                conn.execute(cls.__table__.insert(), [_values(cls, r) for r in items])

    def registered_subjects(self, usccs: list[str]) -> set[str]:
        """Which of ``usccs`` are registered subjects (one query per 500)."""
        out: set[str] = set()
        for chunk in _chunks(sorted(set(usccs))):
            out.update(self.session.scalars(select(SubjectRow.uscc)
                                            .where(SubjectRow.uscc.in_(chunk))))
        return out

    def add_subjects(self, subjects: list[tuple[str, str, int]]) -> None:
        """Register subjects (uscc, name, registering position) with one insert."""
        if subjects:
            self.session.connection().execute(SubjectRow.__table__.insert(), [
                {"uscc": u, "name": n, "registered_position": p} for u, n, p in subjects])

    def add_award(self, row: AwardRow) -> None:
        self.session.add(row)
        self.session.flush()

    # ---------------------------------------------------------------- reads
    def by_code(self, code: str) -> TenderRow | None:
        """The tender of ``code`` (a path segment, as sent). No stored text is unstorable
        (storable_text.py), and PostgreSQL refuses to compare with U+0000 (an error, not
        "no row")."""
        if unstorable(code):
            return None
        return self.session.scalars(select(TenderRow).where(TenderRow.code == code)).first()

    def by_id(self, tender_id: int) -> TenderRow | None:
        return self.session.get(TenderRow, tender_id)

    def by_ids(self, ids: Iterable[int]) -> dict[int, TenderRow]:
        out: dict[int, TenderRow] = {}
        for chunk in _chunks(sorted(set(ids))):
            for row in self.session.scalars(select(TenderRow).where(TenderRow.id.in_(chunk))):
                out[row.id] = row
        return out

    def children(self, tender_ids: list[int]) -> dict[str, dict[int, list]]:
        """Every child row of these tenders: ``{table: {tender_id: [rows in key order]}}``."""
        out: dict[str, dict[int, list]] = {t: defaultdict(list) for t in CHILD_TABLES}
        for table, cls in CHILD_TABLES.items():
            keys = [c for c in cls.__table__.primary_key.columns]
            for chunk in _chunks(sorted(set(tender_ids))):
                for row in self.session.scalars(
                        select(cls).where(cls.tender_id.in_(chunk)).order_by(*keys)):
                    out[table][row.tender_id].append(row)
        return out

    def awards(self, tender_ids: list[int]) -> dict[int, AwardRow]:
        out: dict[int, AwardRow] = {}
        for chunk in _chunks(sorted(set(tender_ids))):
            for row in self.session.scalars(select(AwardRow).where(AwardRow.tender_id.in_(chunk))):
                out[row.tender_id] = row
        return out

    def page(self, *, sectors: Iterable[str] | None = None, opened_from: date | None = None,
             opened_to: date | None = None, party: str | None = None, limit: int = 100,
             before: int | None = None, agency: str | None = None,
             tenderee: str | None = None) -> list[TenderRow]:
        """Newest first by audit position; ``party`` a USCC that is a bidder or member;
        ``agency`` / ``tenderee`` the USCC of the tender's agency / tenderee
        (PERFORMANCE.md §7, §1)."""
        q = select(TenderRow)
        if agency is not None:
            q = q.where(TenderRow.agency_uscc == agency)
        if tenderee is not None:
            q = q.where(TenderRow.tenderee_uscc == tenderee)
        if sectors is not None:
            q = q.where(TenderRow.sector.in_(sorted(sectors)))
        if opened_from is not None:
            q = q.where(TenderRow.opened_on >= opened_from)
        if opened_to is not None:
            q = q.where(TenderRow.opened_on <= opened_to)
        if party is not None:
            q = q.where(exists().where(and_(BidPartyRow.tender_id == TenderRow.id,
                                            BidPartyRow.uscc == party)))
        if before is not None:
            q = q.where(TenderRow.audit_position < before)
        return list(self.session.scalars(q.order_by(TenderRow.audit_position.desc())
                                         .limit(limit)))

    def iter_rows(self, table: str) -> Iterator:
        """Every row of one of these tables in key order (audit verify)."""
        cls = ROW_CLASSES[table]
        keys = list(cls.__table__.primary_key.columns)
        return iter(self.session.scalars(select(cls).order_by(*keys)).yield_per(2000))

    # ---------------------------------------------------------------- the snapshot
    def snapshot(self, position: int, opened_on: date, window_start: date,
                 bidders: Iterable[str], project_managers: Iterable[str]) -> Snapshot:
        """What screens 12–13 may read of the tenders known at ``position`` (module
        docstring). Restricted to what they can use: the tenders in the co-bidding window
        sharing at least two bidders with this one (screen 13 counts pairs of this
        tender's bidders), a prior tender's ``bidders`` being those it shares, and the
        awards whose winning bid names a project manager of this tender's valid bids,
        their ``project_managers`` being those (screen 12 compares nothing else). A few
        small queries, each through an index (no join that a planner could turn into a
        scan of the history)."""
        conn = self.session.connection()
        shared: dict[int, set[str]] = defaultdict(set)
        if bidders := sorted(set(bidders)):
            for tender_id, uscc in conn.execute(
                    co_bid_query(position, window_start, opened_on, bidders,
                                 self.dialect)).all():
                shared[tender_id].add(uscc)
        # Screen 13 counts, per pair of this tender's bidders, the tenders where both bid:
        # a tender sharing a single bidder counts for no pair.
        shared = {t: usccs for t, usccs in shared.items() if len(usccs) >= 2}
        won = self._managers_awards(sorted(set(project_managers)), position)
        awards = self._known_awards(sorted(set(shared) - set(won)), position)
        awards.update((tender_id, award) for tender_id, (award, _) in won.items())
        completed = self._final_completions(sorted(awards), position)
        tenders = [
            PriorTender(code=code, opened_on=opened,
                        bidders=frozenset(shared.get(tender_id, ())),
                        award=None if tender_id not in awards else PriorAward(
                            winner=awards[tender_id].winner_uscc,
                            awarded_on=awards[tender_id].awarded_on,
                            end=contract_end(awards[tender_id].completion_due,
                                             completed.get(tender_id)),
                            project_managers=frozenset(won.get(tender_id, (None, ()))[1])))
            for tender_id, code, opened in self._codes(sorted(set(shared) | set(won)))]
        tenders.sort(key=lambda t: t.code)
        return Snapshot(knowledge_position=position, tenders=tuple(tenders))

    def _managers_awards(self, managers: list[str], position: int) -> dict[int, tuple]:
        """{tender: (award, managers)} for the awards known at ``position`` whose winning
        bid names some of ``managers`` as project manager."""
        if not managers:
            return {}
        conn = self.session.connection()
        named: dict[tuple[int, str], set[str]] = defaultdict(set)
        for tender_id, bidder, id_hash in conn.execute(
                managers_query(managers, self.dialect)).all():
            named[(tender_id, bidder)].add(id_hash)
        awards = self._known_awards(sorted({t for t, _ in named}), position)
        return {t: (award, named[(t, award.winner_uscc)]) for t, award in awards.items()
                if (t, award.winner_uscc) in named}

    def _known_awards(self, ids: list[int], position: int) -> dict[int, object]:
        conn = self.session.connection()
        return {row.tender_id: row for chunk in _chunks(ids, 1000)
                for row in conn.execute(awards_query(chunk, position, self.dialect)).all()}

    def _final_completions(self, ids: list[int], position: int) -> dict[int, date]:
        """{tender: ``completed_on``} of the final evaluations of these tenders whose
        approval is known at ``position`` (WARNINGS.md screen 12, PERFORMANCE.md §2): the
        final evaluations through ``ix_performance_evaluations_tender_id``, then their
        approving reviews by primary key. At most one per tender (none may follow an
        approved final, PERFORMANCE.md §3)."""
        conn = self.session.connection()
        finals = {row.id: row for chunk in _chunks(ids, 1000)
                  for row in conn.execute(finals_query(chunk, position, self.dialect)).all()}
        return {finals[e].tender_id: finals[e].completed_on
                for chunk in _chunks(sorted(finals), 1000)
                for e in conn.execute(approvals_query(chunk, position, self.dialect)).scalars()}

    def _codes(self, ids: list[int]) -> Iterator[tuple[int, str, date]]:
        for chunk in _chunks(ids, 1000):
            yield from self.session.connection().execute(
                tenders_query(chunk, self.dialect)).all()


def among(column, values: list, dialect: str):
    """``column IN values``; on PostgreSQL ``column = ANY(:array)`` — one parameter
    instead of one per value, whose parsing cost more than the query itself for the
    thousand ids of a snapshot (and the plan is the same index scan)."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, value=list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def co_bid_query(position: int, start: date, end: date, bidders: list[str],
                 dialect: str = "sqlite"):
    """Screen 13's query: the bid-party rows of ``bidders`` as ``bidder`` in tenders
    known at ``position`` and opened in [start, end] (``ix_bid_parties_uscc_opened``)."""
    return (select(_P.c.tender_id, _P.c.uscc)
            .where(among(_P.c.uscc, bidders, dialect), _P.c.opened_on >= start,
                   _P.c.opened_on <= end, _P.c.role == "bidder",
                   _P.c.audit_position <= position))


def managers_query(managers: list[str], dialect: str = "sqlite"):
    """Screen 12's query: the bids naming one of ``managers`` (keyed hashes) as project
    manager, with their bidder (``ix_bid_personnel_id_hash``); which of them won, and
    when, is read from the awards known at the snapshot's position."""
    return (select(_PERS.c.tender_id, _PERS.c.bidder, _PERS.c.id_hash)
            .where(among(_PERS.c.id_hash, managers, dialect),
                   _PERS.c.role == "project_manager"))


def awards_query(ids: list[int], position: int, dialect: str = "sqlite"):
    """The awards of these tenders known at ``position`` (primary key)."""
    return (select(_A.c.tender_id, _A.c.winner_uscc, _A.c.awarded_on, _A.c.completion_due)
            .where(among(_A.c.tender_id, ids, dialect), _A.c.audit_position <= position))


def finals_query(ids: list[int], position: int, dialect: str = "sqlite"):
    """The final evaluations of these tenders submitted by ``position``
    (``ix_performance_evaluations_tender_id``)."""
    return (select(_EV.c.id, _EV.c.tender_id, _EV.c.completed_on)
            .where(among(_EV.c.tender_id, ids, dialect), _EV.c.kind == "final",
                   _EV.c.audit_position <= position))


def approvals_query(ids: list[int], position: int, dialect: str = "sqlite"):
    """Which of these evaluations were approved by ``position`` (primary key)."""
    return (select(_RV.c.evaluation_id)
            .where(among(_RV.c.evaluation_id, ids, dialect), _RV.c.action == "approve",
                   _RV.c.audit_position <= position))


def tenders_query(ids: list[int], dialect: str = "sqlite"):
    """Code and opening date of these tenders (primary key)."""
    return select(_T.c.id, _T.c.code, _T.c.opened_on).where(among(_T.c.id, ids, dialect))


def _values(cls, row) -> dict:
    return {c.key: getattr(row, c.key) for c in cls.__table__.columns}


class WarningRepository:
    def __init__(self, session: Session):
        self.session = session

    def next_id(self) -> int:
        return int(self.session.execute(select(func.max(WarningRow.id))).scalar() or 0) + 1

    def next_disposal_id(self) -> int:
        return int(self.session.execute(select(func.max(DisposalRow.id))).scalar() or 0) + 1

    def add(self, rows: list, bids: list) -> None:
        """Insert warnings and the bids they name (two statements)."""
        conn = self.session.connection()
        conn.execute(WarningRow.__table__.insert(), [_values(WarningRow, r) for r in rows])
        conn.execute(WarningBidRow.__table__.insert(), [_values(WarningBidRow, b) for b in bids])

    def add_disposal(self, row: DisposalRow) -> None:
        self.session.add(row)
        self.session.flush()

    def get(self, warning_id: int) -> WarningRow | None:
        return self.session.get(WarningRow, warning_id)

    def of_tenders(self, tender_ids: list[int]) -> dict[int, list[WarningRow]]:
        out: dict[int, list[WarningRow]] = defaultdict(list)
        for chunk in _chunks(sorted(set(tender_ids))):
            for row in self.session.scalars(select(WarningRow).where(
                    WarningRow.tender_id.in_(chunk)).order_by(WarningRow.id)):
                out[row.tender_id].append(row)
        return out

    def disposals(self, warning_ids: list[int]) -> dict[int, list[DisposalRow]]:
        out: dict[int, list[DisposalRow]] = defaultdict(list)
        for chunk in _chunks(sorted(set(warning_ids))):
            for row in self.session.scalars(select(DisposalRow).where(
                    DisposalRow.warning_id.in_(chunk)).order_by(DisposalRow.id)):
                out[row.warning_id].append(row)
        return out

    def records_created(self, warning_ids: list[int]) -> dict[int, list[int]]:
        """Ids of the records each warning's confirmation created (``source_warning``)."""
        out: dict[int, list[int]] = defaultdict(list)
        for chunk in _chunks(sorted(set(warning_ids))):
            for warning_id, record_id in self.session.execute(
                    select(RecordRow.source_warning, RecordRow.id)
                    .where(RecordRow.source_warning.in_(chunk)).order_by(RecordRow.id)):
                out[warning_id].append(record_id)
        return out

    def page(self, *, sectors: Iterable[str] | None = None,
             status: str | tuple[str, ...] | None = None, code: str | None = None,
             severity: str | None = None,
             tender_id: int | None = None, party: str | None = None, limit: int = 100,
             before: int | None = None) -> list[WarningRow]:
        """Newest first by id; ``status`` as derived from the disposals (see
        :func:`status_clause`); ``party`` a USCC of a bid the warning names."""
        q = select(WarningRow)
        if sectors is not None:
            q = q.where(WarningRow.sector.in_(sorted(sectors)))
        if isinstance(status, str):
            q = q.where(status_clause(status))
        elif status is not None:  # any of several (the console's 待处置: open or referred)
            q = q.where(or_(*(status_clause(s) for s in status)))
        if code is not None:
            q = q.where(WarningRow.code == code)
        if severity is not None:
            q = q.where(WarningRow.severity == severity)
        if tender_id is not None:
            q = q.where(WarningRow.tender_id == tender_id)
        if party is not None:
            q = q.where(exists().where(and_(
                WarningBidRow.warning_id == WarningRow.id,
                BidPartyRow.tender_id == WarningBidRow.tender_id,
                BidPartyRow.n == WarningBidRow.n, BidPartyRow.uscc == party)))
        if before is not None:
            q = q.where(WarningRow.id < before)
        return list(self.session.scalars(q.order_by(WarningRow.id.desc()).limit(limit)))


FINAL_ACTIONS = {"confirmed": "confirm", "dismissed": "dismiss"}


def _disposed(*actions: str):
    return exists().where(and_(DisposalRow.warning_id == WarningRow.id,
                               DisposalRow.action.in_(actions)))


def status_clause(status: str):
    """A warning's status from its disposals (WARNINGS.md §6): ``confirmed`` or
    ``dismissed`` once such a disposal exists (final), else ``referred`` after a
    ``refer``, else ``open``."""
    if status == "open":
        return ~exists().where(DisposalRow.warning_id == WarningRow.id)
    if status == "referred":
        return and_(_disposed("refer"), ~_disposed("confirm", "dismiss"))
    if status in FINAL_ACTIONS:
        return _disposed(FINAL_ACTIONS[status])
    return false()
