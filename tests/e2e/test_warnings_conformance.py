"""Spec-conformance probes of the tender loop (WARNINGS.md), written by an independent
review against the spec alone: each test states a normative sentence — roles and
sectors, registration's boundaries, the award, the disposal's state machine and the
records it creates, the screens' edges, the evaluation's frozen warnings — through the
real HTTP API (create_app, SQLite and PostgreSQL). Its one finding, the identity key's
bytes, is tested in test_tenders_http.py."""

from __future__ import annotations

import json

import pytest

from credit.services.tokens import create_token
from tests.tender_data import (
    BIDDER_1,
    BIDDER_2,
    BIDDER_3,
    BIDDER_4,
    BIDDER_5,
    MEMBER_1,
    PM_1,
    PM_2,
    award_body,
    bid,
    confirm_body,
    id_number,
    tender_body,
)

from .conftest import Api, assert_error, record_body

pytestmark = pytest.mark.db
TENDERS, WARNINGS = "/api/v1/tenders", "/api/v1/warnings"
CODE = "KQ-2026-0031"


@pytest.fixture
def tapi(platform_api, tctx) -> Api:
    tokens = platform_api.tokens
    tokens["multi"] = create_token(
        tctx, "e2e-operator", role="regulator", sectors=["transport", "water"], name="多部门"
    )[1]
    return platform_api


