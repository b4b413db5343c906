"""The identity key (WARNINGS.md §2): the HMAC key under which personal values — resident
id numbers and deposit accounts — are stored, logged and compared, never in clear.

The key is a file named by ``CREDIT_IDENTITY_KEY`` (``Settings.identity_key_path``) of at
least 32 bytes, read when used (a key created while the service runs is picked up).
A key written as text (UTF-8 without control characters) is that text without
surrounding whitespace, so a key written with ``echo`` or by ``make run`` (64 hex digits
and a newline) is the same key however it was written; any other content (random bytes)
is the key byte for byte.
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
    """A key written as text (64 hex digits by ``make run``, base64, a passphrase in any
    language, an ``echo``-made file) is its text without surrounding whitespace, as it
    always was; any other content is the key itself, every byte of it (WARNINGS.md §2:
    "a secret of at least 32 bytes read from the file"), so a random binary key that
    starts or ends in a newline byte is not cut. Text: UTF-8 without control characters."""
    text = content.strip(b" \t\r\n")
    if _CONTROL.search(text):
        return content
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return content
    return text


def identity_key(ctx) -> bytes:
    """The configured key of a service context."""
    return load_identity_key(ctx.settings.identity_key_path)
