"""The tender loop's use cases on SQLite and PostgreSQL (WARNINGS.md §2–§7): registration
with its entries and subjects, idempotency and duplicates, award, the cross-tender
screens over an indexed snapshot that knows only what came before, disposal with the
records it creates, evaluations of a registered tender, replay and audit verify."""

from __future__ import annotations

import json

import pytest

from credit.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from credit.services import performance, tenders, warnings
from credit.services.audit import verify_chain
from credit.services.context import Actor
from credit.services.idempotency import IdempotentRequest
from credit.services.records import create_record, get_record
from credit.services.scoring import ScoreQuery, create_evaluation, score
from credit.services.screen_replay import replay_screens
from credit.services.subjects import get_subject
from tests.tender_data import (
    BIDDER_1,
    BIDDER_2,
    BIDDER_3,
    BIDDER_4,
    BIDDER_5,
    MEMBER_1,
    PM_1,
    RAW_PERSONAL,
    TENDEREE,
    award_body,
    bid,
    confirm_body,
    id_number,
    tender_body,
)

from .helpers import all_entries, expect, record_body, snapshot, tamper
from .tender_helpers import (
    AUDITOR,
    ENTERPRISE,
    EVALUATOR,
    HOUSING,
    PLATFORM,
    TRANSPORT,
    award,
    codes,
    dispose,
    register,
    warnings_of,
)

pytestmark = pytest.mark.db

EXAMPLE_WARNINGS = [("SAME-PREPARER", (1, 2)), ("SAME-IP", (1, 2)), ("SAME-DEPOSIT", (1, 2)),
                    ("SAME-PERSONNEL", (1, 3)), ("LOWEST-REJECTED", (4,))]


def test_registration_is_one_entry_then_one_per_warning_in_screen_order(tctx):
    before = len(all_entries(tctx))
    t = register(tctx, tender_body())
    entries = all_entries(tctx)[before:]
    assert [e["kind"] for e in entries] == ["tender.registered"] + ["warning.raised"] * 5
    payload = entries[0]["payload"]
    assert payload["knowledge_position"] == before
    assert payload["screens"]["id"] == "keqiao-screens-2025"
    assert payload["warnings"] == t["warnings"]
    assert payload["bids"][0]["deposit_account_masked"] == "****4567"
    assert len(payload["bids"][0]["personnel"][0]["id_number_hash"]) == 64
    assert [e["payload"]["warning"]["id"] for e in entries[1:]] == t["warnings"]
    assert codes(warnings_of(tctx, t["code"])) == EXAMPLE_WARNINGS
    assert t["audit_position"] == entries[0]["position"]
    assert t["registered_at"] == entries[0]["at"]
    assert t["bids"][1]["uploads"][0]["ip"] == "115.220.4.17"
    assert t["award"] is None and t["screens"]["ref"] == "keqiao-screens-2025@1"
    text = json.dumps([t, entries], ensure_ascii=False)
    for raw in RAW_PERSONAL:
        assert raw not in text
    assert "id_number_hash" not in json.dumps(t)
    assert tenders.get_tender(tctx, AUDITOR, t["code"]) == t
    assert verify_chain(tctx)["ok"]


def test_every_party_becomes_a_subject_with_its_name_in_the_tender(tctx):
    register(tctx, tender_body())
    assert get_subject(tctx, MEMBER_1)["name"] == "绍兴某设计院有限公司"
    assert get_subject(tctx, BIDDER_4)["name"] == "上海某工程有限公司"
    # a party already registered keeps its first name
    body = tender_body("KQ-2026-0032")
    body["bids"][0]["bidder_name"] = "改名后的公司"
    register(tctx, body)
    assert get_subject(tctx, BIDDER_1)["name"] == "浙江柯桥建工有限公司"
    assert verify_chain(tctx)["ok"]


def test_a_second_registration_of_a_code_is_409_and_writes_nothing(tctx):
    register(tctx, tender_body())
    before = snapshot(tctx)
    with expect(Conflict, "duplicate_tender"):
        tenders.register_tender(tctx, PLATFORM, tender_body())
    assert snapshot(tctx) == before


def test_idempotency_key_replays_and_refuses_reuse_before_validation(tctx):
    def key(body, k="k-1"):
        return IdempotentRequest(PLATFORM.token_id, "POST", "/api/v1/tenders", k, body)

    first = tenders.register_tender(tctx, PLATFORM, tender_body(), key(tender_body()))
    before = snapshot(tctx)
    again = tenders.register_tender(tctx, PLATFORM, tender_body(), key(tender_body()))
    assert (again.replayed, again.body) == (True, first.body)
    other = tender_body(name="另一个名称")
    with expect(Conflict, "idempotency_key_reused"):
        tenders.register_tender(tctx, PLATFORM, other, key(other))
    bad = tender_body(sector="rail")  # invalid, but the key answers first (check 7)
    with expect(Conflict, "idempotency_key_reused"):
        tenders.register_tender(tctx, PLATFORM, bad, key(bad))
    assert snapshot(tctx) == before


