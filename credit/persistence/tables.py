"""The schema (SQLAlchemy 2.x declarative). Every table is append-only: rows are
inserted, never updated or deleted (migrations add triggers refusing both)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditEntryRow(Base):
    """One entry of the hash-chained log, stored as its exact canonical text.

    ``text`` is the canonical JSON of the entry without ``sha256`` (the hashed bytes);
    the other columns are look-up indexes derived from it, never used to rebuild it.
    """

    __tablename__ = "audit_entries"
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(Text)
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_entries_uscc_kind", "uscc", "kind", "position"),)


class SubjectRow(Base):
    """An enterprise, registered by its first record; the first name stays."""

    __tablename__ = "subjects"
    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    registered_position: Mapped[int] = mapped_column(BigInteger, index=True)  # 0006


class RecordRow(Base):
    __tablename__ = "records"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    subject_name: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    document_no: Mapped[str] = mapped_column(Text)
    issued_by: Mapped[str] = mapped_column(Text)
    project_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    occurred_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    entered_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # What created the record when the service did (API.md §3): the warning a disposal
    # confirmed. NULL for records a regulator entered; hashed only when set.
    source_warning: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    # The performance evaluation whose approval created it (PERFORMANCE.md §4, 0007).
    source_performance: Mapped[int | None] = mapped_column(BigInteger, nullable=True,
                                                           index=True)

    __table_args__ = (Index("ix_records_duplicate", "uscc", "code", "document_no"),)


class RecordEventRow(Base):
    """A revocation or repair of a record."""

    __tablename__ = "record_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    document_no: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    repaired_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    entered_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))


class TokenRow(Base):
    """An API token, stored only as the SHA-256 of its secret."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    sectors: Mapped[str] = mapped_column(Text, default="")
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


class TokenRevocationRow(Base):
    __tablename__ = "token_revocations"
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"), primary_key=True)
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


class EvaluationRow(Base):
    """A frozen bid-opening snapshot: the exact JSON document served at creation."""

    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_by_token: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


class IdempotencyRow(Base):
    """The first successful response to a key (201, or 200 for the writes that answer
    200: an award, a disposal, a console revocation, repair or application decision),
    remembered forever (API.md §3). The entry at ``audit_position`` (the write's own)
    carries the hash of this row (services/idempotency.py); rows older than that rule
    have no position."""

    __tablename__ = "idempotency_keys"
    token_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    audit_position: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EndedSessionRow(Base):
    """A console session that was signed out: its id's SHA-256, never usable again
    (api/console/access.py). Created by a ``session.ended`` entry."""

    __tablename__ = "ended_sessions"
    session_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer)
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)


class ApplicationRow(Base):
    """An enterprise's credit-repair application (信用修复申请) or objection (异议申诉)
    against one of its own records. Its decision is a row of its own (append-only)."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    sector: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    requested_repair_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    submitted_by: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))


class ApplicationDecisionRow(Base):
    """A regulator's decision on an application: accepted (the repair or revocation was
    performed in the same transaction, ``record_event_id``) or rejected."""

    __tablename__ = "application_decisions"
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"),
                                                primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    document_no: Mapped[str | None] = mapped_column(Text, nullable=True)
    record_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_by: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int] = mapped_column(BigInteger, unique=True)
    sha256: Mapped[str] = mapped_column(String(64))


APPEND_ONLY_TABLES = (
    "audit_entries", "subjects", "records", "record_events", "tokens", "token_revocations",
    "evaluations", "idempotency_keys", "ended_sessions", "applications",
    "application_decisions",
    # migration 0003 (WARNINGS.md): credit.persistence.tender_tables
    "tenders", "bids", "bid_parties", "bid_documents", "bid_uploads", "bid_personnel",
    "tender_exclusions", "awards", "warnings", "warning_bids", "warning_disposals",
    # migration 0008 (PERFORMANCE.md §7): credit.persistence.agency_tables
    "agency_ratings",
    # migration 0007 (PERFORMANCE.md): credit.persistence.performance_tables
    "performance_evaluations", "performance_reviews",
)


class VerificationRow(Base):
    """One run of ``audit verify`` (API.md §6), kept outside the chain: the head it
    reached (``position``, ``sha256``), its verdict and when it ran. An incremental run
    starts from the newest intact one (signed, when a key is configured); the console
    shows the newest. Inserted, never updated (like the chain's tables, though not part
    of it: migration 0006)."""

    __tablename__ = "audit_verifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental
    from_position: Mapped[int] = mapped_column(BigInteger)  # 0 for a full run
    position: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    entries_checked: Mapped[int] = mapped_column(BigInteger)
    first_bad: Mapped[str | None] = mapped_column(Text, nullable=True)  # canonical JSON
    verified_at: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[str] = mapped_column(String(16))
    # With a signing key configured: the key's id and the run's signature (migration
    # 0012, services/run_seals.py); none without one.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
