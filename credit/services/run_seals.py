"""Signed runs of ``audit verify``: what an incremental run may start from (API.md §6,
issue 10).

Each run of ``audit verify`` is stored outside the chain (``audit_verifications``), and
an incremental run starts from the newest intact one. Unsigned, that row is whatever
the database holds: whoever can insert one around the service chooses where the next
incremental run starts, and so hides an edit made after it.

With a signing key configured (``CREDIT_SIGNING_KEY``, the Ed25519 key of the signed
checkpoints), every run is stored with the key's id and a signature over its columns:
the UTF-8 bytes of the canonical JSON (API.md §6) of ``{"purpose":
"audit.verification", mode, from_position, position, sha256, ok, entries_checked,
first_bad, verified_at, seconds}`` (``first_bad`` as stored: text or null). The
``purpose`` member keeps these signatures apart from a checkpoint's, which covers
``{position, sha256, at}`` only. An incremental run then starts only from a run whose
signature that key verifies, and only such a run counts as the whole walk that clears
a failure (``VerificationRepository.incremental_start``). A failed run counts whether
signed or not: a forged failure can only make later runs walk the whole chain.

So a row inserted, or altered, without the key is no starting point; nor is a run
stored before the key was configured, or signed by a key since rotated: the first
incremental run after either walks the whole chain, and signs what it found. A
configured key that cannot be read signs nothing and trusts nothing: every incremental
run walks the whole chain, as a full one does (it is logged).

Without a key, runs are stored unsigned and trusted as stored (the README says what
that costs); a deleted run can only make an incremental run walk more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from credit import signing
from credit.domain import canonical

log = logging.getLogger("credit.audit")

PURPOSE = "audit.verification"
#: The stored columns a run's signature covers, in the order of the table.
SIGNED_COLUMNS = ("mode", "from_position", "position", "sha256", "ok", "entries_checked",
                  "first_bad", "verified_at", "seconds")


def signed_message(run: Mapping[str, Any]) -> bytes:
    """The exact bytes a run's signature covers: ``run`` holds the stored columns."""
    return canonical.dumps({"purpose": PURPOSE, **{k: run[k] for k in SIGNED_COLUMNS}}
                           ).encode("utf-8")


def _columns(row) -> dict:
    return {k: getattr(row, k) for k in SIGNED_COLUMNS}


@dataclass(frozen=True)
class RunSeal:
    """How runs are sealed and which stored runs are trusted, for one configuration:
    ``keyed`` when a signing key is configured, ``signer`` the key when it can be read."""

    keyed: bool
    signer: signing.Signer | None = None

    @classmethod
    def configured(cls, key_path: str | None) -> "RunSeal":
        """The seal of the configured key file (``CREDIT_SIGNING_KEY``; none: unsigned)."""
        if not key_path:
            return cls(keyed=False)
        try:
            return cls(keyed=True, signer=signing.load_key(key_path))
        except signing.SigningKeyMissing as exc:
            log.warning("audit verify: %s Runs are stored unsigned and none stored is "
                        "trusted: an incremental run walks the whole chain.", exc)
            return cls(keyed=True)

    def seal(self, run: Mapping[str, Any]) -> dict:
        """The ``key_id`` and ``signature`` columns of a run about to be stored."""
        if self.signer is None:
            return {"key_id": None, "signature": None}
        return {"key_id": self.signer.key_id,
                "signature": self.signer.sign(signed_message(run))}

    @property
    def key_id(self) -> str | None:
        """The id of the key the trusted runs are signed with (None: no key is read)."""
        return self.signer.key_id if self.signer is not None else None

    def accepts(self, row) -> bool:
        """Whether a stored run is one this configuration may start from: any, without
        a key; with one, a run that key signed, its columns unchanged since. A row
        written around the service with values no run has (SQLite keeps whatever type
        it is given: a float position, bytes for a hash) is refused, not an error."""
        if not self.keyed:
            return True
        if self.signer is None or row.key_id != self.signer.key_id \
                or not isinstance(row.signature, str):
            return False
        try:
            message = signed_message(_columns(row))
        except (TypeError, ValueError, UnicodeError):
            return False
        return signing.verify_signature(self.signer.public_key_b64(), message,
                                        row.signature)

    @property
    def trust(self) -> "RunSeal | None":
        """What ``VerificationRepository.incremental_start`` and ``newest`` are given:
        None (every stored run) without a key; this seal with one."""
        return self if self.keyed else None

    def status(self, row) -> str | None:
        """For the console: ``signed`` or ``unsigned`` (no valid signature of the
        configured key) with a key configured; None without one."""
        if not self.keyed:
            return None
        return "signed" if self.accepts(row) else "unsigned"
