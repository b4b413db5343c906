"""The per-process memo of default scores' trace payloads (services/result_memo.py):
a hit returns what was computed for equal inputs, a miss computes, the least recently
used goes first, and a capacity of 0 remembers nothing."""

from __future__ import annotations

from credit.services.result_memo import ResultMemo


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, value):
        def compute():
            self.calls += 1
            return {"value": value}
        return compute


def test_equal_inputs_are_computed_once():
    memo, count = ResultMemo(capacity=4), Counting()
    first = memo.recall(("a", "history text"), count("a"))
    again = memo.recall(("a", "history" + " text"), count("a"))  # equal, not identical
    assert again is first and count.calls == 1


def test_different_inputs_are_computed_apart():
    memo, count = ResultMemo(capacity=4), Counting()
    assert memo.recall(("a", "h1"), count(1)) == {"value": 1}
    assert memo.recall(("a", "h2"), count(2)) == {"value": 2}
    assert count.calls == 2 and len(memo) == 2


def test_the_least_recently_used_goes_first():
    memo, count = ResultMemo(capacity=2), Counting()
    memo.recall("a", count("a"))
    memo.recall("b", count("b"))
    memo.recall("a", count("a"))  # a used again: b is now the oldest
    memo.recall("c", count("c"))
    assert len(memo) == 2 and count.calls == 3
    memo.recall("a", count("a"))
    assert count.calls == 3, "a was kept"
    memo.recall("b", count("b"))
    assert count.calls == 4, "b was dropped"


def test_capacity_zero_remembers_nothing():
    memo, count = ResultMemo(capacity=0), Counting()
    memo.recall("a", count("a"))
    memo.recall("a", count("a"))
    assert count.calls == 2 and len(memo) == 0


def test_a_failed_computation_is_not_remembered():
    memo, count = ResultMemo(capacity=2), Counting()

    def fails():
        raise ValueError("unknown sector")
    try:
        memo.recall("a", fails)
    except ValueError:
        pass
    assert len(memo) == 0
    assert memo.recall("a", count("a")) == {"value": "a"} and count.calls == 1
