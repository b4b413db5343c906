"""Immutable domain values that are cheap to build: ``@value`` is ``@dataclass(frozen=True)``
with a faster constructor.

Why: a frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (it must step round its own ``__setattr__``, which refuses), about
three times the cost of an ordinary assignment. The engine builds some eighty such values
per served score (each record, its standing, each trace step), and a 50-bidder evaluation
some four thousand: in-process that was about 6 % of a score's CPU (bench/README.md,
"Issue 10, fifth pass").

What ``@value`` changes is only *how* the fields are first stored: the constructor it
writes has the dataclass's exact signature (names, order, defaults) and puts the values
straight into the new instance's ``__dict__``, which is where ``object.__setattr__`` would
have put them. Everything else is the dataclass's own: the fields, ``__eq__``,
``__hash__``, ``__repr__``, ``dataclasses.replace``, and the ``FrozenInstanceError`` on any
later assignment. Classes this cannot speak for (slots, ``__post_init__``, a default
factory, keyword-only fields, ``InitVar``) keep the dataclass's constructor unchanged.
tests/unit/test_values.py holds the two constructors side by side.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


def value(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True)``, built by a constructor that writes ``__dict__``."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    if not _plain(cls, fields):
        return cls
    cls.__init__ = _constructor(cls, fields)
    return cls


def _plain(cls: type, fields: tuple[dataclasses.Field, ...]) -> bool:
    """True when the dataclass's ``__init__`` only assigns its fields, in order: its
    parameters are exactly the fields (no ``InitVar``, none keyword-only, no default
    factory) and nothing runs after the assignments."""
    if hasattr(cls, "__slots__") or hasattr(cls, "__post_init__"):
        return False
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if [p.name for p in params] != [f.name for f in fields]:
        return False
    return all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params) and all(
        f.default_factory is dataclasses.MISSING for f in fields)


def _constructor(cls: type, fields: tuple[dataclasses.Field, ...]):
    """The ``__init__`` source for ``fields`` (as dataclasses itself writes its own),
    compiled with the defaults bound as names."""
    defaults: dict[str, Any] = {}
    params, body = [], []
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            defaults[f"_default_{i}"] = f.default
            params.append(f"{f.name}=_default_{i}")
        body.append(f"    d[{f.name!r}] = {f.name}")
    source = (f"def __init__(self, {', '.join(params)}):\n"
              "    d = self.__dict__\n" + "\n".join(body or ["    pass"]) + "\n")
    namespace: dict[str, Any] = dict(defaults)
    # Our own field names, as dataclasses does; the file name tells the two apart.
    exec(compile(source, f"<value {cls.__qualname__}>", "exec"), namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return init
