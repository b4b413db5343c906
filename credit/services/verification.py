"""``audit verify`` (API.md §6) as six verifiers sharing one walk of the chain.

* :class:`ChainVerifier` — the entries themselves: gap-free positions, each text
  hashing to its ``sha256``, each linked to its predecessor, and the typed look-up
  columns (kind, at, actor, uscc) saying what the hashed text says.
* :class:`RowVerifier` — every stored row of a table in :data:`VERIFIED_TABLES` against
  the hash its creating entry carries: a row edited (``row_mismatch``), deleted
  (``row_missing``) or forged with no entry (``row_unreferenced``). The tender loop's
  tables (WARNINGS.md) are verified a group of rows at a time (a tender's bids, a
  warning's bids: one digest per table in the creating entry, see
  services/tender_rows.py). Subjects (registered by their first record or their first
  tender) and tokens (compared field by field with ``token.created`` /
  ``token.revoked``) have verifiers of their own, and so has an evaluation's owner
  (:class:`EvaluationOwnerVerifier`: the token its members' traces name).
* :class:`CheckpointVerifier` — with a saved checkpoint, whether the log still extends
  it (see services/checkpoints.py).

A new kind of stored row is verified by adding one :class:`VerifiedTable` to
:data:`VERIFIED_TABLES`: the entry kinds that create its rows, where such an entry keeps
the row's key and hash, how to read the rows and how to hash one. For example::

    VerifiedTable("record_events", kinds=("record.revoked", "record.repaired"),
                  origin=lambda p: (p["event"]["id"], p["sha256"]),
                  rows=lambda uow: uow.records.iter_all_events(), key=lambda e: e.id,
                  digest=lambda e: canonical.digest(event_facts(e)),
                  column=lambda e: e.sha256)

A table whose entries hash a group of rows at once is declared the same way, its
``items`` turning the stored rows into groups (:data:`TENDER_TABLES`). A full and an
incremental run read the rows differently (all of them, or those created after a
position) but hand them through the same ``items`` to the same ``key`` and ``digest``,
so both check the same thing.

Nothing here appends anything; the walk reads one snapshot (see the unit of work).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Callable, Hashable, Iterable

from credit.domain import canonical
from credit.domain.dates import format_instant
from credit.errors import CreditError, IntegrityFailure, Unavailable
from credit.persistence.agency_tables import rating_facts
from credit.persistence.audit_log import (
    GENESIS,
    columns_match,
    hashes_to,
    read_entry,
    stored_instant,
)
from credit.persistence.failures import UNREADABLE_VALUE
from credit.persistence.repositories import (
    application_facts,
    decision_facts,
    ended_session_facts,
    event_facts,
    idempotency_facts,
    record_facts,
)

from .context import ServiceContext
from .run_seals import RunSeal
from .tender_rows import REGISTRATION_TABLES, row_facts

ENTRY_PROBLEMS = ("hash_mismatch", "prev_mismatch", "position_gap")


def problem(position: int | None, kind: str, table: str | None = None,
            row_id: Any = None) -> dict:
    """One finding: ``{"position", "problem", "table"?, "id"?}`` (API.md §6)."""
    out = {"position": position, "problem": kind}
    if table is not None:
        out["table"] = table
        out["id"] = row_id
    return out


# ------------------------------------------------------------------------ the chain

def _at(payload: dict, *path):
    """``payload[path[0]][path[1]]…``, or None where the shape is not as written."""
    value = payload
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class ChainVerifier:
    """Each entry in position order: position, hash, link, look-up columns."""

    def __init__(self) -> None:
        self.problems: list[dict] = []
        self.checked = 0
        self.last_position = 0
        self._prev, self._position = GENESIS, 1

    def resume(self, position: int, sha256: str) -> None:
        """Continue after a verified ``position`` whose entry hashes to ``sha256``."""
        self.last_position = position
        self._prev, self._position = sha256, position + 1

    @property
    def head(self) -> tuple[int, str]:
        """The last position walked and its stored hash."""
        return self.last_position, self._prev

    def check(self, row) -> dict | None:
        """Check one stored entry; returns its parsed text (None when unreadable)."""
        self.checked += 1
        entry = read_entry(row.text)
        if row.position != self._position:
            # Located at the first position that is missing (an entry deleted from the
            # middle is named, not the intact one after it); a position out of order
            # (reordered, or a number put where none belongs) at the one expected there.
            self.problems.append(problem(self._position, "position_gap"))
            kind = None
        elif entry is None or not hashes_to(row.text, row.sha256) \
                or entry.get("position") != row.position:
            kind = "hash_mismatch"
        elif entry.get("prev_sha256") != self._prev:
            kind = "prev_mismatch"
        elif not columns_match(row, entry):
            kind = None
            self.problems.append(problem(row.position, "row_mismatch", "audit_entries",
                                         row.position))
        else:
            kind = None
        if kind:
            self.problems.append(problem(row.position, kind))
        if type(row.position) is not int:  # SQLite keeps any value: walk on past it
            self._prev, self._position = row.sha256, self._position + 1
            return None
        self.last_position = max(self.last_position, row.position)
        self._prev, self._position = row.sha256, row.position + 1
        return entry


# ------------------------------------------------------------------- stored rows

@dataclass(frozen=True)
class VerifiedTable:
    """A table whose every row was created by one audit entry carrying the row's hash.

    ``origin(payload)`` gives ``(key, sha256)`` of the row an entry of one of ``kinds``
    created, or None when that entry created none (e.g. no Idempotency-Key was sent);
    ``digest(row)`` re-hashes a stored row and ``key(row)`` names it like ``origin``
    does; ``column(row)`` is the hash the row keeps itself, if it has that column.
    ``empty`` is the digest an entry holds for a group of rows it did not create (no
    documents in a tender, say): nothing is missing when no such row is stored.

    ``rows(uow)`` reads every stored row in key order; ``items(rows)`` makes of stored
    rows what ``key`` and ``digest`` take — the rows themselves, or for a table whose
    entries hash a group of rows at once, (group, facts of its rows) pairs."""

    table: str
    kinds: tuple[str, ...]
    origin: Callable[[dict], tuple[Hashable, str] | None]
    rows: Callable[[Any], Iterable]
    key: Callable[[Any], Hashable]
    digest: Callable[[Any], str]
    column: Callable[[Any], str | None] = field(default=lambda row: None)
    empty: str | None = None
    items: Callable[[Iterable], Iterable] = field(default=lambda rows: rows)
    #: The position of the entry that created the row, as the row keeps it, where
    #: ``digest`` does not cover it.
    position: Callable[[Any], int] | None = None
    #: ``key`` of a row known by its primary key only (it does not read back): its
    #: first column — the row's id, or its group — unless said otherwise.
    key_of_primary: Callable[[tuple], Hashable] = field(default=lambda pk: pk[0])

    def stored(self, uow, since: int | None = None) -> Iterable:
        """What a run checks: every stored row, or with ``since`` (an incremental run)
        the rows created after that position — through the same ``items`` either way,
        so ``key`` and ``digest`` never see a shape the other run does not give them."""
        rows = self.rows(uow) if since is None else \
            uow.verifications.rows_since(self.table, since)
        return self.items(rows)


def _idempotency_origin(payload: dict) -> tuple[Hashable, str] | None:
    stamp = payload.get("idempotency")
    if not isinstance(stamp, dict):
        return None
    return idempotency_key(stamp.get("token_id"), stamp.get("method"), stamp.get("path"),
                           stamp.get("key")), stamp.get("sha256")


def idempotency_key(token_id, method, path, key) -> str:
    """How ``audit verify`` names an idempotency row: ``token_id method path key``."""
    return f"{token_id} {method} {path} {key}"


# The entries that create a resource and may carry its Idempotency-Key stamp; a
# revocation or repair carries its console form's key (records.apply_change), and so
# does an application's decision (applications.decide_once) and the application itself
# (applications.submit_once).
IDEMPOTENT_KINDS = ("record.created", "evaluation.created", "tender.registered",
                    "tender.awarded", "warning.disposed", "agency.rated",
                    "performance.submitted", "performance.reviewed",
                    "record.revoked", "record.repaired", "application.submitted",
                    "application.decided")

# ----------------------------------------------- the tender loop's tables (WARNINGS.md)
# Each creating entry carries in ``rows`` one digest per table: of the list of the facts
# of the rows it created there, in key order. ``id`` in a problem is the group the digest
# covers: the tender's id for a registration's tables and its award, the warning's id
# for a warning and the bids it names, the disposal's id for a disposal.

NO_ROWS = canonical.digest([])


def _row_groups(group_of: Callable[[Any], Hashable]):
    """``items`` of a grouped table: (group, facts of its rows) from rows in key order.
    Every table's primary key starts with its group, so a group's rows are contiguous:
    one group in memory at a time."""
    def items(rows: Iterable):
        for group, members in groupby(rows, key=group_of):
            yield group, [row_facts(r) for r in members]
    return items


def _grouped(table: str, kind: str, group: Callable[[dict], Hashable],
             group_of: Callable[[Any], Hashable]) -> VerifiedTable:
    return VerifiedTable(
        table, kinds=(kind,),
        origin=lambda p: (group(p), _at(p, "rows", table)),
        rows=lambda uow: uow.tenders.iter_rows(table), items=_row_groups(group_of),
        key=lambda g: g[0], digest=lambda g: canonical.digest(g[1]), empty=NO_ROWS)


def _of_tender(table: str) -> VerifiedTable:
    group_of = (lambda r: r.id) if table == "tenders" else (lambda r: r.tender_id)
    return _grouped(table, "tender.registered", lambda p: p.get("tender_id"), group_of)


TENDER_TABLES: tuple[VerifiedTable, ...] = (
    *(_of_tender(t) for t in REGISTRATION_TABLES),
    _grouped("awards", "tender.awarded", lambda p: _at(p, "award", "tender_id"),
             lambda r: r.tender_id),
    _grouped("warnings", "warning.raised", lambda p: _at(p, "warning", "id"),
             lambda r: r.id),
    _grouped("warning_bids", "warning.raised", lambda p: _at(p, "warning", "id"),
             lambda r: r.warning_id),
    _grouped("warning_disposals", "warning.disposed", lambda p: _at(p, "disposal", "id"),
             lambda r: r.id),
)

# PERFORMANCE.md §7: a rating row per tender, hashed in its ``agency.rated`` entry.
AGENCY_TABLES: tuple[VerifiedTable, ...] = (
    VerifiedTable("agency_ratings", kinds=("agency.rated",),
                  origin=lambda p: (_at(p, "rating", "tender_id"), p.get("sha256")),
                  rows=lambda uow: uow.agencies.iter_all(), key=lambda r: r.tender_id,
                  digest=lambda r: canonical.digest(rating_facts(r)),
                  column=lambda r: r.sha256),
)


def _single(table: str, kind: str, path: tuple[str, ...], rows: Callable[[Any], Iterable],
            key_of: Callable[[Any], Hashable]) -> VerifiedTable:
    """A table each of whose rows one entry created: the row's key at ``path`` in the
    payload, and in ``rows`` the digest of the list of its facts."""
    return VerifiedTable(
        table, kinds=(kind,), origin=lambda p: (_at(p, *path), _at(p, "rows", table)),
        rows=rows, items=lambda stored: ((key_of(r), [row_facts(r)]) for r in stored),
        key=lambda g: g[0], digest=lambda g: canonical.digest(g[1]))


# ------------------------------------------- post-award performance (PERFORMANCE.md)
PERFORMANCE_TABLES: tuple[VerifiedTable, ...] = (
    _single("performance_evaluations", "performance.submitted", ("evaluation", "id"),
            lambda uow: uow.performance.iter_evaluations(), lambda r: r.id),
    _single("performance_reviews", "performance.reviewed", ("review", "evaluation"),
            lambda uow: uow.performance.iter_reviews(), lambda r: r.evaluation_id),
)


VERIFIED_TABLES: tuple[VerifiedTable, ...] = (
    VerifiedTable("records", kinds=("record.created",),
                  origin=lambda p: (_at(p, "record", "id"), p.get("sha256")),
                  rows=lambda uow: uow.records.iter_all(), key=lambda r: r.id,
                  digest=lambda r: canonical.digest(record_facts(r)),
                  column=lambda r: r.sha256),
    VerifiedTable("record_events", kinds=("record.revoked", "record.repaired"),
                  origin=lambda p: (_at(p, "event", "id"), p.get("sha256")),
                  rows=lambda uow: uow.records.iter_all_events(), key=lambda e: e.id,
                  digest=lambda e: canonical.digest(event_facts(e)),
                  column=lambda e: e.sha256),
    VerifiedTable("evaluations", kinds=("evaluation.created",),
                  origin=lambda p: (p.get("evaluation_id"), p.get("sha256")),
                  rows=lambda uow: uow.evaluations.iter_all(), key=lambda ev: ev.id,
                  digest=lambda ev: canonical.sha256_hex(ev.document),
                  column=lambda ev: ev.sha256, position=lambda ev: ev.audit_position),
    VerifiedTable("idempotency_keys", kinds=IDEMPOTENT_KINDS,
                  origin=_idempotency_origin,
                  rows=lambda uow: uow.idempotency.iter_all(),
                  key=lambda k: idempotency_key(k.token_id, k.method, k.path, k.key),
                  digest=lambda k: canonical.digest(idempotency_facts(k)),
                  key_of_primary=lambda pk: idempotency_key(*pk)),
    VerifiedTable("ended_sessions", kinds=("session.ended",),
                  origin=lambda p: (p.get("session_sha256"), p.get("sha256")),
                  rows=lambda uow: uow.sessions.iter_all(), key=lambda s: s.session_sha256,
                  digest=lambda s: canonical.digest(ended_session_facts(s))),
    VerifiedTable("applications", kinds=("application.submitted",),
                  origin=lambda p: (_at(p, "application", "id"), p.get("sha256")),
                  rows=lambda uow: uow.applications.iter_all(), key=lambda a: a.id,
                  digest=lambda a: canonical.digest(application_facts(a)),
                  column=lambda a: a.sha256),
    VerifiedTable("application_decisions", kinds=("application.decided",),
                  origin=lambda p: (_at(p, "decision", "application_id"), p.get("sha256")),
                  rows=lambda uow: uow.applications.iter_all_decisions(),
                  key=lambda d: d.application_id,
                  digest=lambda d: canonical.digest(decision_facts(d)),
                  column=lambda d: d.sha256),
    *TENDER_TABLES,
    *AGENCY_TABLES,
    *PERFORMANCE_TABLES,
)


def _as_key(value) -> Hashable:
    """A row's key as an entry names it. An entry edited to name its row by something
    no row's key can be (a list, an object) is kept under a tagged text of that value,
    which no stored key equals: the row it did create is then unreferenced and the
    entry's row missing, both reported, rather than the walk failing."""
    try:
        hash(value)
    except TypeError:
        return ("unhashable", json.dumps(value, sort_keys=True, ensure_ascii=False))
    return value


