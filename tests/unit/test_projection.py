"""credit/services/projection.py: a response schema's projection sends exactly what
marshmallow's own dump sends — the same fields, in the same order, with the same values —
for the bodies the service builds, and refuses schemas whose dump would do more than
select; ``Resource.dump`` goes through it where it can and falls back where it cannot."""

from __future__ import annotations

import orjson
import pytest
from marshmallow import Schema, fields, post_dump, pre_dump

from credit.domain.trace import result_body
from credit.services.projection import projection
from credit.services.resources import EVALUATION, Resource, ScoreOut, present
from tests.unit.test_golden import REGISTRY, History, _params

SCORE_OUT = ScoreOut()
PROJECT = projection(SCORE_OUT)


def _text(value) -> bytes:
    return orjson.dumps(value)  # keeps the order: equal text means equal order too


def _walked(call):
    """``call()`` with marshmallow's own walk for every Resource (the reference)."""
    before, Resource.PROJECT = Resource.PROJECT, False
    try:
        return call()
    finally:
        Resource.PROJECT = before


class _Walk:
    """SCORE_OUT.dump as marshmallow itself does it."""

    def dump(self, obj):
        return _walked(lambda: SCORE_OUT.dump(obj))


WALK = _Walk()


def _body(case, query) -> dict:
    hist = History(case)
    model = REGISTRY.get(query.get("model", "keqiao-2025@1"))
    result = hist.evaluate(query.get("uscc", hist.uscc), query["sector"], query["as_of"],
                           query.get("known", hist.last_label), model=model)
    body = result_body(result, "绍兴某建设有限公司")
    body["trace_id"] = 42
    body["trace_sha256"] = "ab" * 32
    return body


@pytest.mark.parametrize(("case", "query"), [p for p in _params() if not p.marks])
def test_every_golden_score_body_projects_to_its_dump(case, query):
    body = _body(case, query)
    assert _text(PROJECT(body)) == _text(WALK.dump(body))
    assert _text(PROJECT(body)) == _text(body)  # the service builds it in schema order


def _a_body_with_measures_and_reasons() -> dict:
    bodies = [_body(c, q) for c, q in (p.values for p in _params() if not p.marks)]
    return next(b for b in bodies if b["measures"] and b["reasons"])


def test_a_field_the_schema_does_not_declare_is_dropped_at_every_level():
    body = _a_body_with_measures_and_reasons()
    body["leaked"] = "x"
    body["model"]["leaked"] = "x"
    body["components"]["leaked"] = "x"
    body["measures"][0]["leaked"] = "x"
    body["reasons"][0]["leaked"] = "x"
    projected = PROJECT(body)
    assert b"leaked" not in _text(projected)
    assert _text(projected) == _text(WALK.dump(body))


def test_order_follows_the_schema_not_the_resource():
    body = _a_body_with_measures_and_reasons()
    shuffled = dict(reversed(list(body.items())))
    shuffled["model"] = dict(reversed(list(body["model"].items())))
    assert _text(PROJECT(shuffled)) == _text(WALK.dump(shuffled)) == _text(body)


def test_an_absent_field_is_absent_and_none_stays_none():
    body = _a_body_with_measures_and_reasons()
    del body["trace_sha256"]
    body["name"] = None
    body["measures"][0]["until"] = None
    assert _text(PROJECT(body)) == _text(WALK.dump(body))
    assert "trace_sha256" not in PROJECT(body)


class _Hooked(Schema):
    a = fields.String()

    @post_dump
    def _later(self, data, **kw):
        return data


class _PreHooked(Schema):
    a = fields.String()

    @pre_dump
    def _earlier(self, data, **kw):
        return data


class _Method(Schema):
    m = fields.Method("_m")

    def _m(self, obj):
        return obj


class _Upper(fields.String):
    def _serialize(self, value, attr, obj, **kw):
        return value.upper()


class _In(Schema):
    a = fields.String()


class _OwnLookup(Schema):
    a = fields.String()

    def get_attribute(self, obj, attr, default):
        return obj.get(attr.upper(), default)


