"""Performance evaluations, their reviews and the contracts they evaluate
(PERFORMANCE.md §2–§4, §6). Adds and queries; never commits, updates or deletes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Iterable, Iterator

from sqlalchemy import and_, bindparam, case, exists, func, not_, select
from sqlalchemy.orm import Session

from .performance_tables import PerformanceEvaluationRow, PerformanceReviewRow
from .tables import RecordRow
from .tender_tables import AwardRow, BidPartyRow, TenderRow

_E, _R = PerformanceEvaluationRow, PerformanceReviewRow
EVALUATION_STATUSES = ("submitted", "returned", "approved")
_ACTION = {"returned": "return", "approved": "approve"}


#: Added to a village project's award position in a village-first list of contracts, so
#: one integer orders and continues it (audit positions stay far below 2^62).
VILLAGE_FIRST = 2**62


def contract_cursor(tender: TenderRow, award: AwardRow, village_first: bool) -> int:
    """Where a list of contracts continues after this one (``after``)."""
    return award.audit_position + (VILLAGE_FIRST if village_first and tender.village else 0)


# The awarded tenders each of some USCCs bid in (tenders_of_parties), built once.
_AWARDED_TENDERS = (select(BidPartyRow.uscc, BidPartyRow.tender_id)
                    .join(AwardRow, AwardRow.tender_id == BidPartyRow.tender_id)
                    .where(BidPartyRow.uscc.in_(bindparam("usccs", expanding=True)))
                    .distinct())


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _final_approved():
    """SQL: the tender (``TenderRow``) has an approved final evaluation."""
    return exists().where(and_(_E.tender_id == TenderRow.id, _E.kind == "final",
                               _R.evaluation_id == _E.id, _R.action == "approve"))


def contract_status_clause(status: str, today: date, overdue_after_days: int):
    """PERFORMANCE.md §2 in SQL: ``completed`` with an approved final evaluation; else
    ``overdue`` when today > completion_due + N days; else ``in_progress``."""
    if status == "completed":
        return _final_approved()
    late = AwardRow.completion_due < today - timedelta(days=overdue_after_days)
    return and_(not_(_final_approved()), late if status == "overdue" else not_(late))


def evaluation_status_clause(status: str):
    """``submitted`` (no review yet), ``returned``, ``approved``."""
    reviewed = exists().where(_R.evaluation_id == _E.id)
    if status == "submitted":
        return not_(reviewed)
    return exists().where(and_(_R.evaluation_id == _E.id, _R.action == _ACTION[status]))


class PerformanceRepository:
    def __init__(self, session: Session):
        self.session = session

    # ---------------------------------------------------------------- writes
    def next_id(self) -> int:
        return int(self.session.execute(select(func.max(_E.id))).scalar() or 0) + 1

    def add(self, row: PerformanceEvaluationRow) -> None:
        self.session.add(row)
        self.session.flush()

    def add_review(self, row: PerformanceReviewRow) -> None:
        self.session.add(row)
        self.session.flush()

    # ---------------------------------------------------------------- reads
    def get(self, evaluation_id: int) -> PerformanceEvaluationRow | None:
        return self.session.get(_E, evaluation_id)

    def reviews(self, ids: Iterable[int]) -> dict[int, PerformanceReviewRow]:
        out = {}
        for chunk in _chunks(sorted(set(ids))):
            for row in self.session.scalars(select(_R).where(_R.evaluation_id.in_(chunk))):
                out[row.evaluation_id] = row
        return out

    def records_created(self, ids: Iterable[int]) -> dict[int, list[int]]:
        """Ids of the records each approval created (``source_performance``)."""
        out: dict[int, list[int]] = defaultdict(list)
        for chunk in _chunks(sorted(set(ids))):
            for evaluation_id, record_id in self.session.execute(
                    select(RecordRow.source_performance, RecordRow.id)
                    .where(RecordRow.source_performance.in_(chunk)).order_by(RecordRow.id)):
                out[evaluation_id].append(record_id)
        return out

    def of_tenders(self, tender_ids: Iterable[int]) -> dict[int, list[PerformanceEvaluationRow]]:
        """Every evaluation of these tenders, oldest first."""
        out: dict[int, list] = defaultdict(list)
        for chunk in _chunks(sorted(set(tender_ids))):
            for row in self.session.scalars(select(_E).where(_E.tender_id.in_(chunk))
                                            .order_by(_E.id)):
                out[row.tender_id].append(row)
        return out

    def page(self, *, sectors: Iterable[str] | None = None, status: str | None = None,
             tender_id: int | None = None, tenderee: str | None = None, limit: int = 100,
             before: int | None = None) -> list[PerformanceEvaluationRow]:
        """Newest first by id (the review queue, the tenderee's list)."""
        q = select(_E)
        if sectors is not None:
            q = q.where(_E.sector.in_(sorted(sectors)))
        if status is not None:
            q = q.where(evaluation_status_clause(status))
        if tender_id is not None:
            q = q.where(_E.tender_id == tender_id)
        if tenderee is not None:
            q = q.where(exists().where(and_(TenderRow.id == _E.tender_id,
                                            TenderRow.tenderee_uscc == tenderee)))
        if before is not None:
            q = q.where(_E.id < before)
        return list(self.session.scalars(q.order_by(_E.id.desc()).limit(limit)))

    def contracts(self, *, today: date, overdue_after_days: int,
                  sectors: Iterable[str] | None = None, status: str | None = None,
                  village: bool | None = None, tenderee: str | None = None,
                  winner: str | None = None, limit: int = 100,
                  before: int | None = None, village_first: bool = False
                  ) -> list[tuple[TenderRow, AwardRow]]:
        """Awarded tenders, newest award first (cursor: the award's audit position);
        with ``village_first``, village projects before the others, each newest first
        (cursor: :func:`contract_cursor`)."""
        rank = AwardRow.audit_position
        if village_first:
            rank = rank + case((TenderRow.village, VILLAGE_FIRST), else_=0)
        q = select(TenderRow, AwardRow).join(AwardRow, AwardRow.tender_id == TenderRow.id)
        if sectors is not None:
            q = q.where(TenderRow.sector.in_(sorted(sectors)))
        if status is not None:
            q = q.where(contract_status_clause(status, today, overdue_after_days))
        if village is not None:
            q = q.where(TenderRow.village == village)
        if tenderee is not None:
            q = q.where(TenderRow.tenderee_uscc == tenderee)
        if winner is not None:
            q = q.where(_party_of_winning_bid(winner))
        if before is not None:
            q = q.where(rank < before)
        return [tuple(r) for r in self.session.execute(
            q.order_by(rank.desc()).limit(limit)).all()]

    def tenders_of_party(self, uscc: str) -> list[int]:
        """Ids of the awarded tenders where ``uscc`` is a party of some bid."""
        return list(self.session.scalars(
            select(BidPartyRow.tender_id)
            .join(AwardRow, AwardRow.tender_id == BidPartyRow.tender_id)
            .where(BidPartyRow.uscc == uscc).distinct()))

    def tenders_of_parties(self, usccs: Iterable[str]) -> dict[str, list[int]]:
        """:meth:`tenders_of_party` for many USCCs in one query per 500 (an evaluation's
        bidders); a USCC without any awarded tender is absent."""
        out: dict[str, list[int]] = defaultdict(list)
        conn = self.session.connection()  # Core: every evaluation asks, once
        for chunk in _chunks(sorted(set(usccs))):
            for uscc, tender_id in conn.execute(_AWARDED_TENDERS, {"usccs": chunk}).all():
                out[uscc].append(tender_id)
        return dict(out)

    def approved_finals(self, tender_ids: Iterable[int]
                        ) -> dict[int, tuple[PerformanceEvaluationRow, PerformanceReviewRow]]:
        """Per tender, its approved final evaluation and review (at most one: none may
        follow it, PERFORMANCE.md §3)."""
        out = {}
        for chunk in _chunks(sorted(set(tender_ids))):
            for e, r in self.session.execute(
                    select(_E, _R).join(_R, _R.evaluation_id == _E.id)
                    .where(_E.tender_id.in_(chunk), _E.kind == "final",
                           _R.action == "approve")).all():
                out[e.tender_id] = (e, r)
        return out

    def iter_evaluations(self) -> Iterator[PerformanceEvaluationRow]:
        return iter(self.session.scalars(select(_E).order_by(_E.id)).yield_per(2000))

    def iter_reviews(self) -> Iterator[PerformanceReviewRow]:
        return iter(self.session.scalars(select(_R).order_by(_R.evaluation_id))
                    .yield_per(2000))


def _party_of_winning_bid(uscc: str):
    """``uscc`` is a party of the awarded tender's winning bid: its bidder (the award's
    ``winner_uscc``, the bid's party 0) or one of its consortium members, who hold the
    contract jointly (PERFORMANCE.md §4.1 gives each of them the PERF-* records, §6 a
    performance index from it)."""
    lead, party = BidPartyRow.__table__.alias("lead"), BidPartyRow.__table__.alias("party")
    return exists().where(
        lead.c.tender_id == AwardRow.tender_id, lead.c.idx == 0,
        lead.c.uscc == AwardRow.winner_uscc,
        party.c.tender_id == lead.c.tender_id, party.c.n == lead.c.n,
        party.c.uscc == uscc)
