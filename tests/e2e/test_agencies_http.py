"""Tender-agency evaluation end to end over HTTP (create_app, SQLite and PostgreSQL),
PERFORMANCE.md §7: the tenderee rates the agency of its awarded tender once; agency
conduct records are ordinary records; the agency score is served, traced, verified and
replayed like any served score. Every error code of §7 with its status and its place in
the order of checks of API.md §1.

Hand-derived figures (keqiao-agency-2025@1: S = 0.6·A + 0.4·R, A = 80 with fewer than 3
ratings, R = max(0, 100 − Σ|points|)):

* no ratings, no records: A = 80, R = 100 → S = 48 + 40 = 88.00, grade B;
* ratings 91.50 (27 + 30 + 16.50 + 18), 80.00, 75.25: A = 246.75 / 3 = 82.25 →
  S = 49.35 + 40 = 89.35 (B);
* plus AGENCY-LEAK (−20, restrict, 36 m) decided 2026-01-10: R = 80 → S = 49.35 + 32 =
  81.35, grade D (restricted) until add_months(2026-01-10, 36) − 1 day = 2029-01-09.
"""

from __future__ import annotations

import pytest

from api import create_app
from credit.services.tokens import create_token
from tests.tender_data import AGENCY, TENDEREE, award_body, make_uscc, tender_body

from .conftest import Api, assert_error, audit_head, record_body

pytestmark = pytest.mark.db

CODE = "KQ-2026-0031"
OTHER_TENDEREE = make_uscc(777, prefix="11330621")
RATING = "/api/v1/tenders/{}/agency-rating"
SCORE = f"/api/v1/agencies/{AGENCY}/score"


@pytest.fixture
def aapi(tctx, tokens, signing_key) -> Api:
    app = create_app({"CREDIT_CONTEXT": tctx, "TESTING": True,
                      "CREDIT_SIGNING_KEY": signing_key})
    tokens = dict(tokens)
    for who, spec in {"platform": dict(role="platform"),
                      "tenderee": dict(role="tenderee", uscc=TENDEREE),
                      "tenderee2": dict(role="tenderee", uscc=OTHER_TENDEREE),
                      "agency": dict(role="enterprise", uscc=AGENCY)}.items():
        tokens[who] = create_token(tctx, "e2e-operator", name=f"测试{who}", **spec)[1]
    a = Api(app.test_client(), tokens)
    a.ctx = tctx
    return a


def rating_body(**overrides) -> dict:
    body = {"rated_on": "2026-05-25",
            "items": {"documents": "27.00", "procedure": "30.00", "service": "16.50",
                      "archive": "18.00"},
            "note": "招标文件编制规范，答疑及时"}
    body.update(overrides)
    return body


