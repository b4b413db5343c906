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


@pytest.mark.parametrize("lost", [False, True])
def test_entries_queued_behind_a_batch_that_found_the_database_busy_fail_with_it(lost):
    """A stopped holder of the append lock: the leader's batch waits its bound and fails
    503; an entry queued meanwhile was waiting for the same lock and fails with it, not
    after a second bound of its own as the next leader (a review measured 1.5 bounds).
    A lost connection fails only its own batch: the next leader opens another."""
    import threading

    from credit.errors import ConnectionLost, Unavailable
    waiting, release, calls = threading.Event(), threading.Event(), []

    def write(entries):
        calls.append([e.actor for e in entries])
        if len(calls) == 1:
            waiting.set()
            release.wait(5)
            raise (ConnectionLost if lost else Unavailable)("busy")
        return [(len(calls), "at", "sha") for _ in entries]

    appender = GroupAppender(write)
    outcome: dict = {}

    def request(actor):
        try:
            outcome[actor] = appender.append("k", actor, "{}")
        except Unavailable as exc:
            outcome[actor] = type(exc)

    leader = threading.Thread(target=request, args=("leader",))
    leader.start()
    assert waiting.wait(5)
    follower = threading.Thread(target=request, args=("follower",))
    follower.start()
    for _ in range(5000):  # until it is queued behind the leader's batch (at most 5 s)
        if appender.queued == 2:
            break
        threading.Event().wait(0.001)
    assert appender.queued == 2
    release.set()
    leader.join(5)
    follower.join(5)
    if lost:
        assert outcome == {"leader": ConnectionLost, "follower": Appended(2, "at", "sha")}
        assert calls == [["leader"], ["follower"]]
    else:
        assert outcome == {"leader": Unavailable, "follower": Unavailable}
        assert calls == [["leader"]]  # one wait for both
