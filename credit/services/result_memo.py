"""A served score's trace payload remembered by its exact inputs (issue 10).

The engine is a pure function of (model, the subject's records and events, sector,
``as_of``, knowledge). A default score reads the subject's history at the committed head
as two JSON texts (persistence/served_scores.py), and every row of them is at or below
that head, so the knowledge only names the head: it drops nothing. Two reads whose texts
are equal, for the same model, sector, ``as_of`` and registered name, therefore compute
the same score, records and steps; their trace payloads differ only in the three
knowledge fields, which :func:`credit.domain.trace.rebased` replaces. This memo keeps the
payload of the last such inputs per process, with the canonical texts of its large
members that do not depend on the knowledge (``canonical_text.dumps_with`` writes the
rest), so a subject scored again before its history changes skips the parsing, the
engine, the trace's building and most of its canonical text. An evaluation's bidders
(API.md §5) are remembered the same way, keyed by the records and events read under the
append lock (immutable values, compared field by field), all known at the evaluation's
own knowledge.

What it does not change: every served score still reads at the head (its revocation
check, its knowledge), still appends its full trace under the append lock before it is
answered, and that trace is byte for byte the one a fresh computation writes
(tests/unit/test_engine_properties.py and test_canonical_text.py hold the rebasing and
the assembled text to fresh ones; tests/integration/test_result_memo.py compares every
served entry with a fresh computation's). The key is the whole input, not a digest of
it: equal keys are equal inputs, never a collision. A new record, revocation or repair
changes the history and so the key; the model is keyed by its content hash as well as
its name.

Bounded: the least recently used payload goes when :data:`CAPACITY` are held (a
twenty-record subject's result, payload and texts take about 86 KiB, measured with
tracemalloc on the bench population, so at most about 22 MB per worker). Shared by
the threads of a gthread worker under one lock; the payloads themselves are never
mutated (``rebased`` copies the dicts a request stamps).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

#: How many subjects' payloads a worker remembers: the bidders of a few tenders opened
#: the same day.
CAPACITY = 256


class ResultMemo:
    """Least-recently-used payloads by their exact inputs (module docstring); what is
    remembered is whatever ``compute`` returns (the payload and its member texts)."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._held: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """What was remembered for ``key``, or ``compute()``'s answer, remembered. Never
        stamp or edit a payload this returns: rebase it (``trace.rebased``) first."""
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                self._held.move_to_end(key)
                return held
        computed = compute()  # outside the lock: other threads' hits need not wait
        if self.capacity > 0:
            with self._lock:
                self._held[key] = computed
                self._held.move_to_end(key)
                while len(self._held) > self.capacity:
                    self._held.popitem(last=False)
        return computed

    def __len__(self) -> int:
        return len(self._held)
