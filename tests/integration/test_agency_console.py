"""The console's agency pages through Flask's test client, on both backends
(PERFORMANCE.md §7): the tenderee's list of its tenders with the ratings due, the
rating form whose confirmation step shows the total and writes nothing, the double
submit that rates once, the refusals in Chinese; the agency page with its served
(traced) score, ratings, records and timeline; the agency trace page and its verify
button."""

from __future__ import annotations

import re

import pytest

from credit.services import agencies
from credit.services.tokens import create_token
from tests.tender_data import AGENCY, TENDEREE, award_body, make_uscc, tender_body

from .tender_helpers import award, register
from .test_console_pages import SECRET_KEY, signed_in, snapshot, text

pytestmark = pytest.mark.db

FORM = {"rated_on": "2026-05-25", "documents": "27.00", "procedure": "30.00",
        "service": "16.50", "archive": "18.00", "note": "服务规范"}


@pytest.fixture
def app(tctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def secrets_(tctx) -> dict:
    specs = {"tenderee": dict(role="tenderee", name="柯桥区某镇人民政府", uscc=TENDEREE),
             "tenderee2": dict(role="tenderee", name="另一招标人",
                               uscc=make_uscc(777, prefix="11330621")),
             "auditor": dict(role="auditor", name="柯桥区审计局"),
             "regulator": dict(role="regulator", name="柯桥区住建局", sectors=["housing"]),
             "platform": dict(role="platform", name="柯桥区公共资源交易中心"),
             "agency": dict(role="enterprise", name="某招标代理有限公司", uscc=AGENCY),
             "other": dict(role="enterprise", name="某企业", uscc=make_uscc(5))}
    return {k: create_token(tctx, "test", **v)[1] for k, v in specs.items()}


def test_the_tenderee_rates_through_a_confirmation_step(app, secrets_, tctx):
    register(tctx, tender_body())
    register(tctx, tender_body("KQ-2026-0032"))
    award(tctx, "KQ-2026-0031", award_body())
    b = signed_in(app, secrets_["tenderee"])
    page = text(b.get("/agency-ratings"))
    assert 'href="/tenders/KQ-2026-0031/agency-rating"' in page
    assert "定标后可评价" in page  # KQ-2026-0032 is not awarded
    assert 'href="/agency-ratings"' in page  # the navigation
    form_page = text(b.get("/tenders/KQ-2026-0031/agency-rating"))
    assert '<label for="documents">' in form_page and "满分 30.00" in form_page
    key = re.search(r'name="form_key" value="([^"]+)"', form_page)[1]
    before = snapshot(tctx)
    review = text(b.post("/tenders/KQ-2026-0031/agency-rating",
                         {**FORM, "form_key": key, "step": "review"}))
    assert snapshot(tctx) == before
    assert re.search(r'id="planned-total">91\.50<', review)
    bad = b.post("/tenders/KQ-2026-0031/agency-rating",
                 {**FORM, "documents": "31", "form_key": key, "step": "review"})
    assert bad.status_code == 400 and "须为两位小数的分值" in text(bad)
    assert snapshot(tctx) == before
    for _ in range(2):  # a double submit rates once
        done = b.post("/tenders/KQ-2026-0031/agency-rating",
                      {**FORM, "form_key": key, "step": "confirm"})
        assert done.status_code == 302 and done.headers["Location"].endswith("/agency-ratings")
    page = text(b.get("/agency-ratings"))
    assert "已评价：总分 <strong>91.50</strong>" in page
    again = b.post("/tenders/KQ-2026-0031/agency-rating",
                   {**FORM, "form_key": "another-key-0123456789", "step": "confirm"})
    assert again.status_code == 409 and "只评价一次" in text(again)
    early = b.post("/tenders/KQ-2026-0032/agency-rating", {**FORM, "step": "review"})
    assert early.status_code == 422 and "尚未定标" in text(early)
    other = signed_in(app, secrets_["tenderee2"]).post(
        "/tenders/KQ-2026-0031/agency-rating", {**FORM, "step": "review"})
    assert other.status_code == 403
    assert signed_in(app, secrets_["auditor"]).get("/agency-ratings").status_code == 403


def test_the_agency_page_and_its_trace(app, secrets_, tctx):
    register(tctx, tender_body())
    award(tctx, "KQ-2026-0031", award_body())
    from credit.services.context import Actor
    agencies.rate_agency(tctx, Actor("招标人", "tenderee", token_id=90, uscc=TENDEREE),
                         "KQ-2026-0031", {"rated_on": "2026-05-25", "items": {
                             "documents": "27.00", "procedure": "30.00", "service": "16.50",
                             "archive": "18.00"}})
    page = text(signed_in(app, secrets_["auditor"]).get(f"/agencies/{AGENCY}"))
    assert 'data-score="88.00"' in page and 'data-grade="B"' in page
    assert "某招标代理有限公司" in page and "91.50" in page
    assert '<svg class="timeline"' in page and "KQ-2026-0031" in page
    # the chart in the agency's words, not an enterprise's credit grades (B 良好)
    assert "代理服务评分走势" in page and "88.00 分，B 级</title>" in page
    assert "良好" not in page and "信用分走势" not in page
    trace_id = re.search(r'href="/traces/(\d+)"', page)[1]
    b = signed_in(app, secrets_["auditor"])
    trace = text(b.get(f"/traces/{trace_id}"))
    assert "代理机构评分留痕" in trace and 'id="trace-ratings"' in trace
    verified = text(b.post(f"/traces/{trace_id}/verify", {}))
    assert "验证通过" in verified
    for who in ("tenderee", "regulator", "agency"):
        assert signed_in(app, secrets_[who]).get(f"/agencies/{AGENCY}").status_code == 200
    # API.md §2: the tenderee reads the trace of the score its page pulled, not others'.
    tb = signed_in(app, secrets_["tenderee"])
    own = re.search(r'href="/traces/(\d+)"', text(tb.get(f"/agencies/{AGENCY}")))[1]
    assert tb.get(f"/traces/{own}").status_code == 200
    assert tb.get(f"/traces/{trace_id}").status_code == 403
    # The page serves (and logs) the agency score: HEAD would too, so it is refused.
    before = snapshot(tctx)
    assert b.client.head(f"/agencies/{AGENCY}").status_code == 405
    assert snapshot(tctx) == before
    assert signed_in(app, secrets_["other"]).get(f"/agencies/{AGENCY}").status_code == 403
    assert signed_in(app, secrets_["platform"]).get(f"/agencies/{AGENCY}").status_code == 403
    tender_page = text(signed_in(app, secrets_["auditor"]).get("/tenders/KQ-2026-0031"))
    assert f'href="/agencies/{AGENCY}"' in tender_page


def test_a_regulator_enters_an_agency_record_through_the_ordinary_form(app, secrets_, tctx):
    b = signed_in(app, secrets_["regulator"])
    form = text(b.get("/records/new"))
    assert 'value="AGENCY-LEAK"' in form and "招标代理机构行为" in form
    assert 'value="PERF-FAIL"' not in form
    key = re.search(r'name="form_key" value="([^"]+)"', form)[1]
    values = {"form_key": key, "uscc": AGENCY, "subject_name": "某招标代理有限公司",
              "sector": "housing", "code": "AGENCY-LEAK", "decided_on": "2026-01-10",
              "document_no": "绍柯建罚〔2026〕88号", "issued_by": "柯桥区住建局"}
    before = snapshot(tctx)
    review = b.post("/records/new", {**values, "step": "review"})
    assert review.status_code == 200 and "招标投标法第50条" in text(review)
    assert snapshot(tctx) == before
    done = b.post("/records/new", {**values, "step": "confirm"})
    assert done.status_code == 302, text(done)
    record_page = text(signed_in(app, secrets_["auditor"]).get(done.headers["Location"]))
    assert "AGENCY-LEAK" in record_page
    page = text(signed_in(app, secrets_["auditor"]).get(f"/agencies/{AGENCY}"))
    assert 'data-restricted="yes"' in page and 'data-grade="D"' in page
    assert "D 级，限制承接政府投资项目代理业务</title>" in page  # the chart's restricted point
    assert "限制投标" not in page and "较差" not in page


def test_the_rules_page_opens_for_every_signed_in_role(app, secrets_):
    """Every page's navigation and footer link 评分规则 (/model), and README and API.md
    §2 (``GET /models``: every role) open it to every signed-in role: the tenderee and
    the trading platform were refused with 403."""
    for who in ("tenderee", "platform"):
        b = signed_in(app, secrets_[who])
        assert 'href="/model"' in text(b.get("/agency-ratings" if who == "tenderee"
                                              else "/tenders"))
        resp = b.get("/model")
        assert resp.status_code == 200, (who, resp.status_code)


@pytest.mark.parametrize("who", ["regulator", "tenderee", "tenderee2", "agency", "auditor"])
def test_the_agency_page_lists_the_tenders_get_tenders_would(app, secrets_, tctx, who):
    """The agency's tenders on its page are those ``GET /tenders?agency=`` gives the same
    token (WARNINGS.md §1): a housing regulator does not see a transport tender, the
    roles that may not read tenders see none, an auditor sees it."""
    t = register(tctx, tender_body())  # a transport tender
    api = app.test_client().get(f"/api/v1/tenders?agency={AGENCY}",
                                headers={"Authorization": f"Bearer {secrets_[who]}"})
    listed = api.status_code == 200 and [x["code"] for x in api.get_json()["items"]]
    page = text(signed_in(app, secrets_[who]).get(f"/agencies/{AGENCY}"))
    assert (t["code"] in page) is bool(listed)
    assert bool(listed) is (who == "auditor")


def test_an_agency_record_is_repaired_through_the_console_as_through_the_api(
        app, secrets_, tctx):
    """An agency's misconduct is an ordinary record (PERFORMANCE.md §7), repairable as
    MODEL.md §2 says with the agency definition's minimum months: the console's repair
    form offers the window the repair itself checks, and the repair goes through."""
    import json

    from credit.services.records import create_record
    from credit.services.tokens import authenticate
    regulator = authenticate(tctx, secrets_["regulator"])
    rec = json.loads(create_record(tctx, regulator, {
        "uscc": AGENCY, "subject_name": "某招标代理有限公司", "sector": "housing",
        "code": "AGENCY-RESTRICT", "decided_on": "2026-01-10",
        "document_no": "绍柯建罚〔2026〕77号", "issued_by": "柯桥区住建局"}).body)
    b = signed_in(app, secrets_["regulator"])
    form = text(b.get(f"/records/{rec['id']}/repair"))
    assert "不适用信用修复" not in form and 'id="change-form"' in form
    assert 'min="2026-04-10"' in form  # 3 months (the agency definition's minimum)
