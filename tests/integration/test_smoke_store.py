"""A first end-to-end pass through the store on every backend."""

from credit.services.audit import verify_chain, verify_trace
from credit.services.context import Actor
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

HOUSING = Actor("柯桥区住房和城乡建设局", "regulator", token_id=1, sectors=frozenset(["housing"]))
EVALUATOR = Actor("评标系统", "evaluator", token_id=2)


def test_record_score_and_verify(ctx):
    create_record(ctx, HOUSING, {
        "uscc": "91330603MA2D4F6E84", "subject_name": "柯桥建工", "sector": "housing",
        "code": "BID-NOSIGN", "decided_on": "2026-01-10", "document_no": "D1",
        "issued_by": "住建局"})
    from datetime import date
    body = score(ctx, EVALUATOR, ScoreQuery("91330603MA2D4F6E84", "housing", date(2026, 6, 30)))
    assert body["score"] == "92.00"
    assert body["name"] == "柯桥建工"
    assert verify_trace(ctx, body["trace_id"])["ok"] is True
    assert verify_chain(ctx) == {"ok": True, "entries_checked": 2, "first_bad": None}
