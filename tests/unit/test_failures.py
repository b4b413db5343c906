"""credit/persistence/failures.py: whether a failed database call may be retried is
decided by whether COMMIT was sent, in one place for both ways the service writes."""

import pytest

from credit.errors import ConnectionLost, Unavailable
from credit.persistence.failures import failure, unreadable


@pytest.mark.parametrize("lost, operational, commit_sent, expected", [
    (True, False, False, ConnectionLost),   # nothing was written: retried once
    (True, True, False, ConnectionLost),
    (True, False, True, Unavailable),       # outcome unknown: never retried
    (True, True, True, Unavailable),
    (False, True, False, Unavailable),      # busy or unreachable
    (False, True, True, Unavailable),
    (False, False, False, None),            # a bug or a constraint: propagates
    (False, False, True, None),
])
def test_the_line_is_whether_commit_was_sent(lost, operational, commit_sent, expected):
    got = failure(lost=lost, operational=operational, commit_sent=commit_sent)
    if expected is None:
        assert got is None
    else:
        assert type(got) is expected
        assert got.status == 503
        assert "127.0.0.1" not in got.message  # generic: the driver's text is logged


class _Diag:
    def __init__(self, source_function, message_primary):
        self.source_function = source_function
        self.message_primary = message_primary


class _UndefinedTable(Exception):
    """What psycopg raises for SQLSTATE 42P01: its ``sqlstate`` and ``diag`` fields."""

    sqlstate = "42P01"

    def __init__(self, source_function, message_primary):
        super().__init__(message_primary)
        self.diag = _Diag(source_function, message_primary)


@pytest.mark.parametrize("source_function, message, never_migrated", [
    # English, as the server answers here
    ("parserOpenTable", 'relation "audit_entries" does not exist', True),
    ("errorMissingRTE", 'missing FROM-clause entry for table "t"', False),
    # Under lc_messages = 'de_DE.UTF-8' (PostgreSQL 15's German catalogue): the text is
    # translated, the raising function is not
    ("parserOpenTable", 'Relation »audit_entries« existiert nicht', True),
    ("RangeVarGetRelidExtended", 'Relation »audit_entries« existiert nicht', True),
    ("errorMissingRTE", 'fehlender Eintrag in FROM-Klausel für Tabelle »t«', False),
    # A driver or server that does not report the function: the English message decides
    (None, 'relation "audit_entries" does not exist', True),
    (None, 'Relation »audit_entries« existiert nicht', False),
])
def test_a_database_never_migrated_is_told_from_a_wrong_query_in_any_language(
        source_function, message, never_migrated):
    """42P01 means both "relation … does not exist" (the database's state: 503) and
    "missing FROM-clause entry" (our bug: it propagates); a translated ``lc_messages``
    must not turn the first into a 500."""
    assert unreadable(_UndefinedTable(source_function, message)) is never_migrated


def test_another_sqlstate_is_not_a_missing_relation():
    error = _UndefinedTable("parserOpenTable", 'relation "x" does not exist')
    error.sqlstate = "42703"  # undefined_column
    assert unreadable(error) is False


class _Refused(Exception):
    def __init__(self, sqlstate=None, sqlite_errorcode=None):
        super().__init__("refused")
        self.sqlstate, self.sqlite_errorcode = sqlstate, sqlite_errorcode


@pytest.mark.parametrize("error, refused", [
    (_Refused(sqlstate="42501"), True),            # a role granted SELECT only
    (_Refused(sqlstate="25006"), True),            # a hot standby
    (_Refused(sqlite_errorcode=8), True),          # SQLITE_READONLY
    (_Refused(sqlite_errorcode=8 | (1 << 8)), True),  # SQLITE_READONLY_RECOVERY
    (_Refused(sqlstate="23505"), False),           # a constraint: propagates
    (_Refused(sqlite_errorcode=19), False),        # SQLITE_CONSTRAINT
    (_Refused(), False),
])
def test_a_database_that_refuses_access_is_a_503(error, refused):
    from credit.persistence.failures import refuses_access
    assert refuses_access(error) is refused
    got = failure(lost=False, operational=False, commit_sent=False, refused=refused)
    assert (got is not None and got.status == 503) is refused


@pytest.mark.parametrize("url, path", [
    ("sqlite:////srv/credit.db", "/srv/credit.db"),
    ("sqlite:///file:/srv/credit.db?mode=ro&uri=true", "/srv/credit.db"),
    ("sqlite:///file:///srv/credit.db?uri=true", "/srv/credit.db"),
    ("sqlite:///file:/srv/cr%C3%A9dit.db?uri=true&mode=ro", "/srv/crédit.db"),
    ("sqlite:///file:/srv/credit.db?mode=memory&uri=true", None),
    ("sqlite:///file::memory:?uri=true", None),
    ("sqlite://", None),
])
def test_the_files_beside_a_sqlite_database_follow_a_uri_filename(url, path):
    """append_queue.py and wal_sync.py keep their files beside the database: for a URI
    filename (an auditor's ``mode=ro``) beside its path, not under a directory named
    ``file:`` in the working directory."""
    from credit.persistence.database import sqlite_file
    assert sqlite_file(url) == path
