"""The per-process memo of default scores' trace payloads (services/result_memo.py):
a hit returns what was computed for equal inputs, a miss computes, the least recently
used goes first, and a capacity of 0 remembers nothing."""

from __future__ import annotations

from datetime import date

import pytest

from credit.persistence.history_rows import RECORD_COLUMNS, HistoryRows
from credit.services.result_memo import ResultMemo, RowsKey


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


def _row(**changes) -> tuple:
    """A record row as the evaluation's query returns it (RECORD_COLUMNS order)."""
    fields = dict(id=7, uscc="91330603MA2D4F6E84", sector="housing", code="WAGE-ARREARS",
                  decided_on=date(2026, 3, 1), valid_until=date(2027, 3, 1),
                  document_no="绍柯建罚〔2026〕7号", audit_position=42,
                  recorded_at="2026-03-02T09:00:00.000000+08:00", project_code=None,
                  sha256="ab" * 32)
    fields.update(changes)
    return tuple(fields[c] for c in RECORD_COLUMNS)


def _key(inputs: tuple, *rows: tuple) -> RowsKey:
    return RowsKey(inputs, HistoryRows(rows, ()))


def test_rows_keys_are_equal_exactly_when_every_field_of_every_row_is():
    inputs = ("keqiao-2025", 2, "sha", "91330603MA2D4F6E84", "housing", "2026-11-30", "甲")
    key = _key(inputs, _row())
    same = _key(tuple(inputs), _row())  # equal values, other objects
    assert key == same and hash(key) == hash(same)
    # a field the hash leaves out still tells the keys apart: never a collision
    for other in (_row(document_no="绍柯建罚〔2026〕8号"), _row(sha256="cd" * 32),
                  _row(valid_until=None), _row(id=8)):
        differs = _key(inputs, other)
        assert hash(differs) == hash(key) and differs != key
    assert _key(inputs, _row(audit_position=43)) != key
    assert _key(inputs[:-1] + ("乙",), _row()) != key
    assert _key(inputs, _row(), _row(id=8, audit_position=43)) != key  # one more record
    assert key != (inputs, ((_row(),), ()))  # nor is it equal to the tuple of its parts


def test_a_rows_key_that_differs_in_one_field_is_computed_afresh():
    memo, count = ResultMemo(capacity=4), Counting()
    inputs = ("m", "u")
    memo.recall(_key(inputs, _row()), count("first"))
    assert memo.recall(_key(inputs, _row()), count("again")) == {"value": "first"}
    changed = memo.recall(_key(inputs, _row(code="BID-NOSIGN")), count("changed"))
    assert changed == {"value": "changed"} and count.calls == 2


def test_history_rows_name_their_positions_and_convert_to_the_records_they_hold():
    rows = (_row(), _row(id=8, audit_position=50, code="BID-NOSIGN"))
    event = (7, "revocation", 61, "2026-04-01T10:00:00.000000+08:00", None, "绍柯建撤〔2026〕1号",
             "录入错误")
    history = HistoryRows(rows, (event,))
    assert history.positions == ((42, 50), (61,)) and history.rows == (rows, (event,))
    (first, second), (revocation,) = history.domain()
    assert (first.id, first.audit_position, first.code) == (7, 42, "WAGE-ARREARS")
    assert (second.id, second.audit_position, second.code) == (8, 50, "BID-NOSIGN")
    assert (revocation.record_id, revocation.kind, revocation.audit_position) == (
        7, "revocation", 61)
