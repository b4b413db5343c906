"""Every route of API.md through the real app: success bodies with the fields the
contract names, paging, instants in query strings, ids in paths, idempotent retries,
HEAD on the score route and the OpenAPI document."""

from __future__ import annotations

import json
import re

import pytest

from credit.uscc import USCC_SHAPE
from tests.e2e.conftest import (
    DECIMAL_RE,
    ENTRY_KEYS,
    GENESIS,
    INSTANT_RE,
    S1,
    S2,
    S3,
    S4,
    SHA_RE,
    assert_error,
    audit_head,
    canonical_sha256,
    collect_pages,
    evaluation_body,
    record_body,
    repair_body,
    revocation_body,
)

pytestmark = pytest.mark.db

RECORD_FIELDS = {
    # every input field ...
    "uscc", "subject_name", "sector", "code", "decided_on", "document_no", "issued_by",
    "valid_until", "project_code", "project_name", "occurred_on", "note",
    # ... plus the service's
    "id", "category", "tier", "points", "valid_from", "original_valid_until", "status",
    "counts_today", "entered_by", "recorded_at", "audit_position", "sha256", "events",
}
IMMUTABLE = ("id", "uscc", "subject_name", "sector", "code", "decided_on", "document_no",
             "issued_by", "project_code", "project_name", "occurred_on", "note",
             "entered_by", "recorded_at", "audit_position")
EVENT_FIELDS = {"kind", "document_no", "reason", "entered_by", "recorded_at", "audit_position"}
SCORE_FIELDS = {"uscc", "name", "sector", "as_of", "known_at", "model", "score", "components",
                "grade", "eligible_to_bid", "bid_points", "inspection_multiplier", "measures",
                "reasons", "trace_id", "trace_sha256"}

EVERY_ROUTE = {
    "/api/v1/health": {"get"},
    "/api/v1/openapi.json": None,  # the document itself need not describe itself
    "/api/v1/models": {"get"},
    "/api/v1/models/{ref}": {"get"},
    "/api/v1/records": {"get", "post"},
    "/api/v1/records/{record_id}": {"get"},
    "/api/v1/records/{record_id}/revocation": {"post"},
    "/api/v1/records/{record_id}/repair": {"post"},
    "/api/v1/subjects/{uscc}": {"get"},
    "/api/v1/subjects/{uscc}/score": {"get"},
    "/api/v1/subjects/{uscc}/inquiries": {"get"},
    "/api/v1/evaluations": {"post"},
    "/api/v1/evaluations/{evaluation_id}": {"get"},
    "/api/v1/traces": {"get"},
    "/api/v1/traces/{trace_id}": {"get"},
    "/api/v1/traces/{trace_id}/verify": {"get"},
    "/api/v1/audit/entries": {"get"},
    "/api/v1/audit/verify": {"get"},
    "/api/v1/audit/checkpoint": {"get"},
    "/api/v1/audit/public-key": {"get"},
    "/api/v1/public/punishments": {"get"},
    "/api/v1/applications": {"get"},
    "/api/v1/records/{record_id}/applications": {"post"},
    "/api/v1/applications/{application_id}/decision": {"post"},
}


def _check_record(rec: dict, body: dict, who_name: str) -> None:
    assert set(rec) >= RECORD_FIELDS, RECORD_FIELDS - set(rec)
    for key, value in body.items():
        if key != "valid_until":
            assert rec[key] == value, key
    assert isinstance(rec["id"], int) and rec["id"] >= 1
    assert rec["valid_from"] == rec["decided_on"]
    assert rec["entered_by"] == who_name
    assert INSTANT_RE.match(rec["recorded_at"])
    assert SHA_RE.match(rec["sha256"])
    assert DECIMAL_RE.match(rec["points"])
    assert rec["status"] in ("active", "repaired", "revoked")
    assert isinstance(rec["counts_today"], bool)
    # sha256 of the immutable fields (API.md §3), recomputed independently
    facts = {k: rec[k] for k in IMMUTABLE}
    facts["valid_until"] = rec["original_valid_until"]
    assert canonical_sha256(facts) == rec["sha256"]


