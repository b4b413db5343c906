"""The web console through Flask's test client, on every database backend: signing in
(the session holds the token's id, never its secret), CSRF on every form, the role and
sector rules of API.md §2, enterprise isolation, forms that refuse bad input without
writing anything, revoke/repair with a confirmation step, traces and their
verification, evaluations and the audit page."""

from __future__ import annotations

import json
import re
import tempfile
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select

from credit.persistence.tables import AuditEntryRow, RecordEventRow, RecordRow
from credit.services.audit import verify_chain
from credit.services.records import create_record
from credit.services.scoring import create_evaluation
from credit.services.tokens import authenticate, create_token, revoke_token
from tests.integration.helpers import all_entries, tamper

S1 = "91330603MA2D4F6E84"  # the worked example's subject (MODEL.md §10)
S2 = "91110000600037341L"
S3 = "91310000631696382C"
SECRET_KEY = "console-test-secret-key-0123456789"


# ------------------------------------------------------------------ fixtures

@pytest.fixture
def app(ctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def tokens(ctx):
    """secret per role; regulators of housing and transport; two evaluators."""
    specs = {
        "housing": dict(role="regulator", name="柯桥区住房和城乡建设局", sectors=["housing"]),
        "transport": dict(role="regulator", name="柯桥区交通运输局", sectors=["transport"]),
        "evaluator": dict(role="evaluator", name="评标系统"),
        "evaluator2": dict(role="evaluator", name="另一评标系统"),
        "auditor": dict(role="auditor", name="柯桥区审计局"),
        "admin": dict(role="admin", name="系统管理员"),
        "enterprise": dict(role="enterprise", name="浙江柯桥建工集团有限公司", uscc=S1),
    }
    out = {}
    for key, spec in specs.items():
        token_id, secret = create_token(ctx, "test", **spec)
        out[key] = secret
        out[key + "_id"] = token_id
    return out


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def last_form(page: str) -> dict[str, str]:
    """The hidden fields of the page's last form (its key, its step, what a review
    carries to the confirmation), as a browser sends them; the CSRF token is left to
    :class:`Browser`, which posts the session's own."""
    form = page[page.rindex("<form"):]
    form = form[:form.index("</form>")]
    return {k: unescape(v) for k, v in HIDDEN.findall(form) if k != "csrf_token"}


class Browser:
    """A test client that posts the session's CSRF token (read from the signed session
    cookie, as a page's form would carry it) unless told not to."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    @property
    def csrf(self) -> str | None:
        cookie = self.client.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        if cookie is None:
            return None
        return self.app.session_interface.get_signing_serializer(self.app).loads(
            cookie.value).get("csrf")

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf and "csrf_token" not in data:
            data["csrf_token"] = self.csrf
        return self.client.post(path, data=data, **kw)

    def sign_in(self, secret):
        self.get("/")
        resp = self.post("/signin", {"token": secret})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return self


def signed_in(app, secret) -> Browser:
    return Browser(app).sign_in(secret)


def text(resp) -> str:
    return unescape(resp.get_data(as_text=True))


def snapshot(ctx):
    """Head of the log and row counts: unchanged after any refused form."""
    with ctx.uow(write=False) as uow:
        s = uow.session
        return (s.execute(select(func.count()).select_from(AuditEntryRow)).scalar(),
                s.execute(select(func.count()).select_from(RecordRow)).scalar(),
                s.execute(select(func.count()).select_from(RecordEventRow)).scalar())


def served(ctx) -> list[dict]:
    """Every score.served entry, oldest first."""
    from credit.services.audit import list_entries
    return list_entries(ctx, after=0, limit=500, kind="score.served")["items"]


def record_form(**overrides) -> dict:
    form = {"uscc": S1, "subject_name": "浙江柯桥建工集团有限公司", "sector": "housing",
            "code": "BID-NOSIGN", "decided_on": "2026-01-10",
            "document_no": "绍柯建罚〔2026〕1号", "issued_by": "柯桥区住房和城乡建设局",
            "valid_until": "", "project_code": "", "project_name": "", "occurred_on": "",
            "note": ""}
    form.update(overrides)
    return form


def add_record(ctx, secret, **overrides) -> dict:
    body = {k: v for k, v in record_form(**overrides).items() if v}
    return json.loads(create_record(ctx, authenticate(ctx, secret), body).body)


# ------------------------------------------------------------------ signing in

pytestmark = pytest.mark.db


def test_signed_out_root_is_the_sign_in_page_and_pages_redirect_to_it(app, tokens):
    b = Browser(app)
    resp = b.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert 'name="token"' in text(resp) and "登录" in text(resp)
    resp = b.get("/audit?kind=score.served")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/?next=")
    # After signing in the page asked for opens (a local path only).
    resp = b.post("/signin", {"token": tokens["auditor"], "next": "/audit?kind=score.served"})
    assert resp.headers["Location"] == "/audit?kind=score.served"
    b2 = Browser(app)
    b2.get("/")
    resp = b2.post("/signin", {"token": tokens["auditor"], "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"


def test_the_session_cookie_holds_the_token_id_never_the_secret(app, tokens):
    b = signed_in(app, tokens["housing"])
    cookie = b.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and cookie.http_only
    assert cookie.same_site in ("Lax", "lax")
    assert tokens["housing"] not in cookie.value
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert data["tid"] == tokens["housing_id"]
    assert set(data) <= {"tid", "exp", "csrf", "_flashes"}
    assert tokens["housing"] not in json.dumps(data)
    # A cookie whose signature was altered is not accepted. One character inside the
    # signature, not its last: base64's last character carries bits the decoder drops,
    # so rewriting the end kept the signature valid about once in 256 runs.
    i = len(cookie.value) - 5
    altered = cookie.value[:i] + ("A" if cookie.value[i] != "A" else "B") + \
        cookie.value[i + 1:]
    forged = Browser(app)
    forged.client.set_cookie(app.config["SESSION_COOKIE_NAME"], altered)
    assert forged.get("/audit").status_code == 302


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_secure_when_configured(ctx, tokens, secure):
    """CREDIT_SECURE_COOKIES: behind TLS the session cookie carries ``Secure`` (sent over
    HTTPS only); off by default, for the plain-HTTP set-up of ``make run``."""
    from api import create_app
    from credit.settings import Settings
    assert Settings.from_env({"CREDIT_SECURE_COOKIES": "true" if secure else ""}
                             ).secure_cookies is secure
    ctx.settings = ctx.settings.with_(secure_cookies=secure)
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    b = Browser(app)
    # over https: the test client, like a browser, sends a Secure cookie only there
    page = b.get("/", base_url="https://localhost")
    signin = b.post("/signin", {"token": tokens["auditor"]}, base_url="https://localhost")
    assert signin.status_code == 302, text(signin)
    cookies = [h for r in (page, signin) for h in r.headers.getlist("Set-Cookie")
               if h.startswith(app.config["SESSION_COOKIE_NAME"] + "=")]
    assert cookies and all(("; Secure" in h) is secure for h in cookies), cookies
    assert all("HttpOnly" in h for h in cookies)


def test_a_wrong_token_is_refused_and_signs_nobody_in(app, tokens):
    b = Browser(app)
    b.get("/")
    resp = b.post("/signin", {"token": "kqc_not-a-token"})
    assert resp.status_code == 401 and "令牌无效" in text(resp)
    assert b.get("/audit").status_code == 302


def test_sign_out_ends_the_session(app, tokens):
    b = signed_in(app, tokens["auditor"])
    assert b.get("/audit").status_code == 200
    assert b.post("/signout").status_code == 302
    assert b.get("/audit").status_code == 302


def test_a_signed_out_session_cookie_replayed_is_refused(ctx, app, tokens):
    """Issue 9 item 4: sign-out ends the session on the server, not only in the browser
    that signed out; other sessions of the same token stay signed in."""
    name = app.config["SESSION_COOKIE_NAME"]
    b = signed_in(app, tokens["housing"])
    colleague = signed_in(app, tokens["housing"])
    old = b.client.get_cookie(name).value
    assert b.get("/records/new").status_code == 200
    assert b.post("/signout").status_code == 302

    def thief() -> Browser:  # a client replaying the old cookie
        replay = Browser(app)
        replay.client.set_cookie(name, old)
        return replay

    resp = thief().get("/records/new")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/?next=")
    before = snapshot(ctx)
    resp = thief().post("/records/new", record_form())  # the old cookie's own CSRF value
    assert resp.status_code == 302 and snapshot(ctx) == before
    assert colleague.get("/records/new").status_code == 200
    # The sign-out is logged, and the row that ends the session is verified like any row.
    with ctx.uow(write=False) as uow:
        ended = [e for e in uow.audit_queries.page(after=0, limit=500)
                 if e["kind"] == "session.ended"]
    assert [(e["actor"], e["payload"]["token_id"]) for e in ended] == [
        ("柯桥区住房和城乡建设局", tokens["housing_id"])]
    assert verify_chain(ctx)["ok"] is True
    tamper(ctx, "ended_sessions", "DELETE FROM ended_sessions")
    assert verify_chain(ctx)["first_bad"] == {
        "position": ended[0]["position"], "problem": "row_missing", "table": "ended_sessions",
        "id": ended[0]["payload"]["session_sha256"]}
    assert thief().get("/records/new").status_code == 200  # why the row must be verified


def test_a_revoked_token_ends_its_sessions_at_the_next_request(ctx, app, tokens):
    b = signed_in(app, tokens["auditor"])
    assert b.get("/audit").status_code == 200
    revoke_token(ctx, "test", tokens["auditor_id"])
    resp = b.get("/audit")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/?next=")


def test_without_a_secret_key_the_console_answers_503_html(ctx):
    from api import create_app
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": None})
    resp = app.test_client().get("/")
    assert resp.status_code == 503 and resp.mimetype == "text/html"
    assert "CREDIT_SECRET_KEY" in text(resp)


# ------------------------------------------------------------------ CSRF

def test_every_post_without_the_session_csrf_token_is_refused_and_writes_nothing(
        ctx, app, tokens):
    anonymous = Browser(app)
    anonymous.get("/")
    resp = anonymous.post("/signin", {"token": tokens["housing"]}, csrf=False)
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "CSRF" in text(resp)
    assert anonymous.get("/audit").status_code == 302  # not signed in

    b = signed_in(app, tokens["housing"])
    before = snapshot(ctx)
    for token in (None, "forged", b.csrf + "x"):
        data = record_form()
        if token is not None:
            data["csrf_token"] = token
        resp = b.post("/records/new", data, csrf=False)
        assert resp.status_code == 400, token
        assert "CSRF" in text(resp)
    record = add_record(ctx, tokens["housing"])
    before = snapshot(ctx)
    for path, data in ((f"/records/{record['id']}/revocation",
                        {"step": "confirm", "document_no": "X", "reason": "Y"}),
                       (f"/records/{record['id']}/repair",
                        {"step": "confirm", "repaired_on": "2026-05-01", "document_no": "X",
                         "reason": "Y"}),
                       ("/signout", {})):
        assert b.post(path, data, csrf=False).status_code == 400, path
    assert snapshot(ctx) == before
    assert b.get("/").status_code == 200  # still signed in: sign-out needed its token

    # Another session's token does not work either.
    other = signed_in(app, tokens["housing"])
    resp = b.post("/records/new", {**record_form(document_no="另号"), "csrf_token": other.csrf},
                  csrf=False)
    assert resp.status_code == 400 and snapshot(ctx) == before


def test_every_post_form_on_every_page_carries_the_csrf_token(ctx, app, tokens):
    record = add_record(ctx, tokens["housing"])
    pages = {
        "housing": ["/", "/records/new", f"/records/{record['id']}",
                    f"/records/{record['id']}/revocation", f"/records/{record['id']}/repair",
                    f"/subjects/{S1}"],
        "auditor": ["/audit", f"/subjects/{S1}"],
        "enterprise": [f"/records/{record['id']}/apply/objection",
                       f"/records/{record['id']}/apply/repair"],
    }
    for who, paths in pages.items():
        b = signed_in(app, tokens[who])
        for path in paths:
            html = b.get(path).get_data(as_text=True)
            forms = re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S)
            assert forms, path
            for form in forms:
                if re.search(r'method="post"', form):
                    assert f'name="csrf_token" value="{b.csrf}"' in form, (path, form[:200])
    trace_id = served(ctx)[-1]["position"]
    b = signed_in(app, tokens["auditor"])
    html = b.get(f"/traces/{trace_id}").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/traces/\d+/verify(#verification)?"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token"', html)


# ------------------------------------------------------------------ roles and sectors

@pytest.mark.parametrize("who,path,status", [
    ("enterprise", f"/subjects/{S1}", 200),
    ("enterprise", f"/subjects/{S1}/inquiries", 200),
    ("enterprise", f"/subjects/{S2}", 403),
    ("enterprise", f"/subjects/{S2}/inquiries", 403),
    ("enterprise", "/audit", 403),
    ("enterprise", "/records/new", 403),
    ("enterprise", "/evaluations", 403),
    ("evaluator", "/records/new", 403),
    ("evaluator", f"/subjects/{S1}/inquiries", 403),
    ("evaluator", "/audit", 403),
    ("evaluator", f"/subjects/{S2}", 200),
    ("housing", "/audit", 403),
    ("housing", "/evaluations", 403),
    ("housing", f"/subjects/{S1}/inquiries", 403),
    ("housing", "/records/new", 200),
    ("auditor", "/records/new", 403),
    ("auditor", "/audit", 200),
    ("auditor", f"/subjects/{S1}/inquiries", 200),
    ("admin", "/audit", 200),
    ("admin", "/records/new", 403),
    # issue 13: the report, applications and the model
    ("enterprise", f"/subjects/{S1}/report", 200),
    ("enterprise", f"/subjects/{S2}/report", 403),
    ("evaluator", f"/subjects/{S1}/report", 403),
    ("housing", f"/subjects/{S1}/report", 403),
    ("auditor", f"/subjects/{S1}/report", 200),
    ("enterprise", "/applications", 200),
    ("housing", "/applications", 200),
    ("auditor", "/applications", 200),
    ("evaluator", "/applications", 403),
    ("evaluator", "/model", 200),
    ("enterprise", "/model", 200),
])
def test_pages_follow_the_roles_of_the_api(app, tokens, who, path, status):
    resp = signed_in(app, tokens[who]).get(path)
    assert resp.status_code == status, text(resp)[:500]
    assert resp.mimetype == "text/html"
    if status == 403:
        assert "无权访问" in text(resp)


def test_an_enterprise_sees_only_its_own_file_and_who_pulled_its_score(ctx, app, tokens):
    mine = add_record(ctx, tokens["housing"])
    other = add_record(ctx, tokens["housing"], uscc=S2, subject_name="别家公司",
                       document_no="绍柯建罚〔2026〕2号")
    # An evaluator pulls S1's score first: the enterprise sees who did.
    signed_in(app, tokens["evaluator"]).get(f"/subjects/{S1}")
    b = signed_in(app, tokens["enterprise"])
    assert b.get("/").headers["Location"] == f"/subjects/{S1}"
    assert b.get(f"/subjects/{S1}").status_code == 200
    assert b.get(f"/records/{mine['id']}").status_code == 200
    assert b.get(f"/records/{other['id']}").status_code == 403
    page = text(b.get(f"/subjects/{S1}/inquiries"))
    assert "评标系统" in page
    # It may open the traces it caused, not the evaluator's.
    evaluator_trace = [e for e in served(ctx) if e["actor"] == "评标系统"][0]["position"]
    assert b.get(f"/traces/{evaluator_trace}").status_code == 403
    own_trace = [e for e in served(ctx) if e["actor"] == "浙江柯桥建工集团有限公司"][0]
    assert b.get(f"/traces/{own_trace['position']}").status_code == 200
    assert b.post(f"/traces/{own_trace['position']}/verify").status_code == 403
    assert b.get("/audit/entries/1").status_code == 403
    assert b.get("/evaluations/1").status_code == 403


def test_a_regulator_is_offered_only_its_own_sectors(ctx, app, tokens):
    housing_record = add_record(ctx, tokens["housing"])
    b = signed_in(app, tokens["transport"])
    form = text(b.get("/records/new"))
    options = re.findall(r'<select id="sector" name="sector">(.*?)</select>', form, re.S)[0]
    assert re.findall(r'value="(\w+)"', options) == ["transport"]
    page = text(b.get(f"/records/{housing_record['id']}"))
    assert "revoke-link" not in page and "repair-link" not in page
    for which in ("revocation", "repair"):
        resp = b.get(f"/records/{housing_record['id']}/{which}")
        assert resp.status_code == 403 and "其他行业" in text(resp)
    before = snapshot(ctx)
    resp = b.post(f"/records/{housing_record['id']}/revocation",
                  {"step": "confirm", "document_no": "X", "reason": "Y"})
    assert resp.status_code == 403 and snapshot(ctx) == before
    # A tampered sector field is refused by the use case, inline, writing nothing.
    resp = b.post("/records/new", record_form(document_no="绍柯交罚〔2026〕9号"))
    assert resp.status_code == 403
    assert "本账号无权录入或变更该行业的记录" in text(resp)
    assert snapshot(ctx) == before
    # The housing regulator gets the revoke and repair links.
    page = text(signed_in(app, tokens["housing"]).get(f"/records/{housing_record['id']}"))
    assert "revoke-link" in page and "repair-link" in page


ISSUED_BY = re.compile(r'<input id="issued_by" name="issued_by" type="text" value="([^"]*)"')


def test_the_new_record_form_offers_only_an_issued_by_it_can_save(ctx, app, tokens,
                                                                    monkeypatch):
    """The form fills in the regulator's own name as the deciding authority, except for a
    token named longer than an ``issued_by`` may be (created before ``token create``
    refused such names): its form starts empty instead of with a value its save would
    refuse on that field."""
    page = text(signed_in(app, tokens["housing"]).get("/records/new"))
    assert ISSUED_BY.findall(page) == ["柯桥区住房和城乡建设局"]
    monkeypatch.setattr("credit.services.tokens._check_regulator_name", lambda name: None)
    long_name = "柯桥区住房和城乡建设局" + "局" * 90
    _, secret = create_token(ctx, "test", role="regulator", name=long_name,
                             sectors=["housing"])
    b = signed_in(app, secret)
    assert ISSUED_BY.findall(text(b.get("/records/new"))) == [""]
    # What it types is what it saves: the record names the authority, not the token.
    resp = b.post("/records/new", {**record_form(), "step": "review"})
    assert resp.status_code == 200 and "柯桥区住房和城乡建设局" in text(resp)


# ------------------------------------------------------------------ forms

def test_a_bad_form_shows_each_error_inline_and_writes_nothing(ctx, app, tokens):
    b = signed_in(app, tokens["housing"])
    b.get("/records/new")
    before = snapshot(ctx)
    resp = b.post("/records/new", record_form(
        uscc=S1[:17] + "0", subject_name="  ", decided_on="2026-06-02",
        valid_until="2026-12-31", document_no="", note="x" * 2001))
    page = text(resp)
    assert resp.status_code == 400
    assert snapshot(ctx) == before
    errors = dict(re.findall(r'<p class="error" id="err-(\w+)">(.*?)</p>', page))
    assert "校验码" in errors["uscc"] and "“4”" in errors["uscc"]
    assert errors["subject_name"] == "此项必填。"
    assert "晚于今天" in errors["decided_on"] and "2026-06-01" in errors["decided_on"]
    assert errors["document_no"] == "此项必填。"
    assert "最多 2000 个字" in errors["note"]
    assert 'id="form-errors"' in page
    # What was typed is kept, so the clerk corrects rather than retypes.
    assert 'value="2026-06-02"' in page and f'value="{S1[:17]}0"' in page


def test_validity_rules_come_from_the_same_use_case(ctx, app, tokens):
    b = signed_in(app, tokens["housing"])
    b.get("/records/new")
    before = snapshot(ctx)
    page = text(b.post("/records/new", record_form(code="BID-NOSIGN", valid_until="2026-12-31")))
    assert "请勿填写有效期截止日" in page
    page = text(b.post("/records/new", record_form(code="BID-BAN")))
    assert "请填写有效期截止日" in page
    page = text(b.post("/records/new", record_form(code="BID-BAN", valid_until="2030-01-01")))
    assert "有效期截止日须在 2026-01-10 至 2029-01-09 之间" in page
    page = text(b.post("/records/new", record_form(code="NO-SUCH-CODE")))
    assert "目录中没有行为代码“NO-SUCH-CODE”" in page
    assert snapshot(ctx) == before


def test_a_good_form_creates_the_record_once_even_when_submitted_twice(ctx, app, tokens):
    b = signed_in(app, tokens["housing"])
    page = text(b.get(f"/records/new?uscc={S1}&subject_name=浙江柯桥建工集团有限公司"))
    key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    assert f'value="{S1}"' in page
    form = record_form(uscc=S1.lower() + " ", form_key=key, project_code="KQ-P1")
    # the review step shows everything and writes nothing (issue 13, defect 3)
    review = b.post("/records/new", form)
    assert review.status_code == 200 and "确认录入" in text(review)
    assert snapshot(ctx)[1] == 0
    form["step"] = "confirm"
    first = b.post("/records/new", form)
    assert first.status_code == 302 and re.fullmatch(r"/records/\d+", first.headers["Location"])
    again = b.post("/records/new", form)  # a double click, or "resend" after a timeout
    assert again.headers["Location"] == first.headers["Location"]
    assert snapshot(ctx)[1] == 1
    page = text(b.get(first.headers["Location"]))
    assert "已录入记录" in page and S1 in page and "BID-NOSIGN" in page
    # The same document again with a fresh form: the duplicate rule, inline, at review.
    form["form_key"] = "a-fresh-form-key-0123456789"
    for step in ("review", "confirm"):
        resp = b.post("/records/new", {**form, "step": step})
        assert resp.status_code == 409 and "未重复录入" in text(resp)


def test_revocation_needs_a_confirmation_step(ctx, app, tokens):
    record = add_record(ctx, tokens["housing"])
    b = signed_in(app, tokens["housing"])
    path = f"/records/{record['id']}/revocation"
    assert "撤销决定文号" in text(b.get(path))
    before = snapshot(ctx)
    empty = b.post(path, {"step": "review", "document_no": "", "reason": ""})
    assert empty.status_code == 400 and "此项必填" in text(empty)
    review = b.post(path, {"step": "review", "document_no": "绍柯建撤〔2026〕1号",
                           "reason": "行政复议撤销"})
    assert review.status_code == 200 and "确认撤销" in text(review)
    assert snapshot(ctx) == before  # the review step writes nothing
    back = b.post(path, {"step": "edit", "document_no": "绍柯建撤〔2026〕1号",
                         "reason": "行政复议撤销"})
    assert 'value="绍柯建撤〔2026〕1号"' in text(back)
    done = b.post(path, {"step": "confirm", "document_no": "绍柯建撤〔2026〕1号",
                         "reason": "行政复议撤销"})
    assert done.status_code == 302
    page = text(b.get(done.headers["Location"]))
    assert "已撤销该记录" in page and 'id="record-status">已撤销' in page
    again = b.post(path, {"step": "confirm", "document_no": "绍柯建撤〔2026〕2号",
                          "reason": "重复"})
    assert again.status_code == 409 and "已被撤销" in text(again)


def test_repair_refusals_name_the_allowed_dates_and_write_nothing(ctx, app, tokens):
    record = add_record(ctx, tokens["housing"], decided_on="2026-01-10")  # repair ≥ 3 m
    b = signed_in(app, tokens["housing"])
    path = f"/records/{record['id']}/repair"
    page = text(b.get(path))
    assert "2026-04-10" in page and "2027-01-09" in page  # the window MODEL.md §2 allows
    before = snapshot(ctx)
    data = {"repaired_on": "2026-03-01", "document_no": "绍柯建修〔2026〕1号",
            "reason": "已整改"}
    # the review step refuses what the final step refuses (issue 13, defect 2) ...
    for step in ("review", "confirm"):
        early = b.post(path, {"step": step, **data})
        assert early.status_code == 422 and "最早可于 2026-04-10 修复" in text(early)
        assert "确认信用修复" not in text(early)
        future = b.post(path, {"step": step, **data, "repaired_on": "2026-06-02"})
        assert future.status_code == 400 and "晚于今天" in text(future)
    late = b.post(path, {"step": "review", **data, "repaired_on": "2027-02-01"})
    assert late.status_code == 400  # after today, which comes first
    assert snapshot(ctx) == before
    review = text(b.post(path, {"step": "review", **data, "repaired_on": "2026-05-01"}))
    assert "计至 <strong>2026-04-30</strong>" in review
    done = b.post(path, {"step": "confirm", **data, "repaired_on": "2026-05-01"})
    assert done.status_code == 302
    assert "已信用修复" in text(b.get(done.headers["Location"]))


# ------------------------------------------------------------------ enterprise page

def test_the_enterprise_page_serves_one_traced_score_per_sector_and_a_computed_chart(
        ctx, app, tokens):
    add_record(ctx, tokens["housing"])  # BID-NOSIGN −8 in housing, decided 2026-01-10
    before = len(served(ctx))
    b = signed_in(app, tokens["enterprise"])
    page = text(b.get(f"/subjects/{S1}"))
    new = served(ctx)[before:]
    assert [e["payload"]["sector"] for e in new] == ["housing", "transport", "water"]
    assert {e["actor"] for e in new} == {"浙江柯桥建工集团有限公司"}  # the signed-in token
    assert 'id="score-housing" data-score="92.00" data-grade="C"' in page
    assert 'id="score-transport" data-score="100.00" data-grade="B"' in page
    for e in new:
        assert f'href="/traces/{e["position"]}"' in page
    # The record's last counting day, and the chart: drawn on the server, no script.
    assert "计至 <strong>2027-01-09</strong>" in page
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", page, re.S).group(0)
    assert svg.count("<path class=\"line") == 3 and "<script" not in svg
    # The chart's table: 100 before the decision, 92 from it, back to 100 on expiry.
    table = re.search(r'<table class="list small" id="timeline-table">.*?</table>', page,
                      re.S).group(0)
    assert re.search(r"2026-01-10</td>\s*<td>92.00 C", table)
    assert re.search(r"2027-01-10（推算）</td>\s*<td>100.00 B", table)
    # Computing the timeline logged nothing beyond the three headline scores.
    assert len(served(ctx)) == before + 3
    # HEAD would serve (and log) them too: refused, as on the API's score route.
    assert b.client.head(f"/subjects/{S1}").status_code == 405
    assert len(served(ctx)) == before + 3


def test_the_timeline_equals_the_engine_on_every_day_it_shows(ctx, clock):
    """The timeline evaluates only at change points and carries values forward; on the
    demo data (pair rule, blacklist, bans, superseded awards, a repair, a revocation) each
    shown point must equal a direct evaluation of that day."""
    from credit.domain.engine import evaluate
    from credit.domain.money import fmt
    from credit.domain.records import Knowledge
    from credit.services.console import score_timeline
    from credit.services.demo import ENTERPRISES, load_demo
    load_demo(ctx, Path(tempfile.mkdtemp()) / "tokens.txt")
    model = ctx.models.active
    for uscc in ENTERPRISES:
        timeline = score_timeline(ctx, uscc)
        with ctx.uow(write=False) as uow:
            records, events = uow.records.history(uscc, timeline["knowledge_position"])
        knowledge = Knowledge(timeline["knowledge_position"], clock())
        for sector, points in timeline["series"].items():
            assert len(points) >= 49
            for p in points:
                r = evaluate(model, uscc, records, events, sector, p.on, knowledge)
                assert (p.score, p.grade, p.eligible_to_bid) == \
                    (fmt(r.score), r.grade, r.eligible_to_bid), (uscc, sector, p.on)


def test_an_unregistered_enterprise_scores_100_like_the_api(ctx, app, tokens):
    page = text(signed_in(app, tokens["evaluator"]).get(f"/subjects/{S3.lower()}"))
    assert "（未登记企业）" in page and 'data-score="100.00"' in page
    assert "没有信用记录" in page


def test_a_usccs_search_and_a_bad_path_code(ctx, app, tokens):
    add_record(ctx, tokens["housing"])
    b = signed_in(app, tokens["housing"])
    assert "浙江柯桥建工集团有限公司" in text(b.get("/?q=柯桥建工"))
    assert b.get(f"/?q={S1.lower()}").headers["Location"] == f"/subjects/{S1}"
    resp = b.get("/subjects/NOT-A-USCC")
    assert resp.status_code == 400 and resp.mimetype == "text/html"


# ------------------------------------------------------------------ traces, audit, evaluations

def test_a_trace_page_shows_inputs_steps_result_and_verifies(ctx, app, tokens):
    add_record(ctx, tokens["housing"])
    signed_in(app, tokens["auditor"]).get(f"/subjects/{S1}")
    trace = served(ctx)[-3]  # housing
    b = signed_in(app, tokens["auditor"])
    page = text(b.get(f"/traces/{trace['position']}"))
    assert trace["sha256"] in page and trace["prev_sha256"] in page
    assert f'href="/audit/entries/{trace["position"] - 1}"' in page
    assert "BID-NOSIGN" in page and "-8.00 × 系数 1.00 = <strong>-8.00</strong>" in page
    assert 'id="verification"' not in page
    canonical = re.search(r'<pre class="canonical" id="canonical">(.*?)</pre>', page, re.S)
    import hashlib
    assert hashlib.sha256(canonical.group(1).encode("utf-8")).hexdigest() == trace["sha256"]
    before = snapshot(ctx)
    page = text(b.post(f"/traces/{trace['position']}/verify"))
    assert snapshot(ctx) == before  # verification appends nothing
    assert "验证通过" in page and "哈希：一致 ✓" in page and "重放评分：结果相同 ✓" in page
    prev = b.get(f"/audit/entries/{trace['position'] - 1}")
    assert prev.status_code in (200, 302)
    assert b.get("/traces/1").status_code == 404  # a token.created entry is not a trace


def test_the_audit_page_verifies_the_chain_and_filters_entries(ctx, app, tokens):
    add_record(ctx, tokens["housing"])
    add_record(ctx, tokens["housing"], uscc=S2, subject_name="别家公司",
               document_no="绍柯建罚〔2026〕2号")
    b = signed_in(app, tokens["auditor"])
    b.get(f"/subjects/{S2}")
    page = text(b.post("/audit/verify", {"mode": "full"}))
    assert "哈希链完整 ✓" in page
    rows = lambda html: re.findall(r'<tr class="entry kind-([\w-]+)"', html)  # noqa: E731
    kinds = rows(text(b.get("/audit?kind=record.created")))
    assert kinds == ["record-created", "record-created"]
    only_s2 = text(b.get(f"/audit?uscc={S2}"))
    assert set(rows(only_s2)) == {"record-created", "score-served"} and S1 not in only_s2
    by_actor = text(b.get("/audit?actor=柯桥区审计局&kind=score.served"))
    assert rows(by_actor) == ["score-served"] * 3
    bad = text(b.get("/audit?uscc=12345"))
    assert "统一社会信用代码无效" in bad


def test_the_page_shows_the_last_verification_and_verifies_on_request_only(
        ctx, app, tokens):
    """Issue 10: a view re-verifies nothing; it shows the newest stored verification
    (its result and time); the buttons run a full or an incremental one."""
    b = signed_in(app, tokens["auditor"])
    page = text(b.get("/audit"))
    assert "哈希链完整" not in page and "尚无可显示的验证结果" in page
    before = snapshot(ctx)
    page = text(b.post("/audit/verify", {"mode": "full"}))
    assert "哈希链完整 ✓" in page and "刚刚验证" in page and "完整验证" in page
    assert snapshot(ctx) == before  # nothing appended to the chain
    add_record(ctx, tokens["housing"])
    page = text(b.get("/audit"))  # shown, not redone: still the run before the record
    assert "上次验证" in page and "完整验证" in page
    page = text(b.post("/audit/verify", {"mode": "incremental"}))
    assert "增量验证" in page and f"验证到条目 #{snapshot(ctx)[0]}" in page
    assert b.post("/audit/verify", {"csrf_token": "nope"}, csrf=False).status_code == 400
    assert signed_in(app, tokens["housing"]).post("/audit/verify").status_code == 403


def test_the_evaluation_page_ranks_bidders_and_links_their_traces(ctx, app, tokens):
    add_record(ctx, tokens["housing"])  # S1: 92.00
    add_record(ctx, tokens["housing"], uscc=S2, subject_name="乙公司", code="BID-BAN",
               valid_until="2026-12-31", document_no="绍柯建罚〔2026〕3号")
    evaluator = authenticate(ctx, tokens["evaluator"])
    doc = json.loads(create_evaluation(ctx, evaluator, {
        "tender": {"code": "KQ-2026-0099", "name": "测试工程"}, "sector": "housing",
        "as_of": "2026-06-01",
        "bidders": [{"uscc": S1}, {"uscc": S2}, {"uscc": S3}]}).body)
    b = signed_in(app, tokens["evaluator"])
    assert f'href="/evaluations/{doc["id"]}"' in text(b.get("/evaluations"))
    page = text(b.get(f"/evaluations/{doc['id']}"))
    ranks = re.findall(r'<tr class="bidder( banned)?" data-rank="(\d*)">.*?<span class="mono '
                       r'small muted">(\w+)</span>', page, re.S)
    assert [(r[1], r[2]) for r in ranks] == [("1", S3), ("2", S1), ("", S2)]
    for result in doc["results"]:
        for member in result["members"]:
            assert f'href="/traces/{member["trace_id"]}"' in page
    assert "data-print" in page
    assert signed_in(app, tokens["evaluator2"]).get(f"/evaluations/{doc['id']}").status_code \
        == 403
    assert signed_in(app, tokens["auditor"]).get(f"/evaluations/{doc['id']}").status_code == 200
    assert f'/evaluations/{doc["id"]}' not in text(
        signed_in(app, tokens["evaluator2"]).get("/evaluations"))
    assert b.get(f"/evaluations/open?id=%23{doc['id']}").headers["Location"] == \
        f"/evaluations/{doc['id']}"
    assert b.get("/evaluations/open?id=abc").status_code == 404


# ------------------------------------------------------------------ errors

def test_console_errors_are_html_and_api_errors_stay_json(app, tokens):
    b = signed_in(app, tokens["auditor"])
    for path, status in (("/no-such-page", 404), ("/records/abc", 404),
                         ("/records/99999", 404), ("/traces/0", 404)):
        resp = b.get(path)
        assert resp.status_code == status and resp.mimetype == "text/html", path
        assert "页面或资源不存在" in text(resp)
    resp = b.client.put("/audit")
    assert resp.status_code == 405 and resp.mimetype == "text/html"
    assert "GET" in resp.headers["Allow"]
    resp = b.client.get("/api/v1/no-such-route")
    assert resp.status_code == 404 and resp.is_json and resp.json["error"] == "not_found"
    resp = b.client.get("/api/v1/audit/verify")  # a console session is not an API token
    assert resp.status_code == 401 and resp.is_json
    # The console stays out of the OpenAPI document.
    paths = b.client.get("/api/v1/openapi.json").json["paths"]
    assert paths and all(p.startswith("/api/v1/") for p in paths)


def test_an_unexpected_error_on_a_page_is_a_chinese_html_page(app, tokens, monkeypatch):
    """A bug of ours behind a console page answers the console's error page (HTML,
    Chinese, with the protective headers), not the API's English JSON body."""
    from credit.services import console as console_service

    def broken(*args, **kw):
        raise RuntimeError("a bug")

    monkeypatch.setattr(console_service, "find_subjects", broken)
    resp = signed_in(app, tokens["housing"]).get("/?q=abc")
    assert resp.status_code == 500 and resp.mimetype == "text/html", resp.get_data()[:200]
    assert "a bug" not in text(resp) and "服务器内部错误" in text(resp)
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


