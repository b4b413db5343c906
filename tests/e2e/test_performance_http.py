"""Post-award performance end to end over HTTP (create_app, SQLite and PostgreSQL),
PERFORMANCE.md §1–§6: award → periodic evaluation with the project manager absent →
review → the PM-ABSENT warning → its confirmation → SITE-PM-ABSENT in the winner's
score; a final evaluation rated fail → PERF-FAIL for every consortium member, the
contract completed, the performance index and the evaluations' ``performance_index``;
a trace served under keqiao-2025@1 still verifies after PERF records exist; every error
code of §1–§6 with its status, in the order of checks of API.md §1; a tenderee acting on
another tenderee's tender is 403."""

from __future__ import annotations

import pytest

from api import create_app
from credit.services.screen_replay import replay_screens
from credit.services.tokens import create_token
from tests.tender_data import (
    BIDDER_1,
    BIDDER_2,
    BIDDER_3,
    MEMBER_1,
    TENDEREE,
    award_body,
    make_uscc,
    tender_body,
)

from .conftest import Api, assert_error, audit_head

pytestmark = pytest.mark.db

CODE = "KQ-2026-0031"
TENDERS, PERF = "/api/v1/tenders", "/api/v1/performance"
OTHER_TENDEREE = make_uscc(77, prefix="11330621")
REGULATOR = "柯桥区交通运输局"


@pytest.fixture
def papi(tctx, tokens, signing_key) -> Api:
    app = create_app({"CREDIT_CONTEXT": tctx, "TESTING": True,
                      "CREDIT_SIGNING_KEY": signing_key})
    tokens = dict(tokens)
    tokens["platform"] = create_token(tctx, "e2e-operator", role="platform",
                                      name="柯桥区公共资源交易中心")[1]
    tokens["tenderee"] = create_token(tctx, "e2e-operator", role="tenderee", uscc=TENDEREE,
                                      name="柯桥区某镇人民政府")[1]
    tokens["tenderee2"] = create_token(tctx, "e2e-operator", role="tenderee",
                                       uscc=OTHER_TENDEREE, name="柯桥区某村民委员会")[1]
    return Api(app.test_client(), tokens)


