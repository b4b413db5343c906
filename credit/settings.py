"""The service's configuration (API.md §8), read from the environment in one place.

Every component that needs a setting receives this object (or reads it through
:func:`Settings.from_env`); nothing else reads ``os.environ``. Secrets themselves (the
signing key, the identity key) stay in files named here and are read when used, so a
key created while the service runs is picked up without a restart.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

DEFAULT_MODEL = "keqiao-2025@2"


class ConfigurationError(ValueError):
    """A setting the service cannot work with (an unparsable ``CREDIT_DATABASE_URL``, a
    driver that is not installed, an unknown ``CREDIT_MODEL``); the message names the
    variable and never repeats a password. The CLI reports it on one line, exit 2."""


def default_database_url() -> str:
    """The embedded default: a SQLite file under ``./var/``."""
    return f"sqlite:///{Path('var').absolute() / 'credit.db'}"


@dataclass(frozen=True)
class Settings:
    """What the environment configures. Field by variable:

    ``database_url`` CREDIT_DATABASE_URL · ``model`` CREDIT_MODEL (the active scoring
    model) · ``secret_key`` CREDIT_SECRET_KEY (signs console sessions) ·
    ``signing_key_path`` CREDIT_SIGNING_KEY (Ed25519 key for checkpoints) ·
    ``identity_key_path`` CREDIT_IDENTITY_KEY (HMAC key for personal data,
    WARNINGS.md §2) · ``rate_limit_storage`` CREDIT_RATE_LIMIT_STORAGE (a Flask-Limiter
    storage URI; memory by default, counted per worker process) · ``rate_limit_public``
    CREDIT_RATE_LIMIT_PUBLIC and ``rate_limit_signin`` CREDIT_RATE_LIMIT_SIGNIN (limits
    per client address, in Flask-Limiter's notation) · ``operator`` CREDIT_OPERATOR (who
    the CLI acts as; default ``operator:$USER``) · ``access_log`` CREDIT_ACCESS_LOG · ``log_level``
    CREDIT_LOG_LEVEL · ``secure_cookies`` CREDIT_SECURE_COOKIES (``1``/``true``: the
    console's session cookie is sent over HTTPS only, for a service behind TLS).
    """

    database_url: str
    model: str = DEFAULT_MODEL
    secret_key: str | None = None
    signing_key_path: str | None = None
    identity_key_path: str | None = None
    rate_limit_storage: str = "memory://"
    rate_limit_public: str = "60 per minute"
    rate_limit_signin: str = "10 per minute"
    operator: str = "operator:cli"
    access_log: str | None = None
    log_level: str = "info"
    secure_cookies: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Settings from ``env`` (default: the process environment); empty means unset."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        _refuse_misspelt(env, get)
        return cls(
            database_url=get("CREDIT_DATABASE_URL") or default_database_url(),
            model=get("CREDIT_MODEL") or DEFAULT_MODEL,
            secret_key=get("CREDIT_SECRET_KEY"),
            signing_key_path=get("CREDIT_SIGNING_KEY"),
            identity_key_path=get("CREDIT_IDENTITY_KEY"),
            rate_limit_storage=get("CREDIT_RATE_LIMIT_STORAGE") or "memory://",
            rate_limit_public=get("CREDIT_RATE_LIMIT_PUBLIC") or "60 per minute",
            rate_limit_signin=get("CREDIT_RATE_LIMIT_SIGNIN") or "10 per minute",
            operator=get("CREDIT_OPERATOR") or f"operator:{get('USER') or 'cli'}",
            access_log=get("CREDIT_ACCESS_LOG"),
            log_level=get("CREDIT_LOG_LEVEL") or "info",
            secure_cookies=_flag("CREDIT_SECURE_COOKIES", get("CREDIT_SECURE_COOKIES")),
        )

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _flag(name: str, value: str | None) -> bool:
    """``1``/``true`` on, ``0``/``false`` or unset off; anything else is refused rather
    than read as off (``CREDIT_SECURE_COOKIES=yes`` must not send the session cookie
    over plain HTTP)."""
    word = (value or "0").lower()
    if word not in ("1", "true", "0", "false"):
        raise ConfigurationError(f"{name} must be 1 or true (on), 0 or false (off), not "
                                 f"{value!r}.")
    return word in ("1", "true")


#: The variables :meth:`Settings.from_env` reads.
NAMES = ("CREDIT_DATABASE_URL", "CREDIT_MODEL", "CREDIT_SECRET_KEY", "CREDIT_SIGNING_KEY",
         "CREDIT_IDENTITY_KEY", "CREDIT_RATE_LIMIT_STORAGE", "CREDIT_RATE_LIMIT_PUBLIC",
         "CREDIT_RATE_LIMIT_SIGNIN", "CREDIT_OPERATOR", "CREDIT_ACCESS_LOG",
         "CREDIT_LOG_LEVEL", "CREDIT_SECURE_COOKIES")


def _refuse_misspelt(env: Mapping[str, str], get) -> None:
    """A set ``CREDIT_*`` variable that is no setting but nearly spells one that is unset
    (``CREDIT_DATABSE_URL``, ``CREDIT_SECURE_COOKIE``) is refused: read as unset, it
    would silently give the default — a new local SQLite database instead of the
    production one, a session cookie sent over plain HTTP. Other ``CREDIT_*`` names
    (the test suites' switches, say) are not the service's and are left alone."""
    for name in sorted(env):
        if not name.startswith("CREDIT_") or name in NAMES or not get(name):
            continue
        near = difflib.get_close_matches(name, NAMES, n=1, cutoff=0.85)
        if near and not get(near[0]):
            raise ConfigurationError(f"{name} is not a setting of the service; did you "
                                     f"mean {near[0]}? (Unset it, or set {near[0]}.)")
