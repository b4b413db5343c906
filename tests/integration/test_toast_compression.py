"""Migrations 0009 and 0011: on PostgreSQL with lz4, the large texts the service stores
(audit entries, evaluation documents, remembered replies) are compressed with lz4, and
what is read back is byte for byte what was written. SQLite stores text as it is."""

from __future__ import annotations

import pytest
from sqlalchemy import text

LARGE_TEXTS = {("audit_entries", "text"), ("evaluations", "document"),
               ("idempotency_keys", "body")}


def _compression(conn) -> dict[tuple[str, str], str]:
    rows = conn.execute(text(
        "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = ANY(:tables) "
        "AND a.attnum > 0 AND NOT a.attisdropped"),
        {"tables": sorted({t for t, _ in LARGE_TEXTS})})
    return {(t, c): m for t, c, m in rows}


def test_large_texts_are_lz4_on_postgresql_and_read_back_exactly(ctx):
    engine = ctx.uow.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: TOAST compression")
    with engine.connect() as conn:  # rolled back at the end: nothing stays
        lz4 = conn.execute(text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                                "WHERE name = 'default_toast_compression'")).scalar()
        if not lz4:
            pytest.skip("this PostgreSQL is built without lz4: pglz stays")
        methods = _compression(conn)
        assert {k: methods[k] for k in LARGE_TEXTS} == {k: "l" for k in LARGE_TEXTS}
        # every other column keeps the server's default
        assert {m for k, m in methods.items() if k not in LARGE_TEXTS} <= {""}
        # far over the TOAST threshold, and compressible: stored compressed, read exactly
        document = "{" + ",".join(f'"k{i}":"柯桥 {i % 7}"' for i in range(5000)) + "}"
        conn.execute(text("INSERT INTO evaluations (id, created_by_token, document, "
                          "sha256, audit_position) VALUES (-1, 0, :d, '', -1)"),
                     {"d": document})
        stored = conn.execute(text(
            "SELECT document, pg_column_compression(document), "
            "pg_column_size(document) FROM evaluations WHERE id = -1")).one()
        assert stored[0] == document and stored[1] == "lz4"
        assert stored[2] < len(document.encode()) // 2
        conn.rollback()
