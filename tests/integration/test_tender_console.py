"""The console's tender-loop pages through Flask's test client, on both backends
(WARNINGS.md §8): the regulator's inbox of pending warnings, the tender page with the
bids side by side and shared values marked (personal values only masked, matched by
their keyed hashes), the disposal form whose confirmation step lists the records it
will create, and an auditor's view of every disposal with its audit entries."""

from __future__ import annotations

import re

import pytest

from credit.services import warnings
from credit.services.tokens import create_token
from tests.tender_data import BIDDER_1, BIDDER_2, MEMBER_1, RAW_PERSONAL, tender_body

from .tender_helpers import AUDITOR, codes, register, warnings_of
from .test_console_pages import SECRET_KEY, Browser, signed_in, snapshot, text

pytestmark = pytest.mark.db


@pytest.fixture
def app(tctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def secrets_(tctx) -> dict:
    specs = {"transport": dict(role="regulator", name="柯桥区交通运输局", sectors=["transport"]),
             "housing": dict(role="regulator", name="柯桥区住房和城乡建设局",
                             sectors=["housing"]),
             "evaluator": dict(role="evaluator", name="评标系统"),
             "auditor": dict(role="auditor", name="柯桥区审计局"),
             "platform": dict(role="platform", name="柯桥区公共资源交易中心"),
             "enterprise": dict(role="enterprise", name="某企业", uscc=BIDDER_1)}
    return {k: create_token(tctx, "test", **v)[1] for k, v in specs.items()}


@pytest.fixture
def tender(tctx) -> dict:
    return register(tctx, tender_body())


def _no_personal(page: str) -> None:
    for raw in RAW_PERSONAL:
        assert raw not in page


def test_the_inbox_shows_pending_warnings_of_the_regulators_sectors(app, secrets_, tender,
                                                                    tctx):
    b = signed_in(app, secrets_["transport"])
    page = text(b.get("/warnings"))
    assert "待处置预警" in page
    assert re.findall(r'data-warning="(\d+)"', page) == ["5", "4", "3", "2", "1"]
    assert 'href="/warnings/1/disposal"' in page
    page = text(b.get("/warnings?severity=high&status=pending"))
    assert re.findall(r'data-warning="(\d+)"', page) == ["4", "3", "1"]
    page = text(b.get("/warnings?status=nonsense&sector=water"))  # ignored, not an error
    assert len(re.findall(r'data-warning="', page)) == 5
    housing = text(signed_in(app, secrets_["housing"]).get("/warnings"))
    assert 'id="no-warnings"' in housing
    assert signed_in(app, secrets_["enterprise"]).get("/warnings").status_code == 403
    _no_personal(page)


def test_the_tender_page_marks_shared_values_only(app, secrets_, tender):
    for who in ("platform", "transport", "evaluator", "auditor"):  # the marks: auditor's
        page = text(signed_in(app, secrets_[who]).get(f"/tenders/{tender['code']}"))
        assert "投标对比" in page, who
    marked = re.findall(r'<mark class="shared" data-group="(\w+)"[^>]*>([^<]+)</mark>', page)
    groups: dict[str, set[str]] = {}
    for label, value in marked:
        groups.setdefault(label, set()).add(value)
    values = sorted(v for _, v in marked)
    # two marks each: machine code (7A1C90EE in bids 1, 2), IP (bid 2's IPv4-mapped
    # address is the same), deposit account, and the person of bids 1 and 3 (keyed hash)
    assert len(marked) == 8 and all(len(v) == 1 for v in groups.values())
    assert {"7A1C90EE", "115.220.4.17", "****4567"} <= set(values)
    assert "8F3A22C1" not in values  # excluded: the tenderee's control-price file
    assert "10.0.0.8" not in values  # uploaded on site
    assert len([v for v in values if "********" in v]) == 2
    _no_personal(page)
    assert signed_in(app, secrets_["housing"]).get(
        f"/tenders/{tender['code']}").status_code == 403
    assert signed_in(app, secrets_["enterprise"]).get(
        f"/tenders/{tender['code']}").status_code == 403
    home = signed_in(app, secrets_["platform"]).get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/tenders")


def test_the_platform_sees_a_tenders_warning_ids_not_the_warnings(app, secrets_, tender):
    """The trading platform reads tenders, not warnings (WARNINGS.md §1): its tender page
    gives what its API resource gives, the warnings' ids, with no link it could not
    follow, and no link to the agency's scores it may not read either."""
    path = f"/tenders/{tender['code']}"
    page = text(signed_in(app, secrets_["platform"]).get(path))
    assert "预警（5）" in page and "预警编号 1、2、3、4、5" in page
    # who may read them: the use case's WARNING_READERS, in the console's words
    assert ("预警的内容由本行业监管部门、评标委员会（经评标系统）、审计部门和系统管理员"
            "查看。") in page
    assert 'id="tender-warnings"' not in page and 'href="/warnings/' not in page
    assert 'class="shared"' not in page and "data-group=" not in page  # no marks either
    assert "投标对比" in page and "7A1C90EE" in page  # the bids as the platform sent them
    assert 'href="/agencies/' not in page
    for who in ("transport", "evaluator", "auditor"):  # the warnings' readers
        page = text(signed_in(app, secrets_[who]).get(path))
        assert 'id="tender-warnings"' in page and 'href="/warnings/1"' in page, who
        assert 'id="warnings-not-shown"' not in page, who


def test_disposal_form_confirmation_lists_the_records_then_confirms(app, secrets_, tender,
                                                                   tctx):
    b = signed_in(app, secrets_["transport"])
    form_page = text(b.get("/warnings/1/disposal"))
    assert '<label for="reason">' in form_page and 'name="bids" value="2"' in form_page
    key = re.search(r'name="form_key" value="([^"]+)"', form_page)[1]
    form = {"form_key": key, "action": "confirm", "reason": "经调查，两家投标文件由同一人编制",
            "bids": ["1", "2"], "code": "BID-COLLUDE", "decided_on": "2026-05-28",
            "document_no": "柯交执〔2026〕31号", "covered_by": ""}
    before = snapshot(tctx)
    review = text(b.post("/warnings/1/disposal", {**form, "step": "review"}))
    assert snapshot(tctx) == before
    assert "确认查实" in review  # the disposal's action in Chinese (disposal_action_zh)
    rows = re.findall(r'<tr class="planned-record">(.*?)</tr>', review, re.S)
    assert len(rows) == 3
    assert [re.search(r'<td class="mono">(\w+)</td>', r)[1] for r in rows] == [
        BIDDER_1, MEMBER_1, BIDDER_2]
    assert "-20.00" in rows[0] and "柯交执〔2026〕31号" in rows[0]
    bad = b.post("/warnings/1/disposal", {**form, "step": "review", "bids": ["1", "3"]})
    assert bad.status_code == 400 and snapshot(tctx) == before
    done = b.post("/warnings/1/disposal", {**form, "step": "confirm"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/warnings/1")
    again = b.post("/warnings/1/disposal", {**form, "step": "confirm"})  # double submit
    assert again.status_code == 302
    w = warnings.get_warning(tctx, AUDITOR, 1)
    assert w["status"] == "confirmed" and len(w["disposals"]) == 1
    assert len(w["disposals"][0]["records"]) == 3
    page = text(b.get("/warnings/1"))
    assert "已查实" in page and 'class="created-record"' in page
    assert "<h3>查实 · " in page  # the disposal, named in Chinese
    audit_page = text(signed_in(app, secrets_["auditor"]).get("/warnings/1"))
    assert audit_page.count('href="/audit/entries/') == 4  # warning.disposed + 3 records


def test_dismiss_and_refer_need_no_decision_and_create_nothing(app, secrets_, tender, tctx):
    b = signed_in(app, secrets_["transport"])
    key = re.search(r'name="form_key" value="([^"]+)"', text(b.get("/warnings/2/disposal")))[1]
    form = {"form_key": key, "action": "refer", "reason": "移送公安机关侦查",
            "bids": ["1"], "code": "BID-COLLUDE", "decided_on": "", "document_no": "",
            "covered_by": ""}
    review = text(b.post("/warnings/2/disposal", {**form, "step": "review"}))
    assert 'id="planned-records"' not in review and "已移送" in review
    assert b.post("/warnings/2/disposal", {**form, "step": "confirm"}).status_code == 302
    assert codes(warnings_of(tctx, tender["code"]))[1] == ("SAME-IP", (1, 2))
    assert warnings.get_warning(tctx, AUDITOR, 2)["status"] == "referred"
    assert signed_in(app, secrets_["housing"]).get("/warnings/2/disposal").status_code == 403
    page = text(b.get("/warnings/2/disposal"))
    assert 'id="action-refer"' not in page  # a referred warning is not referred again


ODD_PATHS = ["/warnings?after=abc", "/warnings?after=99999999999999999999999",
             "/warnings?code=" + "x" * 500, "/warnings/abc", "/warnings/0",
             "/warnings/99999999999999999999", "/warnings/1/disposal", "/tenders?code=a/b",
             "/tenders?after=-5", "/tenders/NONE",
             # U+0000, which PostgreSQL refuses to compare text with (a 500 there, once)
             "/tenders/%00", "/warnings?tender=%00", "/warnings?code=%00", "/tenders?code=%00",
             "/warnings?%00=1"]
ODD_FORMS = [
    {"action": "confirm", "reason": "abcd", "bids": "1,2", "covered_by": "9" * 20,
     "step": "review"},
    {"action": "confirm", "reason": "abcd", "bids": "٣", "step": "review"},
    {"action": "confirm", "reason": "abcd", "bids": "1", "decided_on": "2026-13-01",
     "document_no": "x", "code": "BID-COLLUDE", "step": "review"},
    {"action": "zzz", "reason": "abcd", "step": "confirm"},
    {"action": "confirm", "reason": "abcd", "bids": "1\x00", "step": "confirm"},
]


def test_odd_paths_queries_and_forms_answer_without_a_server_error(app, secrets_, tender,
                                                                   tctx):
    """API.md §1: "nothing a client sends may produce a 500" — nor through the console:
    ids that are no integers or lie beyond 2^63, unknown codes, and disposal forms with
    non-ASCII digits, impossible dates or an unknown action; a refused form writes
    nothing."""
    before = snapshot(tctx)
    answers = []
    for who in ("transport", "auditor"):
        b = signed_in(app, secrets_[who])
        answers += [(who, path, b.get(path).status_code) for path in ODD_PATHS]
    b = signed_in(app, secrets_["transport"])
    answers += [("transport", form, b.post("/warnings/1/disposal", form).status_code)
                for form in ODD_FORMS]
    assert [a for a in answers if a[2] >= 500] == []
    assert snapshot(tctx) == before


def test_signed_out_and_csrf(app, secrets_, tender, tctx):
    b = Browser(app)
    assert b.get("/warnings").status_code == 302
    b.sign_in(secrets_["transport"])
    before = snapshot(tctx)
    r = b.post("/warnings/1/disposal", {"step": "confirm", "action": "dismiss",
                                        "reason": "经核实无关联"}, csrf=False)
    assert r.status_code == 400 and snapshot(tctx) == before


def test_a_disposal_code_holding_u0000_is_refused_not_a_server_error(app, secrets_, tender,
                                                                     tctx):
    """The console hands the form to the use case without the API's body check, so the
    use case itself must refuse U+0000 in ``code``: before, it reached the duplicate
    check's query, which PostgreSQL answers with an error (a 500, as JSON, on a page)."""
    b = signed_in(app, secrets_["transport"])
    before = snapshot(tctx)
    for step in ("review", "confirm"):
        r = b.post("/warnings/1/disposal", {
            "action": "confirm", "reason": "经调查属实", "bids": "1", "step": step,
            "code": "BID-COLLUDE\x00", "decided_on": "2026-05-28", "document_no": "柯交执1号"})
        assert r.status_code == 400 and 'id="err-code"' in text(r), (step, text(r)[:300])
    assert snapshot(tctx) == before


# Every evidence shape of WARNINGS.md §4, with the screens' parameters beside it, as the
# warning page shows them: a key the demo never raises must still read as Chinese.
EVIDENCE = {
    "SAME-PREPARER": {"shared": [{"kind": "machine_code", "value": "7A1C90EE", "bids": [1, 2]}]},
    "SAME-UPLOADER": {"shared": [{"mac": "00-1A", "cpu": "BFEB", "disk": "WD-1", "bids": [1, 2]}]},
    "SAME-IP": {"shared": [{"ip": "115.220.4.17", "bids": [1, 2]}]},
    "SAME-DEPOSIT": {"shared": [{"deposit_account_masked": "****4567", "bids": [1, 3]}]},
    "SAME-PERSONNEL": {"shared": [{"id_number_masked": "3306**********1234", "bids": [1, 3]}]},
    "IDENTICAL-PRICE": {"price": "1000000.00"},
    "REGULAR-PRICES": {"gap_spread": "0.010000", "regular_tolerance": "0.02"},
    "LOW-DISPERSION": {"cv": "0.004000", "cv_max": "0.005"},
    "COVER-GAP": {"rd": "3.500000", "rd_min": "3"},
    "LOWEST-REJECTED": {"lowest_price": "990000.00"},
    "SOLE-VALID": {"valid_bid": 2},
    "PM-ELSEWHERE": {"tenders": ["KQ-2026-0001"]},
    "CO-BIDDING": {"tenders": ["KQ-2026-0001", "KQ-2026-0002"], "co_bids": 4, "rotation": True},
}
PARAMETERS = {"REGULAR-PRICES": {"regular_min_bids": 4, "regular_tolerance": "0.02"},
              "LOW-DISPERSION": {"cv_min_bids": 4, "cv_max": "0.005"},
              "COVER-GAP": {"rd_min_bids": 4, "rd_min": "3"},
              "CO-BIDDING": {"co_bid_window_days": 365, "co_bid_min": 4}}


@pytest.mark.parametrize("code", list(EVIDENCE))
def test_every_evidence_shape_reads_as_chinese(app, code):
    from flask import render_template
    keys = set(EVIDENCE[code]) | set(PARAMETERS.get(code, {})) | {
        k for item in EVIDENCE[code].get("shared", []) for k in item}
    w = {"code": code, "evidence": EVIDENCE[code], "parameters": PARAMETERS.get(code, {})}
    with app.test_request_context("/warnings/1"):
        html = render_template("console/_evidence.html", w=w, screen_names={})
    headings = re.findall(r"<(?:dt|th)[^>]*>([^<]*)</(?:dt|th)>", html)
    assert headings and not keys & set(headings), headings
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in headings), headings
    if code == "CO-BIDDING":
        assert "两家共同投标的招标项目（含本项目）" in headings
    if code == "PM-ELSEWHERE":
        assert "该项目负责人在任的其他中标项目" in headings


def test_the_evaluation_page_shows_the_tender_s_open_warnings(app, tctx, secrets_, tender):
    """WARNINGS.md §7: an evaluation of a registered tender carries its open or referred
    warnings "so the evaluation committee sees them" — on the page it prints and signs
    too, each linked to the warning; an unregistered tender's page says there are none."""
    import json

    from credit.services.scoring import create_evaluation
    from credit.services.tokens import authenticate
    from tests.tender_data import BIDDER_3
    evaluator = authenticate(tctx, secrets_["evaluator"])
    body = {"tender": {"code": tender["code"], "name": tender["name"]},
            "sector": "transport", "as_of": "2026-05-12",
            "bidders": [{"uscc": BIDDER_3}, {"consortium": [MEMBER_1, BIDDER_1]},
                        {"uscc": BIDDER_2}]}
    doc = json.loads(create_evaluation(tctx, evaluator, body).body)
    assert doc["warnings"]
    b = signed_in(app, secrets_["evaluator"])
    page = text(b.get(f"/evaluations/{doc['id']}"))
    section = page[page.index('id="tender-warnings"'):page.index("扣分原因")]
    for w in doc["warnings"]:
        assert f'href="/warnings/{w["id"]}"' in section and w["code"] in section
        assert all(f"第 {n} 标" in section for n in w["bids"])  # which bids it names
    _no_personal(page)
    other = json.loads(create_evaluation(tctx, evaluator, dict(
        body, tender={"code": "UNREGISTERED-1", "name": "未登记"})).body)
    assert 'id="no-warnings"' in text(b.get(f"/evaluations/{other['id']}"))
