"""Shared fixtures. Database suites run once per available backend:

* ``sqlite``: a fresh file database per test, copied from a migrated template;
* ``postgresql``: a fresh database per test, created from a migrated template database
  on the server at ``CREDIT_TEST_PG`` (default 127.0.0.1:5432, trust auth) and dropped
  afterwards. When the server does not answer the PostgreSQL runs skip, visibly — or
  fail when ``CREDIT_REQUIRE_PG=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("CREDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS_RAN: set[str] = set()
BACKENDS_SKIPPED: dict[str, str] = {}


def in_ci() -> bool:
    """Running under CI (``CI=true``, set by ``.ci/run``): a missing tool is a failure."""
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> None:
    """A tool or data file a test needs is missing: skip visibly on a developer's
    machine, fail in CI (which installs everything with ``make deps``)."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _pg_admin_engine():
    from sqlalchemy import create_engine
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_reachable() -> str | None:
    try:
        eng = _pg_admin_engine()
        with eng.connect() as c:
            c.exec_driver_sql("SELECT 1")
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {PG_ADMIN_URL.split('@')[-1]} not reachable: {type(exc).__name__}"


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    from credit.persistence.database import upgrade
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _pg_template():
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CREDIT_REQUIRE_PG") == "1":
            pytest.fail(f"CREDIT_REQUIRE_PG=1 but {problem}")
        BACKENDS_SKIPPED["postgresql"] = problem
        pytest.skip(problem)
    from credit.persistence.database import upgrade
    name = f"credit_tpl_{uuid.uuid4().hex[:10]}"
    eng = _pg_admin_engine()
    with eng.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    eng.dispose()


@contextmanager
def _pg_database(prefix: str, template: str | None = None):
    """A PostgreSQL database of its own (a copy of ``template``, or empty), dropped
    afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    eng = _pg_admin_engine()
    with eng.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"'
                          + (f' TEMPLATE "{template}"' if template else ""))
    BACKENDS_RAN.add("postgresql")
    try:
        yield _pg_url(name)
    finally:
        with eng.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_database_url(request, tmp_path):
    """A database that answers but holds none of the service's tables, on each backend
    (an operator who forgot ``credit db upgrade``)."""
    if request.param == "sqlite":
        BACKENDS_RAN.add("sqlite")
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    request.getfixturevalue("_pg_template")  # skips (or fails in CI) when unreachable
    with _pg_database("credit_e") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A freshly migrated, empty database of its own on each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "credit.db"
        shutil.copyfile(template, path)
        BACKENDS_RAN.add("sqlite")
        yield f"sqlite:///{path}"
        return
    with _pg_database("credit_t", request.getfixturevalue("_pg_template")) as url:
        yield url


class FakeClock:
    """A controllable system clock (aware, UTC); ``advance`` moves it forward."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now = self.now + timedelta(**kw)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc))


TEST_MODELS = Path(__file__).parent / "models"


@pytest.fixture
def ctx(database_url, clock):
    """A service context on a fresh database with a controllable clock."""
    from credit.services.bootstrap import build_context
    context = build_context(database_url, clock=clock,
                            extra_model_dirs=[TEST_MODELS] if TEST_MODELS.exists() else [])
    yield context
    context.uow.engine.dispose()


@pytest.fixture
def tctx(ctx, tmp_path):
    """``ctx`` with an identity key of its own (WARNINGS.md §2: personal values are kept
    as keyed hashes), for the tender loop's suites."""
    from tests.tender_data import identity_key_file
    ctx.settings = ctx.settings.with_(identity_key_path=identity_key_file(tmp_path))
    return ctx


def pytest_sessionfinish(session):
    # Under xdist each worker reports what it exercised to the controller.
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["credit_backends_ran"] = sorted(BACKENDS_RAN)
        out["credit_backends_skipped"] = dict(BACKENDS_SKIPPED)


def pytest_testnodedown(node, error):
    out = getattr(node, "workeroutput", {}) or {}
    BACKENDS_RAN.update(out.get("credit_backends_ran", []))
    BACKENDS_SKIPPED.update(out.get("credit_backends_skipped", {}))


def pytest_terminal_summary(terminalreporter, config):
    seed = config.getoption("randomly_seed", default=None)
    if seed is not None:  # pytest-randomly: the order of this run, to reproduce a failure
        terminalreporter.write_line(f"tests ran in random order; again: --randomly-seed={seed}")
    ran = ", ".join(sorted(BACKENDS_RAN)) or "none"
    terminalreporter.write_line(f"database backends exercised in this process: {ran}")
    for backend, why in BACKENDS_SKIPPED.items():
        terminalreporter.write_line(f"database backend skipped: {backend}: {why}")


def pytest_collection_modifyitems(items):
    """Every item under the node id its name says. Schemathesis (4.32) names its
    per-operation items ``test…[GET /api/v1/records]``, but under pytest 9, which builds
    an item's id from its function and its call spec, all 38 got the function's bare id.
    pytest-xdist schedules by id, so under ``make test``'s ``--dist loadfile`` one
    operation ran and the other 37 were silently dropped (found by counting: 2,852
    results for 2,890 collected items). pytest offers no public way to set an id; its
    structured id (``_id``, pytest 9) takes the name's brackets as its parameters."""
    for item in items:
        last = item.nodeid.rpartition("::")[2]
        if item.name != last and item.name.startswith(last + "[") \
                and getattr(getattr(item, "_id", None), "params", "") is None:
            item._id = item._id.with_params(item.name[len(last) + 1:-1])
