"""Credit-repair applications and objections (issue 13) and their decisions.

Both tables are append-only like the others (triggers refusing UPDATE and DELETE, as
defence in depth); a decision is a row of its own, never an update of the application.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("applications", "application_decisions")


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.BigInteger, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_repair_on", sa.Date, nullable=True),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_applications_record_id", "applications", ["record_id"])
    op.create_index("ix_applications_uscc", "applications", ["uscc"])
    op.create_index("ix_applications_sector", "applications", ["sector"])
    op.create_table(
        "application_decisions",
        sa.Column("application_id", sa.BigInteger, sa.ForeignKey("applications.id"),
                  primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("document_no", sa.Text, nullable=True),
        sa.Column("record_event_id", sa.BigInteger, nullable=True),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for t in TABLES:
        if dialect == "postgresql":  # credit_refuse_change() comes from 0001
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()")
        elif dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, 'credit: {action} on {t} refused: "
                           f"the table is append-only'); END")


def downgrade() -> None:
    for t in reversed(TABLES):
        op.drop_table(t)
