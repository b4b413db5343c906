"""The console's performance pages through Flask's test client, on both backends
(PERFORMANCE.md §2–§4): the tenderee's contracts with the evaluation due, the evaluation
form whose confirmation step shows L and the rating before anything is written, inline
errors keyed to the form's rows, the regulator's review queue and the review whose
confirmation step lists the records and the warning an approval creates."""

from __future__ import annotations

import re

import pytest

from credit.services.tokens import create_token
from tests.tender_data import BIDDER_1, MEMBER_1, TENDEREE, award_body, tender_body

from .tender_helpers import award, register
from .test_console_pages import SECRET_KEY, signed_in, snapshot, text

pytestmark = pytest.mark.db
CODE = "KQ-2026-0031"


@pytest.fixture
def app(tctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def secrets_(tctx) -> dict:
    specs = {"transport": dict(role="regulator", name="柯桥区交通运输局", sectors=["transport"]),
             "housing": dict(role="regulator", name="柯桥区住房和城乡建设局",
                             sectors=["housing"]),
             "auditor": dict(role="auditor", name="柯桥区审计局"),
             "tenderee": dict(role="tenderee", name="柯桥区某镇人民政府", uscc=TENDEREE),
             "enterprise": dict(role="enterprise", name="某企业", uscc=BIDDER_1)}
    return {k: create_token(tctx, "test", **v)[1] for k, v in specs.items()}


@pytest.fixture
def contract(tctx):
    t = register(tctx, tender_body())
    award(tctx, t["code"], award_body())
    return t


FORM = {"kind": "final", "completed_on": "2026-05-31", "pm_on_site": "yes",
        "points-QUALITY": "20.00", "note-QUALITY": "主体结构裂缝",
        "points-SCHEDULE": "20.00", "note-SCHEDULE": "逾期 90 天",
        "points-SAFETY": "5.00", "note-SAFETY": "临边防护缺失"}


def test_contracts_form_confirmation_and_review(app, secrets_, contract, tctx):
    b = signed_in(app, secrets_["tenderee"])
    assert b.get("/").headers["Location"].endswith("/contracts")
    page = text(b.get("/contracts"))
    assert "本单位合同履约" in page and 'class="due-contract" data-tender="KQ-2026-0031"' in page
    form = text(b.get(f"/tenders/{CODE}/performance/new"))
    key = re.search(r'name="form_key" value="([^"]+)"', form)[1]
    before = snapshot(tctx)
    bad = b.post(f"/tenders/{CODE}/performance/new",
                 {**FORM, "points-SAFETY": "15.01", "form_key": key, "step": "review"})
    assert bad.status_code == 400 and 'id="err-points-SAFETY"' in text(bad)
    review = text(b.post(f"/tenders/{CODE}/performance/new",
                         {**FORM, "form_key": key, "step": "review"}))
    assert re.search(r'id="preview-score">55.00<', review) and "不合格" in review
    assert "PERF-FAIL" in review and snapshot(tctx) == before  # nothing written yet
    done = b.post(f"/tenders/{CODE}/performance/new",
                  {**FORM, "form_key": key, "step": "confirm"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/performance/1")
    again = b.post(f"/tenders/{CODE}/performance/new",  # a double submit creates once
                   {**FORM, "form_key": key, "step": "confirm"})
    assert again.status_code == 302
    assert "待审核" in text(b.get("/performance/1"))
    assert "#1 待审核" in text(b.get("/contracts"))
    assert re.findall(r'data-evaluation="(\d+)"', text(b.get(f"/performance?tender={CODE}"))) \
        == ["1"]
    assert 'id="no-evaluations"' in text(b.get("/performance?tender=KQ-NONE"))

    r = signed_in(app, secrets_["transport"])
    queue = text(r.get("/performance"))
    assert "履约评价审核" in queue and re.findall(r'data-evaluation="(\d+)"', queue) == ["1"]
    assert 'id="no-evaluations"' in text(signed_in(app, secrets_["housing"]).get("/performance"))
    page = text(r.get("/performance/1"))
    key = re.search(r'name="form_key" value="([^"]+)"', page)[1]
    body = {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01",
            "form_key": key}
    before = snapshot(tctx)
    confirm = text(r.post("/performance/1/review", {**body, "step": "review"}))
    assert confirm.count('class="planned-record"') == 2 and MEMBER_1 in confirm
    assert snapshot(tctx) == before
    done = r.post("/performance/1/review", {**body, "step": "confirm"})
    assert done.status_code == 302
    page = text(r.get("/performance/1"))
    assert "已通过" in page and "生成的信用记录" in page
    assert 'data-status="completed"' in text(r.get("/contracts?status=completed&village=true"))
    assert 'id="no-contracts"' in text(r.get("/contracts?status=overdue"))
    auditor = signed_in(app, secrets_["auditor"])
    for path in ("/contracts", "/performance?status=all", "/performance/1"):
        assert auditor.get(path).status_code == 200, path
    enterprise = signed_in(app, secrets_["enterprise"])
    for path in ("/contracts", "/performance", "/performance/1"):
        assert enterprise.get(path).status_code == 403, path
    assert signed_in(app, secrets_["housing"]).get("/performance/1").status_code == 403


def test_the_empty_form_opens_only_for_the_tenderee_of_the_tender(app, tctx, contract):
    """The form is refused where submitting it would be: another tenderee's tender is
    403 and an unknown tender 404 already when the form is asked for, as on the agency
    rating's form (it used to show an empty form that could only be refused)."""
    from tests.tender_data import make_uscc
    other = create_token(tctx, "test", role="tenderee", name="另一个镇人民政府",
                         uscc=make_uscc(977))[1]
    b = signed_in(app, other)
    assert b.get(f"/tenders/{CODE}/performance/new").status_code == 403
    assert b.get("/tenders/KQ-NONE/performance/new").status_code == 404


def _submit_and_approve(app, secrets_, form: dict) -> None:
    """The tenderee's evaluation, then the regulator's approval, through the console."""
    for who, path, body in (
            ("tenderee", f"/tenders/{CODE}/performance/new", form),
            ("transport", "/performance/1/review",
             {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01"})):
        b = signed_in(app, secrets_[who])
        key = re.search(r'name="form_key" value="([^"]+)"', text(b.get(path.replace(
            "/review", ""))))[1]
        assert b.post(path, {**body, "form_key": key, "step": "confirm"}).status_code == 302


def test_a_post_award_warning_names_its_trigger_items_and_the_inbox_only_warning_codes(
        app, secrets_, contract, tctx):
    """PERFORMANCE.md §4.2: ``PM-ABSENT`` is both an evaluation item and the warning's
    code. The warning's parameters list the items that trigger it by the items' names,
    and the inbox's code filter offers warning codes only, not the form's items."""
    _submit_and_approve(app, secrets_, {
        "kind": "final", "completed_on": "2026-05-31", "pm_on_site": "yes",
        "points-PM-ABSENT": "5.00", "note-PM-ABSENT": "项目经理每周到岗两天",
        "points-STAFF-MISMATCH": "5.00", "note-STAFF-MISMATCH": "技术负责人更换"})
    r = signed_in(app, secrets_["transport"])
    inbox = text(r.get("/warnings"))
    offered = re.findall(r'<option value="([A-Z][A-Z0-9-]+)"', inbox)
    screens = {s.code for s in tctx.models.active_of("screens").screens}
    assert "PM-ABSENT" in offered and set(offered) <= screens | {"PM-ABSENT"}, offered
    warning_id = re.search(r'href="/warnings/(\d+)"', inbox)[1]
    page = text(r.get(f"/warnings/{warning_id}"))
    # the triggers are this evaluation's facts, not the rule's parameters
    assert "项目经理未按投标承诺到岗履职、主要管理人员与投标承诺不一致</dd>" in page
