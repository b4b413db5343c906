"""An auditor's read-only access (a role granted SELECT only on PostgreSQL, a SQLite file
opened ``mode=ro``): ``credit audit verify`` walks the chain and gives its verdict, exit 0
or 1, saying on stderr that the run could not be stored — not a traceback and exit 1
("not intact") for an intact chain. A write through such access is a 503, never a 500
(persistence/failures.py ``refuses_access``)."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from credit.cli import main as cli
from credit.services.records import create_record
from tests.conftest import _pg_admin_engine
from tests.live_server import make_uscc, record_body

from .helpers import tamper
from .test_checkpoints import REG

pytestmark = pytest.mark.db


@contextmanager
def _read_only_url(database_url: str):
    """The same database through access that may only read it."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        yield f"sqlite:///file:{path}?mode=ro&uri=true"
        return
    role = f"credit_ro_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    owner = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    with owner.connect() as c:
        c.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        yield database_url.replace("postgres@", f"{role}@", 1)
    finally:
        with owner.connect() as c:
            c.exec_driver_sql(f'DROP OWNED BY "{role}"')
        owner.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def _verify(url: str):
    return CliRunner().invoke(cli, ["audit", "verify"], catch_exceptions=False,
                              env={"CREDIT_DATABASE_URL": url, "CREDIT_SIGNING_KEY": ""})


def _verdict(output: str) -> dict:
    return json.loads(next(ln for ln in output.splitlines() if ln.startswith("{")))


@pytest.fixture
def logged(ctx):
    for i in range(2):
        create_record(ctx, REG, record_body(make_uscc(i + 1), f"文{i}", decided_on="2026-01-10"))
    return ctx


def test_an_intact_chain_read_only_is_exit_0_with_a_warning(logged, database_url):
    with _read_only_url(database_url) as url:
        r = _verify(url)
    assert r.exit_code == 0, r.output
    assert _verdict(r.output)["ok"] is True
    assert "was not stored" in r.stderr and "refuses this service's access" in r.stderr


def test_an_edited_chain_read_only_is_exit_1(logged, database_url):
    tamper(logged, "audit_entries",
           "UPDATE audit_entries SET actor = 'x' WHERE position = 1")
    with _read_only_url(database_url) as url:
        r = _verify(url)
    assert r.exit_code == 1, r.output
    assert _verdict(r.output)["ok"] is False
    assert "was not stored" in r.stderr


def test_a_write_through_read_only_access_is_503(logged, database_url):
    from api import create_app
    from credit.services.bootstrap import build_context
    from credit.services.tokens import create_token
    _, secret = create_token(logged, "test", role="regulator", name="柯桥区住房和城乡建设局",
                             sectors=["housing"])
    with _read_only_url(database_url) as url:
        ro = build_context(url)
        client = create_app({"CREDIT_CONTEXT": ro}).test_client()
        r = client.post("/api/v1/records", json=record_body(make_uscc(9), "文9",
                                                             decided_on="2026-01-10"),
                        headers={"Authorization": f"Bearer {secret}"})
        ro.uow.engine.dispose()
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.get_json()["error"] == "database_unavailable"


def test_a_sqlite_uri_filename_makes_no_directory_named_file(logged, database_url,
                                                             tmp_path, monkeypatch):
    """The engine makes the database's directory if missing: for a URI filename that is
    the directory of its path, not ``./file:/…`` under the working directory."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite URL")
    monkeypatch.chdir(tmp_path)
    with _read_only_url(database_url) as url:
        assert _verify(url).exit_code == 0
    assert not (tmp_path / "file:").exists()


def test_a_head_no_write_can_read_is_reported_with_the_same_warning(logged, database_url):
    """A head whose hash column is no UTF-8 text: no write can take the head, so the run
    that found it cannot be kept either; the verdict stands, the warning says so."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's dynamic typing")
    tamper(logged, "audit_entries", "UPDATE audit_entries SET sha256 = "
           "CAST(X'E4B8ADFF' AS TEXT) WHERE position = 2")
    r = _verify(database_url)
    assert r.exit_code == 1, r.output
    assert _verdict(r.output)["first_bad"] == {"position": 2, "problem": "hash_mismatch"}
    assert "was not stored (the log's newest entry was altered" in r.stderr
