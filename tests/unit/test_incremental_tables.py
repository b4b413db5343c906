"""Issue 10: an incremental ``audit verify`` must be able to read, for every verified
table, the rows created after a position — by the table's own ``audit_position`` or,
for a tender's or a warning's rows, by their group (credit/persistence/verifications.py).
A table added later with an ``audit_position`` column needs nothing more; one without
must be declared, or this fails."""

from __future__ import annotations

from credit.persistence.verifications import _GROUP_PARENT, _mapped
from credit.services.verification import VERIFIED_TABLES


def test_every_verified_table_can_be_read_after_a_position():
    for t in VERIFIED_TABLES:
        cls = _mapped(t.table)
        assert t.table in _GROUP_PARENT or "audit_position" in cls.__table__.columns, t.table


def test_tokens_and_revocations_too():
    for table in ("tokens", "token_revocations"):
        assert "audit_position" in _mapped(table).__table__.columns
