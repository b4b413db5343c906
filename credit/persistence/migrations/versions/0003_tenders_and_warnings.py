"""Tenders, bids, awards, warnings and disposals (WARNINGS.md); records.source_warning.

Every new table is append-only (triggers refusing UPDATE and DELETE, defence in depth as
in 0001). ``records.source_warning`` is nullable: records entered by regulators keep
NULL, and their hashes (which include the key only when set) stay as they were.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("tenders", "bids", "bid_parties", "bid_documents", "bid_uploads", "bid_personnel",
          "tender_exclusions", "awards", "warnings", "warning_bids", "warning_disposals")


def _bid_key() -> list:
    return [sa.Column("tender_id", sa.BigInteger, primary_key=True),
            sa.Column("n", sa.Integer, primary_key=True)]


def _item_key() -> list:
    return _bid_key() + [sa.Column("idx", sa.Integer, primary_key=True)]


def _tenders() -> None:
    op.create_table(
        "tenders",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("tenderee_uscc", sa.String(18), nullable=False),
        sa.Column("tenderee_name", sa.Text, nullable=False),
        sa.Column("agency_uscc", sa.String(18), nullable=True),
        sa.Column("agency_name", sa.Text, nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("ceiling_price", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("village", sa.Boolean, nullable=False),
        sa.Column("screens", sa.String(100), nullable=False),
        sa.Column("screens_sha256", sa.String(64), nullable=False),
        sa.Column("knowledge_position", sa.BigInteger, nullable=False),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("registered_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_index("ix_tenders_opened_on", "tenders", ["opened_on"])
    op.create_index("ix_tenders_sector_position", "tenders", ["sector", "audit_position"])


def _bids() -> None:
    op.create_table(
        "bids", *_bid_key(),
        sa.Column("bidder_uscc", sa.String(18), nullable=False),
        sa.Column("bidder_name", sa.Text, nullable=False),
        sa.Column("price", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.Text, nullable=True),
        sa.Column("submitted_at", sa.String(32), nullable=False),
        sa.Column("deposit_hash", sa.String(64), nullable=True),
        sa.Column("deposit_masked", sa.String(40), nullable=True),
    )
    op.create_table(
        "bid_parties", *_item_key(),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_bid_parties_uscc_opened", "bid_parties", ["uscc", "opened_on"])
    op.create_table(
        "bid_documents", *_item_key(),
        sa.Column("machine_code", sa.String(128), nullable=True),
        sa.Column("file_id", sa.String(128), nullable=True),
        sa.Column("pricing_lock", sa.String(128), nullable=True),
    )
    op.create_table(
        "bid_uploads", *_item_key(),
        sa.Column("mac", sa.String(128), nullable=True),
        sa.Column("cpu", sa.String(128), nullable=True),
        sa.Column("disk", sa.String(128), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("onsite", sa.Boolean, nullable=False),
    )
    op.create_table(
        "bid_personnel", *_item_key(),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("bidder", sa.String(18), nullable=False),
    )
    op.create_index("ix_bid_personnel_id_hash", "bid_personnel", ["id_hash", "role"])
    op.create_table(
        "tender_exclusions",
        sa.Column("tender_id", sa.BigInteger, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
    )


def _awards_and_warnings() -> None:
    op.create_table(
        "awards",
        sa.Column("tender_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("winner_uscc", sa.String(18), nullable=False),
        sa.Column("awarded_on", sa.Date, nullable=False),
        sa.Column("contract_price", sa.String(32), nullable=False),
        sa.Column("completion_due", sa.Date, nullable=False),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("awarded_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "warnings",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("tender_id", sa.BigInteger, nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("definition", sa.String(100), nullable=False),
        sa.Column("screen", sa.Integer, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("bids", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("raised_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_index("ix_warnings_tender_id", "warnings", ["tender_id"])
    op.create_index("ix_warnings_sector_id", "warnings", ["sector", "id"])
    op.create_table(
        "warning_bids",
        sa.Column("warning_id", sa.BigInteger, primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("tender_id", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "warning_disposals",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("warning_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("document_no", sa.Text, nullable=True),
        sa.Column("decided_on", sa.Date, nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("bids", sa.Text, nullable=False),
        sa.Column("covered_by", sa.Text, nullable=True),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("disposed_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_index("ix_warning_disposals_warning_id", "warning_disposals", ["warning_id"])


def upgrade() -> None:
    _tenders()
    _bids()
    _awards_and_warnings()
    # A plain ADD COLUMN (no table rebuild: the records triggers stay in place).
    op.add_column("records", sa.Column("source_warning", sa.BigInteger, nullable=True))
    op.create_index("ix_records_source_warning", "records", ["source_warning"])
    _append_only_triggers(TABLES)


def _append_only_triggers(tables) -> None:
    """As 0001: PostgreSQL reuses its ``credit_refuse_change()`` function."""
    dialect = op.get_bind().dialect.name
    for t in tables:
        if dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()")
        elif dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, 'credit: {action} on {t} refused: "
                    f"the table is append-only'); END")


def downgrade() -> None:
    op.drop_index("ix_records_source_warning", "records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("source_warning")
    if op.get_bind().dialect.name == "sqlite":  # the batch copy lost the table's triggers
        _append_only_triggers(("records",))
    for t in reversed(TABLES):
        op.drop_table(t)
