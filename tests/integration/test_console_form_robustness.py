"""Every POST form of the console against hostile or odd input, on both backends.

For each POST route (sign-in and sign-out, a new record, revocation and repair, the
enterprise's applications, the regulator's decision on one, a warning's disposal, the
tenderee's performance evaluation and the regulator's review of it, the agency rating,
and the two verify buttons) the forms are posted with fields missing, empty, blank,
very long, holding U+0000 or bytes that are no UTF-8, given twice or unknown; with a
bad or missing CSRF value; by a wrong role, a regulator of another sector, an
enterprise that is not the subject; on odd ids and tender codes; with impossible dates
and decimals that are not two-decimal amounts; with a step that is neither ``review``
nor ``confirm``; a confirm step without a review; and an idempotency key replayed with
another body. Whatever is sent (API.md §1: "nothing a client sends may produce a
500"), the answer is a page or redirect a person can act on — a Chinese error page, or
the form again with Chinese messages — and nothing is written unless the input was
valid (the audit head is unchanged after every refusal)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import quote

import pytest

from credit.services import agencies, applications
from credit.services.tokens import authenticate, create_token
from tests.tender_data import AGENCY, BIDDER_1, TENDEREE, award_body, make_uscc, tender_body

from .helpers import head
from .tender_helpers import award, register
from .test_console_pages import S1, S2, SECRET_KEY, Browser, add_record, record_form

pytestmark = pytest.mark.db

CODE = "KQ-2026-0031"
CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_P = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)
# a page's own notice (the sign-in error; "该记录已被撤销" where the form was)
ALERT = re.compile(r'class="alert"[^>]*>[^<]*[\u4e00-\u9fff]')
SUMMARY = re.compile(r"表单有 (\d+) 处问题")


class Raw(str):
    """A value already percent-encoded (bytes no UTF-8 text has)."""


LONG = "长" * 100_000
MARKUP = '"><script>alert(1)</script>'
HUGE_IDS = ["99999999999999999999", "9223372036854775808", "-1", "1e3", "0", "abc", "%00",
            "%EF%BC%91", "1%20", "%ED%A0%80", "1.0"]
ODD_CODES = ["KQ-NONE", "%00", "x" * 300, "KQ-2026-0031%20", "a%2Fb", "%E2%80%AE%3Cs%3E",
             "%ED%A0%80", ".."]
ODD_DATES = ["2026-02-30", "0000-01-01", "9999-12-31", "2026-2-3", "２０２６-05-01",
             "2026-05-01T00:00", "20260501"]
ODD_DECIMALS = ["1e2", "-0.00", "06.00", "NaN", "Infinity", "-1.00", "1_0.00", "٣.00",
                "0x10", "27.000", " 27.00"]
ODD_STEPS = ["", "REVIEW", "Confirm", "confirm ", "review\x00", "s" * 300, "edit"]


def encode(pairs) -> str:
    out = []
    for name, value in pairs:
        value = value if isinstance(value, Raw) else quote(value, safe="")
        out.append(f"{quote(name, safe='')}={value}")
    return "&".join(out)


def pairs_of(form: dict) -> list[tuple[str, str]]:
    out = []
    for k, v in form.items():
        out += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    return out


def post(b: Browser, path: str, form, csrf=True, addr="127.0.0.1") -> object:
    pairs = pairs_of(form) if isinstance(form, dict) else list(form)
    if csrf is True:
        pairs.append(("csrf_token", b.csrf or ""))
    elif csrf is not None:
        pairs.append(("csrf_token", csrf))
    return b.client.post(path, data=encode(pairs), environ_base={"REMOTE_ADDR": addr},
                         content_type="application/x-www-form-urlencoded")


def sign_in(app, secret) -> Browser:
    return Browser(app).sign_in(secret)


def acceptable(resp, label) -> list[str]:
    """What is wrong with the answer (empty: a page or redirect a person can act on)."""
    status, page = resp.status_code, unescape(resp.get_data(as_text=True))
    problems = []
    if status >= 500:
        return [f"{label}: {status} {page[:300]!r}"]
    if "Traceback" in page or "Internal Server Error" in page:
        problems.append(f"{label}: a traceback or raw server error")
    if 300 <= status < 400:
        location = resp.headers.get("Location", "")
        if not location.startswith("/") or location.startswith("//"):
            problems.append(f"{label}: redirect off the site {location!r}")
        return problems
    if resp.mimetype != "text/html":
        problems.append(f"{label}: {status} answered {resp.mimetype}, not a page")
    english = [m for m in ERROR_P.findall(page) if not CJK.search(m)]
    if english:
        problems.append(f"{label}: {status} error not in Chinese: {english}")
    summary = SUMMARY.search(page)
    if status >= 400 and not ('class="card error-page"' in page and CJK.search(page)
                              or ERROR_P.search(page) or ALERT.search(page)):
        problems.append(f"{label}: {status} shows no message to act on")
    if MARKUP in resp.get_data(as_text=True):
        problems.append(f"{label}: a value typed was echoed as markup")
    if summary and int(summary[1]) != len(ERROR_P.findall(page)):
        problems.append(f"{label}: the summary counts {summary[1]} problems but "
                        f"{len(ERROR_P.findall(page))} are shown")
    if status == 200 and summary:
        problems.append(f"{label}: a refused form answered 200")
    return problems


# ------------------------------------------------------------------ the world

@pytest.fixture
def app(tctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def secrets_(tctx) -> dict:
    specs = {
        "housing": dict(role="regulator", name="柯桥区住房和城乡建设局", sectors=["housing"]),
        "transport": dict(role="regulator", name="柯桥区交通运输局", sectors=["transport"]),
        "evaluator": dict(role="evaluator", name="评标系统"),
        "auditor": dict(role="auditor", name="柯桥区审计局"),
        "enterprise": dict(role="enterprise", name="浙江柯桥建工集团有限公司", uscc=S1),
        "other_enterprise": dict(role="enterprise", name="别家公司", uscc=S2),
        "tenderee": dict(role="tenderee", name="柯桥区某镇人民政府", uscc=TENDEREE),
        "tenderee2": dict(role="tenderee", name="另一招标人",
                          uscc=make_uscc(777, prefix="11330621")),
        "platform": dict(role="platform", name="柯桥区公共资源交易中心"),
        "agency": dict(role="enterprise", name="某招标代理有限公司", uscc=AGENCY),
        "bidder": dict(role="enterprise", name="某企业", uscc=BIDDER_1),
    }
    return {k: create_token(tctx, "test", **v)[1] for k, v in specs.items()}


@dataclass
class Route:
    """One POST form: where, who may post it, a valid body for it and what is odd."""
    path: str  # with {id} or {code} where the path takes one
    who: str
    valid: dict
    required: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    decimals: tuple[str, ...] = ()
    wrong: tuple[str, ...] = ()  # who must be refused
    ident: str | None = None  # the valid id or code
    keyed: bool = False  # carries an idempotency key
    two_steps: bool = True
    changed: dict = field(default_factory=dict)  # another valid body (a replay)
    refuse: dict = field(default_factory=dict)  # label: overrides the rules refuse

    def at(self, ident=None) -> str:
        ident = self.ident if ident is None else ident
        return self.path.replace("{id}", str(ident)).replace("{code}", str(ident))


def _record_new(tctx, s) -> Route:
    form = record_form(issued_by="柯桥区住房和城乡建设局", form_key="k" * 20)
    return Route("/records/new", "housing", form,
                 required=("uscc", "sector", "code", "decided_on", "document_no"),
                 dates=("decided_on", "valid_until", "occurred_on"),
                 wrong=("transport", "auditor", "enterprise", "tenderee"), keyed=True,
                 changed={**form, "document_no": "绍柯建罚〔2026〕77号"},
                 refuse={"another sector": {"sector": "transport"},
                         "no such sector": {"sector": "water"},
                         "no such code": {"code": "NO-SUCH"},
                         "a USCC with a bad check character": {"uscc": S1[:-1] + "5"},
                         "decided tomorrow": {"decided_on": "2026-06-02"},
                         "occurred after the decision": {"occurred_on": "2026-01-11"},
                         "valid_until on a code with a default": {"valid_until": "2027-01-01"}})


def _change(which):
    def build(tctx, s) -> Route:
        rid = add_record(tctx, s["housing"])["id"]
        form = {"document_no": "绍柯建撤〔2026〕1号", "reason": "行政复议撤销"}
        if which == "repair":
            form = {"repaired_on": "2026-05-01", "document_no": "绍柯建修〔2026〕1号",
                    "reason": "已整改"}
        refuse = {"repaired in the future": {"repaired_on": "2026-06-02"},
                  "repaired too early": {"repaired_on": "2026-02-01"}}
        return Route(f"/records/{{id}}/{which}", "housing", {**form, "form_key": "k" * 20},
                     required=tuple(form), refuse=refuse if which == "repair" else {},
                     dates=("repaired_on",) if which == "repair" else (),
                     wrong=("transport", "auditor", "enterprise"), ident=rid, keyed=True,
                     changed={**form, "form_key": "k" * 20, "reason": "另一理由"})
    return build


def _apply(kind):
    def build(tctx, s) -> Route:
        rid = add_record(tctx, s["housing"])["id"]
        form = {"reason": "原处罚决定已被复议撤销"}
        if kind == "repair":
            form["requested_repair_on"] = "2026-05-01"
        refuse = {"reason too short": {"reason": "不对"}}
        if kind == "repair":
            refuse |= {"repair too early": {"requested_repair_on": "2026-02-01"},
                       "repair in the future": {"requested_repair_on": "2026-06-02"}}
        return Route(f"/records/{{id}}/apply/{kind}", "enterprise", form, refuse=refuse,
                     required=("reason",), dates=tuple(k for k in form if k.endswith("_on")),
                     wrong=("other_enterprise", "housing", "auditor"), ident=rid,
                     two_steps=False)
    return build


def _application(tctx, s) -> Route:
    rid = add_record(tctx, s["housing"])["id"]
    aid = applications.submit(tctx, authenticate(tctx, s["enterprise"]), rid,
                              {"kind": "objection", "reason": "原处罚决定已被复议撤销"})["id"]
    form = {"action": "accept", "document_no": "绍柯建撤〔2026〕9号", "reason": "经复核同意撤销"}
    return Route("/applications/{id}", "housing", {**form, "form_key": "k" * 20},
                 required=("action", "reason", "document_no"),
                 refuse={"no such action": {"action": "approve"},
                         "reason too short": {"reason": "同意"}},
                 wrong=("transport", "enterprise", "other_enterprise", "auditor"), ident=aid,
                 keyed=True, changed={**form, "form_key": "k" * 20, "action": "reject"})


def _disposal(tctx, s) -> Route:
    register(tctx, tender_body())
    form = {"action": "confirm", "reason": "经调查，两家投标文件由同一人编制",
            "bids": ["1", "2"], "code": "BID-COLLUDE", "decided_on": "2026-05-28",
            "document_no": "柯交执〔2026〕31号", "covered_by": "", "form_key": "k" * 20}
    return Route("/warnings/{id}/disposal", "transport", form,
                 required=("action", "reason", "code", "decided_on", "document_no"),
                 dates=("decided_on",),
                 wrong=("housing", "auditor", "platform", "bidder"), ident=1, keyed=True,
                 changed={**form, "action": "dismiss", "reason": "经核实无关联"},
                 refuse={"a bid the warning does not name": {"bids": ["1", "3"]},
                         "the same bid twice": {"bids": ["1", "1"]},
                         "a code not allowed": {"code": "BID-NOSIGN"},
                         "decided before the opening": {"decided_on": "2026-05-01"},
                         "covered by no such record": {"covered_by": "99", "code": "",
                                                       "decided_on": "", "document_no": ""},
                         "no such action": {"action": "delete"}})


PERF_FORM = {"kind": "final", "completed_on": "2026-05-31", "pm_on_site": "yes",
             "points-QUALITY": "20.00", "note-QUALITY": "主体结构裂缝",
             "points-SAFETY": "5.00", "note-SAFETY": "临边防护缺失", "form_key": "k" * 20}


def _performance_new(tctx, s) -> Route:
    register(tctx, tender_body())
    award(tctx, CODE, award_body())
    return Route("/tenders/{code}/performance/new", "tenderee", dict(PERF_FORM),
                 required=("kind", "completed_on"), dates=("completed_on",),
                 decimals=("points-QUALITY", "points-SAFETY"),
                 wrong=("tenderee2", "transport", "bidder", "platform"), ident=CODE,
                 keyed=True, changed={**PERF_FORM, "points-SAFETY": "4.00"},
                 refuse={"periodic without its date": {"kind": "periodic"},
                         "no such kind": {"kind": "monthly"},
                         "points over the maximum": {"points-SAFETY": "15.01"},
                         "points without a note": {"note-SAFETY": ""},
                         "completed in the future": {"completed_on": "2026-06-02"}})


def _performance_review(tctx, s, app) -> Route:
    register(tctx, tender_body())
    award(tctx, CODE, award_body())
    done = post(sign_in(app, s["tenderee"]), f"/tenders/{CODE}/performance/new",
                {**PERF_FORM, "step": "confirm"})
    assert done.status_code == 302, done.get_data(as_text=True)[:500]
    form = {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01",
            "form_key": "k" * 20}
    return Route("/performance/{id}/review", "transport", form,
                 required=("action", "reviewed_on"), dates=("reviewed_on",),
                 wrong=("housing", "auditor", "tenderee", "bidder"), ident=1, keyed=True,
                 changed={**form, "action": "return", "reason": "评价依据不足，请补充"},
                 refuse={"no such action": {"action": "accept"},
                         "reviewed in the future": {"reviewed_on": "2026-06-02"},
                         "reviewed before the period": {"reviewed_on": "2026-01-01"}})


def _agency_rating(tctx, s) -> Route:
    register(tctx, tender_body())
    award(tctx, CODE, award_body())
    items = list(agencies.agency_definition(tctx).items)
    form = {"rated_on": "2026-05-25", "documents": "27.00", "procedure": "30.00",
            "service": "16.50", "archive": "18.00", "note": "服务规范", "form_key": "k" * 20}
    return Route("/tenders/{code}/agency-rating", "tenderee", form,
                 required=("rated_on", *items), dates=("rated_on",), decimals=tuple(items),
                 wrong=("tenderee2", "agency", "auditor", "transport"), ident=CODE,
                 keyed=True, changed={**form, "documents": "26.00"},
                 refuse={"over the maximum": {"documents": "31.00"},
                         "rated before the award": {"rated_on": "2026-05-01"},
                         "rated in the future": {"rated_on": "2026-06-02"},
                         "a note over 500": {"note": "长" * 501}})


BUILDERS = {
    "record_new": _record_new,
    "revocation": _change("revocation"),
    "repair": _change("repair"),
    "apply_repair": _apply("repair"),
    "apply_objection": _apply("objection"),
    "application": _application,
    "disposal": _disposal,
    "performance_new": _performance_new,
    "performance_review": _performance_review,
    "agency_rating": _agency_rating,
}


# ------------------------------------------------------------------ the forms

def hostile_bodies(r: Route) -> list[tuple[str, list]]:
    """(label, pairs) of bodies a form must refuse or only review, never store."""
    v = pairs_of(r.valid)
    names = [k for k, _ in v]
    cases = []

    def replaced(name, value):
        return [(k, value if k == name else x) for k, x in v]

    for name in dict.fromkeys(names):
        cases += [(f"{name} missing", [(k, x) for k, x in v if k != name]),
                  (f"{name} empty", replaced(name, "")),
                  (f"{name} blank", replaced(name, " \u3000\t ")),
                  (f"{name} 5000 chars", replaced(name, "长" * 5000)),
                  (f"{name} U+0000", replaced(name, "a\x00b")),
                  (f"{name} markup", replaced(name, MARKUP)),
                  (f"{name} surrogate bytes", replaced(name, Raw("%ED%A0%80x"))),
                  (f"{name} invalid UTF-8", replaced(name, Raw("%FF%FEx%C3"))),
                  (f"{name} twice", v + [(name, "另一个值\x00")]),
                  (f"{name} twice, the same value", v + [(k, x) for k, x in v if k == name])]
    for name in r.dates:
        cases += [(f"{name}={d}", replaced(name, d)) for d in ODD_DATES]
    for name in r.decimals:
        cases += [(f"{name}={d}", replaced(name, d)) for d in ODD_DECIMALS]
    cases += [("unknown fields", v + [("evil", "1"), ("_body", "x"), ("id", "5"),
                                      ("status", "accepted"), ("\x00", "\x00")]),
              (f"{names[0]} 100k chars", replaced(names[0], LONG))]
    return cases


def refused_on_confirm(r: Route) -> list[tuple[str, list]]:
    """Bodies the confirm step must refuse (certainly invalid)."""
    v = pairs_of(r.valid)
    out = []
    for name in r.required:
        out += [(f"confirm, {name} missing", [(k, x) for k, x in v if k != name]),
                (f"confirm, {name} blank", [(k, " \u3000" if k == name else x)
                                            for k, x in v]),
                (f"confirm, {name} U+0000", [(k, x + "\x00" if k == name else x)
                                             for k, x in v])]
    for name in r.dates:
        out.append((f"confirm, {name}=2026-02-30",
                    [(k, "2026-02-30" if k == name else x) for k, x in v]))
    for name in r.decimals:
        out += [(f"confirm, {name}={d}", [(k, d if k == name else x) for k, x in v])
                for d in ("NaN", "1e2", "-0.00")]
    return out


def certainly_invalid(r: Route, label: str) -> bool:
    """Whether a hostile body is one no use case may store."""
    name, _, what = label.partition(" ")
    if what in ("missing", "empty", "blank"):
        return name in r.required
    if name == "form_key":  # an odd key is replaced by a fresh one: the body may be stored
        return False
    return what in ("U+0000", "100k chars") or (label.partition("=")[0] in r.dates
                                                and "=" in label)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_hostile_forms_answer_a_page_and_write_nothing(name, app, tctx, secrets_):
    build = BUILDERS[name]
    r = build(tctx, secrets_, app) if name == "performance_review" else build(tctx, secrets_)
    b = sign_in(app, secrets_[r.who])
    problems: list[str] = []
    before = head(tctx)

    def check(label, resp, writes=False):
        nonlocal before
        problems.extend(acceptable(resp, label))
        now = head(tctx)
        if writes:
            if resp.status_code != 302:
                problems.append(f"{label}: a valid form answered {resp.status_code}")
            before = now
        elif now != before:
            problems.append(f"{label}: {resp.status_code} wrote to the audit log")
            before = now

    path = r.at()
    for step in ("review", "confirm") if r.two_steps else ("",):
        for label, pairs in hostile_bodies(r):
            if step != "review" and not certainly_invalid(r, label):
                continue  # a body that may be valid could rightly be stored
            check(f"{step or 'post'}: {label}", post(b, path, pairs + (
                [("step", step)] if step else [])))
    for label, overrides in r.refuse.items():
        for s in ([("step", "review")], [("step", "confirm")]) if r.two_steps else ([],):
            resp = post(b, path, pairs_of({**r.valid, **overrides}) + s)
            check(f"{label} {s}", resp)
            if resp.status_code < 400:
                problems.append(f"{label} {s}: {resp.status_code}, not refused")
    for label, pairs in refused_on_confirm(r):
        check(label, post(b, path, pairs + ([("step", "confirm")] if r.two_steps else [])))
    if r.two_steps:
        for step in ODD_STEPS:
            check(f"step={step!r}", post(b, path, pairs_of(r.valid) + [("step", step)]))
        check("step twice (review first)", post(b, path, pairs_of(r.valid) + [
            ("step", "review"), ("step", "confirm")]))
        check("no step", post(b, path, pairs_of(r.valid)))
    step = [("step", "confirm")] if r.two_steps else []
    def refused(label, resp, statuses):
        check(label, resp)
        if resp.status_code not in statuses:
            problems.append(f"{label}: {resp.status_code}, expected one of {statuses}")

    for csrf in (None, "", "forged", (b.csrf or "") + "x", Raw("%00")):
        refused(f"csrf={csrf!r}", post(b, path, pairs_of(r.valid) + step, csrf=csrf), {400})
    refused("csrf twice, a wrong one first", post(b, path, pairs_of(r.valid) + step + [
        ("csrf_token", "forged"), ("csrf_token", b.csrf)], csrf=None), {400})
    as_json = b.client.post(path, json={**r.valid, "csrf_token": b.csrf, "step": "confirm"})
    refused("a JSON body", as_json, {400})
    multipart = b.client.post(path, data={**r.valid, "csrf_token": b.csrf, "step": "review",
                                          "reason": (io.BytesIO(b"\x00\xff"), "x.bin")},
                              content_type="multipart/form-data")
    check("multipart with a file for a field", multipart)
    for label, raw in (("garbled body", Raw("&&=&%FF%FE=%ZZ&=x&step")),
                       ("10000 fields", Raw("&".join(f"f{i}=1" for i in range(10_000))))):
        first = [] if r.two_steps else [("reason", "")]  # one step: certainly refused
        check(label, post(b, path, first + pairs_of(r.valid) + [("x", raw)] + (
            [("step", "review")] if r.two_steps else [])))
    for who in r.wrong:
        other = sign_in(app, secrets_[who])
        for s in ([("step", "review")], step) if r.two_steps else (step,):
            refused(f"as {who} {s}", post(other, path, pairs_of(r.valid) + s), {403, 404})
    anonymous = Browser(app)
    anonymous.get("/")
    refused("signed out", post(anonymous, path, pairs_of(r.valid) + step), {302})
    if "{" in r.path:
        for odd in ODD_CODES if "{code}" in r.path else HUGE_IDS:
            refused(f"path {odd!r}", post(b, r.at(odd), pairs_of(r.valid) + step),
                    {400, 403, 404})
    assert problems == [], "\n".join(problems)

    # the confirm step without a review stores a valid form once ...
    check("confirm without review", post(b, path, pairs_of(r.valid) + step), writes=True)
    if r.keyed:  # ... and its key replayed with another body stores nothing more
        replay = post(b, path, pairs_of(r.changed) + step)
        check("key replayed with another body", replay)
        if replay.status_code < 400:
            problems.append(f"key replayed: {replay.status_code}, not refused")
        again = post(b, path, pairs_of(r.valid) + step)  # the same body: the same answer
        check("key replayed with the same body", again)
        if again.status_code != 302:
            problems.append(f"double submit answered {again.status_code}")
    # the same form again from another tab (another key): refused, saying why
    other = post(b, path, [(k, "k" * 16 + "other" if k == "form_key" else x)
                           for k, x in pairs_of(r.valid)] + step)
    check("submitted again from another tab", other)
    if other.status_code < 400:
        problems.append(f"submitted again from another tab: {other.status_code}")
    assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------ sign-in, sign-out, verify

def test_sign_in_and_sign_out_forms(app, tctx, secrets_):
    problems: list[str] = []
    before = head(tctx)
    good = secrets_["housing"]
    anonymous = Browser(app)
    anonymous.get("/")
    bodies = [("no token", []), ("empty", [("token", "")]), ("blank", [("token", " \u3000")]),
              ("U+0000", [("token", good + "\x00")]), ("NUL only", [("token", "\x00")]),
              ("surrogate bytes", [("token", Raw("%ED%A0%80"))]),
              ("invalid UTF-8", [("token", Raw("%FF%FE"))]),
              ("100k", [("token", LONG)]), ("5000", [("token", "x" * 5000)]),
              ("twice", [("token", "wrong"), ("token", good)]),
              ("next odd", [("token", "wrong"), ("next", Raw("%00"))]),
              ("unknown", [("token", "wrong"), ("role", "admin"), ("tid", "1")])]
    for i, (label, pairs) in enumerate(bodies):  # from addresses of their own (a limit)
        resp = post(anonymous, "/signin", pairs, addr=f"10.0.0.{i + 1}")
        problems += acceptable(resp, f"signin {label}")
        if resp.status_code == 302:
            problems.append(f"signin {label}: signed in")
    for csrf in (None, "", "forged", Raw("%00")):
        resp = post(anonymous, "/signin", [("token", good)], csrf=csrf, addr="10.0.1.1")
        problems += acceptable(resp, f"signin csrf={csrf!r}")
        if resp.status_code != 400:
            problems.append(f"signin csrf={csrf!r}: {resp.status_code}")
    for nxt in ("//evil.example", Raw("%2F%2Fevil"), "/\t/evil", "x" * 3000, Raw("%ED%A0%80")):
        b = Browser(app)
        b.get("/")
        resp = post(b, "/signin", [("token", good), ("next", nxt)], addr="10.0.2.1")
        problems += acceptable(resp, f"signin next={nxt!r}")
    assert head(tctx) == before

    b = sign_in(app, good)
    for csrf in (None, "", "forged", (b.csrf or "") + "x"):
        resp = post(b, "/signout", [("x", "1")], csrf=csrf)
        problems += acceptable(resp, f"signout csrf={csrf!r}")
    assert head(tctx) == before and b.get("/").status_code == 200  # still signed in
    resp = post(b, "/signout", [("evil", "\x00"), ("x", LONG[:1000])])
    problems += acceptable(resp, "signout with odd fields")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("which", ["trace", "audit"])
def test_verify_buttons(which, app, tctx, secrets_):
    auditor = sign_in(app, secrets_["auditor"])
    assert auditor.get(f"/subjects/{S1}").status_code == 200  # serves (and traces) scores
    trace_id = head(tctx)[0]
    path = f"/traces/{trace_id}/verify" if which == "trace" else "/audit/verify"
    problems: list[str] = []
    before = head(tctx)
    bodies = [("empty", []), ("mode odd", [("mode", "x" * 300)]),
              ("mode U+0000", [("mode", "full\x00")]), ("mode twice",
                                                        [("mode", "incremental"),
                                                         ("mode", "full")]),
              ("invalid UTF-8", [("mode", Raw("%FF"))]), ("100k", [("mode", LONG)])]
    for label, pairs in bodies:
        problems += acceptable(post(auditor, path, pairs), f"{which} {label}")
    for csrf in (None, "forged"):
        problems += acceptable(post(auditor, path, [], csrf=csrf), f"{which} csrf={csrf!r}")
    for who in ("housing", "enterprise", "tenderee"):
        resp = post(sign_in(app, secrets_[who]), path, [])
        problems += acceptable(resp, f"{which} as {who}")
        if resp.status_code != 403:
            problems.append(f"{which} as {who}: {resp.status_code}")
    if which == "trace":
        for odd in HUGE_IDS:
            resp = post(auditor, f"/traces/{odd}/verify", [])
            problems += acceptable(resp, f"trace {odd!r}")
    assert head(tctx) == before
    assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------ review, then confirm

ODD_TEXT = "  前后空格\t与𠮷 & <b>\"引号\"</b>'单引号'  "
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
TEXTS = {"record_new": "note", "revocation": "reason", "repair": "reason",
         "application": "reason", "disposal": "reason", "performance_new": "note-QUALITY",
         "performance_review": "reason", "agency_rating": "note"}


@pytest.mark.parametrize("name", list(TEXTS))
def test_the_review_pages_form_confirms_what_was_reviewed(name, app, tctx, secrets_):
    """What the review step accepted, its page's confirm form stores — odd but valid
    text (spaces around it, a tab, a character beyond the BMP, markup and quotes)
    survives the hidden fields (as typed or as the use case keeps it), and the confirm
    step refuses nothing the review step let through."""
    build = BUILDERS[name]
    r = build(tctx, secrets_, app) if name == "performance_review" else build(tctx, secrets_)
    b = sign_in(app, secrets_[r.who])
    before = head(tctx)
    review = post(b, r.at(), {**r.valid, TEXTS[name]: ODD_TEXT, "step": "review"})
    page = review.get_data(as_text=True)
    assert review.status_code == 200 and MARKUP not in page, page[:500]
    assert head(tctx) == before
    form = page[page.rindex("<form"):]
    form = form[:form.index("</form>")]
    assert 'value="confirm"' in form
    hidden = [(k, unescape(v)) for k, v in HIDDEN.findall(form)]
    # as typed, or as the use case keeps it (revocation and repair show what they checked)
    assert {(TEXTS[name], ODD_TEXT), (TEXTS[name], ODD_TEXT.strip())} & set(hidden), hidden
    done = post(b, r.at(), hidden + [("step", "confirm")], csrf=None)
    assert done.status_code == 302, unescape(done.get_data(as_text=True))[:2000]
    assert head(tctx) != before
