"""Scores served from the per-process memo of trace payloads (services/result_memo.py),
on SQLite and PostgreSQL: a subject scored again before its history changes — a default
score, or a bidder of another evaluation — is not computed again, yet its trace names
its own knowledge and replays exactly; a new record, a revocation, another ``as_of`` or
another sector is computed afresh."""

from __future__ import annotations

import json
from datetime import date

from credit.services.audit import verify_chain, verify_trace
from credit.services.records import create_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, score

from .helpers import (
    EVALUATOR,
    EVALUATOR_2,
    HOUSING,
    S1,
    entry,
    head,
    make_uscc,
    record_body,
)
from .test_served_scores import Computations

AS_OF = date(2026, 6, 30)


def create(ctx, **overrides) -> dict:
    return json.loads(create_record(ctx, HOUSING, record_body(**overrides)).body)


def test_a_subject_scored_again_is_not_computed_again_and_replays(ctx, clock, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    first = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    clock.advance(minutes=1)
    second = score(ctx, EVALUATOR_2, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 1, "the second score came from the memo"

    trace = entry(ctx, second["trace_id"])["payload"]
    assert trace["knowledge_position"] == first["trace_id"], "the head the second read"
    assert trace["known_at"] == second["known_at"] == entry(ctx, first["trace_id"])["at"]
    assert trace["token_id"] == EVALUATOR_2.token_id
    assert second["known_at"] != first["known_at"]
    assert {k: v for k, v in second.items() if k not in ("known_at", "trace_id",
                                                        "trace_sha256")} == \
        {k: v for k, v in first.items() if k not in ("known_at", "trace_id", "trace_sha256")}
    # the replay recomputes at the trace's own knowledge: byte for byte the same payload
    assert verify_trace(ctx, first["trace_id"])["ok"] is True
    assert verify_trace(ctx, second["trace_id"])["ok"] is True
    assert verify_chain(ctx)["ok"] is True


def test_a_new_record_or_a_revocation_is_computed_afresh(ctx, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    before = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    rec = create(ctx, code="SAFE-ACC-LARGER", document_no="绍柯建罚〔2026〕77号")
    after = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 2 and after["score"] != before["score"]
    revoke_record(ctx, HOUSING, rec["id"], {"document_no": "撤〔2026〕1号",
                                            "reason": "复议撤销"})
    revoked = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 3 and revoked["score"] == before["score"]
    for body in (before, after, revoked):
        assert verify_trace(ctx, body["trace_id"])["ok"] is True


def test_another_as_of_or_sector_is_computed_afresh(ctx, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", date(2027, 6, 30)))
    score(ctx, EVALUATOR, ScoreQuery(S1, "transport", AS_OF))
    assert computed.done == 3
    score(ctx, EVALUATOR, ScoreQuery(S1, "transport", AS_OF))
    assert computed.done == 3
    assert head(ctx)[0] >= 5 and verify_chain(ctx)["ok"] is True


def evaluate_tender(ctx, code: str, bidders: list[dict]) -> dict:
    return json.loads(create_evaluation(ctx, EVALUATOR, {
        "tender": {"code": code, "name": "标段"}, "sector": "housing",
        "as_of": "2026-06-30", "bidders": bidders}).body)


def test_a_bidder_of_another_evaluation_is_not_computed_again(ctx, clock, monkeypatch):
    s2, s3 = make_uscc(2), make_uscc(3)
    create(ctx)
    create(ctx, uscc=s2, code="SAFE-ACC-LARGER", document_no="绍柯建罚〔2026〕21号")
    computed = Computations(monkeypatch)
    first = evaluate_tender(ctx, "KQ-1", [{"uscc": S1}, {"consortium": [s2, s3]}])
    assert computed.done == 3
    clock.advance(minutes=1)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))  # another kind of key
    assert computed.done == 4
    create(ctx, uscc=s3, document_no="绍柯建罚〔2026〕31号")  # s3's history changes
    clock.advance(minutes=1)
    second = evaluate_tender(ctx, "KQ-2", [{"consortium": [s3, s2]}, {"uscc": S1}])
    assert computed.done == 5, "only s3 computed again"

    def by_bidder(doc):
        return {json.dumps(r["bidder"], sort_keys=True): r for r in doc["results"]}
    a, b = by_bidder(first), by_bidder(second)
    assert a['{"uscc": "%s"}' % S1]["score"] == b['{"uscc": "%s"}' % S1]["score"]
    assert second["known_at"] != first["known_at"]
    for doc in (first, second):
        for result in doc["results"]:
            for member in result["members"]:
                trace = entry(ctx, member["trace_id"])["payload"]
                assert trace["known_at"] == doc["known_at"] == member["known_at"]
                assert trace["evaluation"]["id"] == doc["id"]
                assert verify_trace(ctx, member["trace_id"])["ok"] is True
    assert verify_chain(ctx)["ok"] is True
