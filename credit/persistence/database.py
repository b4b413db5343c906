"""Engines, connection set-up and schema migration.

SQLite (default, embedded) and PostgreSQL (production) behave alike for the service:
every write transaction, and every served score (which appends its trace), first takes
the one database-wide append lock, so several server processes can write at once.

- SQLite: WAL (readers never block the writer), a busy timeout (a writer that finds the
  lock taken retries instead of failing; the service's own writers first wait in the
  append queue, append_queue.py) and ``BEGIN IMMEDIATE`` for write transactions, which
  takes SQLite's RESERVED lock at the start of the transaction instead of at the first
  write. pysqlite's own transaction handling is switched off so that we emit BEGIN
  ourselves.
  ``synchronous=FULL``: every COMMIT syncs the WAL to disk before it returns, so a write
  that was acknowledged survives a power cut or an OS crash, not only a killed process
  (``NORMAL`` may lose the last commits; what FULL costs: bench/sqlite_synchronous.py and
  bench/README.md). A served score's append is the one exception: its own connection
  commits with ``NORMAL`` and syncs the WAL itself once it has released the locks,
  before it is answered (wal_sync.py).
- PostgreSQL: READ COMMITTED plus ``pg_advisory_xact_lock`` (see audit_log.py); the lock
  is released by COMMIT/ROLLBACK, and every statement after it sees all earlier commits.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from credit.errors import Unavailable
from credit.settings import ConfigurationError, Settings

from .failures import unreadable

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_OPTION = "credit_write"
#: The longest a request waits for a lock, the append lock above all, on either
#: backend: a holder that is stopped, not dead (an import suspended with Ctrl-Z), costs
#: each waiter this and a 503, never a request held until the worker is killed.
LOCK_WAIT_MS = 30_000
SQLITE_BUSY_TIMEOUT_MS = LOCK_WAIT_MS
# PRAGMA synchronous: FULL = 2. Durability of what was acknowledged is not negotiable.
SQLITE_SYNCHRONOUS = "FULL"


def normalise_url(url: str | None) -> str:
    """``postgresql://`` means psycopg 3; no URL means the configured one (the SQLite
    file under ./var/ by default)."""
    url = url or Settings.from_env().database_url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_file(url) -> str | None:
    """The database file of a SQLite URL (or engine URL), absolute and with symbolic
    links resolved as SQLite resolves them, so every process names the same file and
    the files kept beside it (append_queue.py, wal_sync.py) whatever path it was given;
    None for an in-memory database or another backend."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    name = url.database
    if str(url.query.get("uri", "")).lower() in ("true", "1") and name.startswith("file:"):
        # A URI filename (``sqlite:///file:/srv/credit.db?mode=ro&uri=true``, an
        # auditor's read-only access): its path, not a directory named "file:".
        if url.query.get("mode") == "memory":
            return None
        name = unquote(urlsplit(name).path)
        if name in ("", ":memory:"):
            return None
    return os.path.realpath(name)


