"""Issue 13 in a real headless Chromium against ``credit serve`` with the demo data, on
every database backend, at a desktop's 1366×900 and a phone's 390×844: each console
defect the issue lists (one test each; every one failed before its fix), the new pages
(public list, applications, credit report, model), and on every page axe-core (0
serious or critical violations), no horizontal overflow and no English sentence.
Screenshots land in tests/output/screenshots/.

One server per backend serves the whole module; tests that write use enterprises the
others do not look at.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

import pytest

from tests.conftest import unavailable
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


AGENCY_USCC = "91330621MA2BX7K3QQ"  # 某招标代理有限公司: two ratings, one record
WAGE_USCC = "91330603MA29K3L41N"  # 柯桥钱清建设发展有限公司: wage arrears and blacklist
STEEL_USCC = "91330621MA2H5Y6K14"  # 浙江齐贤钢结构有限公司: general market misconduct
HOUSING = "柯桥区住房和城乡建设局"
TRANSPORT = "柯桥区交通运输局"
ROLE_NAMES = {HOUSING: "housing-regulator", TRANSPORT: "transport-regulator"}


def record_of(server, uscc: str, code: str) -> dict:
    return server.api(f"/api/v1/records?uscc={uscc}&code={code}")["items"][0]


def add_months(d: date, n: int) -> date:
    from credit.domain.dates import add_months as months
    return months(d, n)


# ------------------------------------------------------------------ every page

def _pages(server) -> dict[str, list[tuple[str, str]]]:
    """(name, path) of every console page a GET reaches, by who opens it."""
    record = record_of(server, ENTERPRISE_USCC, "BID-NOSIGN")["id"]
    trace = server.api("/api/v1/traces?limit=1")["items"][0]["position"]
    agency_trace = server.api(f"/api/v1/agencies/{AGENCY_USCC}/score")["trace_id"]
    pending = server.api("/api/v1/performance?status=submitted")["items"][0]["id"]
    approved = server.api("/api/v1/performance?status=approved")["items"][0]["id"]
    return {
        None: [("signin", "/"), ("public", "/public"),
               ("public-transport", "/public?sector=transport")],
        "enterprise": [("own-file", f"/subjects/{ENTERPRISE_USCC}"),
                       ("own-inquiries", f"/subjects/{ENTERPRISE_USCC}/inquiries"),
                       ("own-report", f"/subjects/{ENTERPRISE_USCC}/report"),
                       ("own-record", f"/records/{record}"),
                       ("apply-objection", f"/records/{record}/apply/objection"),
                       ("apply-repair", f"/records/{record}/apply/repair"),
                       ("own-applications", "/applications"),
                       ("model", "/model"), ("public-signed-in", "/public"),
                       ("forbidden", f"/subjects/{LISTED_USCC}")],
        HOUSING: [("home", "/"), ("search", "/?q=柯桥"), ("record-new", "/records/new"),
                  ("record", f"/records/{record}"),
                  ("revocation-form", f"/records/{record}/revocation"),
                  ("repair-form", f"/records/{record}/repair"),
                  ("listed-file", f"/subjects/{LISTED_USCC}"), ("queue", "/applications"),
                  ("not-found", "/records/99999999")],
        # post-award performance (issue 12): the tenderee's contracts and form, the
        # regulator's review queue and a review form, an approved evaluation
        "tenderee": [("contracts", "/contracts"), ("own-evaluations", "/performance"),
                     ("evaluation-form", "/tenders/KQ-DEMO-2026-001/performance/new"),
                     ("evaluation", f"/performance/{pending}"),
                     # PERFORMANCE.md §7: the tenderee's ratings, the agency page (the
                     # rating form and its review: test_the_tenderee_rates_the_agency_…)
                     ("agency-ratings", "/agency-ratings"),
                     ("agency", f"/agencies/{AGENCY_USCC}")],
        TRANSPORT: [("review-queue", "/performance"), ("review-form", f"/performance/{pending}"),
                    ("contracts-overdue", "/contracts?status=overdue&village=true"),
                    ("approved", f"/performance/{approved}")],
        "evaluator": [("evaluations", "/evaluations"), ("evaluation", "/evaluations/1"),
                      ("bad-uscc", "/subjects/NOT-A-USCC")],
        "auditor": [("audit", "/audit"), ("audit-older", "/audit?before=20"),
                    ("entry", "/audit/entries/1"), ("trace", f"/traces/{trace}"),
                    ("report", f"/subjects/{ENTERPRISE_USCC}/report"),
                    ("applications", "/applications"),
                    ("agency", f"/agencies/{AGENCY_USCC}"),
                    ("agency-trace", f"/traces/{agency_trace}")],
    }


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_page_fits_the_screen_and_passes_axe(server, browser, viewport):
    """Defects 1 and 10 everywhere: no page wider than the viewport, axe-core clean."""
    c = Console(browser, server, "every-page", viewport)
    for who, pages in _pages(server).items():
        if who is not None:
            c.sign_in(who)
        for name, path in pages:
            c.open(path)
            c.wait_for("main")
            c.check(f"{ROLE_NAMES.get(who, who) or 'public'}-{name}")
        if who is not None:
            c.sign_out()


def test_phone_menu_wraps_tables_scroll_and_the_timeline_opens_at_today(server, browser):
    """Defect 1: on a phone the menu wraps instead of squeezing each link to one
    character per line, wide tables scroll inside their own box, and the score timeline
    opens with today in view."""
    c = Console(browser, server, "phone", "phone")
    c.sign_in("auditor")
    c.open(f"/subjects/{ENTERPRISE_USCC}")
    c.wait_for("#timeline")
    lines = c.js("""return [...document.querySelectorAll('nav.nav a')].map(a => {
        const r = document.createRange(); r.selectNodeContents(a);
        return r.getClientRects().length; });""")
    assert lines and all(n == 1 for n in lines), lines
    box = c.js("""const t = document.querySelector('#records');
        const s = t.closest('.table-scroll');
        return s && [getComputedStyle(s).overflowX, s.scrollWidth > s.clientWidth,
                     s.getBoundingClientRect().right <= window.innerWidth];""")
    assert box == ["auto", True, True], box
    today = c.js("""const chart = document.querySelector('#timeline');
        const line = chart.querySelector('line.today').getBoundingClientRect();
        const view = chart.getBoundingClientRect();
        return [line.left >= view.left, line.right <= view.right];""")
    assert today == [True, True]
    assert c.overflow() <= 0
    c.check("timeline-at-today")


def test_the_repair_review_refuses_what_the_final_step_refuses(server, browser):
    """Defect 2: a date before the window, or in the future, is refused at review."""
    record = record_of(server, ENTERPRISE_USCC, "BID-NOSIGN")
    decided = date.fromisoformat(record["decided_on"])
    earliest = add_months(decided, 3)
    c = Console(browser, server, "repair-review")
    c.sign_in(HOUSING)
    c.open(f"/records/{record['id']}/repair")
    c.wait_for("#change-form")
    assert c.css("#repaired_on").get_attribute("min") == earliest.isoformat()
    before = server.entries()
    for wanted, message in (((decided + timedelta(days=10)).isoformat(),
                             f"最早可于 {earliest.isoformat()} 修复"),
                            ((date.fromisoformat(today_cst()) + timedelta(days=1)).isoformat(),
                             "晚于今天")):
        c.set_value("repaired_on", wanted)
        c.type("document_no", "绍柯建修〔2026〕31号")
        c.type("reason", "已完成整改")
        c.click_and_wait("#review", "#form-errors")
        assert c.all("#confirm") == []
        assert message in c.css("#err-repaired_on").text
        assert c.js("return document.activeElement.id;") == "repaired_on"
        c.check("repair-review-refused")
    assert server.entries() == before


def test_a_new_decision_is_reviewed_and_a_differing_name_is_shown(server, browser):
    """Defect 3: the review step, with the registered name beside the typed one."""
    c = Console(browser, server, "decision-review")
    c.sign_in(HOUSING)
    c.open(f"/records/new?uscc={STEEL_USCC}")
    c.wait_for("#record-form")
    c.type("subject_name", "齐贤钢构")
    from selenium.webdriver.support.ui import Select
    Select(c.css("#code")).select_by_value("SITE-QUALITY")
    c.set_value("decided_on", today_cst())
    c.type("document_no", "绍柯建罚〔2026〕933号")
    before = server.entries()
    c.click_and_wait("#submit-record", "#confirm-record")
    assert server.entries() == before  # the review wrote nothing
    assert "浙江齐贤钢结构有限公司" in c.css("#registered-name").text
    assert "齐贤钢构" in c.css("#typed-name").text
    assert "工程质量违法违规" in c.text() and "建设工程质量管理条例" in c.text()
    c.check("decision-review")
    c.click_and_wait("#confirm-record", "#record-id")
    assert server.entries() == before + 1
    assert "SITE-QUALITY" in c.text()
    c.check("decision-created")


def test_the_verification_result_is_shown_where_the_eye_is(server, browser):
    """Defect 4: after 验证 the result is at the top of the view and has the focus."""
    trace = server.api("/api/v1/traces?limit=1")["items"][0]["position"]
    c = Console(browser, server, "verify")
    c.sign_in("auditor")
    c.open(f"/traces/{trace}")
    c.click_and_wait("#verify", "#verification")
    where = c.js("""const r = document.getElementById('verification').getBoundingClientRect();
        return [r.top > -2, r.top < window.innerHeight / 2,
                document.activeElement.id];""")
    assert where == [True, True, "verification"], where
    assert "验证通过" in c.css("#verification").text
    c.check("verified")


def test_the_printed_evaluation_is_black_names_members_and_has_a_header(server, browser):
    """Defect 5: printed grades in black, consortium members by name, a header with the
    tender, as_of, time of printing and trace ids, and the committee's signature block."""
    doc = server.api("/api/v1/evaluations/1")
    c = Console(browser, server, "print-evaluation")
    c.sign_in("evaluator")
    c.open("/evaluations/1")
    c.wait_for("#ranking")
    consortium = [r for r in c.all("#ranking tr.bidder") if "联合体" in r.text][0]
    measures = consortium.find_elements("css selector", "td.measures")[0].text
    assert "浙江轻纺城市政工程有限公司" in measures and "C1D21D" not in measures
    c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        colours = c.js("""return [...document.querySelectorAll('#ranking .grade-badge')]
            .map(b => getComputedStyle(b).color);""")
        assert colours and set(colours) == {"rgb(0, 0, 0)"}, colours
        header = c.css("#print-header")
        assert header.is_displayed()
        text = header.text
        assert doc["tender"]["code"] in text and doc["tender"]["name"] in text
        assert doc["as_of"] in text and "打印时间" in text
        for result in doc["results"]:
            for member in result["members"]:
                assert f"#{member['trace_id']}" in text
        signatures = c.css(".signatures")
        assert signatures.is_displayed() and "评标委员会成员签字" in signatures.text
        c.screenshot("evaluation-print")
    finally:
        c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_every_error_page_and_message_is_chinese(server, browser):
    """Defect 6: 400, 403, 404 and the audit filter in Chinese; a mistyped USCC names
    the expected check character."""
    wrong = ENTERPRISE_USCC[:17] + "0"  # the check character is 4
    c = Console(browser, server, "errors")
    c.sign_in("auditor")
    for path, status in (("/subjects/NOT-A-USCC", "400"), (f"/subjects/{wrong}", "400"),
                         ("/records/99999999", "404"), ("/traces/1", "404"),
                         (f"/audit?uscc={wrong}", None)):
        c.open(path)
        c.wait_for("main")
        if status:
            assert status in c.css("h1").text
        c.check("error-" + path.strip("/").split("/")[0])
    c.open(f"/audit?uscc={wrong}")
    assert "应为“4”" in c.css("#err-uscc").text
    c.sign_out()
    c.sign_in("enterprise")
    c.open(f"/subjects/{LISTED_USCC}")
    assert "403" in c.wait_for("h1").text
    c.check("error-403")
    c.sign_out()
    c.sign_in(HOUSING)
    c.open(f"/?q={wrong}")
    assert "应为“4”" in c.wait_for("#search-problem").text
    c.check("search-wrong-check")


