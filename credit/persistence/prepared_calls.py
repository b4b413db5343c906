"""The statements a served score sends on PostgreSQL, prepared once per connection and
run through libpq itself (issue 10, twenty-seventh pass).

psycopg's ``execute`` is general: per call it converts the query, picks a dumper for each
parameter, drives a generator through its wait loop, keeps its own cache of prepared
statements and builds the result with a loader per column. For the few statements a
served score sends on every request (the read at the head, the append's one call, and
on a memo miss the read of the rows) that machinery cost about 60 µs of a worker's CPU
per statement on the bench machine, as much as the round trip's own system calls
(bench/README.md, twenty-seventh pass). A :class:`PreparedCall` is prepared once per
connection under a fixed name, sends its parameters as text, waits on the socket with
``poll`` (the GIL released, as psycopg's wait releases it) and hands back its first row,
its text columns converted by position in the connection's own encoding.

What stays psycopg's is the connection: opened by SQLAlchemy's pool with its set-up, in
psycopg's non-blocking mode, its errors. An error result is raised as the exception
psycopg raises for it (``error_from_result``), and a broken connection makes psycopg's
``pq`` layer raise its OperationalError, so the caller's disconnect handling
(served_scores.py ``_connection``) is unchanged. A statement the server no longer knows
(psycopg sends DEALLOCATE ALL after a ROLLBACK on a connection where it has prepared
statements of its own) is prepared again and sent once more: the server refused it
before executing anything.

PostgreSQL only; SQLite's statements cost no round trip and go through its own driver.
A statement's ``:name`` parameters are found outside its quoted strings and identifiers
and its comments (``_PIECES``), and a ``::`` cast is never one. A string is read as
standard SQL writes it (a doubled quote inside, no backslash escapes); neither an
``E'…'`` string with a backslash-escaped quote, nor a dollar-quoted string, nor a block
comment nested in another is recognised, so none of the SQL given here may hold one.
"""

from __future__ import annotations

import re
import select
from typing import Callable

from psycopg import errors, pq

_FATAL = pq.ExecStatus.FATAL_ERROR
_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
# The pieces of SQL a parameter cannot be inside, kept as they are: a quoted string or
# identifier (a doubled quote inside is the quote itself), a line comment, a block
# comment; or, outside them, a parameter: a colon not after a colon or a word character
# (``x::text`` is a cast, ``'HH24: MI'`` a string), then its name.
_PIECES = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/"""
                     r"|(?<![:\w]):(\w+)", re.DOTALL)


def replace_parameters(sql: str, write: Callable[[str], str]) -> str:
    """``sql`` with each ``:name`` parameter outside its strings, quoted identifiers and
    comments (``_PIECES``) replaced by ``write(name)``: ``$1`` for a prepared call,
    ``%(name)s`` for psycopg's ``execute`` (served_scores.py)."""
    return _PIECES.sub(lambda m: m.group(0) if m.group(1) is None else write(m.group(1)),
                       sql)


class PreparedCall:
    """One statement: its name on the server, its SQL with ``:name`` parameters numbered
    ``$1``, ``$2``… in the order they first appear, and that order."""

    def __init__(self, name: str, sql: str):
        self.name = name.encode()
        order: list[str] = []

        def number(name: str) -> str:
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"
        self.sql = replace_parameters(sql, number).encode()
        self.params = tuple(order)

    def prepare(self, driver, prepared: set[bytes]) -> None:
        """Prepare the statement on the psycopg connection ``driver`` unless ``prepared``
        (the names already prepared there) has it."""
        if self.name not in prepared:
            _run(driver.pgconn, lambda: driver.pgconn.send_prepare(self.name, self.sql),
                 driver.info.encoding)
            prepared.add(self.name)

    def first_row(self, driver, values: dict, prepared: set[bytes], types: tuple
                  ) -> tuple | None:
        """Run the statement on the psycopg connection ``driver`` with ``values`` (by
        name: str, int or None) and return its first row, each column converted by
        ``types`` (int or str, by position; NULL is None), or None when it returns no
        row. ``prepared``: the names already prepared on this connection (updated)."""
        encoding = driver.info.encoding
        args = [None if v is None else str(v).encode(encoding)
                for v in (values[p] for p in self.params)]
        pgconn = driver.pgconn

        def send():
            pgconn.send_query_prepared(self.name, args)
        self.prepare(driver, prepared)
        try:
            result = _run(pgconn, send, encoding)
        except errors.InvalidSqlStatementName:  # deallocated behind our back
            prepared.discard(self.name)
            self.prepare(driver, prepared)
            result = _run(pgconn, send, encoding)
        if result.ntuples == 0:
            return None
        return tuple(None if v is None else int(v) if t is int else v.decode(encoding)
                     for t, v in zip(types, (result.get_value(0, c)
                                             for c in range(result.nfields)), strict=True))


def _run(pgconn, send, encoding: str):
    """Send, flush, and read every result of one command (libpq's asynchronous
    protocol, as the docs of PQflush and PQconsumeInput describe it); its result, or
    the first error raised (an unexpected status as psycopg's InterfaceError)."""
    send()
    while pgconn.flush():
        if _wait(pgconn.socket, select.POLLIN | select.POLLOUT) & select.POLLIN:
            pgconn.consume_input()
    result = error = None
    while True:
        while pgconn.is_busy():
            _wait(pgconn.socket, select.POLLIN)
            pgconn.consume_input()
        r = pgconn.get_result()
        if r is None:
            break
        if r.status == _FATAL:
            error = error or errors.error_from_result(r, encoding=encoding)
        elif r.status in _OK:
            result = r
        else:
            error = error or errors.InterfaceError(
                f"unexpected result {pq.ExecStatus(r.status).name}")
    if error is not None:
        raise error
    if result is None:
        raise errors.InterfaceError("no result")
    return result


def _wait(fd: int, events: int) -> int:
    """Block until the socket is ready (poll releases the GIL); the events that are."""
    poller = select.poll()
    poller.register(fd, events)
    return poller.poll()[0][1]
