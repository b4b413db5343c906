"""How the service reads a JSON text a client sent — a request body, a line of the
tender import (WARNINGS.md §8, "as POST /tenders parses its body") — one rule for both.

Stricter than :func:`json.loads`, which takes what RFC 8259 leaves open:

* ``NaN``, ``Infinity`` and ``-Infinity`` are no JSON values;
* an object naming a key twice (``{"amount": "1.00", "amount": "2.00"}``) is ambiguous:
  RFC 8259 §4 says receivers differ on it, and Python silently keeps the last. A
  regulator's record must not depend on which value a parser happened to keep, so it is
  refused.

Anything refused raises ValueError (or RecursionError for nesting too deep for the
parser), which the callers answer as ``malformed_json`` (API.md §1, step 6).
"""

from __future__ import annotations

import json

from .storable_text import escaped


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        # escaped: the key may hold an unpaired surrogate, which no answer can carry.
        raise ValueError(f"the key \"{escaped(twice)[:80]}\" appears twice in one object "
                         "(ambiguous: which value is meant?)")
    return obj


def parse_json(text: str):
    """The value of ``text``; ValueError for anything but strict JSON (above)."""
    return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object)
