"""Every refusal a console form can show is in Chinese (README: the console speaks
Chinese), on both backends.

The console turns a form into the body the API would receive and shows the use case's
refusal next to the field it names (api/console/forms.py translates each message; a
message without a translation would be shown in English, as the service wrote it).
Here each form — a new record, its revocation and repair, the enterprise's repair
application and objection, the regulator's decision on one, a warning's disposal, the
tenderee's performance evaluation and the regulator's review of it, the agency rating —
is driven into each refusal a person can cause with what they type or choose (every
message of credit/services/*inputs.py, credit/uscc.py, marshmallow's own and the use
cases' refusal codes that the form can reach), and the page must show the refusal:
at its field when it names one, in Chinese, with no English sentence in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Callable

import pytest

from credit.services import applications, performance, records, warnings
from credit.services.tokens import authenticate, create_token
from tests.tender_data import AGENCY, BIDDER_1, TENDEREE, make_uscc, tender_body

from .tender_helpers import register
from .test_console_form_robustness import BUILDERS, CODE, Route, pairs_of, post
from .test_console_pages import S1, SECRET_KEY, Browser, add_record

pytestmark = pytest.mark.db

CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_P = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
GENERAL = re.compile(r'<div class="alert" role="alert" id="form-errors">(.*?)</div>', re.S)
# a page's own notice where the form was, when the record's state refuses it (该记录已被撤销)
ALERT_P = re.compile(r'<p class="alert"[^>]*>(.*?)</p>', re.S)
SUMMARY = re.compile(r"表单有 (\d+) 处问题")
# An untranslated sentence: three or more ASCII words in a row ("must not be empty",
# "Must be greater than"); codes (BID-COLLUDE), dates and numbers are no such run.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ \t]+[A-Za-z]+){2,}\b")


@pytest.fixture
def app(tctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def secrets_(tctx) -> dict:
    specs = {
        "housing": dict(role="regulator", name="柯桥区住房和城乡建设局", sectors=["housing"]),
        "transport": dict(role="regulator", name="柯桥区交通运输局", sectors=["transport"]),
        "enterprise": dict(role="enterprise", name="浙江柯桥建工集团有限公司", uscc=S1),
        "tenderee": dict(role="tenderee", name="柯桥区某镇人民政府", uscc=TENDEREE),
        "tenderee2": dict(role="tenderee", name="另一招标人",
                          uscc=make_uscc(777, prefix="11330621")),
        "agency": dict(role="enterprise", name="某招标代理有限公司", uscc=AGENCY),
    }
    return {k: create_token(tctx, "test", **v)[1] for k, v in specs.items()}


@dataclass
class Case:
    """One refusal: the form, what is typed over its valid values (None: left out),
    the field the refusal is shown at (None: for the whole form), the step posted and
    what must exist first (``setup(tctx, secrets, app, route)``; it may return the id
    or code the form is posted to); ``says``: words the message must hold."""
    route: str
    label: str
    typed: dict = field(default_factory=dict)
    at: str | None = None
    step: str = "review"
    setup: Callable | None = None
    says: str | None = None  # what the message must say, where the wording matters


# ------------------------------------------------------------------ what must exist first

def _actor(tctx, s, who):
    return authenticate(tctx, s[who])


def _record(code="BID-NOSIGN", **kw):
    def setup(tctx, s, app, r):
        return add_record(tctx, s["housing"], code=code, **kw)["id"]
    return setup


def _revoked(tctx, s, app, r):
    rid = r.ident if r.ident is not None else add_record(tctx, s["housing"])["id"]
    records.revoke_record(tctx, _actor(tctx, s, "housing"), rid,
                          {"document_no": "绍柯建撤〔2026〕2号", "reason": "复议撤销"})
    return rid


def _repaired(tctx, s, app, r):
    records.repair_record(tctx, _actor(tctx, s, "housing"), r.ident,
                          {"repaired_on": "2026-05-01", "document_no": "绍柯建修〔2026〕2号",
                           "reason": "已整改"})
    return r.ident


def _applied(kind):
    def setup(tctx, s, app, r):
        body = {"kind": kind, "reason": "原处罚决定已被复议撤销"}
        if kind == "repair":
            body["requested_repair_on"] = "2026-05-01"
        applications.submit(tctx, _actor(tctx, s, "enterprise"), r.ident, body)
        return r.ident
    return setup


def _decided(tctx, s, app, r):
    applications.decide(tctx, _actor(tctx, s, "housing"), r.ident,
                        {"action": "reject", "reason": "理由不充分"})
    return r.ident


def _record_revoked_meanwhile(tctx, s, app, r):
    record_id = applications.get_application(tctx, _actor(tctx, s, "housing"),
                                             r.ident)["record_id"]
    records.revoke_record(tctx, _actor(tctx, s, "housing"), record_id,
                          {"document_no": "绍柯建撤〔2026〕3号", "reason": "依职权撤销"})
    return r.ident


def _existing_record(tctx, s, app, r):
    """The record a disposal would create already exists (same code and number)."""
    add_record(tctx, s["transport"], uscc=BIDDER_1, sector="transport", code="BID-COLLUDE",
               decided_on="2026-05-28", document_no="柯交执〔2026〕31号",
               project_code=CODE, subject_name="浙江柯桥建工有限公司")
    return r.ident


def _other_record(tctx, s, app, r):
    """A record of a bidder, but not of this tender (no project_code)."""
    add_record(tctx, s["housing"])
    return r.ident


def _revoked_party_record(tctx, s, app, r):
    rid = add_record(tctx, s["transport"], uscc=BIDDER_1, sector="transport",
                     code="BID-COLLUDE", decided_on="2026-05-28", project_code=CODE,
                     document_no="柯交执〔2026〕30号", subject_name="浙江柯桥建工有限公司")["id"]
    records.revoke_record(tctx, _actor(tctx, s, "transport"), rid,
                          {"document_no": "柯交撤〔2026〕1号", "reason": "复议撤销"})
    return r.ident


def _disposed(action):
    def setup(tctx, s, app, r):
        warnings.dispose(tctx, _actor(tctx, s, "transport"), r.ident,
                         {"action": action, "reason": "经核实无关联"})
        return r.ident
    return setup


def _stored(tctx, s, app, r):
    """The valid form stored once by its key (a later body with that key is refused)."""
    b = Browser(app).sign_in(s[r.who])
    done = post(b, r.at(), pairs_of({**r.valid, "step": "confirm"}))
    assert done.status_code == 302, unescape(done.get_data(as_text=True))[:1000]
    return r.ident


def _reviewed(tctx, s, app, r):
    performance.review_evaluation(tctx, _actor(tctx, s, "transport"), r.ident,
                                  {"action": "return", "reason": "评价依据不足，请补充",
                                   "reviewed_on": "2026-06-01"})
    return r.ident


def _completed(tctx, s, app, r):
    _stored(tctx, s, app, r)
    performance.review_evaluation(tctx, _actor(tctx, s, "transport"), 1,
                                  {"action": "approve", "reason": "经现场核查属实",
                                   "reviewed_on": "2026-06-01"})
    return r.ident


def _not_awarded(tctx, s, app, r):
    register(tctx, tender_body("KQ-2026-0099"))
    return "KQ-2026-0099"


# ------------------------------------------------------------------ the refusals

LONG = "长"
BAD_CHECK = S1[:-1] + "5"
R, RV, RP = "record_new", "revocation", "repair"
AR, AO, AD = "apply_repair", "apply_objection", "application"
D, PN, PR, AG = "disposal", "performance_new", "performance_review", "agency_rating"

CASES = [
    # a new record (credit/services/inputs.py RecordInput, records.validate_record, uscc.py)
    Case(R, "uscc left empty", {"uscc": ""}, "uscc"),
    Case(R, "uscc of 17 characters", {"uscc": S1[:-1]}, "uscc"),
    Case(R, "uscc with a space inside", {"uscc": S1[:8] + " " + S1[8:]}, "uscc"),
    Case(R, "uscc of 17 with a letter I", {"uscc": S1[:4] + "I" + S1[5:-1]}, "uscc",
         says="不含 I、O、S、V、Z"),
    Case(R, "uscc with a letter in 1-8", {"uscc": "A" + S1[1:]}, "uscc"),
    Case(R, "uscc with O in 9-17", {"uscc": S1[:9] + "O" + S1[10:]}, "uscc"),
    Case(R, "uscc with a bad check character", {"uscc": BAD_CHECK}, "uscc"),
    Case(R, "uscc holding U+0000", {"uscc": S1 + "\x00"}, "uscc"),
    Case(R, "name left empty", {"subject_name": ""}, "subject_name"),
    Case(R, "name of 201 characters", {"subject_name": LONG * 201}, "subject_name"),
    Case(R, "no such sector", {"sector": "water2"}, "sector"),
    Case(R, "another sector", {"sector": "transport"}, "sector"),
    Case(R, "code left empty", {"code": ""}, "code"),
    Case(R, "no such code", {"code": "NO-SUCH"}, "code"),
    Case(R, "a code only an approval creates", {"code": "PERF-FAIL"}, "code"),
    Case(R, "decided_on left empty", {"decided_on": ""}, "decided_on"),
    Case(R, "decided_on no date", {"decided_on": "2026-02-30"}, "decided_on"),
    Case(R, "decided_on in 1999", {"decided_on": "1999-12-31"}, "decided_on"),
    Case(R, "decided tomorrow", {"decided_on": "2026-06-02"}, "decided_on"),
    Case(R, "document_no left empty", {"document_no": ""}, "document_no"),
    Case(R, "document_no of 101", {"document_no": LONG * 101}, "document_no"),
    Case(R, "issued_by left empty", {"issued_by": ""}, "issued_by"),
    Case(R, "issued_by of 101", {"issued_by": LONG * 101}, "issued_by"),
    Case(R, "valid_until on a default validity", {"valid_until": "2027-01-01"}, "valid_until"),
    Case(R, "no valid_until on BID-BAN", {"code": "BID-BAN"}, "valid_until"),
    Case(R, "valid_until beyond 36 months", {"code": "BID-BAN", "valid_until": "2030-01-01"},
         "valid_until"),
    Case(R, "valid_until no date", {"code": "BID-BAN", "valid_until": "2027-13-01"},
         "valid_until"),
    Case(R, "occurred after the decision", {"occurred_on": "2026-01-11"}, "occurred_on"),
    Case(R, "occurred_on no date", {"occurred_on": "2026-1-1"}, "occurred_on"),
    Case(R, "project_code of 65", {"project_code": "P" * 65}, "project_code"),
    Case(R, "project_name of 201", {"project_name": LONG * 201}, "project_name"),
    Case(R, "note of 2001", {"note": LONG * 2001}, "note"),
    Case(R, "the same record twice", {}, "document_no", setup=_record()),
    Case(R, "key replayed with another body", {"document_no": "绍柯建罚〔2026〕77号"},
         None, "confirm", _stored),
    # revocation and repair
    Case(RV, "document_no left empty", {"document_no": ""}, "document_no"),
    Case(RV, "document_no of 101", {"document_no": LONG * 101}, "document_no"),
    Case(RV, "reason left empty", {"reason": ""}, "reason"),
    Case(RV, "reason of 2001", {"reason": LONG * 2001}, "reason"),
    Case(RV, "already revoked", {}, None, setup=_revoked),
    Case(RV, "key replayed with another body", {"reason": "另一理由"}, None, "confirm",
         _stored, says="此表单已用不同内容提交过"),
    Case(RP, "repaired_on left empty", {"repaired_on": ""}, "repaired_on"),
    Case(RP, "repaired_on no date", {"repaired_on": "2026-04-31"}, "repaired_on"),
    Case(RP, "repaired in the future", {"repaired_on": "2026-06-02"}, "repaired_on"),
    Case(RP, "repaired too early", {"repaired_on": "2026-02-01"}, "repaired_on"),
    Case(RP, "repaired after expiry", {}, "repaired_on",
         setup=_record(decided_on="2025-01-10", document_no="绍柯建罚〔2025〕1号")),
    Case(RP, "not repairable", {}, None,
         setup=_record("BID-BAN", valid_until="2027-01-01", document_no="绍柯建罚〔2026〕5号")),
    Case(RP, "already repaired", {}, None, setup=_repaired),
    Case(RP, "already revoked", {}, None, setup=_revoked),
    Case(RP, "key replayed with another body", {"reason": "另一理由"}, None, "confirm",
         _stored, says="此表单已用不同内容提交过"),
    Case(RP, "document_no left empty", {"document_no": ""}, "document_no"),
    Case(RP, "reason of 2001", {"reason": LONG * 2001}, "reason"),
    # the enterprise's repair application and objection
    Case(AR, "reason too short", {"reason": "不对"}, "reason", ""),
    Case(AR, "reason left empty", {"reason": ""}, "reason", ""),
    Case(AR, "reason of 1001", {"reason": LONG * 1001}, "reason", ""),
    Case(AR, "date left empty", {"requested_repair_on": ""}, "requested_repair_on", ""),
    Case(AR, "date no date", {"requested_repair_on": "2026-06-31"}, "requested_repair_on", ""),
    Case(AR, "date in the future", {"requested_repair_on": "2026-06-02"},
         "requested_repair_on", ""),
    Case(AR, "date too early", {"requested_repair_on": "2026-02-01"},
         "requested_repair_on", ""),
    Case(AR, "date after expiry", {}, "requested_repair_on", "",
         _record(uscc=S1, decided_on="2025-01-10", document_no="绍柯建罚〔2025〕1号")),
    Case(AR, "not repairable", {}, None, "",
         _record("BID-BAN", valid_until="2027-01-01", document_no="绍柯建罚〔2026〕5号")),
    Case(AR, "already repaired", {}, None, "", _repaired),
    Case(AR, "already revoked", {}, None, "", _revoked),
    Case(AR, "one pending already", {}, None, "", _applied("objection")),
    Case(AO, "reason too short", {"reason": "不对"}, "reason", ""),
    Case(AO, "already revoked", {}, None, "", _revoked),
    Case(AO, "one pending already", {}, None, "", _applied("repair")),
    # the regulator's decision on an application
    Case(AD, "no such action", {"action": "approve"}, "action"),
    Case(AD, "no action chosen", {"action": ""}, "action"),
    Case(AD, "reason too short", {"reason": "同意"}, "reason"),
    Case(AD, "reason of 1001", {"reason": LONG * 1001}, "reason"),
    Case(AD, "accepted without document_no", {"document_no": ""}, "document_no"),
    Case(AD, "document_no of 101", {"document_no": LONG * 101}, "document_no"),
    Case(AD, "already decided", {}, None, setup=_decided),
    Case(AD, "key replayed with another decision", {"action": "reject"}, None, "confirm",
         _stored, says="此表单已用不同内容提交过"),
    Case(AD, "the record revoked meanwhile", {}, None, setup=_record_revoked_meanwhile),
    # a warning's disposal (tender_inputs.DisposalIn, warnings._against_warning)
    Case(D, "no such action", {"action": "delete"}, "action"),
    Case(D, "reason too short", {"reason": "属实"}, "reason"),
    Case(D, "reason of 501", {"reason": LONG * 501}, "reason"),
    Case(D, "no bid chosen", {"bids": None}, "bids"),
    Case(D, "a bid the warning does not name", {"bids": ["1", "3"]}, "bids"),
    Case(D, "the same bid twice", {"bids": ["1", "1"]}, "bids"),
    Case(D, "a bid that is no number", {"bids": ["1", "x"]}, "bids"),
    Case(D, "code left empty", {"code": ""}, "code"),
    Case(D, "a code not allowed", {"code": "BID-NOSIGN"}, "code"),
    Case(D, "code of 65", {"code": "C" * 65}, "code"),
    Case(D, "decided_on left empty", {"decided_on": ""}, "decided_on"),
    Case(D, "decided_on no date", {"decided_on": "2026-5-28"}, "decided_on"),
    Case(D, "decided tomorrow", {"decided_on": "2026-06-02"}, "decided_on"),
    Case(D, "decided before the opening", {"decided_on": "2026-05-01"}, "decided_on"),
    Case(D, "document_no left empty", {"document_no": ""}, "document_no"),
    Case(D, "document_no of 101", {"document_no": LONG * 101}, "document_no"),
    Case(D, "covered by no such record", {"covered_by": "99"}, "covered_by"),
    Case(D, "covered by no number", {"covered_by": "第5号"}, "covered_by"),
    Case(D, "covered by record 0", {"covered_by": "0"}, "covered_by"),
    Case(D, "covered by a record twice", {"covered_by": "1, 1"}, "covered_by"),
    Case(D, "covered by another subject's record", {"covered_by": "1"}, "covered_by",
         setup=_other_record),
    Case(D, "covered by a revoked record", {"covered_by": "1"}, "covered_by",
         setup=_revoked_party_record),
    Case(D, "the records exist already", {}, "document_no", setup=_existing_record),
    Case(D, "already dismissed", {}, None, setup=_disposed("dismiss")),
    Case(D, "referred twice", {"action": "refer"}, None, setup=_disposed("refer")),
    Case(D, "key replayed with another body", {"action": "dismiss"}, None, "confirm",
         _stored),
    # the tenderee's performance evaluation (performance_inputs, domain/performance.py)
    Case(PN, "no such kind", {"kind": "monthly"}, "kind"),
    Case(PN, "periodic without its date", {"kind": "periodic"}, "period_end"),
    Case(PN, "period_end no date", {"kind": "periodic", "period_end": "2026-05-32"},
         "period_end"),
    Case(PN, "completed_on left empty", {"completed_on": ""}, "completed_on"),
    Case(PN, "completed_on no date", {"completed_on": "31.05.2026"}, "completed_on"),
    Case(PN, "completed in 2100", {"completed_on": "2100-01-01"}, "completed_on"),
    Case(PN, "completed in the future", {"completed_on": "2026-06-02"}, "completed_on"),
    Case(PN, "completed before the award", {"completed_on": "2026-05-19"}, "completed_on"),
    Case(PN, "manager on site not chosen", {"pm_on_site": None}, "pm_on_site"),
    Case(PN, "points not two decimals", {"points-SAFETY": "5"}, "points-SAFETY"),
    Case(PN, "points -0.00", {"points-SAFETY": "-0.00"}, "points-SAFETY"),
    Case(PN, "points over the maximum", {"points-SAFETY": "15.01"}, "points-SAFETY"),
    Case(PN, "points of zero", {"points-SAFETY": "0.00"}, "points-SAFETY"),
    Case(PN, "a note without points", {"points-SAFETY": ""}, "points-SAFETY"),
    Case(PN, "points without a note", {"note-SAFETY": ""}, "note-SAFETY"),
    Case(PN, "a note of 501", {"note-SAFETY": LONG * 501}, "note-SAFETY"),
    Case(PN, "one awaiting its review", {}, None, setup=_stored),
    Case(PN, "the contract completed", {}, None, setup=_completed),
    Case(PN, "a tender not awarded", {}, None, setup=_not_awarded),
    Case(PN, "key replayed with another body", {"points-SAFETY": "4.00"}, None, "confirm",
         _stored),
    # the regulator's review of it
    Case(PR, "no such action", {"action": "accept"}, "action"),
    Case(PR, "no action chosen", {"action": ""}, "action"),
    Case(PR, "reason too short", {"reason": "属实"}, "reason"),
    Case(PR, "reason of 501", {"reason": LONG * 501}, "reason"),
    Case(PR, "reviewed_on left empty", {"reviewed_on": ""}, "reviewed_on", says="此项必填"),
    Case(PR, "reviewed_on no date", {"reviewed_on": "2026/06/01"}, "reviewed_on"),
    Case(PR, "reviewed in the future", {"reviewed_on": "2026-06-02"}, "reviewed_on"),
    Case(PR, "reviewed before completion", {"reviewed_on": "2026-05-30"}, "reviewed_on"),
    Case(PR, "already reviewed", {}, None, setup=_reviewed),
    Case(PR, "key replayed with another body", {"action": "return"}, None, "confirm",
         _stored),
    # the agency rating (api/console/agency_views.py words its own refusals)
    Case(AG, "over the maximum", {"documents": "31.00"}, "documents"),
    Case(AG, "points left empty", {"documents": ""}, "documents"),
    Case(AG, "rated_on no date", {"rated_on": "2026-02-30"}, "rated_on"),
    Case(AG, "rated before the award", {"rated_on": "2026-05-01"}, "rated_on"),
    Case(AG, "rated in the future", {"rated_on": "2026-06-02"}, "rated_on"),
    Case(AG, "a note over 500", {"note": LONG * 501}, "note"),
    Case(AG, "already rated", {}, None, setup=_stored),
    Case(AG, "a tender not awarded", {}, None, setup=_not_awarded),
]


# ------------------------------------------------------------------ the page

def shown_at(page: str, name: str) -> bool:
    """Whether the page marks field ``name`` with an error."""
    return (f'id="err-{name}"' in page
            or re.search(rf'<[^>]*id="field-{re.escape(name)}"[^>]*has-error', page) is not None
            or re.search(rf'<[^>]*has-error[^>]*id="field-{re.escape(name)}"', page) is not None)


def _texts(pattern: re.Pattern, html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in pattern.findall(html)]


def problems_of(resp, case: Case) -> list[str]:
    """What is wrong with the refused form's page (empty: the refusal is shown, where
    it belongs, in Chinese)."""
    status, raw = resp.status_code, resp.get_data(as_text=True)
    if status < 400:
        return [f"{status}: not refused ({unescape(raw)[:300]!r})"]
    messages = _texts(ERROR_P, raw)
    notices = _texts(ALERT_P, raw)
    problems = []
    if not messages and not (case.at is None and notices):
        problems.append(f"{status}: no error shown")
    for m in messages + notices:
        if not CJK.search(m) or ENGLISH.search(m):
            problems.append(f"not in Chinese: {m!r}")
    summary = SUMMARY.search(raw)
    if summary and int(summary[1]) != len(messages):
        problems.append(f"the summary counts {summary[1]} problems but {len(messages)} "
                        f"are shown")
    if case.at is not None and not shown_at(raw, case.at):
        problems.append(f"not shown at {case.at} (shown: {messages})")
    if case.says is not None and not any(case.says in m for m in messages):
        problems.append(f"no message says {case.says!r} (shown: {messages})")
    if case.at is not None:
        at_field = _texts(re.compile(rf'<p class="error" id="err-{re.escape(case.at)}">'
                                     r"(.*?)</p>", re.S), raw)
        if len(set(at_field)) != len(at_field):
            problems.append(f"a message repeated at {case.at}: {at_field}")
    if case.at is None and not notices:
        general = GENERAL.search(raw)
        if not (general and ERROR_P.search(general[1])):
            problems.append(f"not shown for the whole form (shown: {messages})")
    return problems


def _form(r: Route, typed: dict, step: str) -> list[tuple[str, str]]:
    values = {**r.valid, **typed}
    values = {k: v for k, v in values.items() if v is not None}
    return pairs_of(values) + ([("step", step)] if step else [])


@pytest.mark.parametrize("case", CASES, ids=[f"{c.route}: {c.label}" for c in CASES])
def test_each_refusal_is_shown_in_chinese(case, app, tctx, secrets_):
    build = BUILDERS[case.route]
    r = build(tctx, secrets_, app) if case.route == "performance_review" \
        else build(tctx, secrets_)
    if case.setup is not None:
        r.ident = case.setup(tctx, secrets_, app, r)
    b = Browser(app).sign_in(secrets_[r.who])
    resp = post(b, r.at(), _form(r, case.typed, case.step))
    problems = problems_of(resp, case)
    assert problems == [], "\n".join(problems)


def test_every_form_is_driven():
    assert {c.route for c in CASES} == set(BUILDERS)
