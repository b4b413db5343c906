"""``@value`` (credit/domain/values.py) against ``@dataclass(frozen=True)``: the same
constructor signature and the same behaviour, only a different way of storing fields."""

from __future__ import annotations

import dataclasses
import inspect
import typing
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

    @value
    class NotInInit:
        a: int
        b: int = field(default=5, init=False)

    @value
    class OwnInit:
        a: int

        def __init__(self, a):
            object.__setattr__(self, "a", abs(a))

    class WithSetter:
        @property
        def a(self):
            return self._a

        @a.setter
        def a(self, v):
            object.__setattr__(self, "_a", 2 * v)

    @value
    class Described(WithSetter):
        a: int

    @value
    class Slotted:
        __slots__ = ("a",)
        a: int

    After(5)
    assert seen == [5]
    assert Factory().a == [] and Factory().a is not Factory().a
    assert WithInitVar(2, 3).a == 2
    with pytest.raises(TypeError):
        KeywordOnly(1)
    assert (NotInInit(1).b, OwnInit(-3).a) == (5, 3)
    assert (Described(2).a, Slotted(7).a) == (4, 7)
    for cls in (After, Factory, WithInitVar, KeywordOnly, NotInInit, OwnInit, Described,
                Slotted):
        assert not cls.__init__.__code__.co_filename.startswith("<value")


def test_field_names_the_constructor_itself_uses():
    """A field named ``self`` (the dataclass renames its instance) or ``d``."""
    ref, fast = _pair(self=("int", M), d=("int", M))
    assert inspect.signature(fast.__init__) == inspect.signature(ref.__init__)
    assert (fast(1, 2).self, fast(1, 2).d) == (1, 2)
    assert fast(1, 2) != fast(1, 3)
    # A name of the constructor's own: the dataclass's constructor is kept.
    _, ours = _pair(__value_dict__=("int", M), b=("int", 5))
    assert (ours(1).__value_dict__, ours(1).b) == (1, 5)
    assert not ours.__init__.__code__.co_filename.startswith("<value")


def test_inheritance_and_an_overridden_default():
    @value
    class Base:
        a: int
        b: str = "x"

    @value
    class Child(Base):
        b: str = "y"
        c: int = 0

    @dataclass(frozen=True)
    class RefBase:
        a: int
        b: str = "x"

    @dataclass(frozen=True)
    class RefChild(RefBase):
        b: str = "y"
        c: int = 0

    assert str(inspect.signature(Child.__init__)) == str(inspect.signature(RefChild.__init__))
    assert (Child(1).b, Child(1, c=2).c, Base(1).b) == ("y", 2, "x")
    assert Child.__init__.__code__.co_filename.startswith("<value")


def test_a_base_with_empty_slots_keeps_the_fast_constructor():
    """``typing.Generic`` has ``__slots__ = ()``; its subclasses' instances still have a
    ``__dict__``."""
    T = typing.TypeVar("T")

    @value
    class Box(typing.Generic[T]):
        item: T

    assert Box(3).item == 3
    assert Box.__init__.__code__.co_filename == f"<value {Box.__qualname__}>"


def test_annotations_resolve_in_the_module():
    """typing.get_type_hints reads the constructor's annotations in the class's module
    (every domain module has ``from __future__ import annotations``)."""
    hints = typing.get_type_hints(records.Record.__init__)
    assert hints["decided_on"] is date and hints["id"] is int
    assert inspect.signature(records.Record, eval_str=True).parameters["id"].annotation is int


def test_the_step_sentinel_default_is_the_same_object():
    assert steps.Step("r", "s").value is steps.NO_VALUE
    assert steps.Step("r", "s").inputs is None


@pytest.mark.parametrize("cls", [records.Record, records.RecordEvent, records.Knowledge,
                                 engine.RecordStanding, engine.ScoreResult, steps.Step,
                                 joint_punishment.Measure])
def test_the_engine_values_use_it(cls):
    """The values built per record and per step of every served score."""
    assert cls.__init__.__code__.co_filename == f"<value {cls.__qualname__}>"
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
