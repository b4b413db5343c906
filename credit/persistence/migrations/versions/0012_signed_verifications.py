"""Signed runs of ``audit verify`` (issue 10, API.md §6).

A stored run lives outside the chain, so a row inserted around the service could choose
where the next incremental run starts. With a signing key configured
(``CREDIT_SIGNING_KEY``, the key of the signed checkpoints), each run is stored with the
id of the key and its Ed25519 signature over the run's columns
(credit/services/run_seals.py), and an incremental run starts only from a run that key
signed. Two nullable columns: the runs stored before, and every run stored without a
key, have neither. The table stays append-only (its triggers are unchanged).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLE = "audit_verifications"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column(TABLE, sa.Column("signature", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("signature")
        batch.drop_column("key_id")
    if op.get_bind().dialect.name == "sqlite":  # the batch copy lost the table's triggers
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON "
                       f"{TABLE} BEGIN SELECT RAISE(ABORT, 'credit: {action} on {TABLE} "
                       f"refused: the table is append-only'); END")
