"""A served score's trace payload remembered by its exact inputs (issue 10).

The engine is a pure function of (model, the subject's records and events, sector,
``as_of``, knowledge). A default score reads which rows the subject's history holds at
the committed head (persistence/served_scores.py), and every one of them is at or below
that head, so the knowledge only names the head: it drops nothing. Two reads of the same
rows, for the same model, sector, ``as_of`` and registered name, therefore compute the
same score, records and steps; their trace payloads differ only in the three knowledge
fields, which :func:`credit.domain.trace.rebased` replaces. This memo keeps the payload
of the last such inputs per process, with the canonical texts of its large members that
do not depend on the knowledge (``canonical_text.dumps_with`` writes the rest), so a
subject scored again before its history changes skips reading its rows, the engine, the
trace's building and most of its canonical text. An evaluation's bidders (API.md §5) are
remembered the same way: their histories are read under the append lock by the same SQL
(persistence/history_rows.py ``digest_sql``), all known at the evaluation's own
knowledge, so a bidder scored by a default score before the opening is not computed
again by the evaluation, nor the other way round; only the bidders the memo does not
hold have their rows read.

**The key** is every input but the knowledge, with the history as its rows' own SHA-256
hashes in the order of their ids (history_rows.HistoryDigest): each row's hash covers
every column the engine reads, its id and audit position among them, is written with the
row, which is never updated, and is re-hashed by ``credit audit verify``. So equal keys
are the same rows, short of a SHA-256 collision; a row altered behind the service's back
(which verify reports) would not be seen by a score this memo already holds. Keying by
the hashes instead of the rows themselves spares the database writing every row out as
JSON on each served score (bench/README.md, twenty-seventh pass). A new record,
revocation or repair changes the history and so the key; the model is keyed by its
content hash as well as its name.

What it does not change: every served score still reads at the head (its revocation
check, its knowledge), still appends its full trace under the append lock before it is
answered, and that trace is byte for byte the one a fresh computation writes
(tests/unit/test_engine_properties.py and test_canonical_text.py hold the rebasing and
the assembled text to fresh ones; tests/integration/test_result_memo.py compares every
served entry with a fresh computation's).

Bounded: the least recently used payload goes when :data:`CAPACITY` are held (a
twenty-record subject's result, payload and texts take about 86 KiB, measured with
tracemalloc on the bench population, so at most about 22 MB per worker). Shared by
the threads of a gthread worker under one lock; the payloads themselves are never
mutated (``rebased`` copies the dicts a request stamps).

Visible: every :data:`REPORT_EVERY` seconds (at the first look-up after that, and only
if there was one before it) a worker logs at INFO on ``credit.result_memo`` how many
look-ups it had in that time, how many it answered from memory and how many it computed
(a computation that failed included), how many payloads it forgot for want of room, and
how many it holds, so that an operator sees whether the traffic repeats histories (the
bid-opening pattern) or the memo is only memory spent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable

log = logging.getLogger("credit.result_memo")

#: How many subjects' payloads a worker remembers: the bidders of a few tenders opened
#: the same day.
CAPACITY = 256
#: Seconds between two reports of a worker's memo (module docstring).
REPORT_EVERY = 900.0


class ResultMemo:
    """Least-recently-used payloads by their exact inputs (module docstring); what is
    remembered is whatever ``compute`` returns (the payload and its member texts).
    ``clock``: seconds, for the reports only (``time.monotonic``)."""

    def __init__(self, capacity: int = CAPACITY, report_every: float = REPORT_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self._held: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._report_every, self._clock = report_every, clock
        self._counts = _Counts(clock())

    def holds(self, key: Hashable) -> bool:
        """Whether ``key`` is remembered now (a look-ahead that counts nothing: a
        caller reading the inputs of several look-ups at once reads only what a miss
        needs; the entry may be forgotten before its :meth:`recall`)."""
        with self._lock:
            return key in self._held

    def recall(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """What was remembered for ``key``, or ``compute()``'s answer, remembered. Never
        stamp or edit a payload this returns: rebase it (``trace.rebased``) first."""
        with self._lock:
            report = self._report_due()
            held = self._held.get(key)
            if held is not None:
                self._counts.hits += 1
                self._held.move_to_end(key)
            else:
                self._counts.computed += 1
        if report:
            log.info(report)
        if held is not None:
            return held
        computed = compute()  # outside the lock: other threads' hits need not wait
        with self._lock:
            if self.capacity > 0:
                self._held[key] = computed
                self._held.move_to_end(key)
                while len(self._held) > self.capacity:
                    self._held.popitem(last=False)
                    self._counts.forgotten += 1
        return computed

    def _report_due(self) -> str | None:
        """The report's line when it is due and there were look-ups to report (the
        counts start again), else None. Called with the lock held; the line is logged
        after it is let go."""
        now = self._clock()
        counts = self._counts
        if now < counts.since + self._report_every:
            return None
        self._counts = _Counts(now)
        if not counts.hits + counts.computed:
            return None
        return counts.line(now, len(self._held), self.capacity)

    def __len__(self) -> int:
        return len(self._held)


class _Counts:
    """What a memo did since ``since`` (its clock's seconds: the last report, or its
    start)."""

    def __init__(self, since: float):
        self.since = since
        self.hits = self.computed = self.forgotten = 0

    def line(self, now: float, held: int, capacity: int) -> str:
        lookups = self.hits + self.computed
        return (f"result memo, the last {now - self.since:,.0f} s: {lookups:,} "
                f"look-up{'' if lookups == 1 else 's'}, {self.hits:,} answered from memory "
                f"({self.hits / lookups:.0%}), {self.computed:,} computed, "
                f"{self.forgotten:,} forgotten for room; {held:,} of {capacity:,} held")
