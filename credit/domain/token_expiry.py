"""When a bearer token stops acting: at its expiry instant, which is already too late.

One rule, asked in five places — authentication, the console's session, the token
list, and the two append paths that stamp an entry's ``at`` under the lock (a token must
not cause an entry stamped at or after its expiry). On PostgreSQL the one-call append
(migration 0010, ``audit_append_served``) states the same comparison in SQL;
tests/integration/test_served_append_function.py holds it to this one.
"""

from __future__ import annotations


def expired_at(expires_at_us: int | None, at_us: int) -> bool:
    """True when a token expiring at ``expires_at_us`` (µs since the epoch; None: it
    never expires) no longer acts at ``at_us``: its expiry instant is not inside its
    life."""
    return expires_at_us is not None and at_us >= expires_at_us
