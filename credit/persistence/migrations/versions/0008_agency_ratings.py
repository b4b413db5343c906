"""Agency ratings (招标代理服务评价, PERFORMANCE.md §7): one row per tender, append-only
(triggers refusing UPDATE and DELETE, as defence in depth).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "agency_ratings"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tender_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("tender_code", sa.String(64), nullable=False),
        sa.Column("agency_uscc", sa.String(18), nullable=False),
        sa.Column("agency_name", sa.Text, nullable=False),
        sa.Column("tenderee_uscc", sa.String(18), nullable=False),
        sa.Column("definition", sa.String(100), nullable=False),
        sa.Column("rated_on", sa.Date, nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("total", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("rated_by", sa.Text, nullable=False),
        sa.Column("rated_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_agency_ratings_agency", TABLE, ["agency_uscc", "audit_position"])
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
    op.drop_table(TABLE)