@pytest.mark.parametrize("schema", [
    _Hooked(), _PreHooked(), _OwnLookup(),
    Schema.from_dict({"p": fields.Pluck(_In, "a")})(),
    Schema.from_dict({"n": fields.Integer(as_string=True)})(),
    Schema.from_dict({"s": fields.String(dump_default="x")})(),
    Schema.from_dict({"m": fields.Nested(_In(many=True))})(),
    Schema.from_dict({"at": fields.DateTime()})(),
    Schema.from_dict({"n": fields.Decimal()})(),
    _Method(),
    Schema.from_dict({"u": _Upper()})(),
    Schema.from_dict({"renamed": fields.String(attribute="other")})(),
    Schema.from_dict({"deep": fields.List(fields.Nested(_Hooked))})(),
], ids=["post_dump", "pre_dump", "own_lookup", "pluck", "as_string", "dump_default",
        "nested_many_instance", "datetime", "decimal", "method", "custom_serialize",
        "attribute", "nested_hook"])
def test_a_schema_whose_dump_converts_is_refused(schema):
    with pytest.raises(TypeError):
        projection(schema)


def test_data_key_is_the_sent_name():
    schema = Schema.from_dict({"from_": fields.String(data_key="from")})()
    assert projection(schema)({"from_": "x"}) == schema.dump({"from_": "x"}) == {"from": "x"}


def test_an_evaluation_document_presents_the_same_text_either_way():
    """The frozen document of API.md §5 (members are §4 bodies), as scoring builds it."""
    bodies = [_body(c, q) for c, q in (p.values for p in _params() if not p.marks)][:6]
    member = lambda b, u: [{"uscc": u, **m} for m in b]  # noqa: E731
    results = []
    for i, b in enumerate(bodies):
        consortium = i % 3 == 2
        usccs = [b["uscc"], "91330603MA2D4F6E84"] if consortium else [b["uscc"]]
        results.append({
            "bidder": {"consortium": usccs} if consortium else {"uscc": usccs[0]},
            "score": b["score"], "grade": b["grade"], "eligible_to_bid": b["eligible_to_bid"],
            "bid_points": b["bid_points"],
            "measures": [m for u in usccs for m in member(b["measures"], u)],
            "reasons": [r for u in usccs for r in member(b["reasons"], u)],
            "members": [b for _ in usccs], "performance_index": None if i % 2 else "91.50"})
    document = {"id": 7, "tender": {"code": "KQ-2026-0031", "name": "柯桥区某道路工程"},
                "sector": "housing", "as_of": "2026-06-30",
                "known_at": "2026-06-30T10:00:00.000000+08:00",
                "model": bodies[0]["model"], "created_by": "evaluator:bench",
                "created_at": "2026-06-30T10:00:00.000000+08:00", "results": results,
                "warnings": [{"id": 3, "code": "W-SAME-IP", "severity": "high",
                              "bids": [1, 2]}]}
    assert any(r["measures"] for r in results) and any(r["reasons"] for r in results)
    assert present(EVALUATION, document) == _walked(lambda: present(EVALUATION, document))


def test_a_value_of_another_type_is_sent_as_the_dump_would_send_it():
    schema = Schema.from_dict({"s": fields.String(), "n": fields.Integer(),
                               "b": fields.Boolean(), "l": fields.List(fields.Integer())})()
    slipped = {"s": 5, "n": "7", "b": 1, "l": ["1", 2]}
    assert _text(projection(schema)(slipped)) == _text(schema.dump(slipped))
    assert projection(schema)(slipped) == {"s": "5", "n": 7, "b": True, "l": [1, 2]}


def test_resource_dump_goes_through_the_projection_and_falls_back_where_it_must(monkeypatch):
    body = _a_body_with_measures_and_reasons()
    reference = WALK.dump(body)

    def no_walk(*a, **kw):
        raise AssertionError("marshmallow's walk was used")

    monkeypatch.setattr(Schema, "_serialize", no_walk)
    assert _text(SCORE_OUT.dump(body)) == _text(reference)  # the projection, no walk
    monkeypatch.undo()

    class Converting(Resource):
        at = fields.DateTime()

    class Holder(Resource):
        model = fields.Nested(ScoreOut().fields["model"].schema.__class__)

    from datetime import datetime
    assert Converting().dump({"at": datetime(2026, 1, 1)}) == {"at": "2026-01-01T00:00:00"}

    class Ref:  # a nested object, not a dict: the schema's own look-up
        id, version, sha256 = "keqiao-2025", 1, "ab" * 32

    assert Holder().dump({"model": Ref()}) == _walked(lambda: Holder().dump({"model": Ref()}))
    assert SCORE_OUT.dump([body], many=True) == [reference]
