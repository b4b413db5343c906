"""Canonical JSON of API.md §6: sorted keys, no spaces, UTF-8, no floats.

With ASCII keys and no floats this text is byte-identical to RFC 8785 (JCS), so an
auditor can re-check any hash with only ``hashlib`` and ``json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _refuse_floats(value: Any) -> None:
    """Walk the value once (iteratively: traces are wide, and this runs on every served
    score) and refuse floats and non-string keys."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is dict:
            for k in v:
                if type(k) is not str:
                    raise TypeError("object keys must be strings")
            push(v.values())
        elif t is list or t is tuple:
            push(v)
        elif t is float:
            raise TypeError("floats are not allowed in canonical JSON; use two-decimal "
                            "strings")


def dumps(value: Any) -> str:
    """The one canonical text of ``value``."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (lowercase hex) of the canonical text of ``value``."""
    return sha256_hex(dumps(value))
