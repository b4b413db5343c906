"""How the service reads a JSON text a client sent — a request body, a line of the
tender import (WARNINGS.md §8, "as POST /tenders parses its body") — one rule for both.

Stricter than :func:`json.loads`, which takes what RFC 8259 leaves open: ``NaN``,
``Infinity`` and ``-Infinity`` are no JSON values.

Anything refused raises ValueError (or RecursionError for nesting too deep for the
parser), which the callers answer as ``malformed_json`` (API.md §1, step 6).
"""

from __future__ import annotations

import json


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str):
    """The value of ``text``; ValueError for anything but strict JSON (above)."""
    return json.loads(text, parse_constant=_refuse_constant)