def test_an_oversized_form_is_refused_before_it_is_read(ctx, app, tokens):
    b = signed_in(app, tokens["housing"])
    before = snapshot(ctx)
    resp = b.post("/records/new", record_form(note="x" * 100_000))
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    assert snapshot(ctx) == before


def test_an_oversized_chunked_form_is_refused_too(ctx, app, tokens):
    """A body sent chunked has no Content-Length (gunicorn then sets
    ``wsgi.input_terminated``): the 64 KiB limit must hold for it as well, not only
    for a declared length — before, the whole body was read and parsed, by anyone,
    signed in or not (the sign-in form reads the CSRF field first)."""
    import io
    b = signed_in(app, tokens["housing"])

    def chunked(path, form):
        body = "&".join(f"{k}={v}" for k, v in {**form, "csrf_token": b.csrf}.items())
        return b.client.post(path, input_stream=io.BytesIO(body.encode()),
                             content_type="application/x-www-form-urlencoded",
                             headers={"Transfer-Encoding": "chunked"},
                             environ_overrides={"wsgi.input_terminated": True})

    before = snapshot(ctx)
    for path, form in (("/signin", {"token": "x" * 2_000_000}),
                       ("/records/new", {**record_form(note="x" * 100_000), "step": "review"})):
        resp = chunked(path, form)
        assert resp.status_code == 413 and resp.mimetype == "text/html", (path, resp.status)
    assert snapshot(ctx) == before
    # A chunked form within the limit is read whole, not cut short.
    resp = chunked("/records/new", {**record_form(note="x" * 1900 + "END"), "step": "review"})
    assert resp.status_code == 200 and "x" * 1900 + "END" in text(resp)


