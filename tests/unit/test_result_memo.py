"""The per-process memo of default scores' trace payloads (services/result_memo.py):
a hit returns what was computed for equal inputs, a miss computes, the least recently
used goes first, and a capacity of 0 remembers nothing."""

from __future__ import annotations

import pytest

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


def _fails():
    raise ValueError("unknown sector")


def test_a_failed_computation_is_not_remembered():
    memo, count = ResultMemo(capacity=2), Counting()
    try:
        memo.recall("a", _fails)
    except ValueError:
        pass
    assert len(memo) == 0
    assert memo.recall("a", count("a")) == {"value": "a"} and count.calls == 1


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reports(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "credit.result_memo"]


def _reporting(caplog, capacity: int, every: float) -> tuple[ResultMemo, Clock, Counting]:
    """A memo reporting every ``every`` seconds of a clock the test moves, its reports
    captured (:func:`_reports`), and a counter of its computations."""
    caplog.set_level("INFO", logger="credit.result_memo")
    clock = Clock()
    return ResultMemo(capacity=capacity, report_every=every, clock=clock), clock, Counting()


def test_a_report_is_logged_once_its_interval_has_passed_and_counts_start_again(caplog):
    memo, clock, count = _reporting(caplog, capacity=2, every=60)
    for key in ("a", "a", "a", "b", "c"):  # 2 hits; a, b, c computed; a forgotten
        memo.recall(key, count(key))
    clock.now += 59.9
    memo.recall("c", count("c"))  # a third hit, and no report yet
    assert _reports(caplog) == []
    clock.now += 0.1
    memo.recall("a", count("a"))  # the report comes first, then this look-up (computed)
    assert _reports(caplog) == [
        "result memo, the last 60 s: 6 look-ups, 3 answered from memory (50%), "
        "3 computed, 1 forgotten for room; 2 of 2 held"]
    clock.now += 90
    memo.recall("a", count("a"))  # counted after the second report
    assert _reports(caplog)[1] == (  # only the look-up after the first report
        "result memo, the last 90 s: 1 look-up, 0 answered from memory (0%), "
        "1 computed, 1 forgotten for room; 2 of 2 held")
    assert count.calls == 4


@pytest.mark.parametrize("capacity, idle, held", [
    (0, 0, "0 of 0"),  # a memo with no room reports what it computed
    (2, 3600, "1 of 2"),  # an hour idle since the start: no line for that hour
])
def test_an_interval_is_reported_only_with_its_look_ups(caplog, capacity, idle, held):
    """A worker idle since its start, or since its last report, logs nothing for that
    time: the first look-up after it only starts the counts again."""
    memo, clock, count = _reporting(caplog, capacity=capacity, every=60)
    clock.now += idle
    memo.recall("a", count("a"))
    assert _reports(caplog) == []
    clock.now += 60
    memo.recall("a", count("a"))
    assert _reports(caplog) == [
        "result memo, the last 60 s: 1 look-up, 0 answered from memory (0%), "
        f"1 computed, 0 forgotten for room; {held} held"]


def test_a_failed_computation_is_counted_as_computed(caplog):
    memo, clock, count = _reporting(caplog, capacity=2, every=60)
    for _ in range(3):
        with pytest.raises(ValueError):
            memo.recall("a", _fails)
    clock.now += 60
    memo.recall("b", count("b"))
    assert _reports(caplog) == [
        "result memo, the last 60 s: 3 look-ups, 0 answered from memory (0%), "
        "3 computed, 0 forgotten for room; 0 of 2 held"]