def test_the_audit_log_pages_back(server, browser):
    """Defect 7: older entries are one click away, and the newest again."""
    c = Console(browser, server, "audit-paging")
    c.sign_in("auditor")
    c.open("/audit")
    first = [int(r.get_attribute("data-position")) for r in c.all("#entries tr.entry")]
    assert len(first) == 50
    c.click_and_wait("#older", "#entries")
    older = [int(r.get_attribute("data-position")) for r in c.all("#entries tr.entry")]
    assert older and max(older) < min(first)
    assert older == sorted(older, reverse=True)
    c.check("audit-older")
    c.click_and_wait("#newest", "#entries")
    assert [int(r.get_attribute("data-position"))
            for r in c.all("#entries tr.entry")][:5] == first[:5]


def test_an_enterprises_own_visits_are_not_listed_as_inquiries(server, browser):
    """Defect 8: others' inquiries only; its own in a separate, collapsed count."""
    c = Console(browser, server, "own-visits")
    c.sign_in("enterprise")
    for _ in range(2):
        c.open(f"/subjects/{ENTERPRISE_USCC}")
        c.wait_for("#score-housing")
    c.open(f"/subjects/{ENTERPRISE_USCC}/inquiries")
    c.wait_for("#inquiries")
    actors = [r.find_elements("css selector", "td")[1].text
              for r in c.all("#inquiries tbody tr")]
    assert actors and "浙江柯桥建工集团有限公司" not in actors
    assert "柯桥区公共资源交易中心评标系统" in actors
    own = c.css("details#own-inquiries")
    assert own.get_attribute("open") is None
    count = int(re.search(r"(\d+)", own.find_element("css selector", "summary").text)[1])
    assert count >= 6
    c.check("inquiries-others-only")