def register(api: Api, code: str = CODE, award: bool = True, **overrides) -> None:
    r = api.post("/api/v1/tenders", tender_body(code, **overrides), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    if award:
        r = api.post(f"/api/v1/tenders/{code}/award", award_body(), "platform")
        assert r.status_code == 200, r.get_data(as_text=True)


def rate(api: Api, code: str = CODE, **overrides) -> dict:
    r = api.post(RATING.format(code), rating_body(**overrides), "tenderee")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def agency_score(api: Api, who: str = "evaluator", query: str = "") -> dict:
    r = api.get(SCORE + (f"?{query}" if query else ""), who)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


# ------------------------------------------------------------------ the rating

def test_a_rating_is_created_once_with_its_entry_and_verified_row(aapi):
    register(aapi)
    r = aapi.post(RATING.format(CODE), rating_body(), "tenderee",
                  headers={"Idempotency-Key": "rate-0031"})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body) == {"tender", "agency", "rated_on", "items", "total", "note",
                         "rated_by", "at"}
    assert body["tender"] == CODE
    assert body["agency"] == {"uscc": AGENCY, "name": "某招标代理有限公司"}
    assert body["rated_on"] == "2026-05-25"
    assert body["items"] == rating_body()["items"]
    assert body["total"] == "91.50"
    assert body["note"] == "招标文件编制规范，答疑及时"
    assert body["rated_by"] == "测试tenderee"
    # the same key answers the same bytes; another body under it is refused
    again = aapi.post(RATING.format(CODE), rating_body(), "tenderee",
                      headers={"Idempotency-Key": "rate-0031"})
    assert (again.status_code, again.get_data()) == (201, r.get_data())
    other = aapi.post(RATING.format(CODE), rating_body(note="另一"), "tenderee",
                      headers={"Idempotency-Key": "rate-0031"})
    assert_error(other, 409, "idempotency_key_reused")
    nul = aapi.post(RATING.format(CODE), rating_body(note="另一\x00"), "tenderee",
                    headers={"Idempotency-Key": "rate-0031"})
    assert_error(nul, 409, "idempotency_key_reused")  # step 7 before 8 (API.md §1)
    # once per tender
    before = audit_head(aapi.ctx)
    assert_error(aapi.post(RATING.format(CODE), rating_body(), "tenderee"), 409,
                 "already_rated")
    assert audit_head(aapi.ctx) == before
    entries = aapi.get("/api/v1/audit/entries?kind=agency.rated", "auditor").get_json()
    (entry,) = entries["items"]
    assert entry["actor"] == "测试tenderee"
    assert entry["payload"]["rating"]["tender_code"] == CODE
    assert entry["payload"]["rating"]["total"] == "91.50"
    assert "idempotency" in entry["payload"]
    verify = aapi.get("/api/v1/audit/verify", "auditor").get_json()
    assert verify["ok"] is True, verify


def test_rating_refusals_in_the_order_of_checks(aapi, clock):
    register(aapi, award=False)
    url = RATING.format(CODE)
    before = audit_head(aapi.ctx)
    # 3: only a tenderee
    for who in ("platform", "regulator", "evaluator", "auditor", "admin", "enterprise"):
        assert_error(aapi.post(url, rating_body(), who), 403, "forbidden")
    # 8: the body
    bad = rating_body(items={"documents": "27", "procedure": "30.01", "service": "16.50"})
    err = assert_error(aapi.post(url, bad, "tenderee"), 400, "validation_error")
    assert set(err["errors"]) == {"items.documents", "items.procedure", "items.archive"}
    err = assert_error(aapi.post(url, rating_body(items={
        **rating_body()["items"], "extra": "1.00"}), "tenderee"), 400, "validation_error")
    assert set(err["errors"]) == {"items.extra"}
    err = assert_error(aapi.post(url, rating_body(items={
        **rating_body()["items"], "service": "-0.01"}), "tenderee"), 400, "validation_error")
    assert set(err["errors"]) == {"items.service"}
    err = assert_error(aapi.post(url, rating_body(rated_on="2026-06-02"), "tenderee"), 400,
                       "validation_error")
    assert set(err["errors"]) == {"rated_on"}
    err = assert_error(aapi.post(url, {**rating_body(), "stars": 5}, "tenderee"), 400,
                       "validation_error")
    assert set(err["errors"]) == {"stars"}
    # 9: the tender
    assert_error(aapi.post(RATING.format("KQ-NONE"), rating_body(), "tenderee"), 404,
                 "not_found")
    # 10: another tenderee's tender
    assert_error(aapi.post(url, rating_body(), "tenderee2"), 403, "forbidden")
    # 12: not awarded (before no_agency, PERFORMANCE.md §7)
    assert_error(aapi.post(url, rating_body(), "tenderee"), 422, "not_awarded")
    register(aapi, "KQ-2026-0032", award=False, agency=None)
    assert_error(aapi.post(RATING.format("KQ-2026-0032"), rating_body(), "tenderee"), 422,
                 "not_awarded")
    mid = audit_head(aapi.ctx)
    assert mid > before  # the registration only
    aapi.post("/api/v1/tenders/KQ-2026-0032/award", award_body(), "platform")
    assert_error(aapi.post(RATING.format("KQ-2026-0032"), rating_body(), "tenderee"), 422,
                 "no_agency")
    # 11a: rated_on not before awarded_on (2026-05-20)
    aapi.post(f"/api/v1/tenders/{CODE}/award", award_body(), "platform")
    err = assert_error(aapi.post(url, rating_body(rated_on="2026-05-19"), "tenderee"), 400,
                       "validation_error")
    assert set(err["errors"]) == {"rated_on"}
    assert rate(aapi, rated_on="2026-05-20")["rated_on"] == "2026-05-20"


