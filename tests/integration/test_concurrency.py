"""Concurrent writers and scorers on one database (API.md §3, §6): the append lock keeps
positions gap-free and ``at`` strictly increasing, every acknowledged write is stored
exactly once, a score sees every write committed before it, and concurrent retries with
one Idempotency-Key create exactly one record. Real clock, separate units of work."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date

import pytest

from credit.errors import Conflict
from credit.services.audit import verify_chain, verify_trace
from credit.services.bootstrap import build_context
from credit.services.context import Actor
from credit.services.idempotency import IdempotentRequest
from credit.services.records import create_record, get_record
from credit.services.scoring import ScoreQuery, create_evaluation, score

from .helpers import (
    EVALUATOR,
    HOUSING,
    S1,
    S2,
    all_entries,
    counts,
    instant,
    make_uscc,
    record_body,
)

THREADS = 8
ROUNDS = 5
AS_OF = date(2024, 6, 1)


@pytest.fixture
def real_ctx(database_url):
    context = build_context(database_url)
    yield context
    context.uow.engine.dispose()


def run_threads(n, target):
    """Start ``n`` threads together; re-raise the first failure of any of them."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def wrap(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]
    return results


def test_concurrent_writers_and_scorers(real_ctx):
    ctx = real_ctx

    def worker(i):
        actor = Actor(f"柯桥区住建局窗口{i}", "regulator", token_id=100 + i,
                      sectors=frozenset(["housing"]))
        uscc = make_uscc(i)
        records, scores = [], []
        for j in range(ROUNDS):
            out = create_record(ctx, actor, record_body(
                uscc=uscc, decided_on="2024-01-10", document_no=f"C-{i}-{j}"))
            records.append(json.loads(out.body))
            body = score(ctx, EVALUATOR, ScoreQuery(uscc, "housing", AS_OF))
            # read-your-writes: every record acknowledged before this score counts
            assert body["score"] == f"{100 - 8 * (j + 1)}.00"
            scores.append(body)
            # a concurrent reader sees the committed record
            assert get_record(ctx, EVALUATOR, records[-1]["id"]) == records[-1]
        return records, scores

    results = run_threads(THREADS, worker)
    records = [r for rs, _ in results for r in rs]
    scores = [s for _, ss in results for s in ss]
    total = THREADS * ROUNDS * 2

    entries = all_entries(ctx)
    assert [e["position"] for e in entries] == list(range(1, total + 1))
    ats = [instant(e["at"]) for e in entries]
    assert all(a < b for a, b in zip(ats, ats[1:], strict=False))
    assert verify_chain(ctx) == {"ok": True, "entries_checked": total, "first_bad": None}

    # every acknowledged record: stored once, created by exactly one entry at its position
    assert len({r["id"] for r in records}) == len(records) == THREADS * ROUNDS
    assert counts(ctx)["records"] == len(records)
    created = Counter(e["payload"]["record"]["id"] for e in entries
                      if e["kind"] == "record.created")
    assert created == Counter(r["id"] for r in records)
    by_position = {e["position"]: e for e in entries}
    for r in records:
        e = by_position[r["audit_position"]]
        assert e["kind"] == "record.created" and e["payload"]["record"]["id"] == r["id"]
        assert e["at"] == r["recorded_at"] and e["payload"]["sha256"] == r["sha256"]
    # every acknowledged score: its own trace, exactly as returned
    assert len({s["trace_id"] for s in scores}) == len(scores)
    for s in scores:
        e = by_position[s["trace_id"]]
        assert e["kind"] == "score.served" and e["sha256"] == s["trace_sha256"]
        # known_at: the committed head the computation read (API.md §4), before its trace
        seen = e["payload"]["knowledge_position"]
        assert seen < s["trace_id"] and by_position[seen]["at"] == s["known_at"]
    for s in scores[::7]:
        assert verify_trace(ctx, s["trace_id"])["ok"] is True


def test_concurrent_retries_with_one_key_create_one_record(real_ctx):
    ctx = real_ctx
    body = record_body(decided_on="2024-01-10")
    idem = IdempotentRequest(token_id=HOUSING.token_id, method="POST", path="/api/v1/records",
                             key="retry-1", body=body)

    outcomes = run_threads(THREADS, lambda i: create_record(ctx, HOUSING, dict(body), idem))
    assert len({o.body for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * (THREADS - 1)
    assert all(o.status == 201 for o in outcomes)
    c = counts(ctx)
    assert (c["records"], c["audit"], c["idempotency"]) == (1, 1, 1)
    assert verify_chain(ctx)["ok"] is True


def test_concurrent_duplicates_without_key(real_ctx):
    ctx = real_ctx
    body = record_body(uscc=S2, decided_on="2024-01-10")

    def attempt(i):
        try:
            return json.loads(create_record(ctx, HOUSING, dict(body)).body)["id"]
        except Conflict as exc:
            return exc.error

    outcomes = run_threads(THREADS, attempt)
    assert sorted(outcomes, key=str) == [1] + ["duplicate_record"] * (THREADS - 1)
    assert counts(ctx)["records"] == 1
    assert verify_chain(ctx)["ok"] is True


def test_concurrent_evaluation_retries(real_ctx):
    ctx = real_ctx
    create_record(ctx, HOUSING, record_body(uscc=S1, decided_on="2024-01-10"))
    body = {"tender": {"code": "KQ-C", "name": "并发标段"}, "sector": "housing",
            "as_of": "2024-06-01", "bidders": [{"uscc": S1}, {"consortium": [S2, make_uscc(7)]}]}
    idem = IdempotentRequest(token_id=EVALUATOR.token_id, method="POST",
                             path="/api/v1/evaluations", key="eval-retry", body=body)
    outcomes = run_threads(4, lambda i: create_evaluation(ctx, EVALUATOR, body, idem))
    assert len({o.body for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    c = counts(ctx)
    assert c["evaluations"] == 1
    assert c["audit"] == 1 + 3 + 1  # the record, three member traces, the evaluation
    assert verify_chain(ctx)["ok"] is True