def test_trace_inputs_carry_names_and_numbers_and_the_model_is_a_page(server, browser):
    """Defect 9: the trace's input table names each record in Chinese with its document
    number; the model's catalogue and rules are a console page, not a pointer to
    MODEL.md or a CLI."""
    record = record_of(server, ENTERPRISE_USCC, "BID-NOSIGN")
    c = Console(browser, server, "trace-names")
    c.sign_in("enterprise")
    c.open(f"/subjects/{ENTERPRISE_USCC}")
    c.click_and_wait("#score-housing a.trace", "#trace-records")
    row = c.css(f'#trace-records tr[data-record-id="{record["id"]}"]').text
    assert "中标后无正当理由不订立合同" in row and record["document_no"] in row
    for path in ("/", f"/subjects/{ENTERPRISE_USCC}", "/model"):
        c.open(path)
        c.wait_for("main")
        assert "MODEL.md" not in c.d.page_source and "credit token" not in c.d.page_source
    c.open("/model")
    catalogue = c.wait_for("#catalogue").text
    assert "SUB-TRANSFER" in catalogue and "建筑法第28条" in catalogue
    assert "A 优秀" in c.css("#grades").text and "E 失信（联合惩戒）" in c.css("#grades").text
    c.check("model")
    c.sign_out()
    c.open("/")
    assert "credit token" not in c.d.page_source