# ------------------------------------------------------------------ conduct records

def test_agency_records_are_ordinary_records_and_approval_codes_are_refused(aapi):
    body = record_body(uscc=AGENCY, subject_name="某招标代理有限公司", code="AGENCY-LEAK",
                       document_no="绍柯建罚〔2026〕88号")
    r = aapi.post("/api/v1/records", body, "regulator")
    assert r.status_code == 201, r.get_data(as_text=True)
    rec = r.get_json()
    assert rec["name"] == "泄露应当保密的与招标投标活动有关的情况和资料"
    assert rec["category"] == "agency" and rec["points"] == "-20.00"
    assert rec["valid_until"] == "2029-01-09"
    assert aapi.get(f"/api/v1/records/{rec['id']}", "auditor").status_code == 200
    before = audit_head(aapi.ctx)
    err = assert_error(aapi.post("/api/v1/records", record_body(code="AGENCY-NOPE"),
                                 "regulator"), 400, "unknown_code")
    assert "AGENCY-LEAK" in err["message"] and "PERF-FAIL" not in err["message"]
    for code in ("PERF-FAIL", "PERF-EXCELLENT"):
        assert_error(aapi.post("/api/v1/records", record_body(code=code), "regulator"),
                     400, "code_not_enterable")
    assert audit_head(aapi.ctx) == before
    # the enterprise scoring model ignores it (not_in_model): the base score
    s = aapi.score(AGENCY, who="evaluator", sector="housing")
    assert s["score"] == "100.00" and s["reasons"] == []


# ------------------------------------------------------------------ the score

def test_fewer_than_three_ratings_score_the_default(aapi):
    s = agency_score(aapi)
    assert set(s) == {"uscc", "as_of", "known_at", "model", "score", "grade", "restricted",
                      "until", "components", "ratings_used", "trace_id", "trace_sha256"}
    assert s["model"]["id"] == "keqiao-agency-2025" and s["model"]["version"] == 1
    assert (s["score"], s["grade"], s["restricted"], s["until"]) == ("88.00", "B", False,
                                                                     None)
    assert s["components"] == {"service": "80.0000", "conduct": "100.00"}
    assert s["ratings_used"] == 0 and s["as_of"] == "2026-06-01"
    register(aapi)
    rate(aapi)
    s = agency_score(aapi)
    assert (s["score"], s["components"]["service"], s["ratings_used"]) == \
        ("88.00", "80.0000", 0)


