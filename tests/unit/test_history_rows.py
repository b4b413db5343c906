"""A subject's history as the database wrote it (persistence/history_rows.py
``HistoryTexts``, ``HistoryDigest``): no rows read alike on both backends, and the texts
convert to the records and events they hold."""

from __future__ import annotations

import json
from datetime import date

from credit.persistence.history_rows import NO_HISTORY, NO_ROWS, HistoryDigest, HistoryTexts


def test_history_texts_read_no_rows_alike_and_convert_to_the_records_they_hold():
    """An empty array (SQLite's aggregate of no rows) and NULL (PostgreSQL's) are both
    no rows, so that a subject without events is one key on either backend."""
    assert HistoryTexts.read("[]", None) == HistoryTexts.read(None, "[]") == NO_HISTORY
    assert NO_HISTORY.records() == [] and NO_HISTORY.events() == []
    record = [7, "91330603MA2D4F6E84", "housing", "WAGE-ARREARS", "2026-03-01",
              "2027-03-01", "绍柯建罚〔2026〕7号", 42, "2026-03-02T09:00:00.000000+08:00", None,
              "ab" * 32]
    event = [7, "revocation", 61, "2026-04-01T10:00:00.000000+08:00", None,
             "绍柯建撤〔2026〕1号", "录入错误"]
    second = [8, *record[1:7], 50, *record[8:]]  # id 8 at position 50
    history = HistoryTexts.read(json.dumps([record, second], ensure_ascii=False),
                                json.dumps([event], ensure_ascii=False))
    (first, second), (revocation,) = history.records(), history.events()
    assert (first.id, first.audit_position, first.decided_on) == (7, 42, date(2026, 3, 1))
    assert (second.id, second.audit_position, second.valid_until) == (8, 50, date(2027, 3, 1))
    assert (revocation.record_id, revocation.kind, revocation.audit_position) == (
        7, "revocation", 61)


def test_a_history_digest_of_no_rows_is_one_key_however_read():
    """No rows is NULL on both backends; an empty text is read as none too, and a digest
    of rows is kept as the database joined it."""
    assert HistoryDigest.read(None, None) == HistoryDigest.read("", "") == NO_ROWS
    hashes = ",".join(["ab" * 32, "cd" * 32])
    assert HistoryDigest.read(hashes, None) == HistoryDigest(hashes, None) != NO_ROWS
