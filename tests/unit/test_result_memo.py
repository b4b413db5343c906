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


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reports(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "credit.result_memo"]


def test_a_report_is_logged_once_its_interval_has_passed_and_counts_start_again(caplog):
    caplog.set_level("INFO", logger="credit.result_memo")
    clock, count = Clock(), Counting()
    memo = ResultMemo(capacity=2, report_every=60, clock=clock)
    for key in ("a", "a", "a", "b", "c"):  # 2 hits; a, b, c computed; a forgotten
        memo.recall(key, count(key))
    clock.now += 59.9
    memo.recall("c", count("c"))  # a third hit, and no report yet
    assert _reports(caplog) == []
    clock.now += 0.1
    memo.recall("a", count("a"))  # the report comes first, then this look-up (computed)
    assert _reports(caplog) == [
        "result memo: 6 look-ups since the last report, 3 answered from memory (50%), "
        "3 computed, 1 forgotten for room; 2 of 2 held"]
    clock.now += 60
    memo.recall("a", count("a"))  # counted after the second report
    assert _reports(caplog)[1] == (  # only the look-up after the first report
        "result memo: 1 look-ups since the last report, 0 answered from memory (0%), "
        "1 computed, 1 forgotten for room; 2 of 2 held")
    assert count.calls == 4


def test_a_memo_with_no_room_reports_what_it_computed(caplog):
    caplog.set_level("INFO", logger="credit.result_memo")
    clock, count = Clock(), Counting()
    memo = ResultMemo(capacity=0, report_every=1, clock=clock)
    memo.recall("a", count("a"))
    clock.now += 1
    memo.recall("a", count("a"))
    assert _reports(caplog) == [
        "result memo: 1 look-ups since the last report, 0 answered from memory (0%), "
        "1 computed, 0 forgotten for room; 0 of 0 held"]
