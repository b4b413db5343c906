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


def escaped(text: str) -> str:
    """``text`` with U+0000 and unpaired surrogates written as JSON writes them
    (``\\u0000``, ``\\ud800``): a name that can be stored, served and read."""
    return "".join(f"\\u{ord(c):04x}" if c == "\x00" or "\ud800" <= c <= "\udfff" else c
                   for c in text)


def unstorable_places(value) -> dict[str, str]:
    """Where a parsed JSON value holds text the service cannot store — values and object
    keys alike — as ``{dotted path: problem}`` (``_body`` for the value itself; an
    object's bad keys before what it holds). A bad key is named as JSON escapes it
    (``x\\ud800``): its own text could not be written in an answer."""
    found: dict[str, str] = {}
    stack = [("", value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            items = []
            for k, item in v.items():
                k = str(k)
                problem = unstorable(k)
                if problem:
                    name = escaped(k)
                    found[f"{path}.{name}" if path else name] = \
                        f"is a field name holding {problem}, which no field accepts."
                else:
                    items.append((f"{path}.{k}" if path else k, item))
            stack.extend(reversed(items))
        elif isinstance(v, list):
            stack.extend(reversed([(f"{path}.{i}" if path else str(i), item)
                                   for i, item in enumerate(v)]))
        elif isinstance(v, str) and (problem := unstorable(v)):
            found[path or "_body"] = f"must not contain {problem}."
    return found
