"""The canonical text of API.md §6, written by orjson, for the hot paths.

:func:`credit.domain.canonical.dumps` is the reference (stdlib ``json`` only, as the
domain must be): sorted keys, no spaces, UTF-8, no floats. Every served score and every
audit entry pays for it, and the ``json`` module's C encoder spends most of a served
score's serialisation time there (bench/README.md, "Issue 10"); orjson writes the same
bytes about four times faster.

"The same bytes" is not left to trust: a value is handed to orjson only when it is made
of exactly the types for which the two agree — ``dict`` with ``str`` keys, ``list``,
``tuple``, ``str``, ``int``, ``bool`` and ``None`` (the reference's own tree walk,
``canonical.unplain``, checks this first).
Anything else (a float, a subclass, a date), and whatever orjson itself refuses (an
integer beyond 64 bits, a lone surrogate), goes to the reference, which answers as
before, text or error. tests/unit/test_canonical_text.py compares the two on generated values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import orjson

from credit.domain import canonical


def dumps(value: Any) -> str:
    """``canonical.dumps(value)``, byte for byte."""
    if not canonical.unplain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
        except orjson.JSONEncodeError:  # e.g. a lone surrogate: the reference decides
            pass
    return canonical.dumps(value)


def dumps_with(value: dict, texts: Mapping[str, str]) -> str:
    """``dumps(value)`` for an object some of whose members are written already:
    ``texts[k]`` must be ``dumps(value[k])`` for each ``k`` it names (a remembered
    trace's records and steps, services/result_memo.py), and only the others are written
    now. An object's canonical text is its members' texts in key order, each after its
    key's text and a colon, joined by commas inside braces; the reference sorts keys by
    code point (``sort_keys``), as ``sorted`` does. Keys must be strings, as they are in
    every payload the service writes."""
    members = []
    for key in sorted(value):
        text = texts[key] if key in texts else dumps(value[key])
        members.append(f"{_key_text(key)}:{text}")
    return "{" + ",".join(members) + "}"


@lru_cache(maxsize=256)
def _key_text(key: str) -> str:
    """A member's key as text (pure; a trace has the same dozen keys every time)."""
    return dumps(key)
