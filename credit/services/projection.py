"""A response schema's dump as one plain function, for resources the use cases build
JSON-ready (issue 10).

Every success body is what its marshmallow schema dumps (credit/services/resources.py):
only the declared fields, in the schema's order. For a served score that dump walked 81
fields through marshmallow's machinery, and an evaluation's frozen document fifty times
that, for values the use case had already built JSON-ready
(``credit.domain.trace.result_body``: strings, integers, booleans, None).

:func:`projection` reads the schema once and returns a function that does what its dump
does for such values — keep each declared field the resource has, in the schema's order,
under its ``data_key``, nested schemas and lists of them likewise — without converting
the values. The schema stays the one statement of the shape (and of the OpenAPI
document): a field it does not declare is never sent, a field it declares is sent where
it says. Schemas whose dump would do more than select are refused when the projection is
built: a dump hook, a field that is not a plain string, integer, boolean, nested schema
or list of these, an ``attribute`` that differs from the name. A value the use case got
wrong is not converted but fails loudly when the text is written (orjson and the
canonical writer refuse a Decimal or a date). tests/unit/test_projection.py checks the
projection against the schema's own dump.
"""

from __future__ import annotations

from typing import Any, Callable

from marshmallow import Schema, fields

_LEAVES = (fields.String, fields.Integer, fields.Boolean)
_HOOKS = ("pre_dump", "post_dump")

Projection = Callable[[Any], Any]


def _same(value):
    return value


def _field(field: fields.Field) -> Projection:
    if isinstance(field, fields.Nested):
        inner = projection(field.schema)
        if field.many:
            return _list(inner)
        return lambda v: None if v is None else inner(v)
    if isinstance(field, fields.List):
        return _list(_field(field.inner))
    if type(field) in _LEAVES or isinstance(field, _LEAVES) and not _overrides(field):
        return _same
    raise TypeError(f"{type(field).__name__} converts what it dumps; "
                    "a projection only selects")


def _overrides(field: fields.Field) -> bool:
    """A subclass of a plain field that changes how it serialises."""
    plain = next(t for t in _LEAVES if isinstance(field, t))
    return type(field)._serialize is not plain._serialize


def _list(inner: Projection) -> Projection:
    if inner is _same:
        return lambda v: None if v is None else list(v)
    return lambda v: None if v is None else [inner(x) for x in v]


def projection(schema: Schema) -> Projection:
    """The function that selects from a dict resource what ``schema.dump`` would send,
    in the same order (see the module docstring for which schemas qualify)."""
    hooks = getattr(schema, "_hooks", {})
    if any(hooks.get(h) for h in _HOOKS):
        raise TypeError(f"{type(schema).__name__} has dump hooks; a projection only selects")
    plan = []
    for name, field in schema.dump_fields.items():
        if field.attribute not in (None, name):
            raise TypeError(f"{type(schema).__name__}.{name} is read from another attribute")
        plan.append((name, field.data_key or name, _field(field)))

    def project(resource: dict) -> dict:
        out = {}
        for name, key, inner in plan:
            if name in resource:
                out[key] = inner(resource[name])
        return out

    return project
