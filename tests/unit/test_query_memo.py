"""api/schemas.CreditParser remembers a query string its schema loaded: the same bytes
are not loaded again, a refused one always is (and is refused again), results handed out
are the caller's own, and the memo stays bounded."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from api.schemas import CreditParser, Page, ScoreQuerySchema
from credit.errors import InvalidInput

APP = Flask(__name__)


def _parse(parser, schema, query: str):
    with APP.test_request_context("/x?" + query):
        return parser.parse(schema, location="query")


def _counting(monkeypatch, schema) -> list:
    calls = []
    load = schema.load

    def counted(*args, **kw):
        calls.append(args)
        return load(*args, **kw)

    monkeypatch.setattr(schema, "load", counted)
    return calls


def test_the_same_query_string_is_loaded_once(monkeypatch):
    parser, schema = CreditParser(), ScoreQuerySchema()
    calls = _counting(monkeypatch, schema)
    first = _parse(parser, schema, "sector=housing&as_of=2026-05-01")
    again = _parse(parser, schema, "sector=housing&as_of=2026-05-01")
    assert first == again == {"sector": "housing", "as_of": date(2026, 5, 1),
                              "known_at": None, "model": None}
    assert len(calls) == 1
    other = _parse(parser, schema, "sector=water")
    assert other["sector"] == "water" and len(calls) == 2


def test_a_refused_query_string_is_refused_every_time(monkeypatch):
    parser, schema = CreditParser(), ScoreQuerySchema()
    for _ in range(2):
        with pytest.raises(InvalidInput) as err:
            _parse(parser, schema, "sector=housing&asof=2026-05-01")
        assert "asof" in err.value.errors
    with pytest.raises(InvalidInput):
        _parse(parser, schema, "sector=housing&sector=water")  # repeated: still refused
    assert parser._memo == {}


def test_each_caller_gets_its_own_result():
    parser, schema = CreditParser(), ScoreQuerySchema()
    first = _parse(parser, schema, "sector=housing")
    first["sector"] = "changed by a view"
    assert _parse(parser, schema, "sector=housing")["sector"] == "housing"


def test_schemas_do_not_share_entries():
    parser = CreditParser()
    score, page = ScoreQuerySchema(), Page()
    assert _parse(parser, page, "limit=5")["limit"] == 5
    with pytest.raises(InvalidInput):
        _parse(parser, score, "limit=5")  # the score query has no limit


def test_the_memo_is_bounded():
    parser, schema = CreditParser(), Page()
    parser.MEMO_SIZE = 3
    for n in range(1, 11):
        assert _parse(parser, schema, f"limit={n}")["limit"] == n
        assert len(parser._memo) <= 3


def test_the_unknown_option_is_part_of_the_key():
    """A string loaded while excluding unknown parameters is not a success when they are
    refused."""
    from marshmallow import EXCLUDE, RAISE
    parser, schema = CreditParser(), ScoreQuerySchema()
    with APP.test_request_context("/x?sector=housing&extra=1"):
        loaded = parser.parse(schema, location="query", unknown=EXCLUDE)
        assert loaded["sector"] == "housing"
        with pytest.raises(InvalidInput):
            parser.parse(schema, location="query", unknown=RAISE)


def test_an_option_it_does_not_know_bypasses_the_memo(monkeypatch):
    parser, schema = CreditParser(), ScoreQuerySchema()
    seen = []
    from webargs.flaskparser import FlaskParser
    monkeypatch.setattr(FlaskParser, "parse",
                        lambda self, *a, **kw: seen.append(kw) or {"sector": "housing"})
    for _ in range(2):
        with APP.test_request_context("/x?sector=housing"):
            parser.parse(schema, location="query", some_new_option=1)
    assert len(seen) == 2 and parser._memo == {}
