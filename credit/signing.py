"""Ed25519 keys for signed audit checkpoints (API.md §6, §8 ``CREDIT_SIGNING_KEY``).

The private key is a PKCS#8 PEM file created once by ``credit keys create`` (mode 0600,
never overwritten). Whoever holds the public key — served without a token at
``GET /api/v1/audit/public-key`` — can check a checkpoint offline: the signature covers
the UTF-8 bytes of the canonical JSON (API.md §6) of ``{position, sha256, at}``.

``key_id`` is the first 16 hex digits of the SHA-256 of the raw 32-byte public key, so
a checkpoint names the key that signed it and a rotated key is noticed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from credit.settings import Settings

ALGORITHM = "Ed25519"
ENV_VAR = "CREDIT_SIGNING_KEY"


class SigningKeyMissing(Exception):
    """No usable private key at the configured path (or no path configured)."""


class SigningKeyExists(Exception):
    """``create_key`` refuses to overwrite an existing file."""


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(public)).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """A loaded private key."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    def public_key_b64(self) -> str:
        return base64.b64encode(_raw_public(self.public)).decode("ascii")

    def public_document(self) -> dict:
        """The body of ``GET /audit/public-key``."""
        return {"key_id": self.key_id, "algorithm": ALGORITHM,
                "public_key": self.public_key_b64()}

    def verify_key(self) -> "VerifyKey":
        """The public half, as an auditor would hold it."""
        return VerifyKey(self.public)

    def sign(self, message: bytes) -> str:
        """Base64 of the Ed25519 signature over ``message``."""
        return base64.b64encode(self.private.sign(message)).decode("ascii")


def create_key(path: str | os.PathLike) -> Signer:
    """Write a new private key to ``path`` (PEM, PKCS#8, mode 0600). An existing file is
    never overwritten (``SigningKeyExists``); missing parent folders are created 0700.
    A path that cannot be written is the OSError, and leaves no file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningKeyExists(f"{path} already exists; a signing key is never "
                               "overwritten.") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    except OSError:
        path.unlink(missing_ok=True)  # no half-written key that blocks the next try
        raise
    finally:
        os.close(fd)
    return Signer(private)


def load_key(path: str | os.PathLike | None) -> Signer:
    """The private key at ``path``; ``SigningKeyMissing`` when there is none usable."""
    if not path:
        raise SigningKeyMissing(f"No signing key is configured ({ENV_VAR} is not set).")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyMissing(f"The signing key cannot be read ({exc.strerror}).") \
            from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # e.g. an SM2 key
        raise SigningKeyMissing(f"The signing key file is not a usable PEM key ({exc}).") \
            from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyMissing("The signing key is not an Ed25519 key.")
    return Signer(private)


def configured_path() -> str | None:
    """The configured key file (``CREDIT_SIGNING_KEY``), if any."""
    return Settings.from_env().signing_key_path


@dataclass(frozen=True)
class VerifyKey:
    """A public key an auditor holds (the document of ``GET /audit/public-key``, kept
    by the auditor), to check checkpoints with — never one read from the log that is
    being verified."""

    public: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    def public_key_b64(self) -> str:
        return base64.b64encode(_raw_public(self.public)).decode("ascii")


def load_public_document(text: str) -> VerifyKey:
    """The key of a public-key document ``{key_id, algorithm, public_key}``;
    SigningKeyMissing saying what is wrong with it."""
    import json

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise SigningKeyMissing(f"The public key file is not JSON ({exc}).") from None
    if not isinstance(doc, dict) or doc.get("algorithm") != ALGORITHM:
        raise SigningKeyMissing("The public key file must be the JSON of GET "
                                "/api/v1/audit/public-key, with algorithm Ed25519.")
    try:
        raw = base64.b64decode(doc.get("public_key") or "", validate=True)
        key = VerifyKey(Ed25519PublicKey.from_public_bytes(raw))
    except (ValueError, TypeError):
        raise SigningKeyMissing("The public key file's public_key is not base64 of a "
                                "32-byte Ed25519 key.") from None
    if "key_id" in doc and doc["key_id"] != key.key_id:
        raise SigningKeyMissing(f"The public key file's key_id {doc['key_id']!r} is not "
                                f"that of its key ({key.key_id}).")
    return key


def verify_signature(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``message``."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64,
                                                                     validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
