"""Migration 0012 (signed verifications) down and up again on both backends: the
columns go and come back, and the table stays append-only — SQLite's batch copy drops
a table's triggers, which the downgrade creates again (as 0002, 0003 and 0007 do)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from credit.persistence.database import alembic_config

pytestmark = pytest.mark.db


def _migrate(url, fn, rev):
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            fn(cfg, rev)
    finally:
        eng.dispose()


def _state(url):
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            cols = {c["name"] for c in inspect(conn).get_columns("audit_verifications")}
            idx = {i["name"] for i in inspect(conn).get_indexes("audit_verifications")}
            if conn.dialect.name == "sqlite":
                trig = {r[0] for r in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='trigger' AND "
                    "tbl_name='audit_verifications'")}
            else:
                trig = {r[0] for r in conn.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND "
                    "tgrelid = 'audit_verifications'::regclass")}
        return cols, idx, trig
    finally:
        eng.dispose()


def _update_refused(url) -> bool:
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO audit_verifications (id, mode, from_position, position, "
                "sha256, ok, entries_checked, first_bad, verified_at, seconds) VALUES "
                f"(1, 'full', 0, 0, '{'0' * 64}', TRUE, 0, NULL, 'x', '0')")
        try:
            with eng.begin() as conn:
                conn.exec_driver_sql("UPDATE audit_verifications SET mode = 'x'")
            return False
        except Exception:
            return True
    finally:
        eng.dispose()


def test_downgrade_and_upgrade_keep_the_table_append_only(database_url):
    cols, idx_head, trig_head = _state(database_url)
    assert {"key_id", "signature"} <= cols and trig_head
    _migrate(database_url, command.downgrade, "0011")
    cols, idx, trig = _state(database_url)
    assert not {"key_id", "signature"} & cols
    assert idx == idx_head
    assert trig == trig_head, f"triggers after downgrade: {trig} (were {trig_head})"
    assert _update_refused(database_url)
    _migrate(database_url, command.upgrade, "head")
    cols, idx, trig = _state(database_url)
    assert {"key_id", "signature"} <= cols and trig == trig_head