def test_three_ratings_a_restrict_record_and_the_trace_replays(aapi, clock):
    for i, (code, items) in enumerate((
            (CODE, None),
            ("KQ-2026-0041", {"documents": "25.00", "procedure": "25.00",
                              "service": "15.00", "archive": "15.00"}),
            ("KQ-2026-0042", {"documents": "20.25", "procedure": "25.00",
                              "service": "15.00", "archive": "15.00"}))):
        register(aapi, code)
        rate(aapi, code, **({"items": items} if items else {}))
        if i == 0:
            clock.advance(seconds=5)
            first_known = clock()
    clock.advance(seconds=5)
    s = agency_score(aapi)
    assert (s["score"], s["grade"], s["components"], s["ratings_used"]) == \
        ("89.35", "B", {"service": "82.2500", "conduct": "100.00"}, 3)
    # as known before the second and third ratings: one rating → the default
    known = first_known.isoformat().replace("+00:00", "Z")
    early = agency_score(aapi, query=f"known_at={known}")
    assert (early["score"], early["ratings_used"]) == ("88.00", 0)
    # a rating older than 365 days before as_of is outside the window
    late = agency_score(aapi, query="as_of=2027-05-26")
    assert (late["score"], late["ratings_used"]) == ("88.00", 0)
    edge = agency_score(aapi, query="as_of=2027-05-25")
    assert (edge["score"], edge["ratings_used"]) == ("89.35", 3)
    body = record_body(uscc=AGENCY, subject_name="某招标代理有限公司", code="AGENCY-LEAK",
                       document_no="绍柯建罚〔2026〕88号")
    assert aapi.post("/api/v1/records", body, "regulator").status_code == 201
    s = agency_score(aapi, who="tenderee")
    assert (s["score"], s["grade"], s["restricted"], s["until"]) == \
        ("81.35", "D", True, "2029-01-09")
    assert s["components"] == {"service": "82.2500", "conduct": "80.00"}
    # the trace: every rating and record, A, R and the weights; it verifies and replays
    trace = aapi.get(f"/api/v1/traces/{s['trace_id']}", "auditor").get_json()
    p = trace["payload"]
    assert trace["kind"] == "score.served" and p["uscc"] == AGENCY
    assert [r["tender"] for r in p["ratings"]] == [CODE, "KQ-2026-0041", "KQ-2026-0042"]
    assert [r["code"] for r in p["records"]] == ["AGENCY-LEAK"]
    assert p["service"] == "82.25" and p["conduct"] == "80.00"
    assert p["weights"] == {"service": "0.60", "conduct": "0.40"}
    assert [st["rule"] for st in p["steps"]][-2:] == ["restriction", "grade"]
    v = aapi.get(f"/api/v1/traces/{s['trace_id']}/verify", "auditor").get_json()
    assert v == {"hash_ok": True, "chain_ok": True, "replay_ok": True, "ok": True,
                 "differences": []}
    # later facts (a revocation) do not change the replay of an earlier trace
    rec_id = aapi.get(f"/api/v1/records?uscc={AGENCY}", "auditor").get_json()["items"][0]["id"]
    r = aapi.post(f"/api/v1/records/{rec_id}/revocation",
                  {"document_no": "撤〔2026〕1号", "reason": "经复议撤销"}, "regulator")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert agency_score(aapi)["score"] == "89.35"
    v = aapi.get(f"/api/v1/traces/{s['trace_id']}/verify", "auditor").get_json()
    assert v["ok"] is True, v
    inquiries = aapi.get(f"/api/v1/subjects/{AGENCY}/inquiries", "auditor").get_json()
    assert inquiries["items"][0]["sector"] is None
    assert aapi.get("/api/v1/audit/verify", "auditor").get_json()["ok"] is True


def test_the_default_known_at_is_the_committed_head(aapi, clock):
    """API.md §4 (the agency score "traced and logged like any served score",
    PERFORMANCE.md §7): "`known_at` default: the `at` of the committed head of the chain
    that the computation read (its `knowledge_position` is that head's position:
    everything committed before the score was computed, nothing after)" — with nothing
    else happening, the entry just before the score's own trace, as for the subject
    score."""
    register(aapi)
    rate(aapi)
    clock.advance(seconds=5)
    for served in (agency_score(aapi), aapi.score(AGENCY, who="evaluator", sector="housing")):
        entries = aapi.get(f"/api/v1/audit/entries?after={served['trace_id'] - 2}&limit=2",
                           "auditor").get_json()["items"]
        head, trace = entries
        assert trace["position"] == served["trace_id"]
        assert (served["known_at"], trace["payload"]["knowledge_position"]) == \
            (head["at"], head["position"])
        assert served["known_at"] != trace["at"]


