"""The append-only, hash-chained audit log — also the service's system-time clock.

How appends are serialised (several gunicorn workers, several hosts, one database):

* The lock lives in the database, never in the process. On SQLite the write
  transaction starts with ``BEGIN IMMEDIATE`` (database.py), which takes the single
  RESERVED lock before anything is read; our other writers wait in the append queue
  before it (append_queue.py), anything else on the busy timeout. On
  PostgreSQL the transaction runs under READ COMMITTED and first calls
  ``pg_advisory_xact_lock(APPEND_LOCK)``, held until COMMIT or ROLLBACK. Because READ
  COMMITTED takes a fresh snapshot per statement, everything committed by the previous
  holder is visible to the statements that follow the lock.
* Only after the lock is held do we read the head of the chain and derive the next
  ``position`` (last + 1 — never a sequence, which would leave gaps on rollback) and
  ``at`` = max(now, previous at + 1 µs), so ``at`` strictly increases with ``position``.
  Duplicate and idempotency checks also run after the lock, so two racing requests
  cannot both pass them.
* Each entry is stored as its exact canonical text; ``sha256`` hashes those bytes and the
  next entry links to it. The text is served parsed and never rebuilt from columns.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from credit import canonical_text
from credit.domain import canonical
from credit.domain.dates import (
    ONE_MICROSECOND,
    format_instant,
    from_micros,
    parse_instant,
    to_micros,
)
from credit.domain.token_expiry import expired_at
from credit.errors import IntegrityFailure

from .tables import AuditEntryRow

GENESIS = "0" * 64
# Arbitrary 64-bit key naming "the credit audit log append lock" (ASCII "CREDITLG").
APPEND_LOCK = 0x4352454449544C47


_A = AuditEntryRow.__table__
_HEAD = select(_A.c.position, _A.c.at_us, _A.c.sha256).order_by(_A.c.position.desc()).limit(1)
_INSERT = insert(_A)


#: The latest ``at`` an entry can carry (its CST text must still be a date): past it, a
#: time column was edited behind the service.
LAST_AT_US = 253_402_271_999_999_999  # 9999-12-31T23:59:59.999999+08:00


@dataclass(frozen=True)
class Head:
    """The newest entry as the next append needs it: its position, ``at`` (µs) and
    hash."""

    position: int
    at_us: int | None
    sha256: str

    def at(self) -> datetime | None:
        """Its ``at`` as an instant (None for the empty log). A column no instant can
        have (edited behind the service) would fail every append and checkpoint with
        an overflow: it is IntegrityFailure (500 ``integrity_failure``) instead, which
        ``credit audit verify`` locates; lists of entries still open (they read the
        position only)."""
        if self.at_us is None:
            return None
        # Strictly below: the next entry's ``at`` (1 µs later) must still be written.
        if type(self.at_us) is not int or not 0 <= self.at_us < LAST_AT_US:
            raise IntegrityFailure(f"The time column of audit entry {self.position} is no "
                                   "instant: it was altered. `credit audit verify` "
                                   "locates it.")
        return from_micros(self.at_us)


def stored_instant(at_us) -> str:
    """A stored µs column as the instant text entries write, or as the number stored
    when no entry could carry it (edited behind the service past any instant): a list or
    a verification that shows it must still answer."""
    if type(at_us) is int and 0 <= at_us <= LAST_AT_US:
        return format_instant(from_micros(at_us))
    return f"at_us={at_us!r}"


# Entry kinds whose payload names the subject as ``uscc`` (the others name it inside
# their ``record`` or ``event``).
USCC_IN_PAYLOAD = ("score.served", "application.submitted", "application.decided",
                   "agency.rated")


def _expected_uscc(entry: dict) -> str | None:
    """The subject an entry is about, as its look-up column must say."""
    p = entry.get("payload") or {}
    if entry.get("kind") in USCC_IN_PAYLOAD:
        return p.get("uscc")
    for key in ("record", "event"):
        if isinstance(p.get(key), dict):
            return p[key].get("uscc")
    return None


def shown_text(stored):
    """A stored value as a page shows it: bytes that are no UTF-8 text (read as stored,
    VerificationRepository.text_as_stored) with each undecodable byte as ``\\xNN``;
    anything else as it is."""
    return stored.decode("utf-8", "backslashreplace") if isinstance(stored, bytes) \
        else stored


def hashes_to(text, sha256) -> bool:
    """Whether a stored text — an entry's, an evaluation's document — still hashes to
    ``sha256`` (a hash stored with it, a checkpoint's, a run's): its exact UTF-8 bytes,
    as it was hashed. Text only: a value edited into bytes or a number (SQLite keeps
    any) does not."""
    return isinstance(text, str) and canonical.sha256_hex(text) == sha256


def columns_match(row: AuditEntryRow, entry: dict) -> bool:
    """The typed columns used to find entries (position, kind, at, actor, uscc) say what
    the hashed text says; otherwise an edit could hide an entry from a filtered view, or
    list it where it does not belong (``audit verify``, a trace's verification, the
    inquiry log and the console's lenient lists all judge by this)."""
    try:
        at_us = to_micros(parse_instant(entry["at"]))
    except (KeyError, TypeError, ValueError):
        return False
    return (row.position == entry.get("position") and row.kind == entry.get("kind")
            and row.actor == entry.get("actor") and row.at_us == at_us
            and row.uscc == _expected_uscc(entry))


def entry_pieces(kind: str, actor: str, payload_text: str) -> tuple[str, str]:
    """The entry's text before its ``at`` and from after its ``at`` up to its
    position's digits: everything that is known before the append lock is taken.
    :func:`entry_text` joins them around the rest; so does PostgreSQL's
    ``audit_append_served`` (migration 0010), which fills in the rest under the lock."""
    return (f'{{"actor":{_string(actor)},"at":',
            f',"kind":{_string(kind)},"payload":{payload_text},"position":')


def entry_text(position: int, kind: str, at: str, actor: str, payload_text: str,
               prev_sha256: str) -> str:
    """``canonical.dumps`` of the entry without its hash, assembled around a payload that
    is canonical text already: the keys in sorted order (actor, at, kind, payload,
    position, prev_sha256), the same separators and escaping, so the bytes are the same
    (tests/unit/test_entry_text.py)."""
    before_at, after_at = entry_pieces(kind, actor, payload_text)
    return (f'{before_at}{_string(at)}{after_at}{int(position)},'
            f'"prev_sha256":{_string(prev_sha256)}}}')


def next_instant(head: Head, now: datetime) -> datetime:
    """The ``at`` of the entry after ``head``: max(now, head's at + 1 µs)."""
    at = head.at()
    return now if at is None else max(now, at + ONE_MICROSECOND)


def entry_row(head: Head, kind: str, actor: str, payload_text: str, uscc: str | None,
              at: datetime) -> tuple[dict, str]:
    """The stored row of the entry after ``head`` (position + 1, its exact text and
    hash) and its ``at`` as written. Every append goes through here: the unit of work's
    (:meth:`AuditLog.append_text`) and the served scores' group append."""
    at_us = to_micros(at)
    if head.at_us is not None and at_us <= head.at_us:
        raise RuntimeError("audit time must strictly increase")
    position, at_text = head.position + 1, format_instant(at)
    body = entry_text(position, kind, at_text, actor, payload_text, head.sha256)
    return ({"position": position, "kind": kind, "at_us": at_us, "actor": actor,
             "uscc": uscc, "text": body, "sha256": canonical.sha256_hex(body)}, at_text)


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def read_entry(text: str, decoder: json.JSONDecoder | None = None) -> dict | None:
    """A stored entry's text parsed (by ``decoder``, by default json's own), or None when
    it is no JSON object (it was altered after it was written): the one reader of stored
    entry text, for those that must answer either way (the verifiers)."""
    if not isinstance(text, str):  # SQLite keeps whatever is written: bytes, a number
        return None
    try:
        entry = (decoder or _PLAIN).decode(text)
    except (ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


_INT64 = 2**63


def _int64(digits: str) -> int:
    """An integer of the entry text: the service writes none beyond 64 bits (positions,
    ids), and JSON readers (orjson among them, the response's) refuse them."""
    value = int(digits)
    if not -_INT64 <= value < _INT64:
        raise ValueError("an integer beyond 64 bits")
    return value


def has_utf8(entry) -> bool:
    """Whether every string of ``entry`` can be written as UTF-8: an escaped lone
    surrogate (``\\ud800``) parses, but no response can carry it, and the service never
    writes one (its text is written as UTF-8, escapes only for control characters)."""
    try:
        json.dumps(entry, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_float(text: str):
    raise ValueError(f"{text} is not in canonical JSON (API.md §6: no floats)")


_PLAIN = json.JSONDecoder()
#: Built once: json.loads with hooks builds a decoder per call.
_AS_WRITTEN = json.JSONDecoder(parse_int=_int64, parse_float=_no_float,
                               parse_constant=_no_float)


def parse_entry(row: AuditEntryRow) -> dict:
    """The entry exactly as stored: its canonical text parsed, plus its hash. A text
    that is not what the service writes — no JSON object, a payload that is no object,
    a float, an integer beyond 64 bits, a lone surrogate — was altered after it was written:
    IntegrityFailure (500 ``integrity_failure``, as for any stored data that no longer
    matches its hash), never served as if it were an entry."""
    entry = read_entry(row.text, _AS_WRITTEN)
    if (entry is None or not isinstance(entry.get("payload"), dict)
            or ("\\u" in row.text and not has_utf8(entry))):
        raise IntegrityFailure(f"Audit entry {row.position} is not the text it was written "
                               "as: it was altered. `credit audit verify` locates it.")
    entry["sha256"] = row.sha256
    return entry


class AuditLog:
    """Appends entries inside the caller's transaction (the unit of work commits)."""

    def __init__(self, session: Session, clock: Callable[[], datetime]):
        self.session = session
        self.clock = clock
        self._head: Head | None = None
        self._prev_sha = GENESIS
        self._batch: list[dict] | None = None
        #: (µs, refuse): every append's ``at`` must be earlier (:meth:`stamp_before`).
        self._deadline: tuple[int, Callable[[], None]] | None = None

    def lock(self) -> None:
        """Take the append lock (see module docstring) and read the chain's head."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK})
        self._head = self._read_head()

    @property
    def locked(self) -> bool:
        return self._head is not None

    def _read_head(self) -> Head:
        row = self.session.connection().execute(_HEAD).first()
        if row is None:
            return Head(0, None, GENESIS)
        return Head(row.position, row.at_us, row.sha256)

    def head(self) -> Head:
        if self._head is None:
            return self._read_head()
        return self._head

    def next_at(self) -> datetime:
        """The ``at`` the next append gets: max(now, previous at + 1 µs)."""
        return next_instant(self._require_lock(), self.clock())

    def next_position(self) -> int:
        return self._require_lock().position + 1

    def _require_lock(self) -> Head:
        if self._head is None:
            raise RuntimeError("append without the append lock")
        return self._head

    def stamp_before(self, deadline_us: int, refuse: Callable[[], None]) -> None:
        """From now on in this transaction, an append whose ``at`` would not be earlier
        than ``deadline_us`` calls ``refuse()``, which raises, so the unit of work rolls
        back whole: the expiry of the token the use case acts for, so that none of the
        entries it causes is stamped at or after it, however long the use case runs (an
        evaluation stamps one entry per bidder)."""
        self._deadline = (deadline_us, refuse)

    def append(self, kind: str, actor: str, payload: dict, *, uscc: str | None = None,
               at: datetime | None = None) -> dict:
        """Append one entry; returns it exactly as it will be served."""
        position, at_text, sha = self.append_text(kind, actor, canonical_text.dumps(payload),
                                                  uscc=uscc, at=at)
        return {"position": position, "kind": kind, "at": at_text, "actor": actor,
                "payload": payload, "prev_sha256": self._prev_sha, "sha256": sha}

    def append_text(self, kind: str, actor: str, payload_text: str, *,
                    uscc: str | None = None, at: datetime | None = None
                    ) -> tuple[int, str, str]:
        """Append one entry whose payload is already canonical text (a served score's
        trace is serialised before the lock is taken); returns its position, ``at``
        and ``sha256``."""
        head = self._require_lock()
        at = at or self.next_at()
        if self._deadline is not None and expired_at(self._deadline[0], to_micros(at)):
            self._deadline[1]()
        row, at_text = entry_row(head, kind, actor, payload_text, uscc, at)
        if self._batch is not None:
            self._batch.append(row)
        else:
            # Core insert: entries are never read back as ORM objects in this transaction.
            self.session.connection().execute(_INSERT, row)
        self._prev_sha = head.sha256
        self._head = Head(row["position"], row["at_us"], row["sha256"])
        return row["position"], at_text, row["sha256"]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Entries appended inside the block are inserted together at its end, in one
        statement (an evaluation's traces: one per bidder). Positions, ``at`` and hashes
        are assigned as each is appended; nothing inside the block may read the log."""
        self._batch = []
        try:
            yield
            if self._batch:
                self.session.connection().execute(_INSERT, self._batch)
        finally:
            self._batch = None

    def position_known_at(self, known_at: datetime) -> int:
        """The highest position with ``at ≤ known_at`` (0 when none)."""
        value = self.session.execute(
            select(func.max(AuditEntryRow.position))
            .where(AuditEntryRow.at_us <= to_micros(known_at))
        ).scalar()
        return int(value or 0)