class RowVerifier:
    """Rows of :data:`VERIFIED_TABLES` against the hashes their creating entries hold."""

    def __init__(self, tables: Iterable[VerifiedTable] = VERIFIED_TABLES) -> None:
        self.tables = tuple(tables)
        self._by_kind: dict[str, list[VerifiedTable]] = {}
        for t in self.tables:
            for kind in t.kinds:
                self._by_kind.setdefault(kind, []).append(t)
        self._created: dict[tuple[str, Hashable], tuple[int, str]] = {}
        #: What the table being read has taken from ``_created`` (restored on a re-read).
        self._popped: list = []

    def see(self, position: int, kind: str, payload: dict, at: str | None = None) -> None:
        for t in self._by_kind.get(kind, ()):
            origin = t.origin(payload)
            if origin is not None:
                self._created[(t.table, _as_key(origin[0]))] = (position, origin[1])

    def finish(self, uow, since: int | None = None) -> list[dict]:
        """Every stored row checked (with ``since``: those created after it); then the
        rows an entry created that are gone."""
        out = []
        for t in self.tables:
            out += self._check_table(uow, t, since)
        empty = {t.table: t.empty for t in self.tables}
        out += [problem(position, "row_missing", table, row_id)
                for (table, row_id), (position, sha) in self._created.items()
                if sha is None or sha != empty[table]]
        return out

    def _check_table(self, uow, t: VerifiedTable, since: int | None) -> list[dict]:
        """One table's stored rows checked, streamed. A value edited into one its column
        cannot give back (UNREADABLE_VALUE, raised by the read, never by a check) fails
        that read: the table is then read again row by row where it must
        (:meth:`_check_readable`), never failing the verification."""
        out: list[dict] = []
        self._popped = []
        stream = iter(t.stored(uow, since))
        while True:
            try:
                item = next(stream)
            except StopIteration:
                return out
            except UNREADABLE_VALUE:
                self._created.update(self._popped)  # as before the read: checked again
                return self._check_readable(uow, t, since)
            out += self._check(t, item)

    def _check_readable(self, uow, t: VerifiedTable, since: int | None) -> list[dict]:
        """Every row that reads checked as usual, so other edits of the table are still
        located; each row that does not read is a ``row_mismatch`` of the entry that
        created it (or of its group), or ``row_unreferenced`` when none did."""
        unreadable: list[tuple] = []
        out = [p for item in t.items(uow.verifications.rows_that_read(t.table, since,
                                                                        unreadable))
               for p in self._check(t, item)]
        named = {p.get("id") for p in out}
        for primary in unreadable:
            row_id = t.key_of_primary(primary)
            origin = self._created.pop((t.table, row_id), None)
            if origin is not None:
                out.append(problem(origin[0], "row_mismatch", t.table, row_id))
            elif row_id not in named:
                out.append(problem(None, "row_unreferenced", t.table, row_id))
            named.add(row_id)
        return out

    def _check(self, t: VerifiedTable, row) -> list[dict]:
        row_id = t.key(row)
        origin = self._created.pop((t.table, row_id), None)
        if origin is None:
            return [problem(None, "row_unreferenced", t.table, row_id)]
        self._popped.append(((t.table, row_id), origin))
        column = t.column(row)
        if _digest(t, row) != origin[1] or (column is not None and column != origin[1]) \
                or (t.position is not None and t.position(row) != origin[0]):
            return [problem(origin[0], "row_mismatch", t.table, row_id)]
        return []


