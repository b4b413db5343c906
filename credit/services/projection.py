"""A response schema's dump as one plain function (issue 10): what ``Resource.dump``
(credit/services/resources.py) does for every dict resource whose schema qualifies.

Every success body is what its marshmallow schema dumps: only the declared fields, in
the schema's order. For a served score marshmallow's walk went through 81 fields, and for
an evaluation's frozen document fifty times that, for values the use case had already
built JSON-ready (``credit.domain.trace.result_body``: strings, integers, booleans, None).

:func:`projection` reads the schema once and returns a function that does what its dump
does for such values — keep each declared field the resource has, in the schema's order,
under its ``data_key``, nested schemas and lists of them likewise — passing each value
that already has its field's type as it is. The schema stays the one statement of the
shape (and of the OpenAPI document): a field it does not declare is never sent, a field
it declares is sent where it says. Schemas whose dump would do more than select are
refused when the projection is built: a dump hook, an attribute look-up of the schema's
own, a field that is not a plain string, integer, boolean, nested schema or list of these
(``Pluck``, ``as_string``, a ``dump_default`` are refused too), an ``attribute`` that
differs from the name; ``Resource.dump`` then keeps marshmallow's walk. A leaf whose
value is not of the type its field sends (a use case's slip) goes through that field's
own conversion, and a nested resource that is not a dict through the nested schema's own
dump, so the text is always what marshmallow's walk would send.
tests/unit/test_projection.py checks the projection against marshmallow's own dump.
"""

from __future__ import annotations

from typing import Any, Callable

from marshmallow import Schema, fields, missing

#: The plain fields, and the one type each sends as it is.
_LEAVES = {fields.String: str, fields.Integer: int, fields.Boolean: bool}
_HOOKS = ("pre_dump", "post_dump")
#: Where the schemas' attribute look-up may come from: marshmallow's own, or
#: resources.Resource's (a dict's key, never one of its methods): both read
#: ``resource[name]`` when the key is there, as the projection does.
_LOOKUPS = {("marshmallow.schema", "Schema.get_attribute"),
            ("credit.services.resources", "Resource.get_attribute")}

Projection = Callable[[Any], Any]


def _refuse(what: str) -> TypeError:
    return TypeError(f"{what}; a projection only selects")


def _field(field: fields.Field) -> Projection:
    if field.dump_default is not missing:
        raise _refuse(f"{type(field).__name__} fills in a default")
    if isinstance(field, fields.Pluck):
        raise _refuse("Pluck sends one field of the nested resource in its place")
    if isinstance(field, fields.Nested):
        if field.schema.many:
            raise _refuse("a Nested schema instance with many=True")
        inner = projection(field.schema)
        if field.many:
            return _list(inner)
        return lambda v: None if v is None else inner(v)
    if isinstance(field, fields.List):
        return _list(_field(field.inner))
    return _leaf(field)


def _leaf(field: fields.Field) -> Projection:
    """A plain field's value as it is when it already has the type the field sends
    (or is None); otherwise the field's own conversion, exactly as its dump would do
    (a use case's slip, e.g. an int in a string field, still goes out as the dump
    would send it)."""
    kind = next((t for t in _LEAVES if isinstance(field, t)), None)
    if kind is None or type(field)._serialize is not kind._serialize:
        raise _refuse(f"{type(field).__name__} converts what it dumps")
    if getattr(field, "as_string", False):
        raise _refuse(f"{type(field).__name__}(as_string=True) sends numbers as text")
    sent, convert = _LEAVES[kind], field._serialize

    def leaf(value):
        if value is None or type(value) is sent:
            return value
        return convert(value, None, None)

    return leaf


def _list(inner: Projection) -> Projection:
    return lambda v: None if v is None else [inner(x) for x in v]


def projection(schema: Schema) -> Projection:
    """The function that selects from a dict resource what ``schema.dump`` would send,
    in the same order (see the module docstring for which schemas qualify)."""
    name_of = type(schema).__name__
    hooks = getattr(schema, "_hooks", {})
    if any(hooks.get(h) for h in _HOOKS):
        raise _refuse(f"{name_of} has dump hooks")
    lookup = type(schema).get_attribute
    if (lookup.__module__, lookup.__qualname__) not in _LOOKUPS:
        raise _refuse(f"{name_of} looks attributes up its own way")
    plan = []
    for name, field in schema.dump_fields.items():
        if field.attribute not in (None, name):
            raise _refuse(f"{name_of}.{name} is read from another attribute")
        plan.append((name, field.data_key or name, _field(field)))

    def project(resource: dict) -> dict:
        if type(resource) is not dict:  # an object: the schema's own attribute look-up
            return schema.dump(resource)
        out = {}
        for name, key, inner in plan:
            if name in resource:
                out[key] = inner(resource[name])
        return out

    return project


def projection_or_none(schema: Schema) -> Projection | None:
    """The schema's projection, or None when its dump does more than select."""
    try:
        return projection(schema)
    except TypeError:
        return None