def _make_directory(directory: Path) -> None:
    """The SQLite file's directory, created if missing; a path that cannot be one (a
    file in the way, no permission) is an unreachable database, not a crash."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"the database directory {directory} cannot be created: "
                          f"{exc.strerror or exc}") from exc


#: The backends the service runs on (drivername before and after ``+``): SQLite through
#: the standard library, PostgreSQL through psycopg 3.
SUPPORTED_DRIVERS = {("sqlite", ""), ("sqlite", "pysqlite"), ("postgresql", "psycopg")}


def parse_url(url: str) -> URL:
    """The parsed URL of a supported backend, else ConfigurationError naming
    CREDIT_DATABASE_URL (without repeating the URL, which may hold a password)."""
    example = "sqlite:///var/credit.db or postgresql://user@host:5432/dbname"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"CREDIT_DATABASE_URL is not a database URL ({exc}); "
                                 f"expected e.g. {example}.") from None
    backend, _, driver = parsed.drivername.partition("+")
    if (backend, driver) not in SUPPORTED_DRIVERS:
        raise ConfigurationError(f"CREDIT_DATABASE_URL names {parsed.drivername!r}, which "
                                 "the service does not run on: use SQLite or PostgreSQL "
                                 f"(psycopg 3), e.g. {example}.")
    if backend == "postgresql":
        _check_options(parsed)
    return parsed


def _check_options(parsed: URL) -> None:
    """The URL's query as libpq would take it: an option it does not know (``sslmod=``,
    ``connect_timout=``) is a configuration error named here, not a driver's traceback
    on the first connection. Values are the server's and libpq's to judge (a bad one is
    a connection refused, :func:`_configure_postgresql`)."""
    import psycopg
    for name in parsed.query:
        try:
            psycopg.conninfo.conninfo_to_dict(psycopg.conninfo.make_conninfo(**{name: "1"}))
        except psycopg.ProgrammingError:
            raise ConfigurationError(f"CREDIT_DATABASE_URL has the connection option "
                                     f"{name!r}, which PostgreSQL's client does not know "
                                     "(a misspelling?).") from None


def described(url: str) -> str:
    """Which database a URL names, without what may hold a password (the user part, and
    the query, where libpq takes ``password=`` too): backend, host, port and name."""
    u = parse_url(url)
    if u.get_backend_name() == "sqlite":
        return f"sqlite {u.database or ':memory:'}"
    return f"{u.get_backend_name()} {u.host or 'localhost'}:{u.port or 'default'}/{u.database}"


def make_engine(url: str | None = None, **kw) -> Engine:
    """An engine configured for the append lock on either backend."""
    url = normalise_url(url)
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_file(parsed):  # its path, also for a URI filename (``file:…``)
            _make_directory(Path(sqlite_file(parsed)).parent)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                               **kw)
        _configure_sqlite(engine)
    else:
        # No pool_pre_ping (a round trip on every checkout): a dead pooled connection
        # surfaces as ConnectionLost and the request is retried once (api/auth.py).
        engine = create_engine(url, isolation_level="READ COMMITTED", **kw)
        _configure_postgresql(engine)
    return engine


#: Every PostgreSQL connection's default isolation, whatever the server's or role's.
READ_COMMITTED = "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"


def _configure_postgresql(engine: Engine) -> None:
    """The engine's ``isolation_level`` reaches only the transactions psycopg begins
    itself; a served score's connection (served_scores.py) stays in autocommit and sends
    its own BEGIN, and its one-call append needs READ COMMITTED (the function reads the
    head after taking the append lock; under a REPEATABLE READ or SERIALIZABLE default
    it would read it in a snapshot from before the lock). So every connection sets it
    as its session's default when it opens; and a bound on every lock wait
    (:data:`LOCK_WAIT_MS`: ``pg_advisory_xact_lock`` waits like any lock, in the unit of
    work and in the one-call append alike; the server's 55P03 is an OperationalError,
    a 503 with nothing written)."""
    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        try:
            return dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.ProgrammingError as exc:
            # Refused by the client before any server answered (a connection option's
            # value, ``connect_timeout=x``): a database that cannot be reached as
            # configured (503, exit 2), never taken for a fault in a statement (500).
            raise dialect.loaded_dbapi.OperationalError(
                f"the connection was refused by the client: {exc}") from exc

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # In autocommit: no BEGIN and COMMIT around it; both settings in one message
        # (one round trip, parameterless, so psycopg sends it as a simple query).
        autocommit, dbapi_conn.autocommit = dbapi_conn.autocommit, True
        try:
            dbapi_conn.execute(f"{READ_COMMITTED}; SET lock_timeout = {LOCK_WAIT_MS}")
        finally:
            dbapi_conn.autocommit = autocommit


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions take the append lock at BEGIN
    (SQLite); on PostgreSQL the audit log takes the advisory lock explicitly."""
    return engine.execution_options(**{WRITE_OPTION: True})


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Create or migrate the schema to the newest revision; safe to run again."""
    url = normalise_url(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or unreadable(exc.orig):
            raise Unavailable("the database cannot be reached or read") from exc
        raise
    except CommandError as exc:  # a revision this version does not ship
        raise Unavailable("the database's schema is not one this version of the service "
                          "knows (migrated by a newer version, or another application's "
                          "database)") from exc
    finally:
        engine.dispose()