def reg(api, body=None):
    r = api.post(TENDERS, body or tender_body(), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_p_warning_code_filter_nul(tapi):
    reg(tapi)
    r = tapi.get(f"{WARNINGS}?code=%00", "auditor")
    assert r.status_code in (200, 400), r.get_data(as_text=True)
    r = tapi.get(f"{WARNINGS}?tender=%00", "auditor")
    assert r.status_code in (200, 400), r.get_data(as_text=True)
    r = tapi.get(f"{TENDERS}/%00", "auditor")
    assert r.status_code in (404, 400), r.get_data(as_text=True)
    r = tapi.post(f"{TENDERS}/%00/award", award_body(), "platform")
    assert r.status_code in (404, 400), r.get_data(as_text=True)


def test_p_source_warning_null_for_direct(tapi):
    r = tapi.post("/api/v1/records", record_body(), "regulator")
    assert r.status_code == 201
    assert "source_warning" in r.get_json() and r.get_json()["source_warning"] is None, r.get_json()


def test_p_confirm_records_fields(tapi):
    reg(tapi)
    r = tapi.post(f"{WARNINGS}/1/disposal", confirm_body([1, 2]), "transport")
    assert r.status_code == 200, r.get_data(as_text=True)
    w = r.get_json()
    ids = w["disposals"][0]["records"]
    assert len(ids) == 3
    for i in ids:
        rec = tapi.get(f"/api/v1/records/{i}", "auditor").get_json()
        assert rec["issued_by"] == "柯桥区交通运输局" and rec["entered_by"] == "柯桥区交通运输局"
        assert rec["sector"] == "transport" and rec["project_code"] == CODE
        assert rec["decided_on"] == "2026-05-28" and rec["source_warning"] == 1
    names = {tapi.get(f"/api/v1/records/{i}", "auditor").get_json()["subject_name"] for i in ids}
    assert names == {"浙江柯桥建工有限公司", "绍兴某设计院有限公司", "北京某路桥有限公司"}
    # the audit order: warning.disposed then record.created x3
    entries = tapi.get("/api/v1/audit/entries?after=0&limit=500", "auditor").get_json()["items"]
    kinds = [e["kind"] for e in entries][-4:]
    assert kinds == ["warning.disposed"] + ["record.created"] * 3


def test_p_multi_sector_regulator(tapi):
    reg(tapi)
    assert tapi.get(f"{WARNINGS}/1", "multi").status_code == 200
    items = tapi.get(WARNINGS, "multi").get_json()["items"]
    assert len(items) == 5
    assert tapi.get(f"{TENDERS}?sector=water", "multi").status_code == 200
    r = tapi.post(
        f"{WARNINGS}/1/disposal", {"action": "dismiss", "reason": "经核查无异常"}, "multi"
    )
    assert r.status_code == 200


def test_p_disposal_dismiss_shape(tapi):
    reg(tapi)
    r = tapi.post(
        f"{WARNINGS}/1/disposal", {"action": "dismiss", "reason": "经核查无异常"}, "transport"
    )
    d = r.get_json()["disposals"][0]
    assert (d["document_no"], d["decided_on"], d["code"], d["bids"], d["records"]) == (
        None,
        None,
        None,
        [],
        [],
    )
    assert r.get_json()["status"] == "dismissed"


def test_p_disposal_idempotent_retry(tapi):
    reg(tapi)
    k = {"Idempotency-Key": "d-1"}
    r1 = tapi.post(
        f"{WARNINGS}/1/disposal",
        {"action": "refer", "reason": "移送公安机关"},
        "transport",
        headers=k,
    )
    r2 = tapi.post(
        f"{WARNINGS}/1/disposal",
        {"action": "refer", "reason": "移送公安机关"},
        "transport",
        headers=k,
    )
    assert r1.status_code == r2.status_code == 200 and r1.get_data() == r2.get_data()
    r3 = tapi.post(
        f"{WARNINGS}/1/disposal", {"action": "refer", "reason": "移送公安机关"}, "transport"
    )
    assert_error(r3, 409, "already_referred")


def test_p_award_idempotent(tapi):
    reg(tapi)
    k = {"Idempotency-Key": "a-1"}
    r1 = tapi.post(f"{TENDERS}/{CODE}/award", award_body(), "platform", headers=k)
    r2 = tapi.post(f"{TENDERS}/{CODE}/award", award_body(), "platform", headers=k)
    assert r1.status_code == r2.status_code == 200 and r1.get_data() == r2.get_data()
    assert_error(
        tapi.post(
            f"{TENDERS}/{CODE}/award", award_body(contract_price="1.00"), "platform", headers=k
        ),
        409,
        "idempotency_key_reused",
    )
    assert_error(
        tapi.post(f"{TENDERS}/{CODE}/award", award_body(), "platform"), 409, "already_awarded"
    )


def test_p_award_boundaries(tapi, tctx):
    reg(tapi)
    url = f"{TENDERS}/{CODE}/award"
    b = assert_error(
        tapi.post(url, award_body(completion_due="2026-05-20"), "platform"), 400, "validation_error"
    )
    assert list(b["errors"]) == ["completion_due"]
    assert_error(
        tapi.post(url, award_body(contract_price="0.00"), "platform"), 400, "validation_error"
    )
    assert_error(
        tapi.post(url, award_body(winner=MEMBER_1), "platform"), 422, "winner_not_a_valid_bid"
    )
    # awarded on the opening date and today (CST) are both fine
    r = tapi.post(url, award_body(awarded_on="2026-06-01"), "platform")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_p_award_opening_date_same_day(tapi):
    reg(tapi)
    r = tapi.post(
        f"{TENDERS}/{CODE}/award",
        award_body(awarded_on="2026-05-12", completion_due="2026-05-13"),
        "platform",
    )
    assert r.status_code == 200, r.get_data(as_text=True)


def test_p_opened_in_future_boundary(tapi, tctx, clock):
    # now is 2026-06-01T10:00:00+08:00
    r = tapi.post(TENDERS, tender_body("A1", opened_at="2026-06-01T10:00:01+08:00"), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    r = tapi.post(
        TENDERS, tender_body("A2", opened_at="2026-06-01T10:00:01.000001+08:00"), "platform"
    )
    assert_error(r, 400, "opened_in_future")


def test_p_submitted_equal_opened(tapi):
    body = tender_body()
    for b in body["bids"]:
        b["submitted_at"] = "2026-05-12T01:30:00Z"
    reg(tapi, body)


def test_p_birth_today_cst(tapi, tctx, clock):
    from datetime import datetime, timezone

    clock.set(datetime(2026, 5, 31, 17, 0, tzinfo=timezone.utc))  # 06-01 01:00 CST
    body = tender_body()
    body["bids"][1]["personnel"] = [
        {"role": "project_manager", "id_number": id_number(7, born="20260601")}
    ]
    reg(tapi, body)
    body = tender_body("B2")
    body["bids"][1]["personnel"] = [
        {"role": "project_manager", "id_number": id_number(7, born="20260602")}
    ]
    assert_error(tapi.post(TENDERS, body, "platform"), 400, "invalid_id_number")


def test_p_same_person_twice_in_bid(tapi):
    body = tender_body()
    body["bids"][1]["personnel"] = [
        {"role": "project_manager", "id_number": PM_2},
        {"role": "technical_lead", "id_number": PM_2.lower()},
    ]
    b = assert_error(tapi.post(TENDERS, body, "platform"), 400, "validation_error")
    assert PM_2 not in json.dumps(b)


def test_p_decided_on_before_opening_cst(tapi):
    body = tender_body(opened_at="2026-05-11T16:30:00Z")  # 05-12 00:30 CST
    for b in body["bids"]:
        b["submitted_at"] = "2026-05-11T16:00:00Z"
    reg(tapi, body)
    r = tapi.post(
        f"{WARNINGS}/1/disposal", confirm_body([1, 2], decided_on="2026-05-12"), "transport"
    )
    assert r.status_code == 200, r.get_data(as_text=True)


def test_p_decided_on_before_opening(tapi):
    reg(tapi)
    b = assert_error(
        tapi.post(
            f"{WARNINGS}/1/disposal", confirm_body([1, 2], decided_on="2026-05-11"), "transport"
        ),
        400,
        "validation_error",
    )
    assert list(b["errors"]) == ["decided_on"]
    b = assert_error(
        tapi.post(
            f"{WARNINGS}/1/disposal", confirm_body([1, 2], decided_on="2026-06-02"), "transport"
        ),
        400,
        "validation_error",
    )
    assert list(b["errors"]) == ["decided_on"]


def test_p_covered_by(tapi):
    reg(tapi)
    r = tapi.post(f"{WARNINGS}/1/disposal", confirm_body([1, 2]), "transport")
    ids = r.get_json()["disposals"][0]["records"]
    body = {"action": "confirm", "reason": "同一案件已处罚", "bids": [1, 2], "covered_by": ids}
    r = tapi.post(f"{WARNINGS}/3/disposal", body, "transport")  # SAME-IP 1,2?
    assert r.status_code == 200, r.get_data(as_text=True)
    w = r.get_json()
    assert w["status"] == "confirmed" and w["disposals"][0]["records"] == []


def test_p_evaluation_frozen_warnings(tapi):
    reg(tapi)
    body = {
        "tender": {"code": CODE, "name": "x"},
        "sector": "transport",
        "as_of": "2026-05-12",
        "bidders": [
            {"consortium": [MEMBER_1.lower(), BIDDER_1]},
            {"uscc": BIDDER_3},
            {"uscc": BIDDER_2},
        ],
    }
    r = tapi.post("/api/v1/evaluations", body, "evaluator")
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.get_json()
    assert len(doc["warnings"]) == 5
    assert set(doc["warnings"][0]) == {"id", "code", "severity", "bids"}
    tapi.post(
        f"{WARNINGS}/1/disposal", {"action": "dismiss", "reason": "经核查无异常"}, "transport"
    )
    assert tapi.get(f"/api/v1/evaluations/{doc['id']}", "evaluator").get_json() == doc
    r = tapi.post("/api/v1/evaluations", body, "evaluator")
    assert len(r.get_json()["warnings"]) == 4
    r = tapi.post(
        "/api/v1/evaluations", {**body, "tender": {"code": "NOPE", "name": "x"}}, "evaluator"
    )
    assert r.get_json()["warnings"] == []


def test_p_evaluation_sector_mismatch(tapi):
    reg(tapi)
    body = {
        "tender": {"code": CODE, "name": "x"},
        "sector": "water",
        "as_of": "2026-05-12",
        "bidders": [{"consortium": [MEMBER_1, BIDDER_1]}, {"uscc": BIDDER_3}, {"uscc": BIDDER_2}],
    }
    assert_error(
        tapi.post("/api/v1/evaluations", body, "evaluator"), 400, "bidders_differ_from_tender"
    )
    # rejected bid is not evaluated
    body["sector"] = "transport"
    body["bidders"].append({"uscc": BIDDER_4})
    assert_error(
        tapi.post("/api/v1/evaluations", body, "evaluator"), 400, "bidders_differ_from_tender"
    )


def test_p_subjects_registered(tapi):
    reg(tapi)
    r = tapi.get(f"/api/v1/subjects/{MEMBER_1}", "auditor")
    assert r.status_code == 200 and r.get_json()["name"] == "绍兴某设计院有限公司"


WEIRD = [
    lambda b: b.update(bids=["x"]),
    lambda b: b.update(bids=[None]),
    lambda b: b.update(bids=[1, 2]),
    lambda b: b.update(tenderee="x"),
    lambda b: b.update(tenderee=None),
    lambda b: b.update(agency=[]),
    lambda b: b["bids"][0].update(consortium=["x"]),
    lambda b: b["bids"][0].update(consortium=[None]),
    lambda b: b["bids"][0].update(documents=[None]),
    lambda b: b["bids"][0].update(documents=["x"]),
    lambda b: b["bids"][0].update(uploads=[{"ip": 5}]),
    lambda b: b["bids"][0].update(personnel=[1]),
    lambda b: b["bids"][0].update(personnel=[{"role": "project_manager", "id_number": 5}]),
    lambda b: b["bids"][0].update(personnel=[{"role": "boss", "id_number": PM_2}]),
    lambda b: b.update(exclusions=[1]),
    lambda b: b.update(exclusions=[{"kind": "ip", "value": 3}]),
    lambda b: b.update(exclusions=[{"kind": "nope", "value": "3"}]),
    lambda b: b.update(exclusions=[{"kind": "ip", "value": "fe80::1%eth0"}]),
    lambda b: b["bids"][0].update(deposit_account=12345678),
    lambda b: b["bids"][0].update(price=1),
    lambda b: b["bids"][0].update(bidder=None),
    lambda b: b["bids"][0].update(bidder=5),
    lambda b: b["bids"][0].update(submitted_at=None),
    lambda b: b.update(opened_at=None),
    lambda b: b.update(opened_at="2026-05-12T09:30:00"),
    lambda b: b.update(code="a b"),
    lambda b: b.update(code="x" * 65),
    lambda b: b.update(code=5),
    lambda b: b.update(bids=[]),
    lambda b: b.update(bids={"a": 1}),
    lambda b: b["bids"][0].update(status="rejected"),
    lambda b: b["bids"][0].update(status=None),
    lambda b: b["bids"][0].update(reject_reason=5),
    lambda b: b["bids"][0]["uploads"][0].update(onsite="false"),
    lambda b: b.update(village=1),
    lambda b: b["bids"][0].update(bidder_name=""),
    lambda b: b["bids"][0].update(uploads=[{"mac": "\x00"}]),
    lambda b: b["bids"][0].update(
        personnel=[{"role": "project_manager", "id_number": "\x00" * 18}]
    ),
    lambda b: b["bids"][0]["documents"][0].update(machine_code="Ａ１"),
    lambda b: b["bids"][0]["uploads"][0].update(ip="１.2.3.4"),
    lambda b: b["bids"][0]["uploads"][0].update(ip=" 1.2.3.4\u3000"),
    lambda b: b.update(ceiling_price="١٢.00"),
]


@pytest.mark.parametrize("k", range(len(WEIRD)))
def test_p_weird_bodies_no_500(tapi, k):
    body = tender_body()
    WEIRD[k](body)
    r = tapi.post(TENDERS, body, "platform")
    assert r.status_code in (400, 201), r.get_data(as_text=True)
    print(k, r.status_code, r.get_json().get("error"), r.get_json().get("errors"))


DWEIRD = [
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [True],
        "code": "BID-COLLUDE",
        "document_no": "x",
        "decided_on": "2026-05-20",
    },
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [1.0],
        "code": "BID-COLLUDE",
        "document_no": "x",
        "decided_on": "2026-05-20",
    },
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [2**70],
        "code": "BID-COLLUDE",
        "document_no": "x",
        "decided_on": "2026-05-20",
    },
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [1],
        "code": "\x00",
        "document_no": "x",
        "decided_on": "2026-05-20",
    },
    {"action": "confirm", "reason": "abcd", "bids": [1], "covered_by": [2**62]},
    {"action": "confirm", "reason": "abcd", "bids": [1], "covered_by": [0]},
    {"action": "confirm", "reason": "abcd", "bids": [1], "covered_by": []},
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [1],
        "code": "BID-COLLUDE",
        "document_no": "x",
        "decided_on": "1999-12-31",
    },
    {
        "action": "confirm",
        "reason": "abcd",
        "bids": [1],
        "code": "BID-COLLUDE",
        "document_no": "x" * 101,
        "decided_on": "2026-05-20",
    },
    {"action": "dismiss", "reason": "abc"},
    {"action": "dismiss", "reason": "abcd", "bids": []},
    {"action": "refer", "reason": "abcd", "code": None},
    [],
    "x",
    5,
]


