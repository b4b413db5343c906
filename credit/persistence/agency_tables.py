"""The tenderees' ratings of tender agencies (招标代理服务评价, PERFORMANCE.md §7).

Append-only like every table (migration 0008 adds the triggers): one row per tender,
written once by its ``agency.rated`` entry, which carries the row's hash
(:func:`rating_facts`), so ``audit verify`` re-checks it. Agency conduct records are
ordinary records (``records``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class AgencyRatingRow(Base):
    __tablename__ = "agency_ratings"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tender_code: Mapped[str] = mapped_column(String(64))
    agency_uscc: Mapped[str] = mapped_column(String(18))
    agency_name: Mapped[str] = mapped_column(Text)
    tenderee_uscc: Mapped[str] = mapped_column(String(18))
    definition: Mapped[str] = mapped_column(String(100))  # id@version of the form
    rated_on: Mapped[date] = mapped_column(Date)
    items: Mapped[str] = mapped_column(Text)  # canonical JSON {item: "27.00", …}
    total: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_by: Mapped[str] = mapped_column(Text)
    rated_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_agency_ratings_agency", "agency_uscc", "audit_position"),)


RATING_HASH_FIELDS = ("tender_id", "tender_code", "agency_uscc", "agency_name",
                      "tenderee_uscc", "definition", "rated_on", "items", "total", "note",
                      "rated_by", "rated_at", "audit_position")


def rating_facts(row: AgencyRatingRow) -> dict:
    """The immutable fields of a rating, as hashed (its ``agency.rated`` entry holds the
    hash)."""
    return {f: (v.isoformat() if isinstance(v, date) else v)
            for f in RATING_HASH_FIELDS for v in [getattr(row, f)]}