def test_skip_link_focus_on_first_error_and_error_markers(server, browser):
    """Defect 10: a skip link, focus on the first error after a failed submit, error
    markers on both selects, a label on the catalogue filter."""
    from selenium.webdriver.common.keys import Keys
    c = Console(browser, server, "a11y")
    c.sign_in(HOUSING)
    c.open("/records/new")
    c.wait_for("#record-form")
    c.css("body").send_keys(Keys.TAB)
    first = c.js("const a = document.activeElement; return [a.className, a.getAttribute('href')];")
    assert first == ["skip-link", "#main"]
    assert c.js("return document.querySelector('label[for=code-filter]') !== null;")
    c.click_and_wait("#submit-record", "#form-errors")
    assert c.js("return document.activeElement.id;") == "uscc"
    assert c.css("#code").get_attribute("aria-invalid") == "true"
    assert c.css("#code").get_attribute("aria-describedby") == "err-code"
    c.check("record-form-errors")
    # a sector the token may not write (a tampered form): the select is marked too
    c.js("const s = document.getElementById('sector'); s.add(new Option('水利', 'water'));"
         "s.value = 'water';")
    c.type("uscc", STEEL_USCC)
    c.type("subject_name", "浙江齐贤钢结构有限公司")
    from selenium.webdriver.support.ui import Select
    Select(c.css("#code")).select_by_value("SITE-QUALITY")
    c.set_value("decided_on", today_cst())
    c.type("document_no", "绍柯建罚〔2026〕934号")
    c.click_and_wait("#submit-record", "#form-errors")
    assert c.css("#sector").get_attribute("aria-invalid") == "true"
    assert c.css("#sector").get_attribute("aria-describedby") == "err-sector"
    assert c.js("return document.activeElement.id;") == "sector"
    c.check("record-form-sector-error")


