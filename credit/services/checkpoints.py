"""Signed checkpoints of the audit log (API.md §6).

A checkpoint is the service's signed statement "the log's head was entry ``position``
with hash ``sha256``", issued at ``at``:

    {"position": 1234, "sha256": "…", "at": "2026-06-01T10:00:00.000000+08:00",
     "key_id": "…", "signature": "…"}

``signature`` is base64 of the Ed25519 signature over the UTF-8 bytes of the canonical
JSON (API.md §6) of ``{position, sha256, at}`` only. ``at`` is the instant the checkpoint
was issued (never before the head entry's ``at``). An empty log has position 0 and the
genesis hash (64 zeros).

An auditor stores the JSON the endpoint returned. Later ``credit audit verify
--checkpoint FILE`` (or ``GET /audit/verify?position=&sha256=``) reports
``checkpoint_ok``: the entries 1…position still re-hash to a chain ending in that hash
and the chain goes on from it to the head — so a log truncated or rewritten since then
is caught, which the chain alone cannot show. Issuing a checkpoint appends nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from credit import signing
from credit.domain import canonical
from credit.domain.dates import format_instant
from credit.errors import CreditError, InvalidInput

from .context import ServiceContext

SIGNED_FIELDS = ("position", "sha256", "at")
GENESIS = "0" * 64
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_POSITION = 2**63 - 1


class SigningKeyMissing(CreditError):
    status = 503
    error = "signing_key_missing"


@dataclass(frozen=True)
class Checkpoint:
    """What a verification compares against: a position and the hash it had."""

    position: int
    sha256: str


def signer(path: str | None) -> signing.Signer:
    """The signer at ``path``; 503 ``signing_key_missing`` when there is none."""
    try:
        return signing.load_key(path)
    except signing.SigningKeyMissing as exc:
        raise SigningKeyMissing(f"Checkpoints cannot be signed: {exc} Create a key with "
                                "`credit keys create` and set CREDIT_SIGNING_KEY.") from None


def signed_message(checkpoint: dict) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return canonical.dumps({k: checkpoint[k] for k in SIGNED_FIELDS}).encode("utf-8")


def issue(ctx: ServiceContext, key: signing.Signer) -> dict:
    """Sign the current head of the log."""
    with ctx.uow(write=False) as uow:
        head = uow.audit.head()
    now = ctx.clock()
    if head.at_us is not None:
        now = max(now, head.at())
    body = {"position": head.position, "sha256": head.sha256, "at": format_instant(now)}
    body["key_id"] = key.key_id
    body["signature"] = key.sign(signed_message(body))
    return body


def public_key(key: signing.Signer) -> dict:
    return key.public_document()


def parse(position, sha256) -> Checkpoint:
    """Validate a checkpoint's position and hash (from a file or a query string);
    InvalidInput lists every problem."""
    errors: dict[str, list[str]] = {}
    if isinstance(position, bool) or not isinstance(position, int) \
            or not 0 <= position <= MAX_POSITION:
        errors["position"] = ["must be an integer 0 … 2^63−1."]
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256.lower()):
        errors["sha256"] = ["must be 64 hexadecimal digits."]
    elif position == 0 and sha256.lower() != GENESIS:
        errors["sha256"] = ["position 0 (the empty log) has the genesis hash, 64 zeros."]
    if errors:
        first = next(iter(errors))
        raise InvalidInput(f"Invalid checkpoint {first}: {errors[first][0]}", errors=errors)
    return Checkpoint(position, sha256.lower())


def load_file(text: str) -> tuple[Checkpoint, dict]:
    """A checkpoint file (the JSON ``GET /audit/checkpoint`` returned): the checkpoint
    and the parsed document."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise InvalidInput(f"The checkpoint file is not JSON: {exc}",
                           error="malformed_json") from None
    if not isinstance(doc, dict):
        raise InvalidInput("The checkpoint file must hold a JSON object.",
                           errors={"_body": ["must be an object"]})
    return parse(doc.get("position"), doc.get("sha256")), doc


def signature_ok(doc: dict, key: signing.Signer | signing.VerifyKey) -> bool | None:
    """Whether a checkpoint document carries a valid signature of ``key``; None when it
    names another key (rotated) and so cannot be checked with this one."""
    if doc.get("key_id") != key.key_id:
        return None
    if not all(k in doc for k in SIGNED_FIELDS) or not isinstance(doc.get("signature"), str):
        return False
    try:
        message = signed_message(doc)
    except TypeError:
        return False
    return signing.verify_signature(key.public_key_b64(), message, doc["signature"])
