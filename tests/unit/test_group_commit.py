"""The group appender's bookkeeping without a database (services/group_commit.py): each
request gets its own entry's result, None for an entry the store refused, the store's
error for every request of a failed batch; the counters count what was written."""

from __future__ import annotations

import pytest

from credit.services.group_commit import Appended, GroupAppender


def _store(refused: set[str], fail: bool = False):
    positions = iter(range(1, 100))

    def write(entries):
        if fail:
            raise RuntimeError("disk I/O error")
        return [None if e.actor in refused else (next(positions), "at", "sha")
                for e in entries]
    return write


def test_a_written_entry_and_a_refused_one():
    appender = GroupAppender(_store(refused={"revoked"}))
    assert appender.append("k", "kept", "{}") == Appended(1, "at", "sha")
    assert appender.append("k", "revoked", "{}", token_id=7) is None
    assert (appender.queued, appender.batches, appender.entries) == (2, 1, 1)


def test_a_batch_whose_every_entry_was_refused_is_not_counted():
    appender = GroupAppender(_store(refused={"revoked"}))
    for _ in range(3):
        assert appender.append("k", "revoked", "{}", token_id=7) is None
    assert (appender.queued, appender.batches, appender.entries) == (3, 0, 0)


def test_a_failed_batch_raises_its_error_and_counts_nothing():
    appender = GroupAppender(_store(refused=set(), fail=True))
    with pytest.raises(RuntimeError, match="disk I/O error"):
        appender.append("k", "a", "{}")
    assert (appender.batches, appender.entries) == (0, 0)
