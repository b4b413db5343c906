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