def awarded(api: Api, code: str = CODE, **award) -> None:
    r = api.post(TENDERS, tender_body(code), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    r = api.post(f"{TENDERS}/{code}/award", award_body(**award), "platform")
    assert r.status_code == 200, r.get_data(as_text=True)


def periodic(**overrides) -> dict:
    body = {"kind": "periodic", "period_end": "2026-05-31",
            "deductions": [{"item": "SCHEDULE", "points": "6.00", "note": "主体结构滞后 21 天"}],
            "project_manager_on_site": False}
    body.update(overrides)
    return body


def final(**overrides) -> dict:
    """L = 100 − (20.00 + 20.00 + 5.00) = 55.00 < 60.00: fail."""
    body = {"kind": "final", "completed_on": "2027-05-10",
            "deductions": [{"item": "QUALITY", "points": "20.00", "note": "主体结构裂缝"},
                           {"item": "SCHEDULE", "points": "20.00", "note": "逾期 90 天"},
                           {"item": "SAFETY", "points": "5.00", "note": "临边防护缺失"}],
            "project_manager_on_site": True}
    body.update(overrides)
    return body


def approve(**overrides) -> dict:
    body = {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01"}
    body.update(overrides)
    return body


def submitted(api: Api, body: dict, code: str = CODE) -> dict:
    r = api.post(f"{TENDERS}/{code}/performance", body, "tenderee")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def reviewed(api: Api, evaluation_id: int, body: dict) -> dict:
    r = api.post(f"{PERF}/{evaluation_id}/review", body, "transport")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def trace_codes(api: Api, uscc: str) -> dict:
    s = api.score(uscc, who="evaluator", sector="transport")
    trace = api.get(f"/api/v1/traces/{s['trace_id']}", "auditor").get_json()
    return s, {r["code"]: r["contribution"] for r in trace["payload"]["records"]}


# ------------------------------------------------------------------ §3, §4.2

def test_manager_absent_review_warning_confirmation_site_pm_absent(papi, tctx):
    api = papi
    awarded(api)
    before, _ = trace_codes(api, BIDDER_1)
    e = submitted(api, periodic())
    assert {k: e[k] for k in ("id", "tender", "kind", "period_end", "completed_on", "score",
                              "rating", "status", "review", "project_manager_on_site")} == {
        "id": 1, "tender": CODE, "kind": "periodic", "period_end": "2026-05-31",
        "completed_on": None, "score": "94.00", "rating": "excellent", "status": "submitted",
        "review": None, "project_manager_on_site": False}  # 100 − 6.00 ≥ 90: excellent
    assert e["deductions"] == periodic()["deductions"]
    assert api.get(f"{PERF}/1", "tenderee").get_json() == e
    queue = api.get(f"{PERF}?status=submitted", "transport").get_json()
    assert [x["id"] for x in queue["items"]] == [1]
    assert api.get(f"{PERF}?status=submitted", "regulator").get_json()["items"] == []

    done = reviewed(api, 1, approve())
    assert done["status"] == "approved"
    review = done["review"]
    assert (review["action"], review["by"], review["records"]) == ("approve", REGULATOR, [])
    warning = api.get(f"/api/v1/warnings/{review['warning']}", "transport").get_json()
    assert (warning["code"], warning["severity"], warning["basis"], warning["evidence"],
            [b["n"] for b in warning["bids"]], warning["definition"], warning["status"]) == (
        "PM-ABSENT", "medium", "建市规〔2019〕1号", {"evaluation": 1}, [1],
        "keqiao-performance-2025@1", "open")
    # its own confirmation codes (WARNINGS.md §6 otherwise)
    disposal = {"action": "confirm", "document_no": "柯交执〔2026〕77号",
                "decided_on": "2026-06-01", "reason": "项目经理长期不在岗，经查属实",
                "code": "BID-COLLUDE", "bids": [1]}
    assert_error(api.post(f"/api/v1/warnings/{warning['id']}/disposal", disposal, "transport"),
                 400, "code_not_allowed")
    r = api.post(f"/api/v1/warnings/{warning['id']}/disposal",
                 {**disposal, "code": "SITE-PM-ABSENT"}, "transport")
    assert r.status_code == 200, r.get_data(as_text=True)
    created = r.get_json()["disposals"][0]["records"]
    records = [api.get(f"/api/v1/records/{i}", "auditor").get_json() for i in created]
    assert [(x["uscc"], x["code"], x["source_warning"]) for x in records] == [
        (BIDDER_1, "SITE-PM-ABSENT", warning["id"]), (MEMBER_1, "SITE-PM-ABSENT",
                                                       warning["id"])]
    after, contributions = trace_codes(api, BIDDER_1)
    # SITE-PM-ABSENT: −4.00 (general, own sector: factor 1.00) off the winner's score
    assert contributions == {"SITE-PM-ABSENT": "-4.00"}
    assert float(before["score"]) - float(after["score"]) == 4.0
    assert api.get("/api/v1/audit/verify", "auditor").get_json()["ok"]
    # the registration's screens still replay: the post-award warning is not theirs
    assert replay_screens(tctx, CODE)["equal"] is True


# ------------------------------------------------------------------ §2, §4.1, §5, §6

def at_cst(day: str):
    """10:00 in China Standard Time on ``day`` (the clock is UTC)."""
    from datetime import datetime, timezone
    return datetime.fromisoformat(f"{day}T02:00:00").replace(tzinfo=timezone.utc)


def contract_status(api: Api, who: str = "transport") -> str:
    items = api.get("/api/v1/contracts", who).get_json()["items"]
    assert [c["tender"] for c in items] == [CODE]
    return items[0]["status"]


def test_overdue_contracts_list_village_projects_first_and_page_in_that_order(papi, clock):
    """§2: ``overdue`` is "what a regulator chases, village projects first": with
    ``status=overdue`` the village projects come first, each part newest award first, and
    ``next`` continues in that order; every other list is newest award first (found by a
    PERFORMANCE.md review)."""
    api = papi
    for code, village, due in (("KQ-V1", True, "2027-05-19"), ("KQ-N1", False, "2027-05-19"),
                               ("KQ-V2", True, "2027-05-19"), ("KQ-N2", False, "2028-05-19")):
        r = api.post(TENDERS, tender_body(code, village=village), "platform")
        assert r.status_code == 201, r.get_data(as_text=True)
        r = api.post(f"{TENDERS}/{code}/award", award_body(completion_due=due), "platform")
        assert r.status_code == 200, r.get_data(as_text=True)
    clock.set(at_cst("2027-07-01"))  # the first three overdue since 2027-06-19
    url = "/api/v1/contracts?status=overdue"
    page = api.get(url, "transport").get_json()
    assert [(c["tender"], c["village"]) for c in page["items"]] == [
        ("KQ-V2", True), ("KQ-V1", True), ("KQ-N1", False)] and page["next"] is None
    walked, after = [], ""
    while True:
        page = api.get(f"{url}&limit=1{after}", "transport").get_json()
        walked += [c["tender"] for c in page["items"]]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert walked == ["KQ-V2", "KQ-V1", "KQ-N1"]
    assert [c["tender"] for c in api.get("/api/v1/contracts", "transport").get_json()[
        "items"]] == ["KQ-N2", "KQ-V2", "KQ-N1", "KQ-V1"]


def test_final_fail_perf_fail_for_every_member_and_the_index(papi, clock):
    api = papi
    awarded(api)  # completion_due 2027-05-19: overdue after 2027-06-18 (+30 days)
    old = api.score(BIDDER_1, sector="transport", model="keqiao-2025@1")
    assert old["score"] == "100.00"
    clock.set(at_cst("2027-06-18"))
    assert contract_status(api) == "in_progress"
    clock.set(at_cst("2027-06-19"))
    assert contract_status(api, "tenderee") == "overdue"
    assert api.get("/api/v1/contracts?status=overdue&village=true", "transport"
                   ).get_json()["items"][0]["tender"] == CODE
    assert api.get("/api/v1/contracts?status=in_progress", "transport"
                   ).get_json()["items"] == []

    e = submitted(api, final())
    assert (e["kind"], e["period_end"], e["completed_on"], e["score"], e["rating"]) == \
        ("final", "2027-05-10", "2027-05-10", "55.00", "fail")
    done = reviewed(api, e["id"], approve(reviewed_on="2027-06-19"))
    assert done["review"]["warning"] is None  # on site, no PM-ABSENT/STAFF-MISMATCH item
    records = [api.get(f"/api/v1/records/{i}", "auditor").get_json()
               for i in done["review"]["records"]]
    assert [(r["uscc"], r["subject_name"]) for r in records] == [
        (BIDDER_1, "浙江柯桥建工有限公司"), (MEMBER_1, "绍兴某设计院有限公司")]
    for r in records:
        assert (r["code"], r["sector"], r["decided_on"], r["document_no"], r["project_code"],
                r["source_performance"], r["issued_by"], r["entered_by"], r["points"]) == (
            "PERF-FAIL", "transport", "2027-06-19", f"履约评价-{CODE}-{e['id']}", CODE,
            e["id"], REGULATOR, REGULATOR, "-8.00")

    contract = api.get("/api/v1/contracts?status=completed", "auditor").get_json()["items"][0]
    assert (contract["end"], contract["completion_due"], contract["winner"]) == (
        "2027-05-10", "2027-05-19", {"uscc": BIDDER_1, "name": "浙江柯桥建工有限公司"})
    assert_error(api.post(f"{TENDERS}/{CODE}/performance", final(), "tenderee"), 409,
                 "contract_completed")

    # §5: v2 counts PERF-FAIL (−8.00, site); v1 ignores it, and its old trace verifies
    assert api.score(BIDDER_1, sector="transport")["score"] == "92.00"
    assert api.score(MEMBER_1, sector="transport")["score"] == "92.00"
    assert api.score(BIDDER_1, sector="transport", model="keqiao-2025@1")["score"] == "100.00"
    check = api.get(f"/api/v1/traces/{old['trace_id']}/verify", "auditor").get_json()
    assert (check["ok"], check["replay_ok"], check["differences"]) == (True, True, [])

    # §6: one contract of 1196000.00 at L 55.00; window add_months(as_of, −36) < completed_on
    def index(uscc, as_of):
        return api.get(f"/api/v1/subjects/{uscc}/performance?as_of={as_of}",
                       "evaluator").get_json()
    found = index(MEMBER_1, "2027-06-19")
    assert (found["index"], found["count"], found["contracts"]) == ("55.00", 1, [
        {"tender": CODE, "score": "55.00", "rating": "fail", "contract_price": "1196000.00",
         "completed_on": "2027-05-10"}])
    assert index(BIDDER_1, "2030-05-09")["index"] == "55.00"
    assert index(BIDDER_1, "2030-05-10")["index"] is None   # 2027-05-10 is not after it
    assert index(BIDDER_1, "2027-05-09")["count"] == 0
    assert index(BIDDER_2, "2027-06-19") == {"uscc": BIDDER_2, "as_of": "2027-06-19",
                                             "index": None, "count": 0, "contracts": []}

    body = {"tender": {"code": CODE, "name": "柯桥区某村道路硬化工程"}, "sector": "transport",
            "as_of": "2027-06-19", "bidders": [{"consortium": [BIDDER_1, MEMBER_1]},
                                               {"uscc": BIDDER_2}, {"uscc": BIDDER_3}]}
    r = api.post("/api/v1/evaluations", body, "evaluator")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert [x["performance_index"] for x in r.get_json()["results"]] == ["55.00", None, None]
    assert api.get("/api/v1/audit/verify", "auditor").get_json()["ok"]


def test_return_then_resubmit_and_idempotency(papi):
    api = papi
    awarded(api)
    key = {"Idempotency-Key": "perf-1"}
    first = api.post(f"{TENDERS}/{CODE}/performance", periodic(), "tenderee", headers=key)
    again = api.post(f"{TENDERS}/{CODE}/performance", periodic(), "tenderee", headers=key)
    assert (first.status_code, again.status_code, again.get_data()) == \
        (201, 201, first.get_data())
    assert_error(api.post(f"{TENDERS}/{CODE}/performance", periodic(period_end="2026-05-30"),
                          "tenderee", headers=key), 409, "idempotency_key_reused")
    nul = periodic(deductions=[{"item": "SCHEDULE", "points": "6.00", "note": "滞后\x00"}])
    assert_error(api.post(f"{TENDERS}/{CODE}/performance", nul, "tenderee", headers=key), 409,
                 "idempotency_key_reused")  # step 7 before 8 (API.md §1)
    body = {"action": "return", "reason": "扣分依据不足，请补充", "reviewed_on": "2026-06-01"}
    r1 = api.post(f"{PERF}/1/review", body, "transport", headers=key)
    r2 = api.post(f"{PERF}/1/review", body, "transport", headers=key)
    assert (r1.status_code, r2.get_data()) == (200, r1.get_data())
    assert r1.get_json()["status"] == "returned" and r1.get_json()["review"]["warning"] is None
    resubmitted = submitted(api, periodic(project_manager_on_site=True, deductions=[]))
    assert (resubmitted["id"], resubmitted["score"]) == (2, "100.00")
    listed = api.get(f"{PERF}?tender={CODE}", "tenderee").get_json()["items"]
    assert [(x["id"], x["status"]) for x in listed] == [(2, "submitted"), (1, "returned")]
    assert api.get("/api/v1/audit/verify", "auditor").get_json()["ok"]


def test_incremental_verify_after_an_evaluation_and_its_review(papi):
    """API.md §6: ``GET /audit/verify?from=checkpoint`` verifies incrementally what the
    full run verifies — here an evaluation and its review appended after the stored run
    — and (API.md §1) nothing a client sends may produce a 500."""
    api = papi
    awarded(api)
    assert api.get("/api/v1/audit/verify", "auditor").get_json()["ok"] is True  # stored
    reviewed(api, submitted(api, periodic())["id"], approve())
    r = api.get("/api/v1/audit/verify?from=checkpoint", "auditor")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["ok"] is True, r.get_json()
    assert r.get_json()["entries_checked"] > 0


# ------------------------------------------------------------------ errors

def test_submission_errors_with_their_status_in_the_order_of_checks(papi, tctx):
    api = papi
    r = api.post(TENDERS, tender_body(), "platform")
    assert r.status_code == 201
    url = f"{TENDERS}/{CODE}/performance"
    start = audit_head(tctx)
    assert_error(api.post(url, periodic()), 401, "unauthenticated")
    for who in ("transport", "evaluator", "platform", "enterprise", "admin"):
        assert_error(api.post(url, periodic(), who), 403, "forbidden")
    assert_error(api.post(url, data=b"{", content_type="application/json", who="tenderee"),
                 400, "malformed_json")
    bad = {
        "kind": periodic(kind="interim"),
        "period_end": periodic(period_end=None),
        "completed_on": periodic(completed_on="2026-05-31"),
        "project_manager_on_site": periodic(project_manager_on_site="no"),
        "deductions.0.points": periodic(deductions=[{"item": "SCHEDULE", "points": "6",
                                                     "note": "滞后"}]),
        "deductions.0.note": periodic(deductions=[{"item": "SCHEDULE", "points": "6.00",
                                                   "note": " "}]),
        "deductions.0.item": periodic(deductions=[{"item": "NOISE", "points": "1.00",
                                                   "note": "噪声"}]),
    }
    bad["period_end"].pop("period_end")
    for field, body in bad.items():
        err = assert_error(api.post(url, body, "tenderee"), 400, "validation_error")
        assert field in err["errors"], (field, err)
    err = assert_error(api.post(url, periodic(period_end="2026-06-02"), "tenderee"), 400,
                       "validation_error")
    assert "period_end" in err["errors"]  # in the future (today 2026-06-01)
    err = assert_error(api.post(url, final(completed_on="2026-05-31",
                                           period_end="2026-05-30"), "tenderee"), 400,
                       "validation_error")
    assert list(err["errors"]) == ["period_end"]
    # a completed_on that is no date is its own error; period_end is not blamed for it
    err = assert_error(api.post(url, final(completed_on="2026-13-01",
                                           period_end="2026-05-31"), "tenderee"), 400,
                       "validation_error")
    assert list(err["errors"]) == ["completed_on"]
    # a null deduction loads nothing: the note after it keeps the index it was sent at
    long_note = [None, {"item": "SAFETY", "points": "1.00", "note": "甲" * 600}]
    err = assert_error(api.post(url, periodic(deductions=long_note), "tenderee"), 400,
                       "validation_error")
    assert set(err["errors"]) == {"deductions.0", "deductions.1.note"}
    twice = [{"item": "SAFETY", "points": "1.00", "note": "甲"},
             {"item": "SAFETY", "points": "2.00", "note": "乙"}]
    assert_error(api.post(url, periodic(deductions=twice), "tenderee"), 400, "duplicate_item")
    over = [{"item": "SAFETY", "points": "15.01", "note": "超出上限"}]
    err = assert_error(api.post(url, periodic(deductions=over), "tenderee"), 400,
                       "points_out_of_range", maximum="15.00")
    assert "15.00" in err["message"]
    # API.md §1: two fields out of range (each with its own maximum) are no single code
    two = [{"item": "SAFETY", "points": "15.01", "note": "超出上限"},
           {"item": "QUALITY", "points": "20.01", "note": "超出上限"}]
    err = assert_error(api.post(url, periodic(deductions=two), "tenderee"), 400,
                       "validation_error")
    assert set(err["errors"]) == {"deductions.0.points", "deductions.1.points"}
    assert "maximum" not in err
    zero = [{"item": "SAFETY", "points": "0.00", "note": "零分"}]
    assert_error(api.post(url, periodic(deductions=zero), "tenderee"), 400,
                 "points_out_of_range", maximum="15.00")
    nine = [{"item": i, "points": "1.00", "note": "扣分"} for i in (
        "PM-ABSENT", "STAFF-MISMATCH", "SCHEDULE", "QUALITY", "SAFETY", "WAGES", "VARIATION",
        "COOPERATION", "SCHEDULE")]
    assert_error(api.post(url, periodic(deductions=nine), "tenderee"), 400, "validation_error")
    assert_error(api.post(f"{TENDERS}/KQ-NOPE/performance", periodic(), "tenderee"), 404,
                 "not_found")
    assert_error(api.post(url, periodic(), "tenderee2"), 403, "forbidden")
    assert_error(api.post(url, periodic(), "tenderee"), 422, "not_awarded")
    assert audit_head(tctx) == start  # nothing was written

    r = api.post(f"{TENDERS}/{CODE}/award", award_body(), "platform")  # awarded 2026-05-20
    assert r.status_code == 200
    start = audit_head(tctx)
    err = assert_error(api.post(url, periodic(period_end="2026-05-19"), "tenderee"), 400,
                       "validation_error")
    assert list(err["errors"]) == ["period_end"]
    err = assert_error(api.post(url, final(completed_on="2026-05-19"), "tenderee"), 400,
                       "validation_error")
    assert list(err["errors"]) == ["completed_on"]
    assert audit_head(tctx) == start
    submitted(api, periodic(period_end="2026-05-20"))  # the award's own day is allowed
    assert_error(api.post(url, periodic(), "tenderee"), 409, "review_pending")
    assert_error(api.post(url, periodic(), "tenderee2"), 403, "forbidden")


def test_review_and_read_errors_with_their_status(papi, tctx):
    api = papi
    awarded(api)
    submitted(api, periodic())
    url = f"{PERF}/1/review"
    start = audit_head(tctx)
    assert_error(api.post(url, approve()), 401, "unauthenticated")
    for who in ("tenderee", "evaluator", "auditor", "admin", "platform"):
        assert_error(api.post(url, approve(), who), 403, "forbidden")
    for body, field in ((approve(action="accept"), "action"), (approve(reason="属实"), "reason"),
                        (approve(reviewed_on="2026-06-02"), "reviewed_on"),
                        (approve(extra=1), "extra")):
        err = assert_error(api.post(url, body, "transport"), 400, "validation_error")
        assert field in err["errors"], (field, err)
    assert_error(api.post(f"{PERF}/99/review", approve(), "transport"), 404, "not_found")
    assert_error(api.post(f"{PERF}/x/review", approve(), "transport"), 404, "not_found")
    assert_error(api.post(url, approve(), "regulator"), 403, "sector_forbidden")
    err = assert_error(api.post(url, approve(reviewed_on="2026-05-30"), "transport"), 400,
                       "validation_error")
    assert list(err["errors"]) == ["reviewed_on"]  # before period_end 2026-05-31
    assert audit_head(tctx) == start
    reviewed(api, 1, approve())
    assert_error(api.post(url, approve(), "transport"), 409, "already_reviewed")

    # reads (§1): a tenderee its own, a regulator its sectors
    assert api.get(f"{PERF}/1", "tenderee").status_code == 200
    assert_error(api.get(f"{PERF}/1", "tenderee2"), 403, "forbidden")
    assert_error(api.get(f"{PERF}/1", "regulator"), 403, "sector_forbidden")
    assert_error(api.get(f"{PERF}/1", "enterprise"), 403, "forbidden")
    assert_error(api.get(f"{PERF}/2", "auditor"), 404, "not_found")
    assert api.get(PERF, "tenderee2").get_json()["items"] == []
    # a filter naming another party's tender is 403, as GET /performance/{id} and
    # /contracts?tenderee= are (API.md §1, step 10); it used to answer an empty page
    assert_error(api.get(f"{PERF}?tender={CODE}", "tenderee2"), 403, "forbidden")
    assert_error(api.get(f"{PERF}?tender={CODE}", "regulator"), 403, "sector_forbidden")
    assert len(api.get(f"{PERF}?tender={CODE}", "tenderee").get_json()["items"]) == 1
    assert len(api.get(f"{PERF}?tender={CODE}", "transport").get_json()["items"]) == 1
    assert api.get(f"{PERF}?tender=KQ-NONE", "tenderee2").get_json()["items"] == []
    assert api.get("/api/v1/contracts", "tenderee2").get_json()["items"] == []
    assert_error(api.get(f"/api/v1/contracts?tenderee={TENDEREE}", "tenderee2"), 403,
                 "forbidden")
    assert_error(api.get("/api/v1/contracts?sector=transport", "regulator"), 403,
                 "sector_forbidden")
    assert_error(api.get("/api/v1/contracts?status=late", "auditor"), 400, "validation_error")
    assert_error(api.get(f"{PERF}?status=pending", "auditor"), 400, "validation_error")
    assert_error(api.get("/api/v1/contracts", "enterprise"), 403, "forbidden")
    assert_error(api.get(f"/api/v1/subjects/{BIDDER_2}/performance", "enterprise"), 403,
                 "forbidden")
    assert_error(api.get(f"/api/v1/subjects/{BIDDER_1}/performance", "tenderee"), 403,
                 "forbidden")
    assert_error(api.get("/api/v1/subjects/123/performance", "auditor"), 400, "invalid_uscc")
    assert_error(api.get(f"/api/v1/subjects/{BIDDER_1}/performance?as_of=2026-13-01",
                         "auditor"), 400, "validation_error")


@pytest.mark.parametrize("code", ["PERF-FAIL", "PERF-EXCELLENT"])
def test_perf_codes_are_not_enterable_by_hand(papi, code):
    from .conftest import record_body
    r = papi.post("/api/v1/records", record_body(code=code), "regulator")
    assert_error(r, 400, "code_not_enterable")


def test_contracts_winner_finds_every_party_of_the_winning_bid(papi):
    """§2's ``winner=`` names an enterprise that won: a consortium member of the winning
    bid holds the contract jointly (it gets the PERF-* records of §4 and a performance
    index from it, §6), so a regulator asking for its contracts finds this one, as
    ``GET /tenders?bidder=`` finds its tender; a party of a losing bid finds nothing
    (found by a review of the tender loop)."""
    api = papi
    awarded(api, "KQ-W1")  # won by BIDDER_1 with MEMBER_1
    awarded(api, "KQ-W2", winner=BIDDER_2)  # MEMBER_1's consortium lost this one

    def found(uscc: str) -> list[str]:
        r = api.get(f"/api/v1/contracts?winner={uscc}", "transport")
        assert r.status_code == 200, r.get_data(as_text=True)
        return [c["tender"] for c in r.get_json()["items"]]

    assert found(MEMBER_1) == ["KQ-W1"]
    assert found(BIDDER_1) == ["KQ-W1"]
    assert found(BIDDER_2) == ["KQ-W2"]
    assert found(BIDDER_3) == []
    lead = api.get("/api/v1/contracts?winner=" + MEMBER_1, "transport").get_json()
    assert lead["items"][0]["winner"]["uscc"] == BIDDER_1  # the resource names the bidder