def _digest(t: VerifiedTable, row) -> str | None:
    """``t.digest(row)``, or None for a row holding what no canonical text has (on SQLite
    a float where an integer was stored, bytes where text was): not what was hashed."""
    try:
        return t.digest(row)
    except (TypeError, ValueError):
        return None


def _listed(value) -> list:
    """A payload's list as written, or no items when an edit made it something else."""
    return value if isinstance(value, list) else []


class SubjectVerifier:
    """A subject is registered by its first record or by the first tender naming it as
    a party of a bid (WARNINGS.md §2), whichever came first in the log: same name, same
    position."""

    def __init__(self) -> None:
        self._tenders: dict[str, tuple[int, str]] = {}

    def see(self, position: int, kind: str, payload: dict, at: str | None = None) -> None:
        if kind != "tender.registered":
            return
        for bid in _listed(payload.get("bids")):
            if not isinstance(bid, dict):
                continue
            parties = [(bid.get("bidder"), bid.get("bidder_name"))] + \
                [(m.get("uscc"), m.get("name")) for m in _listed(bid.get("consortium"))
                 if isinstance(m, dict)]
            for uscc, name in parties:
                if isinstance(uscc, str):  # an edited entry's other values register nobody
                    self._tenders.setdefault(uscc, (position, name))

    def finish(self, uow, since: int | None = None) -> list[dict]:
        """With ``since``: the subjects registered after it, and the subjects first named
        after it that were registered before it are left alone."""
        first = {uscc: (position, name)
                 for uscc, position, name in uow.records.first_per_subject(since or 0)}
        for uscc, origin in self._tenders.items():
            if uscc not in first or origin[0] < first[uscc][0]:
                first[uscc] = origin
        out = []
        subjects = uow.subjects.all() if since is None else \
            uow.verifications.subjects_since(since)
        for subject in subjects:
            origin = first.pop(subject.uscc, None)
            if origin is None:
                out.append(problem(None, "row_unreferenced", "subjects", subject.uscc))
            elif (subject.registered_position, subject.name) != origin:
                out.append(problem(origin[0], "row_mismatch", "subjects", subject.uscc))
        if since is not None and first:
            registered = uow.subjects.of_many(sorted(first))
            out += _registered_before(uow, since, registered, first)
            first = {u: o for u, o in first.items() if u not in registered}
        out += [problem(position, "row_missing", "subjects", uscc)
                for uscc, (position, _) in first.items()]
        return out