@pytest.mark.parametrize("k", range(len(DWEIRD)))
def test_p_weird_disposals_no_500(tapi, k):
    reg(tapi)
    r = tapi.post(f"{WARNINGS}/1/disposal", DWEIRD[k], "transport")
    assert r.status_code in (400, 200), r.get_data(as_text=True)
    print(k, r.status_code, r.get_data(as_text=True)[:300])


def test_p_reject_reason_empty_on_valid(tapi):
    body = tender_body()
    body["bids"][0]["reject_reason"] = ""
    r = tapi.post(TENDERS, body, "platform")
    print(r.status_code, r.get_data(as_text=True)[:400])
    body = tender_body("X2")
    body["bids"][0]["reject_reason"] = "   "
    r = tapi.post(TENDERS, body, "platform")
    print(r.status_code, r.get_data(as_text=True)[:400])
    if r.status_code == 201:
        print(r.get_json()["bids"][0]["reject_reason"])


def test_p_cst_today_for_award_and_decision(tapi, clock):
    from datetime import datetime, timezone

    reg(tapi)
    clock.set(datetime(2026, 5, 31, 17, 0, tzinfo=timezone.utc))  # 06-01 01:00 CST
    r = tapi.post(f"{TENDERS}/{CODE}/award", award_body(awarded_on="2026-06-01"), "platform")
    assert r.status_code == 200, r.get_data(as_text=True)
    r = tapi.post(f"{WARNINGS}/1/disposal", confirm_body([1], decided_on="2026-06-01"), "transport")
    assert r.status_code == 200, r.get_data(as_text=True)
    rec = tapi.get(
        f"/api/v1/records/{r.get_json()['disposals'][0]['records'][0]}", "auditor"
    ).get_json()
    assert rec["counts_today"] is True