def test_award_rules_in_their_order(tctx, clock):
    register(tctx, tender_body())
    with expect(NotFound, "not_found"):
        tenders.award_tender(tctx, PLATFORM, "KQ-NONE", award_body())
    with expect(InvalidInput, "validation_error"):
        tenders.award_tender(tctx, PLATFORM, "KQ-2026-0031", award_body(awarded_on="2026-05-11"))
    with expect(RuleViolation, "winner_not_a_valid_bid"):
        tenders.award_tender(tctx, PLATFORM, "KQ-2026-0031", award_body(winner=BIDDER_4))
    t = award(tctx, "KQ-2026-0031", award_body())
    assert t["award"]["winner"] == BIDDER_1 and t["award"]["bid"] == 1
    assert t["award"]["project_managers"] == [PM_1[:6] + "********" + PM_1[-4:]]
    with expect(Conflict, "already_awarded"):  # 409 before the 422 of a wrong winner
        tenders.award_tender(tctx, PLATFORM, "KQ-2026-0031", award_body(winner=BIDDER_4))
    assert verify_chain(tctx)["ok"]


def test_an_award_is_judged_against_the_cst_date_of_an_opening_sent_with_another_offset(
        tctx):
    """WARNINGS.md §2: '"The date of" an instant is always its calendar date in CST';
    §3: ``awarded_on`` ≥ the date of ``opened_at``. Opened 2026-05-11T23:30:00-01:00 is
    2026-05-12 08:30 in CST: an award on 05-11 is too early, one on 05-12 is not."""
    body = tender_body("KQ-OFFSET", opened_at="2026-05-11T23:30:00-01:00")
    for b in body["bids"]:
        b["submitted_at"] = "2026-05-12T08:00:00+08:00"
    register(tctx, body)
    with expect(InvalidInput, "validation_error") as info:
        tenders.award_tender(tctx, PLATFORM, "KQ-OFFSET", award_body(awarded_on="2026-05-11"))
    assert list(info.value.errors) == ["awarded_on"]
    t = award(tctx, "KQ-OFFSET", award_body(awarded_on="2026-05-12"))
    assert t["award"]["awarded_on"] == "2026-05-12"


def _simple(code: str, opened: str, bidders, *, pm: str | None = None) -> dict:
    bids = [bid(u, f"{1000 + 37 * i ** 2}.00",
                personnel=[{"role": "project_manager", "id_number": pm}] if pm and i == 0
                else [], submitted_at=opened)
            for i, u in enumerate(bidders)]
    return tender_body(code, opened_at=opened, bids=bids, exclusions=[], method="comprehensive")


def test_pm_elsewhere_sees_only_awards_known_before_the_registration(tctx):
    register(tctx, _simple("A-1", "2026-03-01T09:00:00+08:00", [BIDDER_1, BIDDER_2], pm=PM_1))
    # B is registered before A is awarded: A's award is not in B's snapshot
    register(tctx, _simple("B-1", "2026-04-01T09:00:00+08:00", [BIDDER_3, BIDDER_4], pm=PM_1))
    award(tctx, "A-1", award_body(awarded_on="2026-03-10", completion_due="2026-04-30"))
    register(tctx, _simple("C-1", "2026-04-30T09:00:00+08:00", [BIDDER_3, BIDDER_5], pm=PM_1))
    register(tctx, _simple("D-1", "2026-05-01T09:00:00+08:00", [BIDDER_3, BIDDER_5], pm=PM_1))
    assert [c for c, _ in codes(warnings_of(tctx, "B-1"))] == []
    c = warnings_of(tctx, "C-1")  # the contract's last day still counts
    assert codes(c) == [("PM-ELSEWHERE", (1,))] and c[0]["evidence"] == {"tenders": ["A-1"]}
    assert warnings_of(tctx, "D-1") == []  # the day after its end
    for code in ("B-1", "C-1", "D-1"):
        assert replay_screens(tctx, code)["equal"]


TENDEREE_ACTOR = Actor("柯桥区某镇人民政府", "tenderee", token_id=31, uscc=TENDEREE)


def _final(tctx, code: str, completed_on: str) -> int:
    """Submit the final evaluation of ``code`` (status ``submitted``): its id."""
    body = {"kind": "final", "completed_on": completed_on, "project_manager_on_site": True,
            "deductions": []}
    return json.loads(performance.submit_evaluation(tctx, TENDEREE_ACTOR, code, body).body)["id"]


