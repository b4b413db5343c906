"""Canonical JSON of API.md §6: sorted keys, no spaces, UTF-8, no floats.

With ASCII keys and no floats this text is byte-identical to RFC 8785 (JCS), so an
auditor can re-check any hash with only ``hashlib`` and ``json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_FLOATS = "floats are not allowed in canonical JSON; use two-decimal strings"
_CONTAINERS = frozenset((dict, list, tuple))


def _refuse_floats(value: Any) -> None:
    """Walk the value once (iteratively: traces are wide, and this runs on every served
    score) and refuse floats and non-string keys. Only containers go on the stack; the
    leaves, mostly strings, are looked at where they sit."""
    if type(value) is float:
        raise TypeError(_FLOATS)
    if type(value) not in _CONTAINERS:
        return
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        if type(v) is dict:
            for k in v:
                if type(k) is not str:
                    raise TypeError("object keys must be strings")
            v = v.values()
        for x in v:
            t = type(x)
            if t is str:
                continue
            if t in _CONTAINERS:
                push(x)
            elif t is float:
                raise TypeError(_FLOATS)


def dumps(value: Any) -> str:
    """The one canonical text of ``value``."""
    _refuse_floats(value)
    # No circular-reference bookkeeping: the walk above never ends on a cycle, so the
    # encoder never meets one (the text is the same).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (lowercase hex) of the canonical text of ``value``."""
    return sha256_hex(dumps(value))