def test_records_create_read_list(api, ctx):
    body = {
        "uscc": "  " + S1.lower() + " ", "subject_name": "  绍兴柯桥建工集团有限公司 ",
        "sector": "housing", "code": "BID-NOSIGN", "decided_on": "2026-01-10",
        "document_no": " 绍柯建罚〔2026〕1号 ", "issued_by": "柯桥区住房和城乡建设局",
        "project_code": "KQ-P-01", "project_name": "某安置房项目", "occurred_on": "2025-12-20",
        "note": "  中标后拒签合同  ",
    }
    r = api.post("/api/v1/records", body, "regulator")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.mimetype == "application/json"
    rec = r.get_json()
    stored = {k: v.strip() if isinstance(v, str) else v for k, v in body.items()}
    stored["uscc"] = S1
    _check_record(rec, stored, "柯桥区住房和城乡建设局")
    assert rec["category"] == "market" and rec["tier"] == "general"
    assert rec["points"] == "-8.00"
    assert rec["valid_until"] == rec["original_valid_until"] == "2027-01-09"
    assert rec["status"] == "active" and rec["counts_today"] is True
    assert rec["events"] == []
    assert rec["audit_position"] == audit_head(ctx)

    # the creating entry carries the hash
    entries = api.get("/api/v1/audit/entries?kind=record.created", "auditor").get_json()
    (entry,) = entries["items"]
    assert entry["position"] == rec["audit_position"]
    assert entry["payload"]["sha256"] == rec["sha256"]
    assert entry["at"] == rec["recorded_at"]

    got = api.get(f"/api/v1/records/{rec['id']}", "auditor")
    assert got.status_code == 200 and got.get_json() == rec

    # an explicit code keeps its valid_until; a good record has no tier
    ban = api.create_record(code="BID-BAN", decided_on="2026-01-01", valid_until="2026-12-31",
                            document_no="绍柯建罚〔2026〕9号")
    assert ban["valid_until"] == ban["original_valid_until"] == "2026-12-31"
    assert ban["tier"] == "serious" and ban["points"] == "0.00"
    award = api.create_record(code="AWARD-PROVINCIAL", document_no="浙建奖〔2025〕3号",
                              decided_on="2025-03-01", project_code="P1")
    assert award["tier"] is None and award["category"] == "good" and award["points"] == "3.00"
    assert award["valid_until"] == "2028-02-29"

    listed = api.get("/api/v1/records", "auditor").get_json()
    assert set(listed) == {"items", "next"} and listed["next"] is None
    assert [x["id"] for x in listed["items"]] == [award["id"], ban["id"], rec["id"]]
    assert [x["audit_position"] for x in listed["items"]] == sorted(
        (x["audit_position"] for x in listed["items"]), reverse=True)
    for item in listed["items"]:
        assert set(item) >= RECORD_FIELDS
    # filters
    only = api.get("/api/v1/records?code=BID-BAN&sector=housing&uscc=" + S1, "auditor")
    assert [x["id"] for x in only.get_json()["items"]] == [ban["id"]]
    assert api.get("/api/v1/records?sector=water", "auditor").get_json()["items"] == []
    assert api.get(f"/api/v1/records?uscc={S2}", "auditor").get_json()["items"] == []


def test_subject_first_name_registers(api):
    api.create_record(subject_name="绍兴柯桥建工集团有限公司")
    second = api.create_record(subject_name="绍兴柯桥建工集团（更名后）", document_no="X-2")
    assert second["subject_name"] == "绍兴柯桥建工集团（更名后）"
    r = api.get(f"/api/v1/subjects/{S1.lower()}", "evaluator")
    assert r.status_code == 200
    body = r.get_json()
    assert body["uscc"] == S1 and body["name"] == "绍兴柯桥建工集团有限公司"
    assert body["counts"]["housing"] == {"active": 2, "repaired": 0, "revoked": 0}
    for sector in ("transport", "water"):
        assert body["counts"].get(sector, {"active": 0, "repaired": 0, "revoked": 0}) == \
            {"active": 0, "repaired": 0, "revoked": 0}
    assert_error(api.get(f"/api/v1/subjects/{S2}", "evaluator"), 404, "not_found")


def test_revocation_and_repair_bodies(api, ctx):
    rec = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    assert rec["original_valid_until"] == "2026-08-31"
    r = api.post(f"/api/v1/records/{rec['id']}/repair", repair_body("2026-04-01"), "regulator")
    assert r.status_code == 200, r.get_data(as_text=True)
    rep = r.get_json()
    assert rep["status"] == "repaired"
    assert rep["valid_until"] == "2026-03-31"
    assert rep["original_valid_until"] == "2026-08-31"
    assert rep["repaired_on"] == "2026-04-01"
    assert rep["counts_today"] is False
    assert rep["sha256"] == rec["sha256"]
    (ev,) = rep["events"]
    assert set(ev) >= EVENT_FIELDS | {"repaired_on"}
    assert ev["repaired_on"] == "2026-04-01"
    assert ev["document_no"] == "绍柯建修〔2026〕1号"
    assert ev["entered_by"] == "柯桥区住房和城乡建设局"
    assert INSTANT_RE.match(ev["recorded_at"]) and ev["audit_position"] == audit_head(ctx)

    # a repaired record may be revoked
    r = api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(), "regulator")
    assert r.status_code == 200, r.get_data(as_text=True)
    rev = r.get_json()
    assert rev["status"] == "revoked" and rev["counts_today"] is False
    assert [e["audit_position"] for e in rev["events"]] == sorted(
        e["audit_position"] for e in rev["events"])
    assert set(rev["events"][1]) >= EVENT_FIELDS
    assert "repaired_on" not in rev["events"][1]
    assert api.get(f"/api/v1/records/{rec['id']}", "auditor").get_json() == rev
    counts = api.get(f"/api/v1/subjects/{S1}", "auditor").get_json()["counts"]
    assert counts["housing"] == {"active": 0, "repaired": 0, "revoked": 1}

    # a revoked record no longer blocks the same (uscc, code, document_no)
    again = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    assert again["id"] != rec["id"]