def _review(tctx, evaluation_id: int, action: str, reviewed_on: str) -> None:
    performance.review_evaluation(tctx, TRANSPORT, evaluation_id, {
        "action": action, "reason": "经现场核查", "reviewed_on": reviewed_on})


def _awarded_contract(tctx) -> None:
    """A-1 names PM_1 on its winning bid: awarded 2026-03-10, due 2026-05-30."""
    register(tctx, _simple("A-1", "2026-03-01T09:00:00+08:00", [BIDDER_1, BIDDER_2], pm=PM_1))
    award(tctx, "A-1", award_body(awarded_on="2026-03-10", completion_due="2026-05-30"))


def test_pm_elsewhere_ends_at_the_approved_final_evaluations_completed_on(tctx):
    """WARNINGS.md screen 12: the contract's end is the approved final evaluation's
    completed_on (2026-04-15) rather than completion_due (2026-05-30)."""
    _awarded_contract(tctx)
    _review(tctx, _final(tctx, "A-1", "2026-04-15"), "approve", "2026-04-20")
    register(tctx, _simple("C-1", "2026-04-15T09:00:00+08:00", [BIDDER_3, BIDDER_4], pm=PM_1))
    register(tctx, _simple("D-1", "2026-04-16T09:00:00+08:00", [BIDDER_3, BIDDER_5], pm=PM_1))
    c = warnings_of(tctx, "C-1")  # completed_on itself still counts
    assert codes(c) == [("PM-ELSEWHERE", (1,))] and c[0]["evidence"] == {"tenders": ["A-1"]}
    assert warnings_of(tctx, "D-1") == []  # after completed_on, before completion_due
    for code in ("C-1", "D-1"):
        assert replay_screens(tctx, code)["equal"]


def test_pm_elsewhere_ignores_finals_not_approved_before_the_registration(tctx):
    """A submitted or returned final evaluation changes nothing; one submitted before a
    registration but approved after it changes neither its warning nor its replay (the
    snapshot's bound is the approving review's position)."""
    _awarded_contract(tctx)
    first = _final(tctx, "A-1", "2026-04-15")
    register(tctx, _simple("B-1", "2026-04-20T09:00:00+08:00", [BIDDER_3, BIDDER_4], pm=PM_1))
    _review(tctx, first, "return", "2026-04-21")
    register(tctx, _simple("B-2", "2026-04-21T09:00:00+08:00", [BIDDER_3, BIDDER_5], pm=PM_1))
    second = _final(tctx, "A-1", "2026-04-15")
    register(tctx, _simple("B-3", "2026-04-22T09:00:00+08:00", [BIDDER_4, BIDDER_5], pm=PM_1))
    _review(tctx, second, "approve", "2026-04-23")
    register(tctx, _simple("B-4", "2026-04-23T09:00:00+08:00", [BIDDER_1, BIDDER_3], pm=PM_1))
    for code in ("B-1", "B-2", "B-3"):  # opened after completed_on, before completion_due
        w = warnings_of(tctx, code)
        assert codes(w) == [("PM-ELSEWHERE", (1,))] and w[0]["evidence"] == {"tenders": ["A-1"]}
    assert warnings_of(tctx, "B-4") == []  # registered after the approval
    for code in ("B-1", "B-2", "B-3", "B-4"):
        assert replay_screens(tctx, code)["equal"]


def test_co_bidding_counts_the_window_and_marks_rotation(tctx):
    for code, day in [("W-0", "2025-05-11"), ("W-1", "2025-05-12"), ("W-2", "2026-05-10"),
                      ("W-3", "2026-05-11"), ("W-4", "2026-05-12")]:
        register(tctx, _simple(code, f"{day}T09:00:00+08:00", [BIDDER_1, BIDDER_2]))
        if code == "W-1":
            award(tctx, code, award_body(awarded_on="2025-05-20", completion_due="2025-12-31"))
        if code == "W-2":
            award(tctx, code, award_body(winner=BIDDER_2, awarded_on="2026-05-10"))
    assert warnings_of(tctx, "W-2") == []  # W-0, W-1, W-2: three
    on_edge = warnings_of(tctx, "W-3")  # W-0 opened on the window's first day
    assert on_edge[0]["evidence"] == {"tenders": ["W-0", "W-1", "W-2", "W-3"], "co_bids": 4,
                                      "rotation": True}
    found = warnings_of(tctx, "W-4")  # W-0 lies one day before this window
    assert codes(found) == [("CO-BIDDING", (1, 2))]
    assert found[0]["evidence"] == {"tenders": ["W-1", "W-2", "W-3", "W-4"], "co_bids": 4,
                                    "rotation": True}
    assert replay_screens(tctx, "W-4")["equal"]


