"""A bid protest (API.md §5): the evaluation document of a bid opening is re-read after
a record it relied on was revoked — it must not have moved, while a fresh score has,
and the old member traces still replay."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import (
    S1,
    S2,
    S3,
    assert_error,
    audit_head,
    evaluation_body,
    revocation_body,
)

pytestmark = pytest.mark.db


def test_protest_rereads_a_frozen_evaluation(api, ctx, clock):
    # the records known at the bid opening
    nosign = api.create_record(code="BID-NOSIGN", decided_on="2026-01-10", document_no="P-1")
    api.create_record(code="SITE-QUALITY", decided_on="2026-02-01", document_no="P-2")
    api.create_record(uscc=S3, subject_name="北京某集团有限公司", code="BID-FRAUD",
                      decided_on="2025-12-01", document_no="P-3")
    clock.advance(minutes=5)

    created = api.post("/api/v1/evaluations", evaluation_body(
        as_of="2026-06-01", bidders=[{"uscc": S1}, {"consortium": [S2, S3]}]), "evaluator")
    assert created.status_code == 201
    doc = json.loads(created.data)
    s1_result, consortium = doc["results"]
    assert s1_result["score"] == "87.00" and s1_result["grade"] == "C"
    assert consortium["score"] == "85.00" and consortium["grade"] == "C"
    (member,) = s1_result["members"]
    assert [r["record_id"] for r in member["reasons"]][0] == nosign["id"]

    # later (a month of review), the BID-NOSIGN decision is overturned and revoked
    clock.advance(days=30)
    r = api.post(f"/api/v1/records/{nosign['id']}/revocation",
                 revocation_body(reason="行政复议决定撤销原处罚决定书"), "regulator")
    assert r.status_code == 200 and r.get_json()["status"] == "revoked"

    # the protest re-reads the evaluation: byte-identical, so JSON-equal, for everyone
    # allowed to read it
    for who in ("evaluator", "auditor", "admin"):
        again = api.get(f"/api/v1/evaluations/{doc['id']}", who)
        assert again.status_code == 200
        assert again.data == created.data
        assert json.loads(again.data) == doc

    # a fresh score (as of the same bid deadline) has moved: the revoked record is gone
    fresh = api.score(S1, as_of="2026-06-01")
    assert fresh["score"] == "95.00" and fresh["score"] != member["score"]
    assert fresh["trace_id"] != member["trace_id"]
    assert nosign["id"] not in [x.get("record_id") for x in fresh["reasons"]]
    # ... while the same score as known at the bid opening has not
    at_opening = api.score(S1, as_of="2026-06-01",
                           known_at=doc["known_at"].replace("+", "%2B"))
    for key in ("score", "grade", "components", "eligible_to_bid", "bid_points",
                "inspection_multiplier", "measures", "reasons", "name"):
        assert at_opening[key] == member[key], key

    # the old member traces still verify, replay included
    head = audit_head(ctx)
    for result in doc["results"]:
        for m in result["members"]:
            v = api.get(f"/api/v1/traces/{m['trace_id']}/verify", "auditor")
            assert v.status_code == 200
            assert v.get_json() == {"hash_ok": True, "chain_ok": True, "replay_ok": True,
                                    "ok": True, "differences": []}
            t = api.get(f"/api/v1/traces/{m['trace_id']}", "auditor").get_json()
            assert t["sha256"] == m["trace_sha256"]
            assert t["payload"]["known_at"] == doc["known_at"]
            assert t["payload"]["result"]["score"] == m["score"]
    # the trace of the revoked record still shows it as it counted then
    t = api.get(f"/api/v1/traces/{member['trace_id']}", "auditor").get_json()
    (counted,) = [x for x in t["payload"]["records"] if x["id"] == nosign["id"]]
    assert counted["status"] == "active" and counted["contribution"] == "-8.00"
    assert counted["sha256"] == nosign["sha256"]
    # a trace served after the revocation shows the record revoked
    t2 = api.get(f"/api/v1/traces/{fresh['trace_id']}", "auditor").get_json()
    (gone,) = [x for x in t2["payload"]["records"] if x["id"] == nosign["id"]]
    assert gone["status"] == "revoked" and gone["contribution"] == "0.00"

    chain = api.get("/api/v1/audit/verify", "auditor").get_json()
    assert chain["ok"] is True and chain["first_bad"] is None
    assert audit_head(ctx) == head

    # the evaluator of another tender may not read it; the enterprise neither
    assert_error(api.get(f"/api/v1/evaluations/{doc['id']}", "evaluator2"), 403, "forbidden")
    assert_error(api.get(f"/api/v1/evaluations/{doc['id']}", "enterprise"), 403, "forbidden")
    # the enterprise sees in its inquiry log which tender pulled its score
    inq = api.get(f"/api/v1/subjects/{S1}/inquiries", "enterprise").get_json()["items"]
    tender_items = [i for i in inq if i.get("evaluation_id") == doc["id"]]
    assert [i["trace_id"] for i in tender_items] == [member["trace_id"]]
    assert tender_items[0]["tender_code"] == "KQ-2026-0012"