def test_console_pages_send_protective_headers(app, tokens):
    resp = signed_in(app, tokens["auditor"]).get("/audit")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Frame-Options"] == "DENY"
    html = text(resp)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") \
        and "https://" not in html


# ------------------------------------------------------------------ issue 13

def test_the_public_list_needs_no_sign_in_and_logs_nothing(ctx, app, tokens):
    add_record(ctx, tokens["housing"], code="SUB-TRANSFER", document_no="绍柯建罚〔2026〕5号")
    add_record(ctx, tokens["housing"], uscc=S2, subject_name="别家公司",
               document_no="绍柯建罚〔2026〕6号")
    before = snapshot(ctx)
    page = text(Browser(app).get("/public"))
    assert "浙江柯桥建工集团有限公司" in page and "转包" in page and "绍柯建罚〔2026〕5号" in page
    assert "2026-01-10 至 2029-01-09" in page and "别家公司" not in page
    assert snapshot(ctx) == before
    assert "别家公司" not in text(Browser(app).get("/public?sector=transport"))
    assert "浙江柯桥建工集团有限公司" not in text(Browser(app).get("/public?sector=water"))
    bad = text(Browser(app).get("/public?as_of=2026-02-30&sector=roads"))
    assert "日期格式应为" in bad and "行业无效" in bad