def test_the_co_bidding_window_counts_opening_dates_in_cst(tctx):
    """WARNINGS.md §4 screen 13: tenders "with opened_at date in [date(opened_at) −
    co_bid_window_days, date(opened_at)] (both ends inclusive)", and §2: the date of an
    instant is its date in CST — so an opening sent in UTC counts by its CST date."""
    # 2025-05-11T16:00Z is 2025-05-12 00:00 CST, 365 days before 2026-05-12: inside;
    # one second earlier is still 2025-05-11 in CST: outside
    register(tctx, _simple("E-0", "2025-05-11T15:59:59Z", [BIDDER_1, BIDDER_2]))
    register(tctx, _simple("E-1", "2025-05-11T16:00:00Z", [BIDDER_1, BIDDER_2]))
    register(tctx, _simple("E-2", "2025-09-01T09:00:00+08:00", [BIDDER_2, BIDDER_1, BIDDER_3]))
    register(tctx, _simple("E-3", "2026-05-12T23:59:59+08:00", [BIDDER_1, BIDDER_2]))
    register(tctx, _simple("E-4", "2026-05-12T09:00:00+08:00", [BIDDER_1, BIDDER_2]))
    found = [w for w in warnings_of(tctx, "E-4") if w["code"] == "CO-BIDDING"]
    assert codes(found) == [("CO-BIDDING", (1, 2))]
    assert found[0]["evidence"] == {"tenders": ["E-1", "E-2", "E-3", "E-4"], "co_bids": 4,
                                    "rotation": False}


def test_refer_then_confirm_creates_the_records_and_the_scores_drop_exactly(tctx):
    t = register(tctx, tender_body())
    preparer = t["warnings"][0]
    before = {(u, s): score(tctx, EVALUATOR, ScoreQuery(u, s))["score"]
              for u in (BIDDER_1, MEMBER_1, BIDDER_2) for s in ("transport", "housing")}
    w = dispose(tctx, preparer, {"action": "refer", "reason": "移送公安机关侦查"})
    assert w["status"] == "referred" and w["disposals"][0]["records"] == []
    with expect(Conflict, "already_referred"):
        warnings.dispose(tctx, TRANSPORT, preparer, {"action": "refer", "reason": "再次移送"})
    w = dispose(tctx, preparer, confirm_body([1, 2]))
    assert w["status"] == "confirmed"
    ids = w["disposals"][1]["records"]
    records = [get_record(tctx, AUDITOR, i) for i in ids]
    assert [(r["uscc"], r["subject_name"]) for r in records] == [
        (BIDDER_1, "浙江柯桥建工有限公司"), (MEMBER_1, "绍兴某设计院有限公司"),
        (BIDDER_2, "北京某路桥有限公司")]
    for r in records:
        assert (r["code"], r["sector"], r["project_code"], r["source_warning"]) == \
            ("BID-COLLUDE", "transport", "KQ-2026-0031", preparer)
        assert (r["issued_by"], r["entered_by"]) == (TRANSPORT.name, TRANSPORT.name)
    after = {k: score(tctx, EVALUATOR, ScoreQuery(*k))["score"] for k in before}
    assert set(before.values()) == {"100.00"}
    # BID-COLLUDE is −20.00, serious: × 1.00 in its sector, × 0.50 in the others (MODEL.md)
    assert after == {(u, s): "80.00" if s == "transport" else "90.00" for u, s in before}
    with expect(Conflict, "already_disposed"):
        warnings.dispose(tctx, TRANSPORT, preparer, confirm_body([1, 2]))
    # the hashed facts carry source_warning only on records the service created
    created = [e for e in all_entries(tctx) if e["kind"] == "record.created"]
    assert [e["payload"]["record"]["source_warning"] for e in created] == [preparer] * 3
    hand = create_record(tctx, TRANSPORT, record_body(
        uscc=BIDDER_4, sector="transport", issued_by=TRANSPORT.name))
    facts = all_entries(tctx)[-1]["payload"]["record"]
    assert "source_warning" not in facts and json.loads(hand.body)["source_warning"] is None
    assert verify_chain(tctx)["ok"]


def test_a_dismissed_warning_changes_nothing(tctx):
    t = register(tctx, tender_body())
    before = score(tctx, EVALUATOR, ScoreQuery(BIDDER_1, "transport"))
    w = dispose(tctx, t["warnings"][2], {"action": "dismiss",
                                         "reason": "同一银行代缴，经核实无关联"})
    assert w["status"] == "dismissed" and w["disposals"][0]["records"] == []
    after = score(tctx, EVALUATOR, ScoreQuery(BIDDER_1, "transport"))
    assert (after["score"], after["reasons"]) == (before["score"], before["reasons"])
    with expect(Conflict, "already_disposed"):
        warnings.dispose(tctx, TRANSPORT, t["warnings"][2], confirm_body([1, 2]))


