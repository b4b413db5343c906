"""credit.canonical_text.dumps writes exactly the bytes of the reference
credit.domain.canonical.dumps (API.md §6), or fails exactly as it does."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import canonical_text
from credit.domain import canonical

# Every character, control characters, U+2028/9, astral planes and lone surrogates
# included; integers beyond 64 bits; keys that sort differently as UTF-16 and UTF-8.
texts = st.text(alphabet=st.characters(codec=None), max_size=12)
leaves = st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | texts
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
    | st.dictionaries(texts, inner, max_size=5),
    max_leaves=40)


def _same(value) -> None:
    try:
        expected = canonical.dumps(value)
    except Exception as exc:  # noqa: BLE001 - the same error is expected
        with pytest.raises(type(exc)):
            canonical_text.dumps(value)
        return
    assert canonical_text.dumps(value) == expected


@settings(max_examples=600, deadline=None)
@given(values)
def test_the_same_text_as_the_reference(value):
    _same(value)


class Colour(enum.Enum):
    RED = "red"


class Code(str, enum.Enum):
    A = "A"


@pytest.mark.parametrize("odd", [
    1.5, float("nan"), Decimal("1.00"), date(2026, 1, 1), Colour.RED, Code.A,
    2**63, -2**63 - 1, 2**63 - 1, -2**63, "\ud800", {1: "a"}, {None: 1}, {"k": {2.0}},
    type("S", (str,), {})("sub"), type("F", (float,), {})(1.5), True, [False, None, ()],
])
def test_values_the_encoders_could_disagree_on_go_to_the_reference(odd):
    _same(odd)
    _same({"nested": [odd]})


def test_a_served_score_payload_is_written_by_orjson_and_matches():
    payload = {"uscc": "91330603MA2D4F6E84", "steps": [{"rule": "base", "value": "100.00"}],
               "knowledge_position": 12, "name": "绍兴柯桥建工集团有限公司\u2028",
               "result": {"eligible_to_bid": True, "until": None}}
    assert canonical.unplain(payload) == set()
    assert canonical_text.dumps(payload) == canonical.dumps(payload)


def test_the_reference_refuses_a_float_subclass_too():
    """numpy's float64 is a float: before the shared walk it slipped past the exact-type
    check and json wrote it as a number."""
    import numpy as np
    for value in (np.float64(2.0), {"points": [np.float64(-5.0)]}):
        with pytest.raises(TypeError, match="floats are not allowed"):
            canonical.dumps(value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(texts, values, max_size=6), st.data())
def test_an_object_with_members_written_already_is_the_same_text(value, data):
    """dumps_with (a remembered trace's records and steps, services/result_memo.py)."""
    try:
        expected = canonical.dumps(value)
    except Exception:  # noqa: BLE001 - only texts the reference writes are remembered
        return
    written = data.draw(st.sets(st.sampled_from(sorted(value))) if value else st.just(set()))
    texts_of = {k: canonical.dumps(value[k]) for k in written}
    assert canonical_text.dumps_with(value, texts_of) == expected
