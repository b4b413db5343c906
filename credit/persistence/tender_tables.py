"""Tables of tenders, bids, awards, warnings and their disposal (WARNINGS.md §2–§6).

Append-only like every table (migration 0003 adds the triggers). Personal values (resident
id numbers, deposit accounts) are stored only as their keyed hashes and masks. Child
rows of a tender are keyed by (tender_id, n, idx) — n the bid's position from 1, idx the
item's position from 0 — so that every row is a pure projection of the registration
entry's payload, which carries a digest of each table's rows (credit.services.audit_rows).

Denormalised look-up columns (``opened_on`` and ``audit_position`` on bid parties) let
the cross-tender screens find earlier tenders through one index range per bidder.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class TenderRow(Base):
    __tablename__ = "tenders"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(16))
    tenderee_uscc: Mapped[str] = mapped_column(String(18))
    tenderee_name: Mapped[str] = mapped_column(Text)
    agency_uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    agency_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    ceiling_price: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[str] = mapped_column(String(32))
    opened_on: Mapped[date] = mapped_column(Date, index=True)
    village: Mapped[bool] = mapped_column(Boolean)
    screens: Mapped[str] = mapped_column(String(100))
    screens_sha256: Mapped[str] = mapped_column(String(64))
    knowledge_position: Mapped[int] = mapped_column(BigInteger)
    entered_by: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (Index("ix_tenders_sector_position", "sector", "audit_position"),)


class BidRow(Base):
    __tablename__ = "bids"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    bidder_uscc: Mapped[str] = mapped_column(String(18))
    bidder_name: Mapped[str] = mapped_column(Text)
    price: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[str] = mapped_column(String(32))
    deposit_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deposit_masked: Mapped[str | None] = mapped_column(String(40), nullable=True)


class BidPartyRow(Base):
    """The bidder (idx 0, role ``bidder``) and consortium members (idx 1…, ``member``)."""

    __tablename__ = "bid_parties"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(8))
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(Text)
    opened_on: Mapped[date] = mapped_column(Date)
    audit_position: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_bid_parties_uscc_opened", "uscc", "opened_on"),)


class BidDocumentRow(Base):
    __tablename__ = "bid_documents"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    machine_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    file_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    pricing_lock: Mapped[str | None] = mapped_column(String(128), nullable=True)


class BidUploadRow(Base):
    __tablename__ = "bid_uploads"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    mac: Mapped[str | None] = mapped_column(String(128), nullable=True)
    cpu: Mapped[str | None] = mapped_column(String(128), nullable=True)
    disk: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    onsite: Mapped[bool] = mapped_column(Boolean)


class BidPersonRow(Base):
    """A key person of a bid: keyed hash and mask of the id number, never the number."""

    __tablename__ = "bid_personnel"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(24))
    id_hash: Mapped[str] = mapped_column(String(64))
    id_masked: Mapped[str] = mapped_column(String(18))
    # the bid's bidder, so that screen 12 learns from this row alone whose bid named the
    # person (and whether it won) without a join
    bidder: Mapped[str] = mapped_column(String(18))

    __table_args__ = (Index("ix_bid_personnel_id_hash", "id_hash", "role"),)


class TenderExclusionRow(Base):
    __tablename__ = "tender_exclusions"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))


class AwardRow(Base):
    __tablename__ = "awards"
    tender_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    winner_uscc: Mapped[str] = mapped_column(String(18))
    awarded_on: Mapped[date] = mapped_column(Date)
    contract_price: Mapped[str] = mapped_column(String(32))
    completion_due: Mapped[date] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(Text)
    awarded_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


class WarningRow(Base):
    """A warning raised by a screen; its status follows from its disposals."""

    __tablename__ = "warnings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tender_id: Mapped[int] = mapped_column(BigInteger, index=True)
    sector: Mapped[str] = mapped_column(String(16))
    definition: Mapped[str] = mapped_column(String(100))
    screen: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    basis: Mapped[str] = mapped_column(Text)
    bids: Mapped[str] = mapped_column(Text)  # canonical JSON list of positions
    evidence: Mapped[str] = mapped_column(Text)  # canonical JSON
    parameters: Mapped[str] = mapped_column(Text)  # canonical JSON
    raised_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (Index("ix_warnings_sector_id", "sector", "id"),)


class WarningBidRow(Base):
    """Which bids a warning names (for the ``uscc`` filter of GET /warnings)."""

    __tablename__ = "warning_bids"
    warning_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(BigInteger)


class DisposalRow(Base):
    """One disposal (分办处置) of a warning: confirm, dismiss or refer."""

    __tablename__ = "warning_disposals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    warning_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    document_no: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bids: Mapped[str] = mapped_column(Text)  # canonical JSON list of positions
    covered_by: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of ids
    entered_by: Mapped[str] = mapped_column(Text)
    disposed_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


TENDER_TABLES = ("tenders", "bids", "bid_parties", "bid_documents", "bid_uploads",
                 "bid_personnel", "tender_exclusions", "awards", "warnings", "warning_bids",
                 "warning_disposals")