def test_a_duplicate_record_makes_the_whole_disposal_409_and_writes_nothing(tctx):
    t = register(tctx, tender_body())
    create_record(tctx, TRANSPORT, record_body(
        uscc=MEMBER_1, subject_name="某设计院", sector="transport", code="BID-COLLUDE",
        decided_on="2026-05-28", document_no="柯交执〔2026〕31号", issued_by=TRANSPORT.name))
    before = snapshot(tctx)
    with expect(Conflict, "duplicate_record") as info:
        warnings.dispose(tctx, TRANSPORT, t["warnings"][0], confirm_body([1, 2]))
    assert info.value.extra["record_id"] == 1
    assert snapshot(tctx) == before
    assert warnings.get_warning(tctx, AUDITOR, t["warnings"][0])["status"] == "open"


def _warning_with_decision_held(tctx, uscc: str, name: str) -> int:
    """The example tender's SAME-PREPARER warning (bids 1 and 2), after ``uscc`` was
    given the very decision confirm_body would record (BID-COLLUDE, 柯交执〔2026〕31号)."""
    t = register(tctx, tender_body())
    create_record(tctx, TRANSPORT, record_body(
        uscc=uscc, subject_name=name, sector="transport", code="BID-COLLUDE",
        decided_on="2026-05-01", document_no="柯交执〔2026〕31号", issued_by=TRANSPORT.name))
    return t["warnings"][0]


def test_duplicate_record_answers_before_the_checks_against_the_warning(tctx):
    """API.md §1: "11 409 state; 11a 400 checks that need a stored row (a disposal's
    bids or code against its warning, dates against a tender's opening ...)": a record
    the confirmation would duplicate answers 409 before a decided_on earlier than the
    opening or a bid the warning does not name; and WARNINGS.md §6: "409
    already_disposed is checked before 409 duplicate_record"."""
    first = _warning_with_decision_held(tctx, BIDDER_1, "浙江柯桥建工有限公司")
    before = snapshot(tctx)
    for body in (confirm_body([1, 2], decided_on="2026-05-11"), confirm_body([1, 3])):
        with expect(Conflict, "duplicate_record"):
            warnings.dispose(tctx, TRANSPORT, first, body)
    assert snapshot(tctx) == before
    dispose(tctx, first, {"action": "dismiss", "reason": "经核实无关联"})
    with expect(Conflict, "already_disposed"):
        warnings.dispose(tctx, TRANSPORT, first, confirm_body([1, 2]))


def test_a_duplicate_on_a_bid_the_warning_does_not_name_is_no_409(tctx):
    """WARNINGS.md §6: 409 ``duplicate_record`` is for a record the confirmation would
    create; a bid the warning does not name gets no record, so a decision its bidder
    already holds is no duplicate: the answer is the 400 ``bid_not_in_warning``."""
    first = _warning_with_decision_held(tctx, BIDDER_3, "北京某建设有限公司")
    before = snapshot(tctx)
    with expect(InvalidInput, "bid_not_in_warning"):
        warnings.dispose(tctx, TRANSPORT, first, confirm_body([1, 3]))
    assert snapshot(tctx) == before


def test_checks_against_the_warning_and_covered_by(tctx):
    t = register(tctx, tender_body())
    first, personnel = t["warnings"][0], t["warnings"][3]
    with expect(InvalidInput, "bid_not_in_warning"):
        warnings.dispose(tctx, TRANSPORT, first, confirm_body([1, 3]))
    with expect(InvalidInput, "code_not_allowed"):
        warnings.dispose(tctx, TRANSPORT, first, confirm_body([1], code="SITE-QUALITY"))
    with expect(InvalidInput, "validation_error") as info:
        warnings.dispose(tctx, TRANSPORT, first, confirm_body([1], decided_on="2026-05-11"))
    assert list(info.value.errors) == ["decided_on"]
    w = dispose(tctx, first, confirm_body([1, 2]))
    created = w["disposals"][0]["records"]
    with expect(InvalidInput, "validation_error") as info:  # BIDDER_2 is not in bid 1 or 3
        warnings.dispose(tctx, TRANSPORT, personnel, {
            "action": "confirm", "reason": "同一案件已处罚", "bids": [1, 3],
            "covered_by": [created[2]]})
    assert list(info.value.errors) == ["covered_by.0"]
    before = snapshot(tctx)[1]["records"]
    w = dispose(tctx, personnel, {"action": "confirm", "reason": "同一案件已处罚",
                                  "bids": [1, 3], "covered_by": created[:2]})
    assert w["status"] == "confirmed" and w["disposals"][0]["covered_by"] == created[:2]
    assert w["disposals"][0]["records"] == [] and snapshot(tctx)[1]["records"] == before