def test_an_objection_through_the_console_and_its_decision(ctx, app, tokens):
    record = add_record(ctx, tokens["housing"])
    other = add_record(ctx, tokens["housing"], uscc=S2, subject_name="别家公司",
                       document_no="绍柯建罚〔2026〕2号")
    ent = signed_in(app, tokens["enterprise"])
    page = text(ent.get(f"/subjects/{S1}"))
    assert f'/records/{record["id"]}/apply/objection' in page
    assert f'/records/{record["id"]}/apply/repair' in page  # its window opened 2026-04-10
    assert ent.get(f"/records/{other['id']}/apply/objection").status_code == 403
    before = snapshot(ctx)
    short = ent.post(f"/records/{record['id']}/apply/objection", {"reason": "不对"})
    assert short.status_code == 400 and "至少 4 个字" in text(short)
    assert snapshot(ctx) == before
    done = ent.post(f"/records/{record['id']}/apply/objection",
                    {"reason": "原处罚决定已被复议撤销"})
    assert done.status_code == 302 and done.headers["Location"] == "/applications"
    listing = text(ent.get("/applications"))
    assert "异议申诉" in listing and "待处理" in listing
    again = ent.post(f"/records/{record['id']}/apply/objection", {"reason": "再次提出异议"})
    assert again.status_code == 409 and "待处理的申请" in text(again)
    app_id = int(re.search(r'data-application-id="(\d+)"', listing)[1])

    assert signed_in(app, tokens["transport"]).get(f"/applications/{app_id}").status_code \
        == 403
    reg = signed_in(app, tokens["housing"])
    assert 'id="decision-form"' in text(reg.get(f"/applications/{app_id}"))
    head = snapshot(ctx)
    missing = reg.post(f"/applications/{app_id}", {"step": "review", "action": "accept",
                                                    "reason": "经复核同意撤销"})
    assert missing.status_code == 400 and 'id="err-document_no"' in text(missing)
    review = reg.post(f"/applications/{app_id}", {"step": "review", "action": "accept",
                                                   "document_no": "绍柯建撤〔2026〕9号",
                                                   "reason": "经复核同意撤销"})
    assert review.status_code == 200 and "撤销该记录" in text(review)
    assert snapshot(ctx) == head  # the review step writes nothing
    confirm = reg.post(f"/applications/{app_id}", {"step": "confirm", "action": "accept",
                                                    "document_no": "绍柯建撤〔2026〕9号",
                                                    "reason": "经复核同意撤销"})
    assert confirm.status_code == 302
    assert 'id="application-status">已同意' in text(reg.get(confirm.headers["Location"]))
    assert snapshot(ctx)[2] == head[2] + 1  # the revocation event
    twice = reg.post(f"/applications/{app_id}", {"step": "review", "action": "reject",
                                                  "reason": "重复处理"})
    assert twice.status_code == 409 and "已经处理" in text(twice)
    assert "已同意" in text(ent.get("/applications"))