def _registered_before(uow, since: int, registered: dict, named: dict) -> list[dict]:
    """Subjects first named after ``since`` whose rows say they were registered before
    it: each must be what registered it then (its first record or bid party at or
    before ``since``, same position, same name) — else its row was edited, e.g. its
    name changed and its position moved back so that ``subjects_since`` would not read
    it."""
    origins = uow.verifications.origins_until(sorted(registered), since)
    return [problem(origins.get(uscc, named[uscc])[0], "row_mismatch", "subjects", uscc)
            for uscc, subject in registered.items()
            if (subject.registered_position, subject.name) != origins.get(uscc)]


class EvaluationOwnerVerifier:
    """Who may read a frozen evaluation (API.md §2: its creator) is its row's
    ``created_by_token``, which the document's hash does not cover; every member's
    ``score.served`` trace carries the token that created it (``token_id``, with the
    evaluation's id). A row whose owner differs from its traces' was handed to another
    evaluation system behind the service."""

    def __init__(self) -> None:
        self._traced: dict[Hashable, Hashable] = {}
        self._created: dict[Hashable, int] = {}

    def see(self, position: int, kind: str, payload: dict, at: str | None = None) -> None:
        # Traces served before they carried their token's id (e9fcbcb) name no owner.
        if kind == "score.served" and isinstance(payload.get("evaluation"), dict) \
                and "token_id" in payload:
            self._traced.setdefault(_as_key(payload["evaluation"].get("id")),
                                    _as_key(payload["token_id"]))
        elif kind == "evaluation.created":
            self._created.setdefault(_as_key(payload.get("evaluation_id")), position)

    def finish(self, uow, since: int | None = None) -> list[dict]:
        """With ``since``: the evaluations created after it (their traces come just
        before their own entry, in the same transaction)."""
        return [problem(self._created.get(eid), "row_mismatch", "evaluations", eid)
                for eid, owner in uow.evaluations.owners(since)
                if eid in self._traced and owner != self._traced[eid]]


