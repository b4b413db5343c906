"""Lists everywhere are ``{"items": [...], "next": string|null}`` (API.md §3): a query
asks for one row more than the page, and that extra row says whether ``next`` exists."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def page(rows: Sequence[T], limit: int, cursor: Callable[[T], int]) -> tuple[list[T], str | None]:
    """The first ``limit`` of ``rows`` (fetched with ``limit + 1``) and the cursor of the
    last one when more follow."""
    items = list(rows[:limit])
    return items, (str(cursor(items[-1])) if len(rows) > limit else None)
