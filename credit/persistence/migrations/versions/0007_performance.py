"""Post-award performance evaluations and their reviews (PERFORMANCE.md §3, §4);
records.source_performance.

Both tables are append-only (triggers refusing UPDATE and DELETE, as defence in depth);
a review is a row of its own. ``records.source_performance`` is nullable: only the
records an approval creates carry it (hashed only when set, so earlier hashes stay).

Revision ID: 0007
Revises: 0008 (merged after issue 12 §7; ids are names, the chain is the order)
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("performance_evaluations", "performance_reviews")


def _append_only(tables) -> None:
    dialect = op.get_bind().dialect.name
    for t in tables:
        if dialect == "postgresql":  # credit_refuse_change() comes from 0001
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()")
        elif dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, 'credit: {action} on {t} refused: "
                           f"the table is append-only'); END")


def upgrade() -> None:
    op.create_table(
        "performance_evaluations",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("tender_id", sa.BigInteger, sa.ForeignKey("tenders.id"), nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("completed_on", sa.Date, nullable=True),
        sa.Column("deductions", sa.Text, nullable=False),
        sa.Column("project_manager_on_site", sa.Boolean, nullable=False),
        sa.Column("score", sa.String(16), nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("definition", sa.String(100), nullable=False),
        sa.Column("definition_sha256", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_index("ix_performance_evaluations_tender_id", "performance_evaluations",
                    ["tender_id"])
    op.create_index("ix_performance_evaluations_sector_id", "performance_evaluations",
                    ["sector", "id"])
    op.create_table(
        "performance_reviews",
        sa.Column("evaluation_id", sa.BigInteger, sa.ForeignKey("performance_evaluations.id"),
                  primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reviewed_on", sa.Date, nullable=False),
        sa.Column("warning_id", sa.BigInteger, nullable=True),
        sa.Column("reviewed_by", sa.Text, nullable=False),
        sa.Column("reviewed_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.add_column("records", sa.Column("source_performance", sa.BigInteger, nullable=True))
    op.create_index("ix_records_source_performance", "records", ["source_performance"])
    _append_only(TABLES)


def downgrade() -> None:
    op.drop_index("ix_records_source_performance", "records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("source_performance")
    if op.get_bind().dialect.name == "sqlite":  # the batch copy lost the table's triggers
        _append_only(("records",))
    for t in reversed(TABLES):
        op.drop_table(t)