def test_score_body_worked_example(api, ctx):
    """MODEL.md §10 through the HTTP API."""
    api.create_record(code="BID-NOSIGN", decided_on="2026-01-10", document_no="D-1")
    api.create_record("transport", sector="transport", code="SAFE-ACC-GENERAL",
                      decided_on="2025-09-01", document_no="D-2",
                      issued_by="柯桥区交通运输局")
    api.create_record("transport", sector="transport", code="SITE-PM-ABSENT",
                      decided_on="2026-05-01", document_no="D-3")
    api.create_record(code="AWARD-PROVINCIAL", decided_on="2024-12-01", project_code="P1",
                      document_no="D-4")
    api.create_record(code="AWARD-CITY", decided_on="2025-02-01", project_code="P1",
                      document_no="D-5")
    before = audit_head(ctx)
    s = api.score(S1, as_of="2026-06-30")
    assert set(s) >= SCORE_FIELDS
    assert s["uscc"] == S1 and s["name"] == "绍兴柯桥建工集团有限公司"
    assert s["sector"] == "housing" and s["as_of"] == "2026-06-30"
    assert s["score"] == "90.00" and s["grade"] == "C"
    assert s["components"] == {"market": "-8.00", "site": "-5.00", "good": "3.00"}
    assert s["eligible_to_bid"] is True and s["bid_points"] == "6.67"
    assert s["inspection_multiplier"] == "1.50"
    assert s["measures"] == []
    assert [r["code"] for r in s["reasons"]] == ["BID-NOSIGN", "SAFE-ACC-GENERAL"]
    assert s["reasons"][0]["kind"] == "record" and s["reasons"][0]["contribution"] == "-8.00"
    assert set(s["model"]) == {"id", "version", "sha256"}
    assert s["model"]["id"] == "keqiao-2025" and s["model"]["version"] == 2  # the default
    # the trace is the next entry; default known_at is the committed head the score
    # read, the entry before it (API.md §4)
    assert s["trace_id"] == before + 1 == audit_head(ctx)
    assert SHA_RE.match(s["trace_sha256"])
    trace = api.get(f"/api/v1/traces/{s['trace_id']}", "evaluator").get_json()
    assert trace["sha256"] == s["trace_sha256"]
    assert trace["payload"]["knowledge_position"] == before
    head = api.get(f"/api/v1/audit/entries?after={before - 1}&limit=1", "auditor").get_json()
    assert head["items"][0]["at"] == s["known_at"] < trace["at"]
    assert INSTANT_RE.match(s["known_at"])
    assert trace["actor"] == "柯桥区公共资源交易中心评标系统"


def test_score_measures_and_never_seen(api):
    # MODEL.md §11 example 2: a ban plus a serious record elsewhere
    api.create_record("transport", sector="transport", code="BID-BAN", decided_on="2026-01-01",
                      valid_until="2026-12-31", document_no="B-1")
    api.create_record("water", sector="water", code="BID-FRAUD", decided_on="2025-06-01",
                      document_no="B-2")
    s = api.score(S1, as_of="2026-06-01")
    assert s["score"] == "92.50" and s["grade"] == "C"
    assert s["eligible_to_bid"] is False and s["bid_points"] == "0.00"
    assert [m["measure"] for m in s["measures"]] == ["bid_ban", "key_supervision"]
    for m in s["measures"]:
        assert set(m) == {"measure", "basis", "until"}
    assert s["measures"][0]["until"] == "2026-12-31"
    assert s["inspection_multiplier"] == "2.00"
    assert s["reasons"][0] == {"kind": "measure", "measure": "bid_ban",
                               "basis": s["measures"][0]["basis"], "until": "2026-12-31"}

    fresh = api.score(S4, sector="water")
    assert fresh["name"] is None and fresh["score"] == "100.00" and fresh["grade"] == "B"
    assert fresh["components"] == {"market": "0.00", "site": "0.00", "good": "0.00"}
    assert fresh["measures"] == [] and fresh["reasons"] == []
    assert fresh["as_of"] == "2026-06-01"  # today in CST by default

    other = api.score(S4, model="keqiao-test@1")
    assert other["model"]["id"] == "keqiao-test"
    assert_error(api.get(f"/api/v1/subjects/{S4}/score?sector=housing&model=nope@9", "auditor"),
                 404, "not_found")


