"""Reading and appending agency ratings (PERFORMANCE.md §7). Never commits."""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .agency_tables import AgencyRatingRow


class AgencyRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, row: AgencyRatingRow) -> AgencyRatingRow:
        self.session.add(row)
        self.session.flush()
        return row

    def of_tender(self, tender_id: int) -> AgencyRatingRow | None:
        return self.session.get(AgencyRatingRow, tender_id)

    def of_agency(self, uscc: str, max_position: int | None = None) -> list[AgencyRatingRow]:
        """The agency's ratings (those known at ``max_position`` when given), oldest
        first."""
        q = select(AgencyRatingRow).where(AgencyRatingRow.agency_uscc == uscc)
        if max_position is not None:
            q = q.where(AgencyRatingRow.audit_position <= max_position)
        return list(self.session.scalars(q.order_by(AgencyRatingRow.audit_position)))

    def iter_all(self) -> Iterator[AgencyRatingRow]:
        """Every rating by tender id (audit verify)."""
        return iter(self.session.scalars(
            select(AgencyRatingRow).order_by(AgencyRatingRow.tender_id)).yield_per(2000))