@pytest.mark.parametrize("outside", [0, -1, 201, 2**63])
def test_any_integer_that_is_no_position_of_the_warning_is_bid_not_in_warning(tctx, outside):
    """WARNINGS.md §6: ``bids`` is "a non-empty subset of the warning's bid positions
    (400 bid_not_in_warning)" — for any integer, also one no tender's bids could have
    (a tender has 1–200), since that is a check against the stored warning (11a)."""
    t = register(tctx, tender_body())
    with expect(InvalidInput, "bid_not_in_warning") as info:
        warnings.dispose(tctx, TRANSPORT, t["warnings"][0], confirm_body([1, outside]))
    assert list(info.value.errors) == ["bids"]


def test_a_bid_outside_the_warning_answers_after_sector_and_state(tctx):
    """API.md §1: 10 (403 sector_forbidden) and 11 (409 state) answer before 11a (a
    disposal's bids against its warning), whatever integers ``bids`` holds."""
    t = register(tctx, tender_body())
    first = t["warnings"][0]
    for outside in (0, 201):
        with expect(Forbidden, "sector_forbidden"):
            warnings.dispose(tctx, HOUSING, first, confirm_body([1, outside]))
    dispose(tctx, first, {"action": "dismiss", "reason": "经核实无关联"})
    for outside in (0, 201):
        with expect(Conflict, "already_disposed"):
            warnings.dispose(tctx, TRANSPORT, first, confirm_body([1, outside]))


def test_sectors_and_roles(tctx):
    t = register(tctx, tender_body())
    with expect(Forbidden, "sector_forbidden"):
        warnings.dispose(tctx, HOUSING, t["warnings"][0], {"action": "dismiss",
                                                           "reason": "不属于本局"})
    with expect(Forbidden, "sector_forbidden"):
        tenders.get_tender(tctx, HOUSING, t["code"])
    with expect(Forbidden, "sector_forbidden"):
        warnings.list_warnings(tctx, HOUSING, warnings.WarningFilter(sector="transport"))
    assert warnings.list_warnings(tctx, HOUSING, warnings.WarningFilter())["items"] == []
    assert len(warnings.list_warnings(tctx, TRANSPORT, warnings.WarningFilter())["items"]) == 5
    for actor in (ENTERPRISE, PLATFORM):
        with expect(Forbidden, "forbidden"):
            warnings.get_warning(tctx, actor, t["warnings"][0])
    with expect(Forbidden, "forbidden"):
        tenders.get_tender(tctx, ENTERPRISE, t["code"])
    with expect(Forbidden, "forbidden"):
        tenders.register_tender(tctx, TRANSPORT, tender_body("X-1"))


def test_lists_page_and_filter(tctx):
    t = register(tctx, tender_body())
    register(tctx, _simple("H-1", "2026-05-01T09:00:00+08:00", [BIDDER_5, BIDDER_3])
             | {"sector": "housing"})
    f = tenders.TenderFilter
    assert [x["code"] for x in tenders.list_tenders(tctx, AUDITOR, f())["items"]] == \
        ["H-1", t["code"]]
    assert [x["code"] for x in tenders.list_tenders(tctx, AUDITOR, f(bidder=MEMBER_1))
            ["items"]] == [t["code"]]
    assert [x["code"] for x in tenders.list_tenders(tctx, HOUSING, f())["items"]] == ["H-1"]
    page1 = tenders.list_tenders(tctx, AUDITOR, f(limit=1))
    page2 = tenders.list_tenders(tctx, AUDITOR, f(limit=1, after=int(page1["next"])))
    assert [x["code"] for x in page2["items"]] == [t["code"]] and page2["next"] is None
    from datetime import date
    assert tenders.list_tenders(tctx, AUDITOR, f(opened_from=date(2026, 5, 2)))["items"][0][
        "code"] == t["code"]
    wf = warnings.WarningFilter
    assert len(warnings.list_warnings(tctx, AUDITOR, wf(uscc=MEMBER_1))["items"]) == 4
    assert len(warnings.list_warnings(tctx, AUDITOR, wf(severity="high"))["items"]) == 3
    dispose(tctx, t["warnings"][1], {"action": "refer", "reason": "移送公安机关"})
    dispose(tctx, t["warnings"][2], {"action": "dismiss", "reason": "经核实无关联"})
    statuses = {s: [w["id"] for w in warnings.list_warnings(tctx, AUDITOR, wf(status=s))
                    ["items"]] for s in ("open", "referred", "dismissed", "confirmed")}
    assert statuses == {"open": [5, 4, 1], "referred": [2], "dismissed": [3], "confirmed": []}
    assert warnings.list_warnings(tctx, AUDITOR, wf(tender="NONE")) == {"items": [],
                                                                         "next": None}