def test_the_report_serves_three_traced_scores_and_counts_own_lookups_apart(ctx, app, tokens):
    add_record(ctx, tokens["housing"])
    signed_in(app, tokens["evaluator"]).get(f"/subjects/{S1}")  # three inquiries by others
    ent = signed_in(app, tokens["enterprise"])
    before = len(served(ctx))
    page = text(ent.get(f"/subjects/{S1}/report"))
    new = served(ctx)[before:]
    assert [e["payload"]["sector"] for e in new] == ["housing", "transport", "water"]
    for e in new:
        assert f"#{e['position']}" in page and e["sha256"] in page
        assert f"/api/v1/traces/{e['position']}/verify" in page
    assert "C 合格" in re.sub(r"<[^>]+>", "", page)
    assert "实施条例第74条" in page and "2026-01-10 至 2027-01-09" in page
    assert 'id="report-inquiries">3<' in page
    # HEAD would serve (and log) the three scores too: refused (API.md §4).
    assert ent.client.head(f"/subjects/{S1}/report").status_code == 405
    assert len(served(ctx)) == before + 3
    inquiries = text(ent.get(f"/subjects/{S1}/inquiries"))
    assert "本企业自己查看 3 次" in inquiries and "评标系统" in inquiries
    assert inquiries.count("<tr>") == 3 + 1  # header and the evaluator's three