class TokenVerifier:
    """Token rows and revocations against their ``token.created`` / ``token.revoked``
    entries (a role raised or a secret swapped in the database is caught)."""

    def __init__(self) -> None:
        self._created: dict[Hashable, tuple[int, dict, str | None]] = {}
        self._revoked: dict[Hashable, int] = {}

    def see(self, position: int, kind: str, payload: dict, at: str | None = None) -> None:
        if kind == "token.created":
            self._created[_as_key(payload.get("token_id"))] = (position, payload, at)
        elif kind == "token.revoked":
            self._revoked[_as_key(payload.get("token_id"))] = position

    def finish(self, uow, since: int | None = None) -> list[dict]:
        """With ``since``: the tokens and revocations created after it."""
        tokens, revocations = (uow.tokens.all(), uow.tokens.iter_revocations()) \
            if since is None else (uow.verifications.rows_since("tokens", since),
                                   uow.verifications.rows_since("token_revocations", since))
        out = [p for t in tokens for p in self._token(t)]
        out += [problem(position, "row_missing", "tokens", token_id)
                for token_id, (position, _, _) in self._created.items()]
        for rev in revocations:
            position = self._revoked.pop(rev.token_id, None)
            if position is None:
                out.append(problem(None, "row_unreferenced", "token_revocations",
                                   rev.token_id))
            elif rev.audit_position != position:
                out.append(problem(position, "row_mismatch", "token_revocations",
                                   rev.token_id))
        out += [problem(position, "row_missing", "token_revocations", token_id)
                for token_id, position in self._revoked.items()]
        return out

    def _token(self, t) -> list[dict]:
        origin = self._created.pop(t.id, None)
        if origin is None:
            return [problem(None, "row_unreferenced", "tokens", t.id)]
        position, p, at = origin
        # 0 is an instant (1970), not "never": a token edited to expire then is refused.
        expires = _expiry_text(t.expires_at_us)
        same = (t.name == p.get("name") and t.role == p.get("role")
                and t.created_at == at
                and [s for s in t.sectors.split(",") if s] == (p.get("sectors") or [])
                and t.uscc == p.get("uscc") and expires == p.get("expires_at")
                and t.audit_position == position
                and hashlib.sha256(t.secret_sha256.encode()).hexdigest()
                == p.get("secret_digest"))
        return [] if same else [problem(position, "row_mismatch", "tokens", t.id)]


