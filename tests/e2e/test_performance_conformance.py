"""Independent spec-conformance review of PERFORMANCE.md (post-award performance, agency
evaluation, keqiao-2025@2) over HTTP (create_app, SQLite and PostgreSQL).

Written by an independent review against the spec alone; every expected figure is
derived by hand from the spec in the comments. Its one finding, the overdue list's village
projects first, is tested in test_performance_http.py; two points over one maximum stay
``validation_error`` (API.md §1: "and no other field fails"; tests/unit/
test_performance.py); the rest pins what was checked.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from api import create_app
from credit.services.tokens import create_token
from tests.tender_data import (
    AGENCY,
    BIDDER_1,
    BIDDER_2,
    MEMBER_1,
    TENDEREE,
    award_body,
    tender_body,
)

from .conftest import Api, assert_error, record_body

pytestmark = pytest.mark.db

CODE = "KQ-2026-0031"
TENDERS, PERF = "/api/v1/tenders", "/api/v1/performance"
AGENCY_SCORE = f"/api/v1/agencies/{AGENCY}/score"


@pytest.fixture
def h(tctx, tokens, signing_key) -> Api:
    app = create_app({"CREDIT_CONTEXT": tctx, "TESTING": True,
                      "CREDIT_SIGNING_KEY": signing_key})
    tokens = dict(tokens)
    for who, spec in {"platform": dict(role="platform"),
                      "tenderee": dict(role="tenderee", uscc=TENDEREE)}.items():
        tokens[who] = create_token(tctx, "h2-review", name=f"审查{who}", **spec)[1]
    return Api(app.test_client(), tokens)


def at_cst(day: str, hhmm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+08:00").astimezone(timezone.utc)


def awarded(api: Api, code: str = CODE, tender: dict | None = None, **award) -> None:
    r = api.post(TENDERS, tender or tender_body(code), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    r = api.post(f"{TENDERS}/{code}/award", award_body(**award), "platform")
    assert r.status_code == 200, r.get_data(as_text=True)


def ded(*pairs) -> list[dict]:
    return [{"item": i, "points": p, "note": "扣分说明"} for i, p in pairs]


def evaluation(kind: str = "periodic", day: str = "2026-05-31", deductions=(),
               on_site: bool = True) -> dict:
    body = {"kind": kind, "deductions": list(deductions), "project_manager_on_site": on_site}
    body["period_end" if kind == "periodic" else "completed_on"] = day
    return body


def submit(api: Api, body: dict, code: str = CODE) -> dict:
    r = api.post(f"{TENDERS}/{code}/performance", body, "tenderee")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def approve(api: Api, evaluation_id: int, day: str = "2026-06-01") -> dict:
    r = api.post(f"{PERF}/{evaluation_id}/review",
                 {"action": "approve", "reason": "经现场核查属实", "reviewed_on": day},
                 "transport")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def rating(*items: str, day: str = "2026-05-25") -> dict:
    return {"rated_on": day, "items": dict(zip(("documents", "procedure", "service",
                                                "archive"), items, strict=True))}


# ------------------------------------------------------------------ choices

def test_ambiguity_final_fail_approval_under_an_active_keqiao_2025_at_1(h, tctx):
    """Documents a choice: with CREDIT_MODEL=keqiao-2025@1 (API.md §8 lets an operator
    choose it) approving a final evaluation rated fail answers 422 ``not_in_model`` — a
    code no spec names — and the contract can never be completed; §4/§5 do not say
    whether the approval should then create the PERF-FAIL records anyway (v1 would
    ignore them as ``not_in_model``) or be refused."""
    from scoring_models import default_registry
    from tests.conftest import TEST_MODELS
    tctx.models = default_registry("keqiao-2025@1",
                                   extra_dirs=[TEST_MODELS] if TEST_MODELS.exists() else [])
    awarded(h)
    e = submit(h, evaluation("final", "2026-05-31", ded(("SCHEDULE", "20.00"),
                                                        ("QUALITY", "20.00"),
                                                        ("SAFETY", "15.00"))))
    assert (e["score"], e["rating"]) == ("45.00", "fail")
    r = h.post(f"{PERF}/{e['id']}/review", {"action": "approve", "reason": "经现场核查属实",
                                            "reviewed_on": "2026-06-01"}, "transport")
    assert_error(r, 422, "not_in_model")


# ------------------------------------------------------------------ checked, conforming

@pytest.mark.parametrize("deductions,score,rating", [
    (ded(("SCHEDULE", "10.00")), "90.00", "excellent"),                  # 100 − 10 = 90 ≥ 90
    (ded(("SCHEDULE", "10.01")), "89.99", "pass"),
    (ded(("SCHEDULE", "20.00"), ("QUALITY", "5.00")), "75.00", "pass"),    # edge belongs
    (ded(("SCHEDULE", "20.00"), ("QUALITY", "5.01")), "74.99", "basic"),
    (ded(("SCHEDULE", "20.00"), ("QUALITY", "20.00")), "60.00", "basic"),
    (ded(("SCHEDULE", "20.00"), ("QUALITY", "20.00"), ("COOPERATION", "0.01")), "59.99",
     "fail"),
    # every item at its maximum: Σ = 20+10+20+20+15+15+10+10 = 120 → max(0, −20) = 0.00
    (ded(("PM-ABSENT", "20.00"), ("STAFF-MISMATCH", "10.00"), ("SCHEDULE", "20.00"),
         ("QUALITY", "20.00"), ("SAFETY", "15.00"), ("WAGES", "15.00"),
         ("VARIATION", "10.00"), ("COOPERATION", "10.00")), "0.00", "fail"),
])
def test_l_and_band_edges(h, deductions, score, rating):
    awarded(h)
    e = submit(h, evaluation(deductions=deductions))
    assert (e["score"], e["rating"]) == (score, rating)


def test_cst_day_boundary_for_period_end_review_and_rating(h, clock):
    """00:30 CST on 2026-06-02 is 16:30 UTC on 2026-06-01: "today" is 2026-06-02."""
    awarded(h)
    clock.set(at_cst("2026-06-02", "00:30"))
    e = submit(h, evaluation(day="2026-06-02"))
    assert approve(h, e["id"], "2026-06-02")["status"] == "approved"
    r = h.post(f"{TENDERS}/{CODE}/agency-rating",
               rating("27.00", "30.00", "16.50", "18.00", day="2026-06-02"), "tenderee")
    assert r.status_code == 201, r.get_data(as_text=True)


def test_final_excellent_perf_excellent_for_every_party_and_pm_absent_warning(h, clock):
    """Final, PM-ABSENT 2.00 deducted, on site: L = 98.00, excellent → PERF-EXCELLENT
    (+3, good, 36 m) for bidder and member, decided 2027-05-20, valid until
    add_months(2027-05-20, 36) − 1 = 2030-05-19; and the PM-ABSENT warning (a PM-ABSENT
    deduction). Transport: 100 + 3 = 103.00, grade B, bid points 10·43/45 = 9.555… →
    9.56; housing: good factor 0 in another sector → 100.00."""
    awarded(h)
    clock.set(at_cst("2027-05-20"))
    e = submit(h, evaluation("final", "2027-05-19", ded(("PM-ABSENT", "2.00"))))
    assert (e["score"], e["rating"]) == ("98.00", "excellent")
    review = approve(h, e["id"], "2027-05-20")["review"]
    records = [h.get(f"/api/v1/records/{i}", "auditor").get_json() for i in review["records"]]
    assert [(r["uscc"], r["code"], r["points"], r["valid_until"], r["category"])
            for r in records] == [
        (BIDDER_1, "PERF-EXCELLENT", "3.00", "2030-05-19", "good"),
        (MEMBER_1, "PERF-EXCELLENT", "3.00", "2030-05-19", "good")]
    assert review["warning"] is not None
    s = h.score(BIDDER_1, sector="transport")
    assert (s["score"], s["grade"], s["bid_points"], s["components"]["good"]) == \
        ("103.00", "B", "9.56", "3.00")
    assert h.score(BIDDER_1, sector="housing")["score"] == "100.00"
    assert h.score(MEMBER_1, sector="transport", as_of="2030-05-19")["score"] == "103.00"
    assert h.score(MEMBER_1, sector="transport", as_of="2030-05-20")["score"] == "100.00"
    assert h.score(BIDDER_1, sector="transport", model="keqiao-2025@1")["score"] == "100.00"


def test_performance_index_rounds_half_up_once_and_consortium_takes_the_lowest(h):
    """Two contracts of 100.00 each, L 90.00 and 90.01: (9000 + 9001)/200 = 90.005 →
    half-up 90.01 (banker's rounding would give 90.00). In an evaluation the consortium
    [BIDDER_2 (none), MEMBER_1 (90.01)] has 90.01: the lowest non-null member index."""
    for code, points in (("KQ-I-1", "10.00"), ("KQ-I-2", "9.99")):
        awarded(h, code, contract_price="100.00")
        approve(h, submit(h, evaluation("final", "2026-05-31",
                                        ded(("SCHEDULE", points))), code)["id"])
    got = h.get(f"/api/v1/subjects/{MEMBER_1}/performance", "auditor").get_json()
    assert (got["index"], got["count"]) == ("90.01", 2)
    body = {"tender": {"code": "X-1", "name": "某工程"}, "sector": "transport",
            "as_of": "2026-06-01", "bidders": [{"consortium": [BIDDER_2, MEMBER_1]},
                                               {"uscc": BIDDER_1}]}
    r = h.post("/api/v1/evaluations", body, "evaluator")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert [x["performance_index"] for x in r.get_json()["results"]] == ["90.01", "90.01"]


def test_agency_score_half_up_once_and_any_sector_counts_in_full(h):
    """Four ratings 80.10, 80.10, 80.05, 80.05: A = 320.30/4 = 80.075 (shown "80.0750");
    S = 0.6·80.075 + 0.4·100 = 88.045 → half-up 88.05 (banker's: 88.04), B. A water
    regulator's AGENCY-FEE (−5): R = 95, S = 48.045 + 38 = 86.045 → 86.05."""
    for i, service in enumerate(("10.10", "10.10", "10.05", "10.05")):
        awarded(h, f"KQ-A-{i}")
        r = h.post(f"{TENDERS}/KQ-A-{i}/agency-rating",
                   rating("30.00", "30.00", service, "10.00"), "tenderee")
        assert r.status_code == 201, r.get_data(as_text=True)
    s = h.get(AGENCY_SCORE, "auditor").get_json()
    assert (s["score"], s["grade"], s["components"], s["ratings_used"]) == \
        ("88.05", "B", {"service": "80.0750", "conduct": "100.00"}, 4)
    r = h.post("/api/v1/records", record_body(uscc=AGENCY, code="AGENCY-FEE", sector="water",
                                               subject_name="某招标代理有限公司"), "water")
    assert r.status_code == 201, r.get_data(as_text=True)
    s = h.get(AGENCY_SCORE, "auditor").get_json()
    assert (s["score"], s["components"]["conduct"]) == ("86.05", "95.00")


def test_agency_grade_from_the_rounded_score(h):
    """Three ratings of 66.66: A = 66.66; S = 39.996 + 40 = 79.996 → 80.00 → B (the
    exact value would be C)."""
    for i in range(3):
        awarded(h, f"KQ-G-{i}")
        r = h.post(f"{TENDERS}/KQ-G-{i}/agency-rating",
                   rating("30.00", "30.00", "6.66", "0.00"), "tenderee")
        assert r.status_code == 201, r.get_data(as_text=True)
    s = h.get(AGENCY_SCORE, "auditor").get_json()
    assert (s["score"], s["grade"]) == ("80.00", "B")


def test_agency_restriction_until_after_a_repair(h, clock):
    """AGENCY-LEAK 2025-01-10 (until 2028-01-09) and AGENCY-COLLUDE 2026-01-10 (until
    2029-01-09), both restrict. Restricted until 2029-01-09; R = 60, S = 48 + 24 = 72.00.
    COLLUDE repaired on 2027-01-10 (earliest: +12 m): effective until 2027-01-09, so as of
    2027-01-05 until = max(2028-01-09, 2027-01-09) = 2028-01-09; as of 2027-01-10 R = 80,
    S = 80.00 but grade D (LEAK still restricts); as of 2028-01-10 nothing: 88.00 B."""
    for code, day, doc, who, sector in (("AGENCY-LEAK", "2025-01-10", "A1", "regulator",
                                          "housing"),
                                         ("AGENCY-COLLUDE", "2026-01-10", "A2", "water",
                                          "water")):
        r = h.post("/api/v1/records", record_body(uscc=AGENCY, code=code, sector=sector,
                                                   decided_on=day, document_no=doc,
                                                   subject_name="某招标代理有限公司"), who)
        assert r.status_code == 201, r.get_data(as_text=True)
    s = h.get(AGENCY_SCORE, "auditor").get_json()
    assert (s["score"], s["grade"], s["restricted"], s["until"]) == \
        ("72.00", "D", True, "2029-01-09")
    clock.set(at_cst("2027-02-01"))
    r = h.post("/api/v1/records/2/repair", {"repaired_on": "2027-01-10", "document_no": "R1",
                                            "reason": "已整改到位"}, "water")
    assert r.status_code == 200, r.get_data(as_text=True)

    def at(day):
        s = h.get(f"{AGENCY_SCORE}?as_of={day}", "auditor").get_json()
        return s["score"], s["grade"], s["restricted"], s["until"]
    assert at("2027-01-05") == ("72.00", "D", True, "2028-01-09")
    assert at("2027-01-10") == ("80.00", "D", True, "2028-01-09")
    assert at("2028-01-10") == ("88.00", "B", False, None)


@pytest.mark.parametrize("approved_final", [True, False])
def test_pm_elsewhere_ends_with_the_approved_final(h, approved_final):
    """WARNINGS.md screen 12 with PERFORMANCE.md §2's end: the winning bid of KQ-2026-0031
    names PM_1 as project manager; a tender opened 2026-06-01 names PM_1 again. With an
    approved final completed 2026-05-31 the contract has ended: no PM-ELSEWHERE; without
    it the end is completion_due 2027-05-19: PM-ELSEWHERE."""
    awarded(h)
    if approved_final:
        approve(h, submit(h, evaluation("final", "2026-05-31"))["id"])
    later = tender_body("KQ-B", opened_at="2026-06-01T09:30:00+08:00")
    for b in later["bids"]:
        b["submitted_at"] = "2026-06-01T08:00:00+08:00"
    r = h.post(TENDERS, later, "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    codes = [h.get(f"/api/v1/warnings/{w}", "auditor").get_json()["code"]
             for w in r.get_json()["warnings"]]
    assert ("PM-ELSEWHERE" in codes) is (not approved_final)
