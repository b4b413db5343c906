"""Audit entries' text compressed with lz4 on PostgreSQL (issue 10).

Every served score appends its whole trace (about 7–13 KB of canonical JSON), which
PostgreSQL compresses on the way into TOAST. With the default pglz that compression was
the largest single cost of the INSERT (bench/README.md, "Issue 10": about 300 µs per
12.5 KB trace against 190 µs with lz4, on the bench machine); lz4 compresses almost as
well and several times faster. Only the storage changes: the stored text, its hash and
every row already written stay as they are (old rows keep pglz; PostgreSQL reads both).
A server built without lz4 keeps pglz. SQLite stores text uncompressed: nothing to do.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def _lz4_available(bind) -> bool:
    return bool(bind.execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _lz4_available(bind):
        op.execute("ALTER TABLE audit_entries ALTER COLUMN text SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _lz4_available(bind):
        op.execute("ALTER TABLE audit_entries ALTER COLUMN text SET COMPRESSION pglz")
