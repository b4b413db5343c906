"""credit/persistence/failures.py: whether a failed database call may be retried is
decided by whether COMMIT was sent, in one place for both ways the service writes."""

import pytest

from credit.errors import ConnectionLost, Unavailable
from credit.persistence.failures import failure


@pytest.mark.parametrize("lost, operational, commit_sent, expected", [
    (True, False, False, ConnectionLost),   # nothing was written: retried once
    (True, True, False, ConnectionLost),
    (True, False, True, Unavailable),       # outcome unknown: never retried
    (True, True, True, Unavailable),
    (False, True, False, Unavailable),      # busy or unreachable
    (False, True, True, Unavailable),
    (False, False, False, None),            # a bug or a constraint: propagates
    (False, False, True, None),
])
def test_the_line_is_whether_commit_was_sent(lost, operational, commit_sent, expected):
    got = failure(lost=lost, operational=operational, commit_sent=commit_sent)
    if expected is None:
        assert got is None
    else:
        assert type(got) is expected
        assert got.status == 503
        assert "127.0.0.1" not in got.message  # generic: the driver's text is logged