def _expiry_text(at_us) -> str | None:
    """A token's ``expires_at_us`` as its ``token.created`` entry writes it; a value no
    instant has (edited to "never", 2^63 − 1) as what no entry holds: a mismatch, not an
    overflow that fails the run."""
    return None if at_us is None else stored_instant(at_us)


# ----------------------------------------------------------------- the checkpoint

class CheckpointVerifier:
    """Whether the log still extends a saved checkpoint (``position``, ``sha256``)."""

    def __init__(self, checkpoint) -> None:
        self.checkpoint = checkpoint
        # None: the checkpoint's position was not reached (yet)
        self._at: bool | None = checkpoint.sha256 == GENESIS \
            if checkpoint.position == 0 else None

    def see(self, row) -> None:
        cp = self.checkpoint
        if row.position == cp.position:
            self._at = row.sha256 == cp.sha256 and hashes_to(row.text, cp.sha256)

    def result(self, last_position: int, problems: list[dict]) -> dict:
        """``checkpoint_ok`` and ``checkpoint_problem``: null, or ``truncated`` (the
        first missing position), ``position_gap`` (deleted from the middle),
        ``hash_mismatch`` (the entry at the checkpoint rewritten) or the chain's first
        bad entry."""
        cp = self.checkpoint
        chain_bad = next((p for p in problems if p["position"] is not None
                          and p["problem"] in ENTRY_PROBLEMS), None)
        if self._at is None and last_position < cp.position:
            found = problem(last_position + 1, "truncated")
        elif self._at is None:
            found = problem(cp.position, "position_gap")
        elif not self._at:
            found = problem(cp.position, "hash_mismatch")
        elif chain_bad is not None:
            found = problem(chain_bad["position"], chain_bad["problem"])
        else:
            found = None
        return {"checkpoint_ok": found is None, "checkpoint_problem": found}


