"""The identity key (WARNINGS.md §2): the HMAC key under which personal values — resident
id numbers and deposit accounts — are stored, logged and compared, never in clear.

The key is a file named by ``CREDIT_IDENTITY_KEY`` (``Settings.identity_key_path``) of at
least 32 bytes, read when used (a key created while the service runs is picked up).
The key is the file without surrounding whitespace, so a key written with ``echo`` or by
``make run`` (64 hex digits and a newline) is the same key however it was written, and
every stored identity hash keeps matching; only random bytes that this would leave
shorter than 32 bytes are taken byte for byte.
"""

from __future__ import annotations

import re

from credit.errors import CreditError

MIN_KEY_BYTES = 32


class IdentityKeyMissing(CreditError):
    """The service cannot hash personal values: not configured or unreadable (503)."""

    status = 503
    error = "identity_key_missing"


def load_identity_key(path: str | None) -> bytes:
    """The key's bytes; IdentityKeyMissing when unset, unreadable or shorter than 32
    bytes (the message says which, never the key)."""
    if not path:
        raise IdentityKeyMissing("CREDIT_IDENTITY_KEY is not set: personal values cannot "
                                 "be hashed, so tenders cannot be registered.")
    try:
        with open(path, "rb") as f:
            key = _key_bytes(f.read(1 << 16))
    except OSError as exc:
        raise IdentityKeyMissing(f"The identity key file {path} cannot be read "
                                 f"({exc.strerror}).") from None
    if len(key) < MIN_KEY_BYTES:
        raise IdentityKeyMissing(f"The identity key file {path} holds {len(key)} bytes; at "
                                 f"least {MIN_KEY_BYTES} are required.")
    return key


# ASCII control characters (a tab aside): text never holds them, random bytes nearly
# always do.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _key_bytes(content: bytes) -> bytes:
    """The file without surrounding whitespace, as the key has always been read — every
    identity hash already stored depends on it staying so — unless that leaves random
    bytes too short: then the key is every byte of the file (WARNINGS.md §2: "a secret of
    at least 32 bytes read from the file"), so 31 random bytes and a newline byte are a
    key. Text (UTF-8 without control characters: a hex key, a passphrase) is always
    taken without its surrounding whitespace."""
    stripped = content.strip(b" \t\r\n")
    if len(stripped) >= MIN_KEY_BYTES or _is_text(stripped):
        return stripped
    return content


def _is_text(data: bytes) -> bool:
    if _CONTROL.search(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def identity_key(ctx) -> bytes:
    """The configured key of a service context."""
    return load_identity_key(ctx.settings.identity_key_path)