def test_score_roles_and_definitions_of_the_wrong_kind(aapi):
    for who in ("evaluator", "regulator", "auditor", "admin", "tenderee", "agency"):
        agency_score(aapi, who)
    before = audit_head(aapi.ctx)
    assert_error(aapi.get(SCORE, "enterprise"), 403, "forbidden")
    assert_error(aapi.get(SCORE, "platform"), 403, "forbidden")
    assert_error(aapi.get(SCORE), 401, "unauthenticated")
    for ref in ("keqiao-2025@2", "keqiao-screens-2025@1", "keqiao-agency-2025@9"):
        assert_error(aapi.get(f"{SCORE}?model={ref}", "auditor"), 404, "not_found")
    assert_error(aapi.get(f"/api/v1/subjects/{AGENCY}/score?sector=housing"
                          "&model=keqiao-agency-2025@1", "auditor"), 404, "not_found")
    assert_error(aapi.get(f"{SCORE}?sector=housing", "auditor"), 400, "validation_error")
    assert_error(aapi.get("/api/v1/agencies/91330621MA2BX7K3QX/score", "auditor"), 400,
                 "invalid_uscc")
    assert_error(aapi.get(f"{SCORE}?known_at=2027-01-01T00:00:00%2B08:00", "auditor"), 422,
                 "known_at_in_future")
    assert audit_head(aapi.ctx) == before
    assert agency_score(aapi, "auditor", "model=keqiao-agency-2025@1")["score"] == "88.00"


def test_agency_score_refusals_in_the_order_of_checks(aapi):
    """API.md §1's order, as on the subject score: a ``known_at`` out of range (400,
    check 8) before an unknown definition (404, 9) before another enterprise's agency
    (403, 10) before a ``known_at`` in the future (422, 12); nothing is logged."""
    before = audit_head(aapi.ctx)
    unknown, future = "model=keqiao-agency-2025@9", "known_at=2027-01-01T00:00:00%2B08:00"
    for early in ("1999-12-31T23:59:59%2B08:00", "2100-01-01T00:00:00%2B08:00"):
        got = assert_error(aapi.get(f"{SCORE}?known_at={early}&{unknown}", "enterprise"),
                           400, "validation_error")
        assert set(got["errors"]) == {"known_at"}
    assert_error(aapi.get(f"{SCORE}?{unknown}&{future}", "enterprise"), 404, "not_found")
    assert_error(aapi.get(f"{SCORE}?{future}", "enterprise"), 403, "forbidden")
    assert_error(aapi.get(f"{SCORE}?{future}", "auditor"), 422, "known_at_in_future")
    assert audit_head(aapi.ctx) == before


def test_the_tenderee_reads_the_trace_of_the_agency_score_it_pulled(aapi):
    """API.md §2: GET /traces/{id} is for "auditor, admin, and the token that caused the
    trace" — a tenderee that pulled an agency score reads its trace (PERFORMANCE.md §7:
    "traced and logged like any served score"); another tenderee or an evaluator may
    not."""
    trace_id = agency_score(aapi, "tenderee")["trace_id"]
    own = aapi.get(f"/api/v1/traces/{trace_id}", "tenderee")
    assert own.status_code == 200, own.get_data(as_text=True)
    assert (own.get_json()["position"], own.get_json()["payload"]["uscc"]) == (trace_id, AGENCY)
    assert aapi.get(f"/api/v1/traces/{trace_id}", "auditor").status_code == 200
    for other in ("tenderee2", "evaluator"):
        assert_error(aapi.get(f"/api/v1/traces/{trace_id}", other), 403, "forbidden")
    # and the tenderee may not read a trace another caller caused
    theirs = agency_score(aapi, "evaluator")["trace_id"]
    assert_error(aapi.get(f"/api/v1/traces/{theirs}", "tenderee"), 403, "forbidden")


def test_head_on_the_agency_score_is_405_and_logs_nothing(aapi):
    """PERFORMANCE.md §7: the agency score is "traced and logged like any served score";
    API.md §4: HEAD on a score route → 405 ("it would log a trace"), with or without a
    token, and nothing is appended."""
    before = audit_head(aapi.ctx)
    for who in (None, "evaluator", "tenderee"):
        r = aapi.request("HEAD", SCORE, who)
        assert r.status_code == 405, who
    assert audit_head(aapi.ctx) == before
    agency_score(aapi)  # GET still serves and logs
    assert audit_head(aapi.ctx) == before + 1