def test_p_models_and_filters(tapi):
    reg(tapi)
    for who in ("enterprise", "platform", "evaluator"):
        r = tapi.get("/api/v1/models/keqiao-screens-2025@1", who)
        assert r.status_code == 200, (who, r.get_data(as_text=True))
    r = tapi.get(f"{WARNINGS}?code=NOPE", "auditor")
    print("code=NOPE", r.status_code, r.get_data(as_text=True)[:200])
    r = tapi.get(f"{TENDERS}?from=2026-05-12&to=2026-05-12", "auditor")
    assert len(r.get_json()["items"]) == 1


def test_p_list_cst_dates(tapi):
    body = tender_body(opened_at="2026-05-11T16:30:00Z")
    for b in body["bids"]:
        b["submitted_at"] = "2026-05-11T16:00:00Z"
    reg(tapi, body)
    assert len(tapi.get(f"{TENDERS}?from=2026-05-12", "auditor").get_json()["items"]) == 1
    assert len(tapi.get(f"{TENDERS}?to=2026-05-11", "auditor").get_json()["items"]) == 0


def test_p_trailing_slash(tapi):
    reg(tapi)
    for path in (f"{TENDERS}/{CODE}/", f"{TENDERS}/", f"{WARNINGS}/1/", f"{WARNINGS}/"):
        r = tapi.get(path, "auditor")
        print(path, r.status_code)
    k = {"Idempotency-Key": "s-1"}
    r1 = tapi.post(f"{TENDERS}/{CODE}/award/", award_body(), "platform", headers=k)
    r2 = tapi.post(f"{TENDERS}/{CODE}/award", award_body(), "platform", headers=k)
    print(r1.status_code, r2.status_code, r1.get_data() == r2.get_data())


