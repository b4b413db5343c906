"""Initial schema: audit log, subjects, records, events, tokens, evaluations, idempotency.

Every table is append-only; triggers refusing UPDATE and DELETE are defence in depth
(tamper detection by re-hashing does not depend on them).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("audit_entries", "subjects", "records", "record_events", "tokens",
          "token_revocations", "evaluations", "idempotency_keys")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_entries_kind", "audit_entries", ["kind"])
    op.create_index("ix_audit_entries_at_us", "audit_entries", ["at_us"])
    op.create_index("ix_audit_entries_uscc_kind", "audit_entries", ["uscc", "kind", "position"])
    op.create_table(
        "subjects",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("registered_position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("subject_name", sa.Text, nullable=False),
        sa.Column("sector", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=False),
        sa.Column("document_no", sa.Text, nullable=False),
        sa.Column("issued_by", sa.Text, nullable=False),
        sa.Column("project_code", sa.Text, nullable=True),
        sa.Column("project_name", sa.Text, nullable=True),
        sa.Column("occurred_on", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_records_uscc", "records", ["uscc"])
    op.create_index("ix_records_duplicate", "records", ["uscc", "code", "document_no"])
    op.create_table(
        "record_events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.BigInteger, sa.ForeignKey("records.id"), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("document_no", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("repaired_on", sa.Date, nullable=True),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_record_events_record_id", "record_events", ["record_id"])
    op.create_index("ix_record_events_uscc", "record_events", ["uscc"])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sectors", sa.Text, nullable=False),
        sa.Column("uscc", sa.String(18), nullable=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger, nullable=True),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "token_revocations",
        sa.Column("token_id", sa.Integer, sa.ForeignKey("tokens.id"), primary_key=True),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_by_token", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("token_id", sa.Integer, primary_key=True),
        sa.Column("method", sa.String(8), primary_key=True),
        sa.Column("path", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION credit_refuse_change() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'credit: % on % refused: the table is append-only',
                TG_OP, TG_TABLE_NAME;
            END $$ LANGUAGE plpgsql
            """
        )
        for t in TABLES:
            op.execute(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()"
            )
    elif dialect == "sqlite":
        for t in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, 'credit: {action} on {t} refused: "
                    f"the table is append-only'); END"
                )


def downgrade() -> None:
    for t in reversed(TABLES):
        op.drop_table(t)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS credit_refuse_change()")