def test_tenders_filter_by_agency(aapi):
    register(aapi, award=False)
    register(aapi, "KQ-2026-0032", award=False, agency=None)
    items = aapi.get(f"/api/v1/tenders?agency={AGENCY}", "auditor").get_json()["items"]
    assert [t["code"] for t in items] == [CODE]
    other = make_uscc(991)
    assert aapi.get(f"/api/v1/tenders?agency={other}", "auditor").get_json()["items"] == []
    assert_error(aapi.get("/api/v1/tenders?agency=nope", "auditor"), 400, "invalid_uscc")


def test_a_negative_zero_is_no_decimal_quantity(aapi):
    """API.md §1: decimal quantities are "strings with exactly two decimals, no `+`,
    never `-0.00`" (JSON in and out). A rating item of "-0.00" was taken as 0.00 and
    stored (the reply said "0.00", not what was sent); a deduction of "-0.00" was
    answered as out of range rather than as no decimal at all. Both are 400 naming the
    field, and nothing is written."""
    register(aapi)
    before = audit_head(aapi.ctx)
    items = {**rating_body()["items"], "archive": "-0.00"}
    err = assert_error(aapi.post(RATING.format(CODE), rating_body(items=items), "tenderee"),
                       400, "validation_error")
    assert set(err["errors"]) == {"items.archive"}
    deduction = [{"item": "SAFETY", "points": "-0.00", "note": "临边防护缺失"}]
    body = {"kind": "periodic", "period_end": "2026-05-31", "deductions": deduction,
            "project_manager_on_site": True}
    err = assert_error(aapi.post(f"/api/v1/tenders/{CODE}/performance", body, "tenderee"),
                       400, "validation_error")
    assert set(err["errors"]) == {"deductions.0.points"}
    assert audit_head(aapi.ctx) == before
    assert rate(aapi, items={**items, "archive": "0.00"})["total"] == "73.50"


def test_a_decimal_with_a_leading_zero_is_no_decimal_quantity(aapi):
    """PERFORMANCE.md §3, §7: points are strings with exactly two decimals, as API.md §1
    writes decimal quantities; "06.00" was accepted as 6.00 (and a rating answered with
    a spelling other than the one sent). A tender's amounts already refuse a leading
    zero: one spelling per value. 400 naming the field, nothing written."""
    register(aapi)
    before = audit_head(aapi.ctx)
    for bad in ("06.00", "00.00", "-06.00"):
        items = {**rating_body()["items"], "archive": bad}
        err = assert_error(aapi.post(RATING.format(CODE), rating_body(items=items),
                                     "tenderee"), 400, "validation_error")
        assert set(err["errors"]) == {"items.archive"}, err
        deduction = [{"item": "SAFETY", "points": bad, "note": "临边防护缺失"}]
        body = {"kind": "periodic", "period_end": "2026-05-31", "deductions": deduction,
                "project_manager_on_site": True}
        err = assert_error(aapi.post(f"/api/v1/tenders/{CODE}/performance", body,
                                     "tenderee"), 400, "validation_error")
        assert err["errors"] == {"deductions.0.points": [
            'Points must be a string with exactly two decimals and no leading zero, '
            'e.g. "6.00".']}, err
    assert audit_head(aapi.ctx) == before


def test_a_deduction_that_is_no_object_has_one_message(aapi):
    """A deduction sent as 5, "x", [] or null was reported three times over: marshmallow's
    "Invalid input type." at deductions.N, then an unknown item None and missing points
    of the object it is not. One clear message per bad element now."""
    register(aapi)
    before = audit_head(aapi.ctx)
    good = {"item": "SAFETY", "points": "6.00", "note": "临边防护缺失"}
    body = {"kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": True,
            "deductions": [5, good, "x", [], None]}
    err = assert_error(aapi.post(f"/api/v1/tenders/{CODE}/performance", body, "tenderee"),
                       400, "validation_error")
    one = ["must be an object with item, points and note."]
    assert err["errors"] == {f"deductions.{i}": one for i in (0, 2, 3, 4)}, err
    assert audit_head(aapi.ctx) == before
