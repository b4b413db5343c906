"""The web console in a real headless Chromium (Debian's ``chromium`` and
``chromedriver``, driven by Selenium) against ``credit serve`` on a free port, on every
database backend, with the demo data (``credit demo-data``).

Journeys: an enterprise looks at its file; a housing regulator enters a penalty; the
enterprise's grade and chart change; an auditor opens the trace and verifies it; an
evaluator opens the evaluation. A transport regulator is offered no housing form, and a
bad form shows its errors and writes nothing. A revocation goes through its
confirmation step. Screenshots of every page land in tests/output/screenshots/.

One server per backend and one Chromium serve the whole module (each test starts signed
out); the tests that write touch enterprises the others do not look at (the penalty:
the demo enterprise; the revocation: the listed one), so they pass in any order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.e2e.browser import (  # noqa: F401 - the four fixtures pytest finds here
    ENTERPRISE_USCC,
    LISTED_USCC,
    Console,
    browser,
    browser_installed,
    chromium_driver,
    server,
    today_cst,
)

pytestmark = [pytest.mark.db]


# ------------------------------------------------------------------ journeys

def test_a_penalty_changes_the_grade_and_chart_and_its_trace_verifies(server, browser):
    c = Console(browser, server, "journey")
    page = f"/subjects/{ENTERPRISE_USCC}"

    # The enterprise opens its file: three traced scores, a chart, its records.
    c.sign_in("enterprise")
    assert c.d.current_url.endswith(page)
    housing = c.wait_for("#score-housing")
    grade_before = housing.get_attribute("data-grade")
    assert grade_before == "C" and housing.get_attribute("data-eligible") == "yes"
    chart_before = c.css('path[data-sector="housing"]').get_attribute("d")
    assert "浙江柯桥建工集团有限公司" in c.css("#subject-name").text
    c.screenshot("enterprise-before")
    c.click_and_wait("#inquiries-link", "#inquiries")
    assert "柯桥区公共资源交易中心评标系统" in c.text()  # the demo evaluation pulled it
    c.screenshot("enterprise-inquiries")
    c.open("/subjects/91330621MA2881111K")  # another enterprise
    assert "403" in c.wait_for("h1").text
    c.screenshot("enterprise-other-forbidden")
    c.sign_out()

    # The housing regulator enters a 转包 penalty (blacklist) from the searchable catalogue.
    c.sign_in("柯桥区住房和城乡建设局")
    c.open(f"/records/new?uscc={ENTERPRISE_USCC}&subject_name=浙江柯桥建工集团有限公司")
    c.wait_for("#record-form")
    assert [o.get_attribute("value") for o in c.all("#sector option")] == ["housing"]
    c.type("code-filter", "转包")
    visible = c.d.execute_script(
        "return [...document.querySelectorAll('#code option')].filter(o => !o.hidden)"
        ".map(o => o.value);")
    assert visible == ["SUB-TRANSFER"]
    from selenium.webdriver.support.ui import Select
    Select(c.css("#code")).select_by_value("SUB-TRANSFER")
    c.set_value("decided_on", today_cst())
    c.type("document_no", "绍柯建罚〔2026〕901号")
    c.screenshot("regulator-record-form")
    c.click_and_wait("#submit-record", "#confirm-record")  # the review step (issue 13)
    assert "建筑法第28条" in c.text()
    c.click_and_wait("#confirm-record", "#record-id")
    assert "已录入记录" in c.text() and "SUB-TRANSFER" in c.text()
    record_id = c.css("#record-id").text
    c.screenshot("regulator-record-created")
    c.sign_out()

    # The enterprise looks again: listed, grade E, banned, and the chart dropped today.
    c.sign_in("enterprise")
    housing = c.wait_for("#score-housing")
    assert housing.get_attribute("data-grade") == "E"
    assert housing.get_attribute("data-eligible") == "no"
    assert "限制投标" in housing.text and "列入严重失信名单" in housing.text
    assert c.css('path[data-sector="housing"]').get_attribute("d") != chart_before
    assert c.all(f'tr[data-record-id="{record_id}"]')
    c.screenshot("enterprise-after")
    trace_id = c.css('#score-housing a.trace').get_attribute("href").rsplit("/", 1)[1]
    c.click_and_wait("#score-housing a.trace", "#trace-steps")
    assert "SUB-TRANSFER" in c.css("#trace-records").text
    assert c.all("#verify") == []  # verification is for auditors
    c.screenshot("enterprise-trace")
    c.sign_out()

    # The auditor finds that trace in the log, opens it and verifies it.
    c.sign_in("auditor")
    c.open("/audit")  # shows the last stored verification; the button runs one (issue 10)
    c.click_and_wait("#verify-chain", "#verified-at")
    assert "哈希链完整" in c.wait_for("#chain-status").text
    Select(c.css("#f-kind")).select_by_value("score.served")
    c.type("f-actor", "浙江柯桥建工集团有限公司")
    c.click_and_wait("#filter", "#entries")
    assert all("查询评分" in row.text for row in c.all("#entries tbody tr"))
    c.screenshot("auditor-audit-filtered")
    c.open(f"/traces/{trace_id}")
    c.wait_for("#trace-steps")
    c.screenshot("auditor-trace")
    c.click_and_wait("#verify", "#verification")
    result = c.css("#verification").text
    assert "验证通过" in result and "哈希：一致" in result
    assert "链接：一致" in result and "重放评分：结果相同" in result
    c.screenshot("auditor-trace-verified")
    c.sign_out()

    # The bid-evaluation system snapshots a tender through the API at the deadline; its
    # operator opens it in the console: bidders ranked, each linked to its traces.
    doc = server.post("/api/v1/evaluations", {
        "tender": {"code": "KQ-2026-0101", "name": "柯桥区笛扬路改造工程"}, "sector": "housing",
        "as_of": today_cst(), "bidders": [
            {"uscc": ENTERPRISE_USCC}, {"uscc": "913306031460701117"},
            {"consortium": ["913306037045081117", "91330603MA2G3W411K"]}]}, "evaluator")
    c.sign_in("evaluator")
    c.open("/evaluations")
    c.click_and_wait(f'#evaluations a[href="/evaluations/{doc["id"]}"]', "#ranking")
    assert c.css("#tender-code").text == "KQ-2026-0101"
    ranks = [r.get_attribute("data-rank") for r in c.all("#ranking tr.bidder")]
    assert ranks == ["1", "2", ""]  # the listed enterprise is banned: not ranked
    banned = c.all("#ranking tr.bidder")[-1].text
    assert "浙江柯桥建工集团有限公司" in banned and "限制投标" in banned
    assert len(c.all("#ranking a.trace-link")) == 4  # one per member, consortium included
    c.screenshot("evaluator-evaluation")
    # Printable: the print stylesheet drops the navigation and the buttons.
    c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not c.css("header.top").is_displayed() and not c.css("#print").is_displayed()
    assert c.css("#ranking").is_displayed()
    c.screenshot("evaluator-evaluation-print")
    c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    c.click_and_wait("#ranking a.trace-link", "#trace-steps")  # it caused that trace
    assert "开标快照" in c.text()
    c.sign_out()

    # The auditor may open the demo's evaluation too (any creator's).
    c.sign_in("auditor")
    c.open("/evaluations/1")
    assert c.wait_for("#tender-code").text == "KQ-2026-0012"
    c.screenshot("auditor-demo-evaluation")


def test_a_regulator_gets_no_other_sector_forms_and_a_bad_form_writes_nothing(server, browser):
    c = Console(browser, server, "sectors")
    housing_records = server.api("/api/v1/records?sector=housing&limit=1")["items"]
    housing_id = housing_records[0]["id"]

    c.sign_in("柯桥区交通运输局")
    c.open("/records/new")
    c.wait_for("#record-form")
    assert [o.get_attribute("value") for o in c.all("#sector option")] == ["transport"]
    c.open(f"/records/{housing_id}")
    c.wait_for("#record-id")
    assert c.all("#revoke-link") == [] and c.all("#repair-link") == []
    c.open(f"/records/{housing_id}/revocation")
    assert "403" in c.wait_for("h1").text and "其他行业" in c.text()
    assert c.all("#change-form") == []
    c.screenshot("transport-housing-form-forbidden")

    before = server.entries()
    c.open("/records/new")
    c.wait_for("#record-form")
    c.type("uscc", ENTERPRISE_USCC[:17] + "0")  # wrong check character
    c.type("subject_name", "浙江柯桥建工集团有限公司")
    from selenium.webdriver.support.ui import Select
    Select(c.css("#code")).select_by_value("BID-NOSIGN")
    tomorrow = (datetime.fromisoformat(today_cst()) + timedelta(days=1)).date().isoformat()
    c.set_value("decided_on", tomorrow)
    c.set_value("valid_until", "2027-01-01")  # not allowed for a catalogue validity
    c.type("document_no", "绍柯交罚〔2026〕902号")
    c.click_and_wait("#submit-record", "#form-errors")
    errors = {e.get_attribute("id"): e.text for e in c.all("p.error[id^=err-]")}
    assert "校验码" in errors["err-uscc"]
    assert "晚于今天" in errors["err-decided_on"]
    assert "请勿填写有效期截止日" in errors["err-valid_until"]
    assert c.css("#uscc").get_attribute("aria-invalid") == "true"
    assert c.css("#document_no").get_attribute("value") == "绍柯交罚〔2026〕902号"
    c.screenshot("transport-bad-form")
    assert server.entries() == before  # nothing written, not even a log entry


def test_a_revocation_is_confirmed_before_it_is_written(server, browser):
    c = Console(browser, server, "revocation")
    c.sign_in("柯桥区住房和城乡建设局")
    c.open(f"/subjects/{LISTED_USCC}")
    assert c.wait_for("#score-housing").get_attribute("data-grade") == "E"
    record_link = c.css("#records tr.record a")
    record_id = record_link.text
    c.open(f"/records/{record_id}")
    c.click_and_wait("#revoke-link", "#change-form")
    c.type("document_no", "绍柯建撤〔2026〕7号")
    c.type("reason", "经行政诉讼判决撤销原处罚决定")
    before = server.entries()
    c.click_and_wait("#review", "#confirm")
    assert "不能恢复" in c.text()
    c.screenshot("regulator-revocation-confirm")
    assert server.entries() == before  # the review step wrote nothing
    c.click_and_wait("#confirm", "#record-status")
    assert c.css("#record-status").text == "已撤销"
    assert server.entries() == before + 1
    c.screenshot("regulator-revoked")
    c.open(f"/subjects/{LISTED_USCC}")
    assert c.wait_for("#score-housing").get_attribute("data-grade") in ("A", "B")
    c.screenshot("subject-after-revocation")
