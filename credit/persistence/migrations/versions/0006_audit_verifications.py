"""Stored verifications of the audit log (issue 10, API.md §6): each run of
``audit verify`` keeps the head it reached and its verdict, outside the chain, so that
``--incremental`` / ``?from=checkpoint`` verifies only what was appended since the newest
intact run, and the console shows the last result instead of re-verifying.

Append-only like the other tables (triggers refusing UPDATE and DELETE, as defence in
depth; an incremental run also re-checks that the entry at its starting position still
has the hash stored here).

Revision ID: 0006
Revises: 0007 (merged after issue 12; ids are names, the chain is the order)
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "audit_verifications"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("from_position", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("entries_checked", sa.BigInteger, nullable=False),
        sa.Column("first_bad", sa.Text, nullable=True),
        sa.Column("verified_at", sa.String(32), nullable=False),
        sa.Column("seconds", sa.String(16), nullable=False),
    )
    op.create_index("ix_audit_verifications_ok_position", TABLE, ["ok", "position"])
    # An incremental run reads the subjects registered after its starting position.
    op.create_index("ix_subjects_registered_position", "subjects", ["registered_position"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # credit_refuse_change() comes from 0001
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()")
    elif dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON "
                       f"{TABLE} BEGIN SELECT RAISE(ABORT, 'credit: {action} on {TABLE} "
                       f"refused: the table is append-only'); END")


def downgrade() -> None:
    op.drop_index("ix_subjects_registered_position", "subjects")
    op.drop_table(TABLE)