# ------------------------------------------------------------------ new pages

def test_an_enterprise_applies_and_the_regulator_decides_on_a_phone(server, browser):
    """The enterprise's buttons per record with the earliest date it may apply from, its
    applications, and the regulator's queue with a confirmation step."""
    pm = record_of(server, ENTERPRISE_USCC, "SITE-PM-ABSENT")  # transport, repair from +1 day
    accident = record_of(server, ENTERPRISE_USCC, "SAFE-ACC-GENERAL")  # repair after 12 m
    c = Console(browser, server, "applications", "phone")
    c.sign_in("enterprise")
    c.open(f"/subjects/{ENTERPRISE_USCC}")
    row = c.wait_for(f'#records tr[data-record-id="{accident["id"]}"]')
    earliest = add_months(date.fromisoformat(accident["decided_on"]), 12).isoformat()
    assert f"{earliest} 起可申请信用修复" in row.text
    assert row.find_elements("css selector", "a.apply-repair") == []
    assert row.find_elements("css selector", "a.apply-objection")
    c.click_and_wait(f'#records tr[data-record-id="{pm["id"]}"] a.apply-repair',
                     "#application-form")
    c.check("application-form")
    c.set_value("requested_repair_on", today_cst())
    c.type("reason", "项目经理已到岗，已提交整改报告")
    before = server.entries()
    c.click_and_wait("#submit-application", "#applications")
    assert server.entries() == before + 1
    mine = c.css(f'#applications tr[data-record-id="{pm["id"]}"]')
    assert "待处理" in mine.text
    application_id = mine.get_attribute("data-application-id")
    c.check("own-applications")
    c.open(f"/subjects/{ENTERPRISE_USCC}")
    row = c.wait_for(f'#records tr[data-record-id="{pm["id"]}"]')
    assert "申请处理中" in row.text and row.find_elements("css selector", "a.apply-repair") == []
    c.sign_out()

    c.sign_in(TRANSPORT)
    before = server.entries()
    c.open("/applications")
    c.click_and_wait(f'#applications tr[data-application-id="{application_id}"] a',
                     "#decision-form")
    c.check("decision-form")
    c.css("#action-accept").click()
    c.type("document_no", "绍柯交修〔2026〕21号")
    c.type("reason", "经核查已整改到位，同意信用修复")
    c.click_and_wait("#review-decision", "#confirm-decision")
    assert server.entries() == before  # the review step wrote nothing
    assert "不能撤回" in c.text()
    c.check("decision-confirm")
    c.click_and_wait("#confirm-decision", "#application-status")
    assert c.css("#application-status").text == "已同意"
    assert server.entries() == before + 2  # record.repaired, application.decided
    c.check("decision-done")
    c.sign_out()

    c.sign_in("enterprise")
    c.open("/applications")
    assert "已同意" in c.wait_for(f'#applications tr[data-application-id="{application_id}"]'
                                  ).text
    assert server.api(f"/api/v1/records/{pm['id']}")["status"] == "repaired"


def test_the_public_list_needs_no_sign_in(server, browser):
    c = Console(browser, server, "public", "phone")
    c.open("/public")
    listed = c.wait_for("main").text
    for name in ("浙江兰亭古建筑工程有限公司", "绍兴鉴湖路桥工程有限公司",
                 "柯桥钱清建设发展有限公司"):
        assert name in listed
    assert "浙江柯桥建工集团有限公司" not in listed
    c.check("public")
    from selenium.webdriver.support.ui import Select
    Select(c.css("#p-sector")).select_by_value("water")
    c.click_and_wait("#public-filter", "#public-filters")
    water = c.css("main").text
    assert "浙江轻纺城市政工程有限公司" in water and "浙江兰亭古建筑工程有限公司" not in water
    c.check("public-water")


