"""Idempotency-Key (API.md §3): the first 201 response to a key is remembered forever,
as its status and exact body, scoped to token + method + path.

The check runs inside the write transaction, after the append lock: a retry whose first
attempt is still in flight waits on the lock and then replays the stored response, so
concurrent retries with one key create exactly one record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from credit.domain import canonical
from credit.errors import Conflict


@dataclass(frozen=True)
class IdempotentRequest:
    token_id: int
    method: str
    path: str
    key: str
    body: object  # the parsed JSON body

    @property
    def request_sha256(self) -> str:
        """Hash of the canonical JSON of the parsed body (floats allowed here: a body is
        compared, never logged)."""
        text = json.dumps(self.body, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)
        return canonical.sha256_hex(text)


@dataclass(frozen=True)
class Outcome:
    """A created resource: its status and the exact response text."""

    status: int
    body: str
    replayed: bool = False


def replay(uow, idem: IdempotentRequest | None) -> Outcome | None:
    """The remembered response for this key, or None; 409 if the key was used for a
    different request."""
    if idem is None:
        return None
    row = uow.idempotency.get(idem.token_id, idem.method, idem.path, idem.key)
    if row is None:
        return None
    if row.request_sha256 != idem.request_sha256:
        raise Conflict("This Idempotency-Key was already used with a different request body.",
                       error="idempotency_key_reused")
    return Outcome(row.status, row.body, replayed=True)


def remember(uow, idem: IdempotentRequest | None, status: int, resource: dict) -> Outcome:
    """Serialise the response once; store it with the key in the same transaction.
    A creation's 201 is remembered (API.md §3), and so is the 200 of the writes that
    answer with the changed resource — an award, a disposal (WARNINGS.md §2: they honour
    the key "exactly as API.md §3 does", which only makes sense for their success)."""
    body = canonical.dumps(resource)
    if idem is not None and status in (200, 201):
        uow.idempotency.add(idem.token_id, idem.method, idem.path, idem.key,
                            idem.request_sha256, status, body)
    return Outcome(status, body)
