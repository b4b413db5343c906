"""Idempotency rows name their creating entry; signed-out console sessions.

* ``idempotency_keys.audit_position``: the entry that created the resource, whose
  payload carries the hash of the remembered reply (issue 9 item 6). Null on rows
  stored before: those are not covered, and ``audit verify`` says so.
* ``ended_sessions``: the SHA-256 of each signed-out console session id, so a replayed
  cookie is refused (issue 9 item 4). Append-only like every table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_TABLES = ("ended_sessions",)


def upgrade() -> None:
    op.add_column("idempotency_keys",
                  sa.Column("audit_position", sa.BigInteger, nullable=True))
    op.create_table(
        "ended_sessions",
        sa.Column("session_sha256", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer, nullable=False),
        sa.Column("audit_position", sa.BigInteger, nullable=False, unique=True),
    )
    _append_only_triggers(NEW_TABLES)


def _append_only_triggers(tables) -> None:
    """As in 0001 (the PostgreSQL function credit_refuse_change exists since then)."""
    dialect = op.get_bind().dialect.name
    for t in tables:
        if dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION credit_refuse_change()")
        elif dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, 'credit: {action} on {t} refused: "
                           f"the table is append-only'); END")


def downgrade() -> None:
    op.drop_table("ended_sessions")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("audit_position")
    if op.get_bind().dialect.name == "sqlite":  # the batch copy lost the table's triggers
        _append_only_triggers(("idempotency_keys",))
