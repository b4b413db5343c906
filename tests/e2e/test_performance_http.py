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
