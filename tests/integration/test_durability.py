"""Issue 9 item 10: what the service acknowledged survives a power cut. On SQLite every
connection of the engine's pool runs with ``synchronous=FULL`` (each COMMIT syncs the
WAL), in reading and in writing units of work alike; on PostgreSQL commits wait for
their WAL flush (``synchronous_commit`` is not ``off``). The served-score store's own
connections sync late instead (issue 10): test_wal_sync.py. The cost is measured in
bench/, not here."""

from __future__ import annotations

from sqlalchemy import text

from credit.persistence.database import make_engine

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _durability(connection) -> str | int:
    if connection.dialect.name == "sqlite":
        return connection.execute(text("PRAGMA synchronous")).scalar()
    return connection.execute(text("SHOW synchronous_commit")).scalar()


def _assert_durable(value, dialect: str) -> None:
    if dialect == "sqlite":
        assert value == FULL, f"PRAGMA synchronous is {value}, not FULL ({FULL})"
    else:
        assert value != "off", "synchronous_commit is off"


def test_every_unit_of_work_commits_durably(ctx):
    dialect = ctx.uow.engine.dialect.name
    for write in (False, True):
        with ctx.uow(write=write) as uow:
            _assert_durable(_durability(uow.session.connection()), dialect)


def test_every_pooled_connection_is_durable(database_url):
    engine = make_engine(database_url)
    try:
        connections = [engine.connect() for _ in range(3)]  # three distinct connections
        for connection in connections:
            _assert_durable(_durability(connection), engine.dialect.name)
        for connection in connections:
            connection.close()
    finally:
        engine.dispose()