def test_the_model_page_lists_every_code_with_its_basis(app, tokens, ctx):
    page = text(signed_in(app, tokens["evaluator"]).get("/model"))
    for entry in ctx.models.active.catalogue.values():
        assert f'id="code-{entry.code}"' in page and entry.name in page
        if entry.basis:
            assert entry.basis in page
    assert "E 失信（联合惩戒）" in page and "MODEL.md" not in page


def test_console_error_pages_carry_no_english(app, tokens):
    b = signed_in(app, tokens["auditor"])
    for path in ("/records/99999", "/subjects/NOT-A-USCC", "/traces/abc", "/no-such-page"):
        page = re.sub(r"<[^>]+>", " ", text(b.get(path)))
        assert not re.search(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}", page), (path, page[-600:])
    assert "没有编号为 99999 的记录" in text(b.get("/records/99999"))
    wrong = S1[:17] + "0"
    assert "应为“4”" in text(signed_in(app, tokens["housing"]).get(f"/?q={wrong}"))


def test_an_export_entry_says_whether_it_rated_or_compared_models(app):
    """Both batch commands log ``ratings.exported`` (credit/batch/ratings.py); the audit
    summary of a model comparison names the two models and the grades that changed, not
    only "N enterprises, file …" as if it were a ratings export."""
    from flask import render_template_string
    base = {"sector": "housing", "as_of": "2026-06-30", "rows": 1200, "file": "评级.xlsx"}
    compared = {**base, "command": "compare-models", "changed": 37,
                "model": {"id": "keqiao-2025", "version": 1, "sha256": "0" * 64},
                "compared_with": {"id": "keqiao-2025", "version": 2, "sha256": "1" * 64}}
    page = '{% from "console/_entry_summary.html" import summary %}{{ summary(e) }}'
    with app.test_request_context("/audit"):
        rated, comparison = (unescape(render_template_string(page, e={
            "kind": "ratings.exported", "position": 9, "payload": pl}))
            for pl in ({**base, "command": "rate-all"}, compared))
    assert "评级导出" in rated and "1200 家企业" in rated and "模型对比" not in rated
    assert "模型对比" in comparison and "等级变化 37 家" in comparison
    assert "keqiao-2025 v1</span> → <span class=\"mono\">keqiao-2025 v2" in comparison