def test_score_known_at_forms_and_precision(api, clock):
    first = api.create_record(document_no="K-1")
    clock.advance(seconds=30)
    api.create_record(code="SITE-QUALITY", document_no="K-2")
    clock.advance(seconds=30)
    at = first["recorded_at"]                      # e.g. 2026-06-01T10:00:00.000007+08:00
    base = f"/api/v1/subjects/{S1}/score?sector=housing&known_at="

    exact = api.get(base + at.replace("+", "%2B"), "auditor").get_json()
    assert exact["known_at"] == at and exact["score"] == "92.00"
    assert exact["name"] == "绍兴柯桥建工集团有限公司"
    trace = api.get(f"/api/v1/traces/{exact['trace_id']}", "auditor").get_json()
    assert trace["payload"]["knowledge_position"] == first["audit_position"]
    assert trace["payload"]["known_at"] == at

    # '+' sent as %2B (above); a space before the offset (an unescaped '+' arrives as a
    # space, or '%20') is read as '+'
    for form in (at.replace("+", "%20"), at):
        r = api.get(base + form, "auditor")
        assert r.status_code == 200, (form, r.get_data(as_text=True))
        assert r.get_json()["known_at"] == at and r.get_json()["score"] == "92.00"

    # the same instant in UTC, and one microsecond earlier
    utc = at[:26].replace("T10:", "T02:") + "%2B00:00"
    assert api.get(base + utc, "auditor").get_json()["known_at"] == at
    earlier = at[:20] + f"{int(at[20:26]) - 1:06d}" + "%2B08:00"
    before = api.get(base + earlier, "auditor").get_json()
    assert before["score"] == "100.00" and before["name"] is None

    # fewer fraction digits, 'Z'
    r = api.get(base + "2026-06-01T02:00:45Z", "auditor").get_json()
    assert r["known_at"] == "2026-06-01T10:00:45.000000+08:00" and r["score"] == "87.00"
    r = api.get(base + "2026-06-01T10:00:45.5%2B08:00", "auditor").get_json()
    assert r["known_at"] == "2026-06-01T10:00:45.500000+08:00"


def test_models_and_health(api):
    r = api.get("/api/v1/health")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == {"status": "ok", "database": "ok", "model": "keqiao-2025@2"}

    models = api.get("/api/v1/models", "enterprise").get_json()
    assert set(models) >= {"items"}
    for m in models["items"]:
        assert set(m) >= {"id", "version", "sha256", "active"}
        assert SHA_RE.match(m["sha256"])
    active = [m for m in models["items"] if m["active"] and m["kind"] == "scoring"]
    assert [(m["id"], m["version"]) for m in active] == [("keqiao-2025", 2)]

    d = api.get("/api/v1/models/keqiao-2025@2", "regulator")
    assert d.status_code == 200
    model = d.get_json()
    assert model["id"] == "keqiao-2025" and model["version"] == 2 and model["active"]
    assert model["sha256"] == active[0]["sha256"]
    codes = {e["code"]: e for e in model["catalogue"]}
    assert len(codes) == 31  # MODEL.md §9's 29 and PERFORMANCE.md §5's two
    v1 = api.get("/api/v1/models/keqiao-2025@1", "regulator").get_json()
    assert (v1["version"], v1["active"], len(v1["catalogue"])) == (1, False, 29)
    assert codes["BID-COLLUDE"]["points"] == "-20.00"
    assert codes["AWARD-PROVINCIAL"]["points"] == "3.00"

    def no_floats(v):
        if isinstance(v, float):
            raise AssertionError(f"float {v} in the model definition")
        if isinstance(v, dict):
            for x in v.values():
                no_floats(x)
        if isinstance(v, list):
            for x in v:
                no_floats(x)

    no_floats(model)
    assert_error(api.get("/api/v1/models/keqiao-2025@7", "regulator"), 404, "not_found")
    assert_error(api.get("/api/v1/models/garbage", "regulator"), 404, "not_found")


