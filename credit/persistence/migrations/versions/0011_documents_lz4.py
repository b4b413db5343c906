"""Evaluation documents and remembered replies compressed with lz4 on PostgreSQL
(issue 10, twenty-third pass).

Migration 0009 moved the audit entries' text to lz4. A 50-bidder evaluation stores two
more large texts: its frozen document (about 58 KB of canonical JSON on the bench
population) and, under an Idempotency-Key, the same text again as the remembered reply.
PostgreSQL compresses both into TOAST; with the default pglz one document's INSERT and
COMMIT took 1.10 ms, with lz4 0.75 ms, for the same stored size (bench/README.md,
"Issue 10, twenty-third pass"). Only the storage changes: the stored text and its hash
stay as they are, old rows keep pglz and PostgreSQL reads both. A server built without
lz4 keeps pglz. SQLite stores text uncompressed: nothing to do.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COLUMNS = (("evaluations", "document"), ("idempotency_keys", "body"))


def _lz4_available(bind) -> bool:
    return bool(bind.execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'")).scalar())


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _lz4_available(bind):
        for table, column in _COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