# ------------------------------------------------------------------- all together

def verify_chain(ctx: ServiceContext, checkpoint=None, *, incremental: bool = False,
                 store: bool = True, key_path: str | None = None,
                 unstored: Callable[[CreditError], None] | None = None) -> dict:
    """Walk the whole chain; re-hash every entry and every stored row against the hash
    its creating entry carries. ``first_bad`` is the lowest bad position (rows no entry
    created come last, with position null). With a ``checkpoint`` the result adds
    ``checkpoint_ok`` and ``checkpoint_problem`` (:class:`CheckpointVerifier`).

    ``incremental`` (API.md §6 ``?from=checkpoint``): start from the newest stored
    intact verification instead (``VerificationRepository.incremental_start``: none
    that a failure found since could have stepped over; with a signing key, one it
    signed, services/run_seals.py) — check that its entry still has the hash it had,
    then walk only the entries after it and the rows they created (``from_position``
    says where it started; 0, a full walk, when nothing it may start from is stored).
    Edits before that position are caught only by a full run. Each run is stored
    (outside the chain; signed with the key of ``key_path``, by default the settings'
    ``CREDIT_SIGNING_KEY``) for the next incremental run and for the console.

    ``unstored``: called, instead of raising, when the walk is done but the database
    will not keep the run (an auditor's read-only access, persistence/failures.py; or a
    head so altered that no write can read it, when the run found it); the verdict
    stands either way."""
    return _verified(ctx, checkpoint, incremental, store, key_path, unstored)[0]


def verify_and_show(ctx: ServiceContext, *, incremental: bool,
                    key_path: str | None = None) -> dict:
    """The console's buttons: verify (:func:`verify_chain`, stored) and answer the run
    just made as :func:`last_verification` describes a run — that run, whatever else the
    table holds (a row inserted around the service, dated later, is not shown instead)."""
    return _verified(ctx, None, incremental, True, key_path)[1]


def _verified(ctx: ServiceContext, checkpoint, incremental: bool, store: bool,
              key_path: str | None, unstored=None) -> tuple[dict, dict | None]:
    # The key is read before the clock: a run's verified_at is the instant just before
    # its snapshot, which orders overlapping runs (incremental_start).
    seal = _seal(ctx, key_path)
    started, when = time.monotonic(), ctx.clock()
    with ctx.uow(write=False, snapshot=True) as uow:
        start = uow.verifications.incremental_start(seal.trust) if incremental else None
        with uow.verifications.text_as_stored():
            result, head = _walk(uow, checkpoint, start)
    if incremental:
        result["from_position"] = start.position if start else 0
    shown = None
    # A run whose chain is intact but does not extend the checkpoint it was told of is
    # not kept: it must not stand as an intact run (the console's last result, an
    # incremental start) when it found a tail cut off, and the checkpoint is the
    # caller's word (unsigned over HTTP: a mistyped one must not record an intact log
    # as failed either). A run that found the chain itself broken is kept, failed.
    if store and (not result["ok"] or result.get("checkpoint_ok") is not False):
        run = _run(result, head, "incremental" if incremental else "full",
                   format_instant(when), time.monotonic() - started)
        try:
            shown = _store(ctx, seal, run)
        except IntegrityFailure as exc:
            # No write can read an altered head (a hash column that is no text): this
            # run found it and reports it, shown as it is but not kept; an incremental
            # run from the last kept one walks that entry again.
            if result["ok"]:
                raise
            shown = _unkept(run, result["first_bad"])
            if unstored is not None:
                unstored(exc)
        except Unavailable as exc:
            if unstored is None:
                raise
            unstored(exc)
    return result, shown