def test_evaluation_body_and_frozen_document(api, ctx, clock):
    api.create_record(document_no="E-1")                       # S1: −8
    api.create_record(uscc=S3, subject_name="北京某集团", code="SITE-QUALITY",
                      document_no="E-2")                       # S3: −5
    clock.advance(seconds=5)
    before = audit_head(ctx)
    r = api.evaluate(bidders=[{"uscc": " " + S1.lower()}, {"consortium": [S2, S3]}])
    doc = r.get_json()
    assert set(doc) >= {"id", "tender", "sector", "as_of", "known_at", "model", "created_by",
                        "created_at", "results"}
    assert doc["tender"] == {"code": "KQ-2026-0012", "name": "柯桥区某安置房项目施工"}
    assert doc["sector"] == "housing" and doc["as_of"] == "2026-06-01"
    assert doc["created_by"] == "柯桥区公共资源交易中心评标系统"
    assert INSTANT_RE.match(doc["known_at"]) and doc["known_at"] == doc["created_at"]
    assert doc["model"]["id"] == "keqiao-2025"
    one, cons = doc["results"]
    assert one["bidder"] == {"uscc": S1}
    assert cons["bidder"] == {"consortium": [S2, S3]}
    for res in doc["results"]:
        assert set(res) >= {"bidder", "score", "grade", "eligible_to_bid", "bid_points",
                            "measures", "reasons", "members"}
        for m in res["members"]:
            assert set(m) >= SCORE_FIELDS
            assert m["known_at"] == doc["known_at"]
            trace = api.get(f"/api/v1/traces/{m['trace_id']}", "evaluator").get_json()
            assert trace["sha256"] == m["trace_sha256"]
            assert trace["payload"]["evaluation"]["id"] == doc["id"]
        for item in res["reasons"] + res["measures"]:
            assert "uscc" in item
    assert one["score"] == "92.00" and one["bid_points"] == "7.11"
    assert [m["uscc"] for m in cons["members"]] == [S2, S3]
    assert cons["score"] == "95.00" and cons["grade"] == "C" and cons["bid_points"] == "7.78"
    assert [x["uscc"] for x in cons["reasons"]] == [S3]
    # one trace per member plus the evaluation's own entry
    assert audit_head(ctx) == before + 4

    for who in ("evaluator", "auditor", "admin"):
        g = api.get(f"/api/v1/evaluations/{doc['id']}", who)
        assert g.status_code == 200 and g.data == r.data
    assert_error(api.get("/api/v1/evaluations/99", "auditor"), 404, "not_found")

    # inquiries show the tender that pulled the score
    inq = api.get(f"/api/v1/subjects/{S1}/inquiries", "enterprise").get_json()
    assert inq["items"][0]["evaluation_id"] == doc["id"]
    assert inq["items"][0]["tender_code"] == "KQ-2026-0012"


def test_traces_entries_and_verification(api, ctx, clock):
    api.create_record()
    s1 = api.score(S1, who="evaluator")
    clock.advance(seconds=10)
    s2 = api.score(S2, who="regulator")
    s3 = api.score(S1, who="auditor", sector="water")

    # GET /traces: newest first, filters
    all_ = api.get("/api/v1/traces", "auditor").get_json()
    assert [t["position"] for t in all_["items"]] == [s3["trace_id"], s2["trace_id"],
                                                      s1["trace_id"]]
    for t in all_["items"]:
        assert set(t) == ENTRY_KEYS and t["kind"] == "score.served"
    by_uscc = api.get(f"/api/v1/traces?uscc={S1}", "auditor").get_json()
    assert [t["position"] for t in by_uscc["items"]] == [s3["trace_id"], s1["trace_id"]]
    by_actor = api.get("/api/v1/traces?actor=柯桥区住房和城乡建设局", "admin").get_json()
    assert [t["position"] for t in by_actor["items"]] == [s2["trace_id"]]
    # the trace's own instant (a default score's known_at is the head it read, before it)
    frm = api.get(f"/api/v1/traces/{s2['trace_id']}", "auditor").get_json()["at"] \
        .replace("+", "%2B")
    window = api.get(f"/api/v1/traces?from={frm}&to={frm}", "auditor").get_json()
    assert [t["position"] for t in window["items"]] == [s2["trace_id"]]
    after = api.get(f"/api/v1/traces?from={frm}", "auditor").get_json()
    assert [t["position"] for t in after["items"]] == [s3["trace_id"], s2["trace_id"]]

    # GET /traces/{id}: exactly the entry
    t = api.get(f"/api/v1/traces/{s1['trace_id']}", "auditor").get_json()
    assert set(t) == ENTRY_KEYS
    payload = t["payload"]
    assert set(payload) >= {"uscc", "sector", "as_of", "known_at", "knowledge_position",
                            "model", "records", "steps", "result"}
    (rec,) = payload["records"]
    assert set(rec) >= {"id", "sha256", "code", "sector", "decided_on", "valid_until",
                        "status", "factor", "contribution"}
    assert rec["status"] == "active" and rec["contribution"] == "-8.00"
    assert payload["result"]["score"] == s1["score"]

    head = audit_head(ctx)
    v = api.get(f"/api/v1/traces/{s1['trace_id']}/verify", "auditor")
    assert v.status_code == 200
    assert v.get_json() == {"hash_ok": True, "chain_ok": True, "replay_ok": True, "ok": True,
                            "differences": []}
    chain = api.get("/api/v1/audit/verify", "admin").get_json()
    assert chain == {"ok": True, "entries_checked": head, "first_bad": None}
    assert audit_head(ctx) == head  # verification appends nothing

    # a position that is not a trace
    assert_error(api.get("/api/v1/traces/1", "auditor"), 404, "not_found")
    assert_error(api.get("/api/v1/traces/1/verify", "auditor"), 404, "not_found")
    assert_error(api.get(f"/api/v1/traces/{head + 1}", "auditor"), 404, "not_found")

    # GET /audit/entries: ascending, exact entries, kind filter
    entries = api.get("/api/v1/audit/entries", "auditor").get_json()
    assert [e["position"] for e in entries["items"]] == list(range(1, head + 1))
    assert entries["items"][0]["prev_sha256"] == GENESIS
    for e in entries["items"]:
        assert set(e) == ENTRY_KEYS and INSTANT_RE.match(e["at"])
    kinds = api.get("/api/v1/audit/entries?kind=score.served&after=0", "auditor").get_json()
    assert [e["position"] for e in kinds["items"]] == [s1["trace_id"], s2["trace_id"],
                                                       s3["trace_id"]]


