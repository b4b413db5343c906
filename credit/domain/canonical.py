"""Canonical JSON of API.md §6: sorted keys, no spaces, UTF-8, no floats.

With ASCII keys and no floats this text is byte-identical to RFC 8785 (JCS), so an
auditor can re-check any hash with only ``hashlib`` and ``json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_FLOATS = "floats are not allowed in canonical JSON; use two-decimal strings"
_LEAVES = frozenset((str, int, bool, type(None)))
_CONTAINERS = frozenset((dict, list, tuple))
#: In :func:`unplain`'s answer: some object key is not a string.
NON_STR_KEY = "a key that is not a string"


def unplain(value: Any) -> set:
    """What keeps ``value`` from being plain JSON: the types of its leaves other than
    ``str``, ``int``, ``bool`` and ``None`` (containers other than ``dict``, ``list`` and
    ``tuple`` count as leaves), and :data:`NON_STR_KEY` when an object key is not a
    string. Empty for the values canonical text is written from.

    One iterative walk (traces are wide, and this runs on every served score): only
    containers go on the stack; leaves, mostly strings, are looked at where they sit."""
    bad: set = set()
    if type(value) not in _CONTAINERS:
        if type(value) not in _LEAVES:
            bad.add(type(value))
        return bad
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        if type(v) is dict:
            for k in v:
                if type(k) is not str:
                    bad.add(NON_STR_KEY)
            v = v.values()
        for x in v:
            t = type(x)
            if t is str:
                continue
            if t in _CONTAINERS:
                push(x)
            elif t not in _LEAVES:
                bad.add(t)
    return bad


def dumps(value: Any) -> str:
    """The one canonical text of ``value``."""
    bad = unplain(value)
    if any(issubclass(t, float) for t in bad if isinstance(t, type)):
        raise TypeError(_FLOATS)
    if NON_STR_KEY in bad:
        raise TypeError("object keys must be strings")
    # Anything else json itself refuses (a Decimal, a date). No circular-reference
    # bookkeeping: the walk above never ends on a cycle, so the encoder never meets one.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False)


def sha256_hex(text: str) -> str:
    """SHA-256 (lowercase hex) of ``text`` as UTF-8. Only text: a stored value that is
    not (bytes a column holds behind the service) raises TypeError, which a
    verification reports as a row that is not what was hashed."""
    if not isinstance(text, str):
        raise TypeError(f"only text is hashed, not {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (lowercase hex) of the canonical text of ``value``."""
    return sha256_hex(dumps(value))
