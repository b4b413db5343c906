"""What a failed database call means for the request, in one place for both ways the
service talks to the database (the unit of work, uow.py, and a served score's own
statements, served_scores.py).

The line is whether COMMIT was sent. A connection lost *before* it wrote nothing: the
request may run once more on a new connection (:class:`ConnectionLost`, retried once by
api/auth.py; this replaces ``pool_pre_ping``). Lost *during or after* it, the outcome is
unknown, and a busy or unreachable database (an ``OperationalError``) is a 503 either way
(:class:`Unavailable`). So is a database that cannot be read at all: SQLite's "file is
not a database" and "database disk image is malformed" are the driver's base
``DatabaseError`` itself, and a database never migrated is PostgreSQL's undefined table,
or its undefined ``audit_append_served`` when migration 0010 was not applied
(:func:`unreadable`; SQLite's "no such table" is operational already). A misconfigured
or broken database is its state, not a bug in the request (and for ``credit audit
verify`` it is "cannot be reached", exit 2, not a chain that is "not intact", exit 1).
Anything else — a constraint, bad SQL, the subclasses of ``DatabaseError`` — is left to
propagate.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from credit.errors import ConnectionLost, CreditError, IntegrityFailure, Unavailable


def failure(*, lost: bool, operational: bool, commit_sent: bool, refused: bool = False,
            altered: bool = False) -> CreditError | None:
    """The error the request answers with, or None to let the original propagate. The
    messages are generic (they reach the client); the driver's own error is chained to
    them for the log. ``refused``: :func:`refuses_access`; ``altered``:
    :func:`altered_text` (a stored text the driver cannot decode is an altered
    database, not one that cannot be reached, though the driver calls it operational)."""
    if altered:
        return IntegrityFailure(ALTERED_TEXT)
    if lost and not commit_sent:
        return ConnectionLost("the database connection was lost")
    if refused and not lost:
        return Unavailable("the database refuses this service's access (a role without "
                           "the privilege, or a read-only server)")
    if lost or operational:
        return Unavailable("the database cannot be reached or is busy")
    return None


#: PostgreSQL's SQLSTATE for a missing relation: a database never migrated (SQLite says
#: "no such table" with an OperationalError, already a 503).
_UNDEFINED_TABLE = "42P01"
#: The server functions that raise it for a relation that does not exist (PostgreSQL's
#: parse_relation.c and namespace.c; the error's ``source_function`` field).
_MISSING_RELATION_RAISED_BY = frozenset({"parserOpenTable", "RangeVarGetRelidExtended"})


#: What reading a stored row raises when one of its values was edited behind the service
#: into what its column's type cannot give back: PostgreSQL's date ``'infinity'`` (the
#: driver's DataError), on SQLite text where a date belongs (the type's ValueError) or
#: an integer beyond 64 bits (OverflowError). A verification names the table instead
#: of failing (services/verification.py).
UNREADABLE_VALUE = (DataError, ValueError, TypeError, OverflowError)


class UnreadableHistory(IntegrityFailure):
    """A subject's stored record, event, rating or registration that no longer reads
    back as what its column holds (:data:`UNREADABLE_VALUE`, raised by the read of the
    score's inputs, never by the engine): the database was altered behind the service.
    A score refuses it; a trace's verification reports that its inputs no longer replay
    it."""

    def __init__(self, uscc: str, what: str = "record or event"):
        super().__init__(f"A stored {what} of {uscc} no longer reads back: the database "
                         "was altered behind the service. Run `credit audit verify`.")


#: What a request answers when the driver could not decode a stored text: SQLite
#: keeps any bytes written as TEXT behind the service (the service writes only
#: Python text), and its driver refuses the whole read with an OperationalError that
#: read as a database that cannot be reached.
ALTERED_TEXT = ("A stored text is not UTF-8: the database was altered behind the service. "
                "Run `credit audit verify`.")


def altered_text(exc: BaseException | None) -> bool:
    """Whether a read failed on a stored text its driver could not decode
    (:data:`ALTERED_TEXT`; the sqlite3 module's own message), raised through SQLAlchemy
    (a unit of work) or by the driver itself (the served scores' own connection)."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    return type(driver).__name__ == "OperationalError" \
        and str(driver).startswith("Could not decode to UTF-8")


def unreadable(driver_error: BaseException) -> bool:
    """The driver's own base ``DatabaseError``, none of its subclasses: the file (or
    server) answered, but not as a database (module docstring); or a database without
    the service's tables, the same state on both backends."""
    return (type(driver_error).__name__ == "DatabaseError" or _no_such_relation(driver_error)
            or _no_append_function(driver_error))


#: PostgreSQL's SQLSTATE for a function that does not exist (or no function of that
#: name takes such arguments).
_UNDEFINED_FUNCTION = "42883"
#: The one server function the service calls (migration 0010, served_scores.py).
_APPEND_FUNCTION = "audit_append_served"


def _no_append_function(driver_error: BaseException) -> bool:
    """42883 naming ``audit_append_served``: a database not migrated to 0010 (``credit db
    upgrade`` not run), the same state as a missing table. PostgreSQL words a call with
    arguments no version of it takes the same way; the service's one call of it is held
    to the function by tests/integration/test_served_append_function.py."""
    if getattr(driver_error, "sqlstate", None) != _UNDEFINED_FUNCTION:
        return False
    diag = getattr(driver_error, "diag", None)
    return _APPEND_FUNCTION in (getattr(diag, "message_primary", None) or "")


def _no_such_relation(driver_error: BaseException) -> bool:
    """42P01 for a relation that does not exist, not the same SQLSTATE's "missing
    FROM-clause entry for table", which is a query of ours that is wrong (a bug: it
    propagates). Told apart by the server function that raised it, which no
    ``lc_messages`` translates (the parser's ``parserOpenTable``, or
    ``RangeVarGetRelidExtended`` for a statement naming a table outside a query; the
    wrong query is ``errorMissingRTE``), or else by the untranslated message."""
    if getattr(driver_error, "sqlstate", None) != _UNDEFINED_TABLE:
        return False
    diag = getattr(driver_error, "diag", None)
    if getattr(diag, "source_function", None) in _MISSING_RELATION_RAISED_BY:
        return True
    primary = getattr(diag, "message_primary", None) or ""
    return primary.startswith("relation ") and primary.endswith(" does not exist")


#: PostgreSQL's SQLSTATEs for a statement the server refuses to run for whom or where it
#: runs: insufficient_privilege (a role granted SELECT only), read_only_sql_transaction
#: (a hot standby, ``default_transaction_read_only``).
_REFUSED = frozenset({"42501", "25006"})
#: SQLite's primary result code SQLITE_READONLY (a file opened ``mode=ro``, or not
#: writable), in the low byte of the extended code.
_SQLITE_READONLY = 8


def refuses_access(driver_error: BaseException) -> bool:
    """The database answered but will not let this connection do it: a role without the
    privilege or a read-only server (``_REFUSED``), a read-only SQLite file. The
    database's configuration, not the request's fault: a 503, as for a database that
    cannot be reached, and for ``credit audit verify`` no verdict of "not intact"."""
    if getattr(driver_error, "sqlstate", None) in _REFUSED:
        return True
    code = getattr(driver_error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == _SQLITE_READONLY


def unit_of_work_failure(exc: BaseException | None, *, commit_sent: bool
                         ) -> CreditError | None:
    """:func:`failure` for what a unit of work's session raised (SQLAlchemy's wrapper
    says whether it invalidated the connection); None for anything else."""
    if not isinstance(exc, DBAPIError):
        return None
    return failure(lost=exc.connection_invalidated, commit_sent=commit_sent,
                   operational=isinstance(exc, OperationalError) or unreadable(exc.orig),
                   refused=refuses_access(exc.orig), altered=altered_text(exc))