def _unkept(run: dict, first_bad: dict) -> dict:
    """A run that could not be stored, as :func:`_described` shows a stored one, marked
    ``kept: False`` (the console says so: the next view shows the last stored run)."""
    return {**{k: run[k] for k in ("mode", "from_position", "position", "ok",
                                   "entries_checked", "verified_at", "seconds")},
            "first_bad": first_bad, "signature": None, "kept": False}


def _seal(ctx: ServiceContext, key_path: str | None) -> RunSeal:
    """The seal of ``key_path`` (the app's configured key), by default the settings'."""
    return RunSeal.configured(key_path or ctx.settings.signing_key_path)


def _walk(uow, checkpoint, start) -> tuple[dict, tuple[int, str]]:
    chain = ChainVerifier()
    verifiers = (RowVerifier(), SubjectVerifier(), TokenVerifier(),
                 EvaluationOwnerVerifier())
    saved = CheckpointVerifier(checkpoint) if checkpoint is not None else None
    problems: list[dict] = []
    since = None
    if start is not None:
        since = start.position
        chain.resume(start.position, start.sha256)
        anchor = uow.verifications.entry(start.position) if start.position else None
        if start.position and (anchor is None or anchor.sha256 != start.sha256
                               or not hashes_to(anchor.text, start.sha256)):
            problems.append(problem(start.position, "hash_mismatch"))
    rows = uow.audit_queries.iter_rows() if since is None else \
        uow.verifications.entries_after(since)
    for row in rows:
        entry = chain.check(row)
        if saved is not None:
            saved.see(row)
        if entry is not None:
            payload = entry.get("payload")
            payload = payload if isinstance(payload, dict) else {}
            for v in verifiers:
                v.see(row.position, row.kind, payload, entry.get("at"))
    problems += chain.problems + [p for v in verifiers for p in v.finish(uow, since)]
    problems.sort(key=lambda p: (p["position"] is None, p["position"] or 0))
    result = {"ok": not problems, "entries_checked": chain.checked,
              "first_bad": problems[0] if problems else None}
    if saved is not None:
        result.update(saved.result(chain.last_position, problems))
    return result, chain.head


def _run(result: dict, head: tuple[int, str], mode: str, verified_at: str,
         seconds: float) -> dict:
    """A run's stored columns. ``first_bad`` as ASCII JSON text, whatever it holds: an
    entry forged with a float or a lone surrogate for an id is reported, not a failure
    to store the report (canonical text refuses both)."""
    first_bad = result["first_bad"]
    return {"mode": mode, "from_position": result.get("from_position", 0),
            "position": head[0], "sha256": head[1], "ok": result["ok"],
            "entries_checked": result["entries_checked"],
            "first_bad": json.dumps(first_bad, sort_keys=True) if first_bad else None,
            "verified_at": verified_at, "seconds": f"{seconds:.3f}"}


def _store(ctx: ServiceContext, seal: RunSeal, run: dict) -> dict:
    """Keep the run (outside the chain, sealed) for the next incremental run and the
    console; the run as the console shows it."""
    with ctx.uow(write=True) as uow:
        row = uow.verifications.add(run, seal.seal(run))
        uow.commit()
        return _described(row, seal)


def last_verification(ctx: ServiceContext, key_path: str | None = None) -> dict | None:
    """The newest stored run of ``audit verify`` (the console shows it): with a signing
    key configured (``key_path``, by default the settings'), the newest of the runs it
    signed and of the failed ones; ``signature`` is then ``signed`` or ``unsigned``, None
    without a key (services/run_seals.py)."""
    seal = _seal(ctx, key_path)
    with ctx.uow(write=False) as uow:
        row = uow.verifications.newest(seal.trust)
        return _described(row, seal) if row is not None else None


def _described(row, seal: RunSeal) -> dict:
    return {"mode": row.mode, "from_position": row.from_position, "position": row.position,
            "ok": row.ok, "entries_checked": row.entries_checked,
            "first_bad": _stored_problem(row.first_bad),
            "verified_at": row.verified_at, "seconds": row.seconds,
            "signature": seal.status(row)}


def _stored_problem(text) -> dict | None:
    """A stored run's ``first_bad``; one written around the service that is no JSON
    object is shown as what it is, not parsed into an error page."""
    if not text:
        return None
    try:
        problem = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        problem = None
    return problem if isinstance(problem, dict) else {"problem": str(text)[:200]}
