"""inputs.as_sent and inputs.sent_at: the paths of phase two's errors are the indexes
sent, and reading the sent list never fails whatever it holds."""

from credit.services.inputs import as_sent, sent_at


def test_items_that_loaded_nothing_keep_the_later_indexes():
    assert as_sent([None, {"a": 1}, None, 5], [{"a": 1}, {}]) == [(1, {"a": 1}), (3, {})]
    assert as_sent(["x", 5, "y"], ["x", "y"], lambda v: isinstance(v, str)) == \
        [(0, "x"), (2, "y")]


def test_when_the_count_does_not_agree_the_loaded_positions_stand():
    assert as_sent([None, None], [{}]) == [(0, {})]
    assert as_sent("not a list", [{}, {}]) == [(0, {}), (1, {})]


def test_sent_at_is_an_object_or_empty():
    assert sent_at([{"a": 1}, 5], 0) == {"a": 1}
    assert sent_at([{"a": 1}, 5], 1) == {} and sent_at([{}], 7) == {}
    assert sent_at(None, 0) == {} and sent_at([{"a": 1}], -1) == {}