def test_p_state_machine(tapi):
    reg(tapi)
    refer = {"action": "refer", "reason": "移送公安机关"}
    dismiss = {"action": "dismiss", "reason": "经核查无异常"}
    assert (
        tapi.post(f"{WARNINGS}/2/disposal", refer, "transport").get_json()["status"] == "referred"
    )
    def ids(s):
        return [
            w["id"] for w in tapi.get(f"{WARNINGS}?status={s}", "auditor").get_json()["items"]
        ]
    assert ids("referred") == [2]
    assert (
        tapi.post(f"{WARNINGS}/2/disposal", dismiss, "transport").get_json()["status"]
        == "dismissed"
    )
    assert ids("referred") == [] and ids("dismissed") == [2]
    for body in (refer, dismiss, confirm_body([1])):
        assert_error(
            tapi.post(f"{WARNINGS}/2/disposal", body, "transport"), 409, "already_disposed"
        )
    w = tapi.get(f"{WARNINGS}/2", "auditor").get_json()
    assert [d["action"] for d in w["disposals"]] == ["refer", "dismiss"]


def _pm_body(code, opened, pm):
    body = tender_body(code, opened_at=opened)
    for b in body["bids"]:
        b["submitted_at"] = opened
    body["bids"][1]["personnel"] = [{"role": "project_manager", "id_number": pm}]
    return body


