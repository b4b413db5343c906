"""A problem with an input found by a pure rule (a deduction, a rating), in the shape the
services hand to the API's error body (API.md §1): the dotted field path, a sentence, the
spec's error code (None: a plain ``validation_error``) and extra body fields."""

from __future__ import annotations

from dataclasses import field
from types import MappingProxyType
from typing import Any, Mapping

from .values import value


@value
class Problem:
    """One problem of one field, e.g. ``Problem("deductions.1.item", "…",
    "duplicate_item")``; a service adds it with ``errors.add(p.field, p.message,
    p.error, **p.extra)``."""

    field: str
    message: str
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
