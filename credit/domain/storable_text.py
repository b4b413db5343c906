"""Text the service can store.

Every string the service keeps — a record's note, a tender's code, a disposal's reason —
ends up in a text column, and every string it is asked to look up is compared with one.
Two kinds of string cannot take part in either:

* one holding **U+0000**: PostgreSQL's text type cannot store it and refuses to compare
  with it (an error, a 500, where "no such row" was meant), while SQLite stores it and
  would make the two backends answer differently;
* one holding an **unpaired surrogate** (JSON's ``"\\ud800"``): it has no UTF-8 form, so
  it cannot be written, hashed or served.

So no stored text holds either, and wherever text comes in — a body's fields and keys, a
query's values, a console address, a tender code in a path — it is refused (or, for a
look-up, found to match nothing) by this one rule.
"""

from __future__ import annotations


def unstorable(value: str) -> str | None:
    """What makes ``value`` text the service cannot store, in words a client reads
    ("U+0000", "an unpaired surrogate"), or None when it can be stored."""
    if "\x00" in value:
        return "U+0000"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "an unpaired surrogate"
    return None