def test_p_pm_elsewhere_boundaries(tapi):
    reg(tapi)
    tapi.post(
        f"{TENDERS}/{CODE}/award",
        award_body(awarded_on="2026-05-20", completion_due="2026-05-25"),
        "platform",
    )

    def codes_of(t):
        return [
            (w["code"], [b["n"] for b in w["bids"]])
            for w in (tapi.get(f"{WARNINGS}/{i}", "auditor").get_json() for i in t["warnings"])
        ]

    # opened on completion_due (CST, sent in UTC) -> flagged
    t = reg(tapi, _pm_body("P1", "2026-05-24T16:00:00Z", PM_1))
    assert ("PM-ELSEWHERE", [2]) in codes_of(t)
    # opened the day after completion_due -> not flagged
    t = reg(tapi, _pm_body("P2", "2026-05-25T16:00:00Z", PM_1))
    assert ("PM-ELSEWHERE", [2]) not in codes_of(t)
    # opened the day before awarded_on -> not flagged
    t = reg(tapi, _pm_body("P3", "2026-05-19T15:59:59Z", PM_1))
    assert ("PM-ELSEWHERE", [2]) not in codes_of(t)
    # opened on awarded_on -> flagged
    t = reg(tapi, _pm_body("P4", "2026-05-19T16:00:00Z", PM_1))
    assert ("PM-ELSEWHERE", [2]) in codes_of(t)


def _plain(code, opened, bidders, winner=None):
    bids = [bid(u, f"{1000000 + 1000 * i}.00", submitted_at=opened) for i, u in enumerate(bidders)]
    for b in bids:
        b["submitted_at"] = opened
    return {
        "code": code,
        "name": "工程",
        "sector": "water",
        "tenderee": {"uscc": "11330621002587465Y", "name": "镇政府"},
        "method": "comprehensive",
        "ceiling_price": "9000000.00",
        "opened_at": opened,
        "bids": bids,
    }


def test_p_co_bidding_window_edges(tapi):
    pair = [BIDDER_2, BIDDER_3]
    # 2025-05-12 is exactly 365 days before 2026-05-12 (CST)
    reg(tapi, _plain("C0", "2025-05-11T15:59:59Z", pair))  # 2025-05-11 CST: outside
    reg(tapi, _plain("C1", "2025-05-11T16:00:00Z", pair))  # 2025-05-12 CST: inside
    reg(tapi, _plain("C2", "2025-12-01T01:00:00Z", pair))
    r = tapi.post(
        f"{TENDERS}/C2/award",
        award_body(winner=BIDDER_2, awarded_on="2025-12-05", completion_due="2026-01-01"),
        "platform",
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    t = reg(tapi, _plain("C3", "2026-05-12T09:30:00+08:00", pair + [BIDDER_5]))
    ws = [tapi.get(f"{WARNINGS}/{i}", "auditor").get_json() for i in t["warnings"]]
    co = [w for w in ws if w["code"] == "CO-BIDDING"]
    assert len(co) == 0, [w["evidence"] for w in co]  # c = 3 (C1, C2, C3) < 4
    t = reg(tapi, _plain("C4", "2026-05-12T15:59:59Z", pair))  # 05-12 23:59:59 CST
    ws = [tapi.get(f"{WARNINGS}/{i}", "auditor").get_json() for i in t["warnings"]]
    co = [w for w in ws if w["code"] == "CO-BIDDING"]
    assert [w["evidence"] for w in co] == [
        {"tenders": ["C1", "C2", "C3", "C4"], "co_bids": 4, "rotation": False}
    ]