def test_paging_on_every_list(api, ctx):
    for i in range(5):
        api.create_record(document_no=f"P-{i}")
    for _ in range(3):
        api.score(S1, who="enterprise")

    records, pages = collect_pages(api, "/api/v1/records", "auditor", 2)
    assert pages == 3
    positions = [r["audit_position"] for r in records]
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == 5

    traces, pages = collect_pages(api, "/api/v1/traces", "auditor", 2)
    assert pages == 2 and len(traces) == 3
    assert [t["position"] for t in traces] == sorted((t["position"] for t in traces),
                                                     reverse=True)

    inquiries, pages = collect_pages(api, f"/api/v1/subjects/{S1}/inquiries", "enterprise", 1)
    assert pages == 3 and [i["trace_id"] for i in inquiries] == [t["position"] for t in traces]
    for item in inquiries:
        assert set(item) >= {"trace_id", "at", "actor", "sector", "as_of"}
        assert item["actor"] == "绍兴柯桥建工集团有限公司"

    entries, pages = collect_pages(api, "/api/v1/audit/entries", "auditor", 4)
    assert [e["position"] for e in entries] == list(range(1, audit_head(ctx) + 1))
    assert pages == -(-audit_head(ctx) // 4)

    # limit is an integer 1–500; after a position
    for path in ("/api/v1/records", "/api/v1/traces", "/api/v1/audit/entries",
                 f"/api/v1/subjects/{S1}/inquiries"):
        for bad in ("0", "501", "abc", "1.5", "-1"):
            body = assert_error(api.get(f"{path}?limit={bad}", "auditor"), 400,
                                "validation_error")
            assert set(body["errors"]) == {"limit"}
        body = assert_error(api.get(f"{path}?after=xyz", "auditor"), 400, "validation_error")
        assert set(body["errors"]) == {"after"}
        assert api.get(f"{path}?limit=500", "auditor").status_code == 200
        assert api.get(f"{path}?limit=1", "auditor").status_code == 200


def test_ids_out_of_range_in_paths(api):
    rec = api.create_record()
    s = api.score(S1, who="auditor")
    api.evaluate()
    for bad in ("0", "-1", "9223372036854775808", "99999999999999999999999", "1.0", "abc",
                "%201", "1e3", "0x1", "+1"):
        for path, who in ((f"/api/v1/records/{bad}", "auditor"),
                          (f"/api/v1/evaluations/{bad}", "auditor"),
                          (f"/api/v1/traces/{bad}", "auditor"),
                          (f"/api/v1/traces/{bad}/verify", "auditor")):
            assert_error(api.get(path, who), 404, "not_found")
        for path, body in ((f"/api/v1/records/{bad}/revocation", revocation_body()),
                           (f"/api/v1/records/{bad}/repair", repair_body("2026-05-01"))):
            assert_error(api.post(path, body, "regulator"), 404, "not_found")
    # the largest id is well-formed, merely unknown
    for path in ("/api/v1/records/9223372036854775807", "/api/v1/evaluations/9223372036854775807",
                 "/api/v1/traces/9223372036854775807"):
        assert_error(api.get(path, "auditor"), 404, "not_found")
    assert api.get(f"/api/v1/records/{rec['id']}", "auditor").status_code == 200
    assert api.get(f"/api/v1/traces/{s['trace_id']}", "auditor").status_code == 200


def test_head_on_score_is_405_and_logs_nothing(api, ctx):
    api.create_record()
    head = audit_head(ctx)
    for who in (None, "evaluator", "auditor"):
        r = api.request("HEAD", f"/api/v1/subjects/{S1}/score?sector=housing", who)
        assert r.status_code == 405
    assert audit_head(ctx) == head
    # GET still works and logs
    api.score(S1)
    assert audit_head(ctx) == head + 1


def test_idempotent_record_retries(api, ctx):
    key = {"Idempotency-Key": "rec-0001"}
    first = api.post("/api/v1/records", record_body(), "regulator", headers=key)
    assert first.status_code == 201
    head = audit_head(ctx)
    # same key, same JSON value (differently formatted): identical bytes, nothing written
    again = api.request("POST", "/api/v1/records", "regulator", headers=key,
                        data=json.dumps(record_body(), indent=3, ensure_ascii=True),
                        content_type="application/json")
    assert again.status_code == 201 and again.data == first.data
    assert audit_head(ctx) == head
    assert len(api.get("/api/v1/records", "auditor").get_json()["items"]) == 1
    # a different JSON value → 409, nothing written
    assert_error(api.post("/api/v1/records", record_body(document_no="other"), "regulator",
                          headers=key), 409, "idempotency_key_reused")
    assert audit_head(ctx) == head
    # without the key the same body is a duplicate
    assert_error(api.post("/api/v1/records", record_body(), "regulator"), 409, "duplicate_record",
                 allow_extra=True)
    # scope: another token's key of the same name is its own
    other = api.post("/api/v1/records", record_body(), "regulator2", headers=key)
    assert_error(other, 409, "duplicate_record", allow_extra=True)
    fresh = api.post("/api/v1/records", record_body(document_no="N-2"), "regulator2", headers=key)
    assert fresh.status_code == 201
    # a key of 1–200 printable ASCII characters
    for bad in ("", "x" * 201, "clé"):
        r = api.post("/api/v1/records", record_body(document_no="N-3"), "regulator",
                     headers={"Idempotency-Key": bad})
        assert r.status_code == 400, (bad, r.get_data(as_text=True))
    ok = api.post("/api/v1/records", record_body(document_no="N-4"), "regulator",
                  headers={"Idempotency-Key": "~" * 200})
    assert ok.status_code == 201


def test_idempotent_evaluation_retries(api, ctx):
    api.create_record()
    key = {"Idempotency-Key": "eval-KQ-2026-0012"}
    first = api.post("/api/v1/evaluations", evaluation_body(), "evaluator", headers=key)
    assert first.status_code == 201
    head = audit_head(ctx)
    again = api.post("/api/v1/evaluations", evaluation_body(), "evaluator", headers=key)
    assert again.status_code == 201 and again.data == first.data
    assert audit_head(ctx) == head  # no new traces either
    assert_error(api.post("/api/v1/evaluations", evaluation_body(as_of="2026-05-01"),
                          "evaluator", headers=key), 409, "idempotency_key_reused")
    assert audit_head(ctx) == head
    # the same key on another path is another key
    rec = api.post("/api/v1/records", record_body(document_no="I-1"), "regulator", headers=key)
    assert rec.status_code == 201


def test_openapi_document(api):
    r = api.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = json.loads(r.get_data(as_text=True))
    assert re.fullmatch(r"3\.\d+\.\d+", doc["openapi"])
    assert isinstance(doc["info"]["title"], str) and doc["info"]["title"]
    assert isinstance(doc["info"]["version"], str) and doc["info"]["version"]
    paths = doc["paths"]
    for route, methods in EVERY_ROUTE.items():
        if methods is None:
            continue
        assert route in paths, route
        assert methods <= set(paths[route]), (route, set(paths[route]))
    methods_ok = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    for route, item in paths.items():
        assert route.startswith("/")
        declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        for op_name, op in item.items():
            if op_name in ("parameters", "summary", "description", "servers"):
                continue
            assert op_name in methods_ok, (route, op_name)
            assert op["responses"], (route, op_name)
            for code, resp in op["responses"].items():
                assert code == "default" or re.fullmatch(r"[1-5](\d\d|XX)", code)
                assert "$ref" in resp or isinstance(resp.get("description"), str)
            params = declared | {p["name"] for p in op.get("parameters", [])
                                 if p.get("in") == "path"}
            assert set(re.findall(r"{([^}]+)}", route)) == params, (route, op_name)
            for p in op.get("parameters", []) + item.get("parameters", []):
                assert p["in"] in ("query", "header", "path", "cookie")
                assert ("schema" in p) != ("content" in p)
                if p["in"] == "path":
                    assert p["required"] is True
    # request bodies are the marshmallow schemas that validate them
    for route in ("/api/v1/records", "/api/v1/evaluations",
                  "/api/v1/records/{record_id}/revocation",
                  "/api/v1/records/{record_id}/repair"):
        assert "application/json" in paths[route]["post"]["requestBody"]["content"]
    schemas = doc["components"]["schemas"]
    assert {"uscc", "subject_name", "sector", "code", "decided_on", "document_no",
            "issued_by"} <= set(schemas["RecordInput"]["required"])
    assert schemas["RecordInput"]["properties"]["sector"]["enum"] == [
        "housing", "transport", "water"]
    # every $ref resolves
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = doc
        for part in ref.split("/"):
            assert part in node, ref
            node = node[part]
    # the full validation: openapi-spec-validator is in the test extra, so a missing
    # validator is an ImportError here (a failure), never a silent pass
    from openapi_spec_validator import validate
    validate(doc)


IDEMPOTENT_WRITES = {("/api/v1/records", "post"), ("/api/v1/evaluations", "post"),
                     ("/api/v1/tenders", "post"), ("/api/v1/tenders/{code}/award", "post"),
                     ("/api/v1/warnings/{warning_id}/disposal", "post"),
                     ("/api/v1/tenders/{code}/agency-rating", "post"),
                     ("/api/v1/tenders/{code}/performance", "post"),
                     ("/api/v1/performance/{evaluation_id}/review", "post")}


def test_the_document_states_the_idempotency_key_and_the_uscc_shape(api):
    """API.md §1: Idempotency-Key is 1–200 printable ASCII characters, documented on the
    writes that honour it and on no other; a USCC field or query parameter states the
    shape of a code (credit.uscc.USCC_SHAPE)."""
    doc = api.get("/api/v1/openapi.json").get_json()
    keyed = {(path, m) for path, ops in doc["paths"].items() for m, op in ops.items()
             if m != "parameters" and any(p["name"] == "Idempotency-Key"
                                          for p in op.get("parameters", []))}
    assert keyed == IDEMPOTENT_WRITES
    path, method = sorted(IDEMPOTENT_WRITES)[0]
    header = next(p for p in doc["paths"][path][method]["parameters"]
                  if p["name"] == "Idempotency-Key")
    pattern = header["schema"]["pattern"]
    for key, accepted in (("k-1", True), ("x" * 200, True), (" ~", True), ("", False),
                          ("x" * 201, False), ("clé", False), ("a\x7f", False)):
        assert bool(re.fullmatch(pattern, key)) is accepted, key
    schemas = doc["components"]["schemas"]
    assert schemas["RecordInput"]["properties"]["uscc"]["pattern"] == USCC_SHAPE
    assert schemas["RecordInput"]["properties"]["subject_name"]["minLength"] == 1
    query = doc["paths"]["/api/v1/records"]["get"]["parameters"]
    assert next(p for p in query if p["name"] == "uscc")["schema"]["pattern"] == USCC_SHAPE
    in_paths = [(path, p) for path, item in doc["paths"].items()
                for p in item.get("parameters", []) if p["in"] == "path" and p["name"] == "uscc"]
    assert {path for path, _ in in_paths} == {
        "/api/v1/subjects/{uscc}", "/api/v1/subjects/{uscc}/score",
        "/api/v1/subjects/{uscc}/inquiries", "/api/v1/subjects/{uscc}/performance",
        "/api/v1/agencies/{uscc}/score"}
    assert all(p["schema"]["pattern"] == USCC_SHAPE for _, p in in_paths)


def test_a_malformed_uscc_in_a_path_is_still_400_after_authentication(api):
    """The path's converter matches any segment: the code is checked by the view, after
    the token (API.md §1), not refused by the router as a 404."""
    assert_error(api.get("/api/v1/subjects/not-a-code/score?sector=housing"), 401,
                 "unauthenticated")
    assert_error(api.get("/api/v1/subjects/not-a-code/score?sector=housing", "evaluator"),
                 400, "invalid_uscc")


def test_openapi_document_content_type(api):
    r = api.get("/api/v1/openapi.json")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"

