"""``@value`` (credit/domain/values.py) against ``@dataclass(frozen=True)``: the same
constructor signature and the same behaviour, only a different way of storing fields."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import InitVar, dataclass, field
from datetime import date

import pytest

from credit.domain import engine, joint_punishment, records, steps
from credit.domain.values import value


def _pair(**annotations_and_defaults):
    """The same class twice: by @dataclass(frozen=True) and by @value."""
    made = []
    for deco in (dataclass(frozen=True), value):
        ns = {"__annotations__": {}}
        for name, (ann, default) in annotations_and_defaults.items():
            ns["__annotations__"][name] = ann
            if default is not dataclasses.MISSING:
                ns[name] = default
        made.append(deco(type("Thing", (), ns)))
    return made


M = dataclasses.MISSING
FIELDS = {"id": ("int", M), "code": ("str", M), "on": ("date", M),
          "project": ("str | None", None), "tags": ("tuple", ())}


def test_same_signature_and_defaults():
    ref, fast = _pair(**FIELDS)
    assert inspect.signature(fast.__init__) == inspect.signature(ref.__init__)
    assert fast.__init__.__code__.co_filename == "<value Thing>"
    assert ref.__init__.__code__.co_filename != "<value Thing>"


@pytest.mark.parametrize("args,kwargs", [
    ((1, "A", date(2026, 1, 2)), {}),
    ((1, "A", date(2026, 1, 2), "P"), {"tags": (3,)}),
    ((), {"code": "B", "on": date(2026, 1, 2), "id": 7}),
])
def test_same_values_eq_hash_repr(args, kwargs):
    ref, fast = _pair(**FIELDS)
    r, f = ref(*args, **kwargs), fast(*args, **kwargs)
    assert dataclasses.asdict(f) == dataclasses.asdict(r)
    assert repr(f) == repr(r)
    assert f == fast(*args, **kwargs) and hash(f) == hash(fast(*args, **kwargs))
    assert f != fast(99, "Z", date(2000, 1, 1))


@pytest.mark.parametrize("args,kwargs", [
    ((1, "A"), {}),                                  # a required field missing
    ((1, "A", date(2026, 1, 2), None, (), "x"), {}),  # one too many
    ((1, "A", date(2026, 1, 2)), {"nope": 1}),        # an unknown name
    ((1, "A", date(2026, 1, 2)), {"id": 2}),          # given twice
])
def test_same_refusals(args, kwargs):
    ref, fast = _pair(**FIELDS)
    with pytest.raises(TypeError):
        ref(*args, **kwargs)
    with pytest.raises(TypeError):
        fast(*args, **kwargs)


def test_still_frozen_and_replaceable():
    _, fast = _pair(**FIELDS)
    f = fast(1, "A", date(2026, 1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.code = "B"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del f.code
    g = dataclasses.replace(f, code="B")
    assert (g.code, g.id, f.code) == ("B", 1, "A")
    assert pickle.loads(pickle.dumps(records.Knowledge(3, None))) == records.Knowledge(3, None)


def test_what_it_cannot_speak_for_keeps_the_dataclass_constructor():
    seen = []

    @value
    class After:
        a: int

        def __post_init__(self):
            seen.append(self.a)

    @value
    class Factory:
        a: list = field(default_factory=list)

    @value
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @value
    class KeywordOnly:
        a: int = field(kw_only=True)

    After(5)
    assert seen == [5]
    assert Factory().a == [] and Factory().a is not Factory().a
    assert WithInitVar(2, 3).a == 2
    with pytest.raises(TypeError):
        KeywordOnly(1)
    for cls in (After, Factory, WithInitVar, KeywordOnly):
        assert not cls.__init__.__code__.co_filename.startswith("<value")


@pytest.mark.parametrize("cls", [records.Record, records.RecordEvent, records.Knowledge,
                                 engine.RecordStanding, engine.ScoreResult, steps.Step,
                                 joint_punishment.Measure])
def test_the_engine_values_use_it(cls):
    """The values built per record and per step of every served score."""
    assert cls.__init__.__code__.co_filename == f"<value {cls.__qualname__}>"
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