def test_the_page_says_whether_the_run_it_shows_is_signed(ctx, tokens, tmp_path):
    """With a signing key configured (services/run_seals.py), the page shows only runs
    that key signed (or failures) and says so; without one it says nothing of it."""
    from api import create_app
    from credit import signing
    signing.create_key(tmp_path / "k.pem")
    keyed = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True,
                        "CREDIT_SIGNING_KEY": str(tmp_path / "k.pem")})
    unkeyed = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    page = text(signed_in(unkeyed, tokens["auditor"]).post("/audit/verify", {"mode": "full"}))
    assert "哈希链完整 ✓" in page and 'id="verification-signature"' not in page
    page = text(signed_in(keyed, tokens["auditor"]).get("/audit"))  # stored unsigned
    assert "尚无可显示的验证结果" in page and "哈希链完整" not in page
    page = text(signed_in(keyed, tokens["auditor"]).post("/audit/verify", {"mode": "full"}))
    assert "此结果已用签名密钥签名" in page and "哈希链完整 ✓" in page


def test_the_audit_page_lists_each_entry_of_a_kind_once(ctx, tokens):
    """The console's audit feed reads the chain in windows going back; with a kind it
    listed matching entries above a window again (its limit filled from above), so the
    first page repeated them and the older page (``before``) showed newer ones."""
    from credit.services import console, scoring
    evaluator = authenticate(ctx, tokens["evaluator"])
    for n in range(3):
        add_record(ctx, tokens["housing"], document_no=f"绍柯建罚〔2026〕{n + 70}号")
    for _ in range(60):  # push them below the first window of 50 entries
        scoring.score(ctx, evaluator, scoring.ScoreQuery(S1, "housing"))
    add_record(ctx, tokens["housing"], document_no="绍柯建罚〔2026〕90号")
    created = [e["position"] for e in all_entries(ctx) if e["kind"] == "record.created"]

    page = console.audit_feed(ctx, kind="record.created", limit=50)
    assert [e["position"] for e in page["items"]] == created[::-1]
    older = console.audit_feed(ctx, kind="record.created", limit=50, before=created[-1])
    assert [e["position"] for e in older["items"]] == created[-2::-1]