def test_an_evaluation_of_a_registered_tender_must_match_it_and_shows_open_warnings(tctx):
    t = register(tctx, tender_body())
    dispose(tctx, t["warnings"][2], {"action": "dismiss", "reason": "经核实无关联"})
    good = {"tender": {"code": t["code"], "name": t["name"]}, "sector": "transport",
            "as_of": "2026-05-12",
            "bidders": [{"uscc": BIDDER_3}, {"consortium": [MEMBER_1, BIDDER_1]},
                        {"uscc": BIDDER_2}]}
    doc = json.loads(create_evaluation(tctx, EVALUATOR, good).body)
    assert [w["id"] for w in doc["warnings"]] == [1, 2, 4, 5]
    assert doc["warnings"][0] == {"id": 1, "code": "SAME-PREPARER", "severity": "high",
                                  "bids": [1, 2]}
    for change in ({"sector": "housing"},
                   {"bidders": good["bidders"] + [{"uscc": BIDDER_4}]},  # a rejected bid
                   {"bidders": [{"uscc": BIDDER_3}, {"uscc": BIDDER_1}, {"uscc": BIDDER_2}]}):
        with expect(InvalidInput, "bidders_differ_from_tender"):
            create_evaluation(tctx, EVALUATOR, {**good, **change})
    other = {**good, "tender": {"code": "KQ-OTHER", "name": "未登记"}}
    assert json.loads(create_evaluation(tctx, EVALUATOR, other).body)["warnings"] == []


def test_replay_says_equal_and_notices_a_changed_warning(tctx):
    register(tctx, tender_body())
    assert replay_screens(tctx, "KQ-2026-0031")["equal"]
    tamper(tctx, "warnings", "UPDATE warnings SET bids = '[1,3]' WHERE id = 1")
    result = replay_screens(tctx, "KQ-2026-0031")
    assert not result["equal"] and "warning 1 (SAME-PREPARER): bids differs" in \
        result["differences"]
    with pytest.raises(NotFound):
        replay_screens(tctx, "NONE")


@pytest.mark.parametrize("table, sql", [
    ("bids", "UPDATE bids SET price = '1.00' WHERE n = 2"),
    ("bid_personnel", "UPDATE bid_personnel SET id_masked = '000000********0000'"),
    ("warning_disposals", "UPDATE warning_disposals SET reason = '无'"),
    ("awards", "UPDATE awards SET contract_price = '1.00'"),
    ("tender_exclusions", "DELETE FROM tender_exclusions"),
])
def test_audit_verify_catches_an_edited_row_of_every_new_table(tctx, table, sql):
    t = register(tctx, tender_body())
    award(tctx, t["code"], award_body())
    dispose(tctx, t["warnings"][0], {"action": "refer", "reason": "移送公安机关"})
    assert verify_chain(tctx)["ok"]
    tamper(tctx, table, sql)
    bad = verify_chain(tctx)["first_bad"]
    expected = "row_missing" if sql.startswith("DELETE") else "row_mismatch"
    assert (bad["problem"], bad["table"]) == (expected, table)


@pytest.mark.parametrize("table, column", [("awards", "awarded_on"),
                                           ("bid_parties", "opened_on")])
@pytest.mark.parametrize("incremental", [False, True])
def test_a_date_no_column_gives_back_is_located_at_its_group(tctx, table, column,
                                                            incremental):
    """A date edited into what its column cannot give back (PostgreSQL's 'infinity',
    other text on SQLite) is located at the entry that created its group, full and
    incremental alike, instead of failing the walk (audit review)."""
    t = register(tctx, tender_body())
    assert verify_chain(tctx, incremental=incremental)["ok"]
    from tests.live_server import query
    (first,), = query(tctx, "SELECT audit_position FROM tenders WHERE code = :c",
                      {"c": t["code"]})
    register(tctx, tender_body("KQ-2026-0032"))
    award(tctx, "KQ-2026-0032", award_body())
    (tender_id,), = query(tctx, "SELECT id FROM tenders WHERE code = 'KQ-2026-0032'")
    value = "infinity" if tctx.uow.engine.dialect.name == "postgresql" else "forever"
    tamper(tctx, table, f"UPDATE {table} SET {column} = :v WHERE tender_id = :t",
           {"v": value, "t": tender_id})
    bad = verify_chain(tctx, incremental=incremental)["first_bad"]
    assert (bad["problem"], bad["table"], bad["id"]) == ("row_mismatch", table, tender_id)
    assert bad["position"] is not None and bad["position"] > first


