"""credit/persistence/failures.py against a real database: what the database's state
explains (never migrated) is a 503; a bug in our own SQL is not hidden behind one."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from credit.errors import Unavailable

pytestmark = pytest.mark.db


def test_bad_sql_sharing_the_undefined_table_sqlstate_is_not_database_unavailable(ctx):
    """PostgreSQL's 42P01 (undefined_table) is not only "relation … does not exist" (a
    database never migrated, rightly 503): it is also "missing FROM-clause entry for
    table", a query of ours that is wrong. Such a bug must propagate (a 500 logged with
    its traceback; failures.py: "bad SQL … is left to propagate"), not answer 503
    ``database_unavailable`` as if the database were down."""
    if ctx.uow.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's SQLSTATE 42P01")
    with pytest.raises(ProgrammingError) as caught:
        with ctx.uow(write=False) as uow:
            uow.session.execute(text("SELECT t.id FROM audit_entries AS e"))
    assert caught.value.orig.sqlstate == "42P01"  # the same SQLSTATE as a missing table
    assert "missing FROM-clause" in str(caught.value.orig)


def test_a_table_that_does_not_exist_is_still_unavailable(ctx):
    """The state the change was for stays a 503 (on SQLite an OperationalError)."""
    with pytest.raises(Unavailable):
        with ctx.uow(write=False) as uow:
            uow.session.execute(text("SELECT 1 FROM no_such_table_of_ours"))