def test_the_credit_report_prints_to_pdf_with_every_field(server, browser, tmp_path):
    """信用报告: Chromium prints it to PDF; pdftotext finds the fields."""
    import shutil
    if shutil.which("pdftotext") is None:
        unavailable("pdftotext is not installed (make deps installs poppler-utils)")
    c = Console(browser, server, "report")
    c.sign_in("enterprise")
    c.open(f"/subjects/{ENTERPRISE_USCC}/report")
    c.wait_for("#report")
    c.check("report")
    scores = {s: c.css(f"#report-{s}").get_attribute("data-trace-id")
              for s in ("housing", "transport", "water")}
    from selenium.webdriver.common.print_page_options import PrintOptions
    options = PrintOptions()
    options.background = False
    pdf = tmp_path / "report.pdf"
    import base64
    pdf.write_bytes(base64.b64decode(c.d.print_page(options)))
    from tests.e2e.browser import SCREENSHOTS
    shutil.copyfile(pdf, SCREENSHOTS / f"{server.backend}-report.pdf")
    # reading order (not -layout, which interleaves the lines of a table's cells)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    for needle in ("信用报告", "浙江柯桥建工集团有限公司", ENTERPRISE_USCC, "房屋建筑和市政",
                   "C合格", "中标后无正当理由不订立合同", "实施条例第74条", "公示期",
                   "谁查询了本企业", "报告时间", "/api/v1/traces/"):
        assert needle in flat, needle
    for sector, trace_id in scores.items():
        trace = server.api(f"/api/v1/traces/{trace_id}")
        assert f"#{trace_id}" in flat and trace["sha256"] in flat, sector
    record = record_of(server, ENTERPRISE_USCC, "BID-NOSIGN")
    assert f"{record['decided_on']}至{record['valid_until']}" in flat


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_tenderee_rates_the_agency_through_a_review(server, browser, viewport):
    """PERFORMANCE.md §7 in the console: an awarded tender's agency is rated once, a bad
    value is refused at review (focus on it), the review shows the total and writes
    nothing, the confirmation writes one entry. The tender is registered here (its
    bidders are enterprises no other test looks at)."""
    from tests.tender_data import bid, make_uscc, tender_body
    code = f"KQ-E2E-AGENCY-{viewport}"
    today = date.fromisoformat(today_cst())
    opened = (today - timedelta(days=12)).isoformat()
    n = 8800 if viewport == "phone" else 8900
    bids = [bid(make_uscc(n + i), price, name=f"测试投标人{i}",
                submitted_at=f"{opened}T08:00:00+08:00")
            for i, price in enumerate(("905000.00", "931000.00", "958000.00"))]
    server.post("/api/v1/tenders", tender_body(
        code, bids=bids, exclusions=[], opened_at=f"{opened}T09:30:00+08:00",
        ceiling_price="980000.00"), "platform")
    awarded = (today - timedelta(days=5)).isoformat()
    server.post(f"/api/v1/tenders/{code}/award", {
        "winner": bids[0]["bidder"], "awarded_on": awarded, "contract_price": "905000.00",
        "completion_due": (today + timedelta(days=200)).isoformat()}, "platform", status=200)
    c = Console(browser, server, "agency-rating", viewport)
    c.sign_in("tenderee")
    c.open("/agency-ratings")
    c.wait_for("#tenderee-tenders")
    c.check("agency-ratings-due")
    c.click_and_wait(f"#rate-{code}", "#rating-form")
    assert c.css("#rated_on").get_attribute("min") == awarded
    c.check("agency-rating-form")
    before = server.entries()
    c.set_value("rated_on", today.isoformat())
    for field, value in (("documents", "31.00"), ("procedure", "28.00"),
                         ("service", "18.50"), ("archive", "19.00")):
        c.type(field, value)
    c.click_and_wait("#review", "#form-errors")
    assert c.js("return document.activeElement.id;") == "documents"
    c.check("agency-rating-refused")
    c.type("documents", "26.00")
    c.click_and_wait("#review", "#confirm")
    assert c.css("#planned-total").text == "91.50"
    assert server.entries() == before
    c.check("agency-rating-review")
    c.click_and_wait("#confirm", "#tenderee-tenders")
    assert server.entries() == before + 1
    assert "91.50" in c.text()
    c.check("agency-rated")