# ------------------------------------------------------------------ edges (a review of the console)

def _shown(page: str) -> str:
    """The page's words outside its markup, before the stored text of the entry (which
    holds the codes as stored, on purpose)."""
    return re.sub(r"<[^>]+>", " ", page.split('class="canonical"')[0])


def test_a_record_the_model_does_not_count_is_labelled_on_the_trace_page(ctx, app, tokens):
    """An agency's conduct record on an enterprise's file is ``not_in_model`` (API.md
    §6): the page showed the code itself as its status."""
    add_record(ctx, tokens["housing"], code="AGENCY-ARCHIVE")
    auditor = Browser(app).sign_in(tokens["auditor"])
    trace_id = re.search(r"/traces/(\d+)", text(auditor.get(f"/subjects/{S1}")))[1]
    page = _shown(text(auditor.get(f"/traces/{trace_id}")))
    assert "本评分模型不计此类记录" in page and "not_in_model" not in page


def test_the_newest_entry_links_to_no_next_entry(ctx, app, tokens):
    """The link led to a 404 page."""
    add_record(ctx, tokens["housing"])
    with ctx.uow(write=False) as uow:
        head = uow.audit.head().position
    auditor = Browser(app).sign_in(tokens["auditor"])
    assert "下一条目" not in text(auditor.get(f"/audit/entries/{head}"))
    before = text(auditor.get(f"/audit/entries/{head - 1}"))
    assert f'href="/audit/entries/{head}">下一条目 #{head}' in before


def test_an_application_submitted_twice_from_one_form_is_one_application(ctx, app, tokens):
    """A double click or a resend of the enterprise's form gets the first answer again,
    as every other writing form does (a review of the console: the second submit was a
    409 "a pending application exists" page, read as a failure)."""
    record = add_record(ctx, tokens["housing"])
    ent = signed_in(app, tokens["enterprise"])
    page = text(ent.get(f"/records/{record['id']}/apply/objection"))
    key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    form = {"reason": "原处罚决定已被复议撤销", "form_key": key}
    first = ent.post(f"/records/{record['id']}/apply/objection", form)
    again = ent.post(f"/records/{record['id']}/apply/objection", form)
    assert (first.status_code, again.status_code) == (302, 302)
    assert text(ent.get("/applications")).count("data-application-id=") == 1
    from credit.services.audit import list_entries, verify_chain
    (entry,) = list_entries(ctx, kind="application.submitted")["items"]
    assert "idempotency" in entry["payload"]
    assert verify_chain(ctx)["first_bad"] is None
    # The same rendering sent with other content is refused as such, above the notice
    # that the first is pending; a fresh form is refused by that notice alone.
    other = text(ent.post(f"/records/{record['id']}/apply/objection",
                          {**form, "reason": "另一理由：决定文书送达有误"}))
    assert "此表单已用不同内容提交过" in other and "已有一项待处理的申请" in other
    fresh = ent.post(f"/records/{record['id']}/apply/objection", {"reason": "再次提出异议"})
    assert fresh.status_code == 409 and 'id="form-errors"' not in text(fresh)


def _not_utf8_head_hash(ctx, tokens) -> int:
    """Two records, then the newest entry's hash column edited into bytes that are no
    UTF-8 text (SQLite keeps them as TEXT); the newest position."""
    from tests.live_server import query, raw
    add_record(ctx, tokens["housing"])
    add_record(ctx, tokens["housing"], document_no="绍柯建罚〔2026〕77号")
    head = query(ctx, "SELECT max(position) FROM audit_entries")[0][0]
    raw(ctx, "UPDATE audit_entries SET sha256 = CAST(X'E4B8ADFF' AS TEXT) "
        "WHERE position = :p", {"p": head}, tables=["audit_entries"])
    return head


def test_an_altered_head_leaves_older_entries_readable_and_is_found_by_the_button(
        ctx, app, tokens):
    """A head whose hash is no text (a review of the non-UTF-8 fix): an older entry's
    page still opens, the audit page and its verify button report the head, and a
    served score is refused as an altered log, as every other write is."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    head = _not_utf8_head_hash(ctx, tokens)
    auditor = signed_in(app, tokens["auditor"])
    assert auditor.get(f"/audit/entries/{head - 1}").status_code == 200
    assert auditor.get(f"/audit/entries/{head}").status_code == 200
    page = auditor.post("/audit/verify", {"mode": "full"})
    assert page.status_code == 200 and "发现异常" in text(page)
    assert f"条目 #{head}" in text(page) and 'id="verification-unkept"' in text(page)
    # The feed shows the altered head by its columns, its hash escaped, never as bytes.
    listed = text(auditor.get("/audit"))
    assert "\\xff" in listed and "b'" not in listed
    score = app.test_client().get(f"/api/v1/subjects/{S1}/score?sector=housing",
                                  headers={"Authorization": f"Bearer {tokens['evaluator']}"})
    assert (score.status_code, score.get_json()["error"]) == (500, "integrity_failure")


def test_the_consoles_verify_button_reports_a_trace_that_is_no_text(ctx, app, tokens):
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    from tests.live_server import raw
    add_record(ctx, tokens["housing"])
    auditor = signed_in(app, tokens["auditor"])
    trace_id = int(re.search(r"/traces/(\d+)", text(auditor.get(f"/subjects/{S1}")))[1])
    raw(ctx, "UPDATE audit_entries SET text = CAST(X'7B22FF' AS TEXT) WHERE position = :p",
        {"p": trace_id}, tables=["audit_entries"])
    shown = auditor.get(f"/traces/{trace_id}")
    assert shown.status_code == 200 and '{"\\xff' in text(shown)
    verified = auditor.post(f"/traces/{trace_id}/verify", {})
    assert verified.status_code == 200 and 'id="v-hash">哈希：不一致' in text(verified)
