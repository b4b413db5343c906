"""Tables of post-award performance evaluations and their reviews (PERFORMANCE.md §3, §4).

Append-only like every table (migration 0007 adds the triggers): a review is a row of its
own, never an update of the evaluation. Each row is a pure projection of its creating
audit entry (``performance.submitted`` / ``performance.reviewed``), which carries the
SHA-256 of the row's facts (``rows``), so ``audit verify`` re-checks it
(credit.services.verification, ``PERFORMANCE_TABLES``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class PerformanceEvaluationRow(Base):
    """One evaluation as submitted by the tender's tenderee; its status follows from its
    review (none: ``submitted``)."""

    __tablename__ = "performance_evaluations"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tender_id: Mapped[int] = mapped_column(BigInteger, index=True)
    sector: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    period_end: Mapped[date] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    deductions: Mapped[str] = mapped_column(Text)  # canonical JSON list
    project_manager_on_site: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[str] = mapped_column(String(16))
    rating: Mapped[str] = mapped_column(String(16))
    definition: Mapped[str] = mapped_column(String(100))
    definition_sha256: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (Index("ix_performance_evaluations_sector_id", "sector", "id"),)


class PerformanceReviewRow(Base):
    """The regulator's review of one evaluation: approve or return, once."""

    __tablename__ = "performance_reviews"
    evaluation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                               autoincrement=False)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    reviewed_on: Mapped[date] = mapped_column(Date)
    warning_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reviewed_by: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


PERFORMANCE_TABLES = ("performance_evaluations", "performance_reviews")
