"""Immutable domain values that are cheap to build: ``@value`` is ``@dataclass(frozen=True)``
with a faster constructor.

Why: a frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (it must step round its own ``__setattr__``, which refuses), about
three times the cost of an ordinary assignment. The engine builds some eighty such values
per served score (each record, its standing, each trace step), and a 50-bidder evaluation
some four thousand: in-process that was about 6 % of a score's CPU (bench/README.md,
"Issue 10, fifth pass").

What ``@value`` changes is only *how* the fields are first stored: the constructor it
writes has the dataclass's exact signature (names, order, defaults, annotations, read in
the class's module) and puts the values straight into the new instance's ``__dict__`` —
for a plain field, exactly what ``object.__setattr__`` does. Everything else is the
dataclass's own: the fields, ``__eq__``, ``__hash__``, ``__repr__``,
``dataclasses.replace``, and the ``FrozenInstanceError`` on any later assignment.

A class for which that would not be the same keeps the dataclass's constructor: one
whose instances have no ``__dict__`` (slots), one with its own ``__init__`` or a
``__post_init__``, a field that is not a plain parameter (``init=False``, keyword-only,
a default factory, an ``InitVar``), or a field whose name the class resolves to a data
descriptor (a property with a setter would have been called).
tests/unit/test_values.py holds the two constructors side by side.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any, TypeVar

T = TypeVar("T")


#: The constructor's own names (the instance's ``__dict__``, the defaults) start with
#: this; no field may.
_OURS = "__value_"
_DICT = _OURS + "dict__"


def value(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True)``, built by a constructor that writes ``__dict__``."""
    own_init = "__init__" in cls.__dict__
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    if own_init or not _plain(cls, fields):
        return cls
    cls.__init__ = _constructor(cls, fields)
    return cls


def _plain(cls: type, fields: tuple[dataclasses.Field, ...]) -> bool:
    """True when the dataclass's ``__init__`` does nothing but store each parameter in
    the field of that name: the parameters are exactly the fields, each positional or
    keyword with no default factory, and storing is a plain ``__dict__`` write (the
    instances have one, there is no ``__post_init__``, no field is a data descriptor)."""
    if cls.__dictoffset__ == 0 or hasattr(cls, "__post_init__"):
        return False
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if [p.name for p in params] != [f.name for f in fields]:
        return False
    if any(f.name.startswith(_OURS) for f in fields):
        return False
    if any(hasattr(type(inspect.getattr_static(cls, f.name, None)), "__set__")
           for f in fields):
        return False
    return all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params) and all(
        f.default_factory is dataclasses.MISSING for f in fields)


def _constructor(cls: type, fields: tuple[dataclasses.Field, ...]):
    """The compiled ``__init__`` for ``fields``. As dataclasses does, it is written as
    source and defined inside a function that receives the defaults, in the globals of
    the class's module (so its annotations resolve where the class's do)."""
    defaults: dict[str, Any] = {}
    # The instance's name as the dataclass's own constructor has it.
    me = "__dataclass_self__" if any(f.name == "self" for f in fields) else "self"
    params, body = [me], [f"        {_DICT} = {me}.__dict__"]
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            defaults[f"{_OURS}default_{i}__"] = f.default
            params.append(f"{f.name}={_OURS}default_{i}__")
        body.append(f"        {_DICT}[{f.name!r}] = {f.name}")
    source = (f"def __make_init__({', '.join(defaults)}):\n"
              f"    def __init__({', '.join(params)}):\n" + "\n".join(body) + "\n"
              "    return __init__\n")
    module = sys.modules.get(cls.__module__)
    namespace: dict[str, Any] = {}
    # The file name tells this constructor from the dataclass's (tests check it).
    exec(compile(source, f"<value {cls.__qualname__}>", "exec"),  # noqa: S102
         vars(module) if module else {}, namespace)
    init = namespace["__make_init__"](**defaults)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return init