def test_snapshot_reads_only_relevant_tenders(tctx):
    """The snapshot holds the earlier tenders inside the window sharing a pair of bidders
    with this one and the awards whose project managers match — nothing else."""
    register(tctx, _simple("S-1", "2026-01-01T09:00:00+08:00", [BIDDER_1, BIDDER_2], pm=PM_1))
    register(tctx, _simple("S-2", "2026-01-02T09:00:00+08:00", [BIDDER_3, BIDDER_4]))
    award(tctx, "S-2", award_body(winner=BIDDER_3, awarded_on="2026-01-10"))
    register(tctx, _simple("S-3", "2024-01-02T09:00:00+08:00", [BIDDER_1, BIDDER_2]))
    pm2 = id_number(77)
    register(tctx, _simple("S-4", "2026-01-03T09:00:00+08:00", [BIDDER_5, BIDDER_4],
                           pm=pm2))
    award(tctx, "S-4", award_body(winner=BIDDER_5, awarded_on="2026-01-10"))
    from credit.services.identity import identity_key
    from credit.services.tender_inputs import tender_from_document, validate_tender
    doc = validate_tender(_simple("S-5", "2026-05-01T09:00:00+08:00",
                                  [BIDDER_1, BIDDER_3, BIDDER_2], pm=pm2),
                          identity_key(tctx), tctx.clock())
    tender = tender_from_document(doc)
    with tctx.uow(write=False) as uow:
        position = uow.audit.head().position
        snap = tenders.read_snapshot(uow, tenders.screen_definition(tctx), tender, position)
        earlier = tenders.read_snapshot(uow, tenders.screen_definition(tctx), tender, 1)
    by_code = {p.code: p for p in snap.tenders}
    # S-2 shares one bidder only (no pair), S-3 lies outside the window
    assert set(by_code) == {"S-1", "S-4"}
    assert by_code["S-1"].bidders == {BIDDER_1, BIDDER_2} and by_code["S-1"].award is None
    assert by_code["S-4"].bidders == frozenset()
    assert by_code["S-4"].award.winner == BIDDER_5
    assert by_code["S-4"].award.project_managers == {tender.bids[0].personnel[0].id_hash}
    assert [p.code for p in earlier.tenders] == ["S-1"]
    assert snap.knowledge_position == position


# A regulator token named longer than an issued_by may be (API.md §3: 1–100 characters),
# created before `token create` refused such names (tokens.REGULATOR_NAME_MAX).
LONG_NAMED = Actor("柯桥区交通运输局" + "局" * 93, "regulator", token_id=27,
                   sectors=frozenset({"transport"}))


def test_a_regulator_named_past_the_issued_by_limit_confirms_no_warning(tctx):
    """Its confirmation is 403 and writes nothing, after every other check of the
    disposal (a bid outside the warning is still 400); a referral, which creates no
    record, still goes through."""
    assert len(LONG_NAMED.name) == 101
    t = register(tctx, tender_body())
    with expect(InvalidInput, "bid_not_in_warning"):
        warnings.dispose(tctx, LONG_NAMED, t["warnings"][0], confirm_body([1, 3]))
    before = all_entries(tctx)
    with expect(Forbidden, "forbidden") as info:
        warnings.dispose(tctx, LONG_NAMED, t["warnings"][0], confirm_body([1, 2]))
    assert "101" in str(info.value) and "issued_by" in str(info.value)
    assert all_entries(tctx) == before
    w = dispose(tctx, t["warnings"][0], {"action": "refer", "reason": "移送公安机关侦查"},
                actor=LONG_NAMED)
    assert w["status"] == "referred"


def test_a_regulator_named_past_the_issued_by_limit_approves_no_record(tctx):
    """The approval of a final evaluation that creates a record (PERFORMANCE.md §4.1) is
    403 and writes nothing; the same approval by a regulator named within the limit
    creates it."""
    _awarded_contract(tctx)
    evaluation_id = _final(tctx, "A-1", "2026-04-15")
    body = {"action": "approve", "reason": "经现场核查", "reviewed_on": "2026-04-20"}
    before = all_entries(tctx)
    with expect(Forbidden, "forbidden"):
        performance.review_evaluation(tctx, LONG_NAMED, evaluation_id, body)
    assert all_entries(tctx) == before
    r = json.loads(performance.review_evaluation(tctx, TRANSPORT, evaluation_id, body).body)
    [record_id] = r["review"]["records"]
    assert get_record(tctx, AUDITOR, record_id)["issued_by"] == TRANSPORT.name
