"""Idempotency-Key (API.md §3): the first 201 response to a key is remembered forever,
as its status and exact body, scoped to token + method + path; so is the first 200 of
an award or a disposal (WARNINGS.md §2), and of a revocation, a repair or an
application's decision confirmed on a console form, and the 201 of an enterprise's
application sent from its console form — keyed by the form's key and the console's
path, never by an HTTP header (records.apply_change, applications.decide_once,
applications.submit_once: the API does not honour the key there).

The check runs inside the write transaction, after the append lock: a retry whose first
attempt is still in flight waits on the lock and then replays the stored response, so
concurrent retries with one key create exactly one record.

**Covered by audit verify** (issue 9 item 6). The remembered body is stored as its exact
text — a replay must be the first response byte for byte, and it cannot be rebuilt from
the chain: a record's ``name``, ``category`` and ``points`` come from the model active
when it was served, ``counts_today`` from that day. Instead the entry that created the
resource (``record.created``, ``evaluation.created``, ``tender.registered``,
``tender.awarded``, ``warning.disposed``, …, ``record.revoked``, ``record.repaired``,
``application.submitted`` or ``application.decided``;
``verification.IDEMPOTENT_KINDS``, appended in the same transaction) carries,
under the payload key ``idempotency``, the row's scope (token id, method, path, key)
and the SHA-256 of the canonical JSON of its facts: the request's
hash, the status, the SHA-256 of the body and the entry's own position
(``repositories.idempotency_facts``). The row keeps that position. So:

* ``audit verify`` re-hashes every row against its entry (``VerifiedTable``
  ``idempotency_keys``): an edited body, status or request hash is ``row_mismatch``, a
  deleted row ``row_missing``, a row no entry created ``row_unreferenced``;
* a replay first re-hashes its row against that entry and refuses an edited one (500
  ``integrity_failure``, logged): it is never sent. An entry rewritten as well breaks
  the chain, which ``audit verify`` reports. Rows stored before this rule have no
  entry to check against; they are not replayed either.

Old entry kinds keep their shape: only the key ``idempotency`` is added to the payload,
and only when a key was sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Callable

from credit.domain import canonical
from credit.errors import Conflict, IntegrityFailure
from credit.persistence.repositories import idempotency_facts
from credit.persistence.tables import IdempotencyRow

from .tokens import write_as

log = logging.getLogger("credit.idempotency")
REMEMBERED = (200, 201)


@dataclass(frozen=True)
class IdempotentRequest:
    token_id: int
    method: str
    path: str
    key: str
    body: object  # the parsed JSON body

    @property
    def route(self) -> str:
        """The path the key is scoped to (API.md §3: token, method, path): the route's,
        without a trailing slash. Every route also answers with one (strict slashes are
        off), and a retry sent to ``/records/`` is the same request as one sent to
        ``/records``, not a second write."""
        return self.path.rstrip("/") or "/"

    @property
    def lookup_paths(self) -> tuple[str, ...]:
        """Where a remembered reply for the key may be: under the route, or under the
        route with its trailing slash — keys remembered before they were scoped to the
        route kept the path as sent, and are remembered forever (API.md §3)."""
        return (self.route,) if self.route == "/" else (self.route, self.route + "/")

    @property
    def request_sha256(self) -> str:
        """Hash of the canonical JSON of the parsed body (floats allowed here: a body is
        compared, never logged). The key answers before the body is validated (API.md
        §1, step 7 before 8), so the body may hold an unpaired surrogate, which has no
        UTF-8 form: it is hashed as its surrogate code unit's bytes ("surrogatepass"),
        which leave every other text's UTF-8, hence every remembered hash, as it was."""
        text = json.dumps(self.body, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """A created resource: its status and the exact response text."""

    status: int
    body: str
    replayed: bool = False


def stamp(row: IdempotencyRow) -> dict:
    """What the creating entry's payload holds under ``idempotency`` for ``row``."""
    return {"token_id": row.token_id, "method": row.method, "path": row.path,
            "key": row.key, "sha256": canonical.digest(idempotency_facts(row))}


def replay(uow, idem: IdempotentRequest | None) -> Outcome | None:
    """The remembered response for this key, or None; 409 if the key was used for a
    different request; ``integrity_failure`` if the remembered row was altered."""
    if idem is None:
        return None
    row = uow.idempotency.find(idem.token_id, idem.method, idem.lookup_paths, idem.key)
    if row is None:
        return None
    _check_against_entry(uow, row)
    if row.request_sha256 != idem.request_sha256:
        raise Conflict("This Idempotency-Key was already used with a different request body.",
                       error="idempotency_key_reused")
    return Outcome(row.status, row.body, replayed=True)


def idempotent_write(ctx, actor, idem: IdempotentRequest | None, status: int,
                     write: Callable[[object], str]) -> Outcome:
    """One creating use case of ``actor`` in one transaction (tokens.write_as): the
    remembered reply when ``idem`` was seen, else ``write(uow)`` (which validates,
    appends under the lock and returns the reply's text), committed, answered with
    ``status``."""
    with write_as(ctx, actor) as uow:
        replayed = replay(uow, idem)
        if replayed:
            return replayed
        text = write(uow)
        uow.commit()
        return Outcome(status, text)


def _check_against_entry(uow, row: IdempotencyRow) -> None:
    entry = uow.audit_queries.get(row.audit_position) if row.audit_position else None
    held = (entry or {}).get("payload", {}).get("idempotency")
    if held != stamp(row):
        log.error("idempotency row (token %s, %s %s) does not match its audit entry %s: "
                  "not replayed", row.token_id, row.method, row.path, row.audit_position)
        raise IntegrityFailure("The response remembered for this Idempotency-Key does not "
                               "match the hash its audit entry holds, so it is not replayed. "
                               "Run `credit audit verify`.")


def remember(uow, idem: IdempotentRequest | None, status: int, body: str,
             position: int) -> dict:
    """Store the exact reply ``body`` for this key, in the transaction that appends the
    creating entry at ``position``. Returns what that entry's payload must add:
    ``{"idempotency": stamp}``, or nothing when nothing was remembered.

    A creation's 201 is remembered (API.md §3), and so is the 200 of the writes that
    answer with the changed resource — an award, a disposal (WARNINGS.md §2: they honour
    the key "exactly as API.md §3 does", which only makes sense for their success), a
    revocation, a repair or an application's decision confirmed on a console form
    (records.apply_change, applications.decide_once)."""
    if idem is None or status not in REMEMBERED:
        return {}
    row = uow.idempotency.add(IdempotencyRow(
        token_id=idem.token_id, method=idem.method, path=idem.route, key=idem.key,
        request_sha256=idem.request_sha256, status=status, body=body,
        audit_position=position))
    return {"idempotency": stamp(row)}
