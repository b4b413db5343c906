"""Authorization, exhaustively (API.md §1 order of checks, §2 roles): every caller —
no token, a bad token, each role — against every route; every regulator against every
foreign sector; token lifecycle (expiry, revocation, listing without secrets, the CLI);
size limits; and no token secret ever appears in a response body or a log line, on the
test client and on a real ``credit serve``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner

from api import create_app
from credit import signing
from credit.cli import main as cli
from credit.services.agencies import AgencyScoreQuery, agency_score
from credit.services.applications import submit as submit_application
from credit.services.performance import submit_evaluation
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, create_evaluation, score
from credit.services.tenders import award_tender, register_tender
from credit.services.tokens import create_token, list_tokens, revoke_token
from tests.live_server import (
    ENTERPRISE_USCC,
    SECTORS,
    TENDEREE_USCC,
    LiveServer,
    bearer,
    make_tokens,
    make_uscc,
    record_body,
)
from tests.tender_data import AGENCY, award_body, identity_key_file, tender_body

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OTHER = make_uscc(4242)
ROLES = ("regulator", "evaluator", "auditor", "admin", "enterprise", "platform", "tenderee")
EVERY_ROLE = set(ROLES)
READERS = EVERY_ROLE - {"platform", "tenderee"}  # the credit file: neither the platform
# nor a tenderee reads scores (a tenderee acts on its own tenders, PERFORMANCE.md §1)
AUDIT = {"auditor", "admin"}
TENDER_READERS = {"platform", "evaluator", "auditor", "admin", "regulator"}
WARNING_READERS = {"evaluator", "auditor", "admin", "regulator"}
AGENCY_SCORE_READERS = {"evaluator", "regulator", "auditor", "admin", "tenderee"}
# PERFORMANCE.md §1: a tenderee its own, regulators their sectors, evaluators, auditors
PERFORMANCE_READERS = {"tenderee", "regulator", "evaluator", "auditor", "admin"}
PERIODIC = {"kind": "periodic", "period_end": "2026-05-31", "deductions": [],
            "project_manager_on_site": False}
TENDER = "KQ-2026-0031"  # transport; its warnings 1 and 2 are SAME-PREPARER, SAME-IP


@dataclass
class World:
    client: object
    tokens: object
    own_record: int
    other_record: int
    evaluation: int
    evaluator_trace: int
    enterprise_trace: int
    ctx: object
    warnings: list
    application: int = 0
    performance: int = 0
    tenderee_trace: int = 0


@pytest.fixture
def world(ctx, tmp_path):
    ctx.settings = ctx.settings.with_(identity_key_path=identity_key_file(tmp_path))
    key = tmp_path / "signing.pem"
    signing.create_key(key)
    app = create_app({"CREDIT_CONTEXT": ctx, "TESTING": True, "CREDIT_SIGNING_KEY": str(key)})
    tokens = make_tokens(ctx)
    from credit.services.context import Actor
    reg = Actor(tokens.names["regulator"], "regulator", token_id=tokens.ids["regulator"],
                sectors=frozenset(SECTORS))
    own = json.loads(create_record(ctx, reg, record_body(
        ENTERPRISE_USCC, "绍柯建罚〔2026〕1号", decided_on="2026-01-10")).body)["id"]
    other = json.loads(create_record(ctx, reg, record_body(
        OTHER, "绍柯建罚〔2026〕2号", decided_on="2026-01-10")).body)["id"]
    ev_actor = Actor(tokens.names["evaluator"], "evaluator", token_id=tokens.ids["evaluator"])
    evaluation = json.loads(create_evaluation(ctx, ev_actor, {
        "tender": {"code": "KQ-2026-0001", "name": "测试工程"}, "sector": "housing",
        "as_of": "2026-06-01", "bidders": [{"uscc": OTHER}]}).body)["id"]
    ev_trace = score(ctx, ev_actor, ScoreQuery(OTHER, "housing"))["trace_id"]
    ent_actor = Actor(tokens.names["enterprise"], "enterprise",
                      token_id=tokens.ids["enterprise"], uscc=ENTERPRISE_USCC)
    ent_trace = score(ctx, ent_actor, ScoreQuery(ENTERPRISE_USCC, "housing"))["trace_id"]
    application = submit_application(ctx, ent_actor, own, {
        "kind": "objection", "reason": "处罚所依据的事实有误"})["id"]
    platform = Actor(tokens.names["platform"], "platform", token_id=tokens.ids["platform"])
    warnings_ = json.loads(register_tender(ctx, platform, tender_body(TENDER)).body)["warnings"]
    # awarded, with a performance evaluation awaiting its review (PERFORMANCE.md §3)
    award_tender(ctx, platform, TENDER, award_body())
    tenderee = Actor(tokens.names["tenderee"], "tenderee", token_id=tokens.ids["tenderee"],
                     uscc=TENDEREE_USCC)
    performance = json.loads(submit_evaluation(ctx, tenderee, TENDER, PERIODIC).body)["id"]
    tenderee_trace = agency_score(ctx, tenderee, AgencyScoreQuery(AGENCY))["trace_id"]
    return World(app.test_client(), tokens, own, other, evaluation, ev_trace, ent_trace, ctx,
                 warnings_, application, performance, tenderee_trace)


def _routes(w: World):
    """(rule, method, path, json body or None, who may) — who: 'public', a set of roles,
    or a set plus special callers like 'evaluator2'."""
    own, other = ENTERPRISE_USCC, OTHER
    rec = lambda doc, sector="housing": record_body(OTHER, doc, sector=sector,  # noqa: E731
                                                    decided_on="2026-01-10")
    evaluation_body = {"tender": {"code": "KQ-2026-0002", "name": "测试"},
                       "sector": "housing", "as_of": "2026-06-01",
                       "bidders": [{"uscc": OTHER}]}
    return [
        ("/api/v1/health", "GET", "/api/v1/health", None, "public"),
        ("/api/v1/openapi.json", "GET", "/api/v1/openapi.json", None, "public"),
        ("/api/v1/audit/public-key", "GET", "/api/v1/audit/public-key", None, "public"),
        ("/api/v1/models", "GET", "/api/v1/models", None, EVERY_ROLE),
        ("/api/v1/models/<ref>", "GET", "/api/v1/models/keqiao-2025@1", None, EVERY_ROLE),
        ("/api/v1/records", "GET", "/api/v1/records", None, READERS),
        ("/api/v1/records", "GET", f"/api/v1/records?uscc={other}", None,
         READERS - {"enterprise"}),
        ("/api/v1/records", "GET", f"/api/v1/records?uscc={own}", None, READERS),
        ("/api/v1/records/<record_id>", "GET", f"/api/v1/records/{w.own_record}", None,
         READERS),
        ("/api/v1/records/<record_id>", "GET", f"/api/v1/records/{w.other_record}", None,
         READERS - {"enterprise"}),
        ("/api/v1/subjects/<uscc>", "GET", f"/api/v1/subjects/{own}", None, READERS),
        ("/api/v1/subjects/<uscc>", "GET", f"/api/v1/subjects/{other}", None,
         READERS - {"enterprise"}),
        ("/api/v1/subjects/<uscc>/score", "GET", f"/api/v1/subjects/{own}/score?sector=water",
         None, READERS),
        ("/api/v1/subjects/<uscc>/score", "GET",
         f"/api/v1/subjects/{other}/score?sector=water", None, READERS - {"enterprise"}),
        ("/api/v1/subjects/<uscc>/inquiries", "GET", f"/api/v1/subjects/{own}/inquiries",
         None, AUDIT | {"enterprise"}),
        ("/api/v1/subjects/<uscc>/inquiries", "GET", f"/api/v1/subjects/{other}/inquiries",
         None, AUDIT),
        ("/api/v1/records", "POST", "/api/v1/records", "record", {"regulator"}),
        ("/api/v1/records/<record_id>/revocation", "POST",
         f"/api/v1/records/{w.other_record}/revocation",
         {"document_no": "撤〔2026〕1号", "reason": "复议"}, {"regulator"}),
        ("/api/v1/records/<record_id>/repair", "POST",
         f"/api/v1/records/{w.own_record}/repair",
         {"repaired_on": "2026-05-01", "document_no": "修〔2026〕1号", "reason": "整改"},
         {"regulator"}),
        ("/api/v1/evaluations", "POST", "/api/v1/evaluations", evaluation_body,
         {"evaluator"}),
        ("/api/v1/evaluations/<evaluation_id>", "GET",
         f"/api/v1/evaluations/{w.evaluation}", None, AUDIT | {"evaluator"}),
        ("/api/v1/traces", "GET", "/api/v1/traces", None, AUDIT),
        ("/api/v1/traces/<trace_id>", "GET", f"/api/v1/traces/{w.evaluator_trace}", None,
         AUDIT | {"evaluator"}),
        ("/api/v1/traces/<trace_id>", "GET", f"/api/v1/traces/{w.enterprise_trace}", None,
         AUDIT | {"enterprise"}),
        # an agency score pulled by the tenderee (PERFORMANCE.md §7): its own trace
        ("/api/v1/traces/<trace_id>", "GET", f"/api/v1/traces/{w.tenderee_trace}", None,
         AUDIT | {"tenderee"}),
        ("/api/v1/traces/<trace_id>/verify", "GET",
         f"/api/v1/traces/{w.evaluator_trace}/verify", None, AUDIT),
        ("/api/v1/audit/entries", "GET", "/api/v1/audit/entries", None, AUDIT),
        ("/api/v1/audit/verify", "GET", "/api/v1/audit/verify", None, AUDIT),
        ("/api/v1/audit/checkpoint", "GET", "/api/v1/audit/checkpoint", None, AUDIT),
        ("/api/v1/public/punishments", "GET", "/api/v1/public/punishments", None, "public"),
        ("/api/v1/applications", "GET", "/api/v1/applications", None,
         {"regulator", "auditor", "admin", "enterprise"}),
        ("/api/v1/records/<record_id>/applications", "POST",
         f"/api/v1/records/{w.own_record}/applications",
         {"kind": "objection", "reason": "事实有误，申请撤销"}, {"enterprise"}),
        ("/api/v1/records/<record_id>/applications", "POST",
         f"/api/v1/records/{w.other_record}/applications",
         {"kind": "objection", "reason": "事实有误，申请撤销"}, set()),
        ("/api/v1/applications/<application_id>/decision", "POST",
         f"/api/v1/applications/{w.application}/decision",
         {"action": "reject", "reason": "材料不足，不予受理"}, {"regulator"}),
        # the tender loop (WARNINGS.md §2–§6)
        ("/api/v1/tenders", "POST", "/api/v1/tenders", "tender", {"platform"}),
        ("/api/v1/tenders", "GET", "/api/v1/tenders", None, TENDER_READERS),
        ("/api/v1/tenders/<code>", "GET", f"/api/v1/tenders/{TENDER}", None, TENDER_READERS),
        ("/api/v1/tenders/<code>/award", "POST", f"/api/v1/tenders/{TENDER}/award",
         award_body(), {"platform"}),
        ("/api/v1/warnings", "GET", "/api/v1/warnings", None, WARNING_READERS),
        ("/api/v1/warnings/<warning_id>", "GET", f"/api/v1/warnings/{w.warnings[0]}", None,
         WARNING_READERS),
        ("/api/v1/warnings/<warning_id>/disposal", "POST",
         f"/api/v1/warnings/{w.warnings[1]}/disposal",
         {"action": "refer", "reason": "移送公安机关核查"}, {"regulator"}),
        # tender-agency evaluation (PERFORMANCE.md §7); the world's tender is the
        # tenderee's own (another tenderee's: tests/e2e/test_agencies_http.py)
        ("/api/v1/tenders/<code>/agency-rating", "POST",
         f"/api/v1/tenders/{TENDER}/agency-rating",
         {"rated_on": "2026-05-25", "items": {"documents": "27.00", "procedure": "30.00",
                                               "service": "16.50", "archive": "18.00"}},
         {"tenderee"}),
        ("/api/v1/agencies/<uscc>/score", "GET", f"/api/v1/agencies/{other}/score", None,
         AGENCY_SCORE_READERS),
        ("/api/v1/agencies/<uscc>/score", "GET", f"/api/v1/agencies/{own}/score", None,
         AGENCY_SCORE_READERS | {"enterprise"}),
        # post-award performance (PERFORMANCE.md §1–§6)
        ("/api/v1/tenders/<code>/performance", "POST", f"/api/v1/tenders/{TENDER}/performance",
         PERIODIC, {"tenderee"}),
        ("/api/v1/performance", "GET", "/api/v1/performance", None, PERFORMANCE_READERS),
        ("/api/v1/performance/<evaluation_id>", "GET",
         f"/api/v1/performance/{w.performance}", None, PERFORMANCE_READERS),
        ("/api/v1/performance/<evaluation_id>/review", "POST",
         f"/api/v1/performance/{w.performance}/review",
         {"action": "return", "reason": "扣分依据不足", "reviewed_on": "2026-06-01"},
         {"regulator"}),
        ("/api/v1/contracts", "GET", "/api/v1/contracts", None, PERFORMANCE_READERS),
        ("/api/v1/subjects/<uscc>/performance", "GET", f"/api/v1/subjects/{own}/performance",
         None, READERS),
        ("/api/v1/subjects/<uscc>/performance", "GET",
         f"/api/v1/subjects/{other}/performance", None, READERS - {"enterprise"}),
    ], rec


class Recorder:
    """Every response text and log line seen, to look for leaked secrets."""

    def __init__(self):
        self.texts: list[str] = []

    def call(self, client, method, path, body=None, secret=None, headers=None):
        h = dict(headers or {})
        if secret is not None:
            h["Authorization"] = f"Bearer {secret}"
        r = client.open(path, method=method, headers=h,
                        data=json.dumps(body, ensure_ascii=False) if body is not None
                        else None,
                        content_type="application/json" if body is not None else None)
        self.texts.append(r.get_data(as_text=True))
        return r


def _no_secret_in(texts, secrets_):
    blob = "\n".join(texts)
    for s in secrets_:
        assert s not in blob, "a token secret leaked"
        assert hashlib.sha256(s.encode()).hexdigest() not in blob, "a token hash leaked"


def head(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.audit.head().position


def _head_is_refused(w, rec, path, secret, where) -> None:
    """API.md §4: a GET that logged an entry (a served score's trace) refuses HEAD with
    405 — a HEAD "would log a trace" — and the HEAD appends nothing."""
    before = head(w.ctx)
    r = rec.call(w.client, "HEAD", path, secret=secret)
    assert (r.status_code, head(w.ctx)) == (405, before), f"HEAD after {where}"


def test_every_caller_against_every_route(world, caplog):
    caplog.set_level(logging.DEBUG)
    w, rec = world, Recorder()
    routes, make_record = _routes(w)
    covered = set()
    n = 0
    for rule, method, path, body, who in routes:
        covered.add((rule, method))
        callers = [("anonymous", None), ("bad", "kqc_" + "x" * 43),
                   ("evaluator2", w.tokens["evaluator2"])] + \
                  [(role, w.tokens[role]) for role in ROLES]
        for caller, secret in callers:
            n += 1
            payload = make_record(f"矩阵〔2026〕{n}号") if body == "record" else \
                tender_body(f"KQ-M-{n}") if body == "tender" else body
            before = head(w.ctx)
            r = rec.call(w.client, method, path, payload, secret)
            got = (r.status_code, (r.get_json(silent=True) or {}).get("error"))
            where = f"{caller} {method} {path}"
            assert r.status_code < 500, (where, r.get_data(as_text=True))
            if who == "public":
                assert r.status_code == 200, (where, got)
                continue
            if caller in ("anonymous", "bad"):
                assert got == (401, "unauthenticated"), (where, got)
                assert head(w.ctx) == before, f"{where} wrote"
                continue
            role = "evaluator" if caller == "evaluator2" else caller
            allowed = caller in who or (caller == "evaluator2" and role in who
                                        and "evaluations/" not in path
                                        and "traces/" not in path)
            if caller == "evaluator2" and role in who and not allowed:
                # another evaluator's evaluation or trace: 403 forbidden (check 10)
                assert got == (403, "forbidden"), (where, got)
            elif allowed:
                assert r.status_code not in (401, 403), (where, got, r.get_json())
                if method == "GET" and head(w.ctx) > before:
                    _head_is_refused(w, rec, path, secret, where)
            else:
                assert got == (403, "forbidden"), (where, got)
                assert head(w.ctx) == before, f"{where} wrote although refused"
    # every /api/v1 route of the app is in the matrix
    # the rule as the matrix writes it: "<uscc:uscc>" (a converter) is "<uscc>"
    app_routes = {(re.sub(r"<\w+:(\w+)>", r"<\1>", r.rule), m)
                  for r in w.client.application.url_map.iter_rules()
                  for m in r.methods - {"HEAD", "OPTIONS"} if r.rule.startswith("/api/v1")}
    assert sorted(app_routes - covered) == [], "routes outside the authorization matrix"
    _no_secret_in(rec.texts + [m.getMessage() for m in caplog.records], w.tokens.all_secrets())


def test_check_order_route_and_method_before_token(world):
    w, rec = world, Recorder()
    for secret in (None, "garbage", w.tokens["auditor"]):
        r = rec.call(w.client, "GET", "/api/v1/nowhere", secret=secret)
        assert (r.status_code, r.get_json()["error"]) == (404, "not_found")
        r = rec.call(w.client, "DELETE", f"/api/v1/records/{w.own_record}", secret=secret)
        assert (r.status_code, r.get_json()["error"]) == (405, "method_not_allowed")
        r = rec.call(w.client, "POST", "/api/v1/audit/checkpoint", secret=secret)
        assert r.status_code == 405
    # 401 before 403 before 413 before 415 before 400
    big = "x" * (1024 * 1024 + 1)
    r = w.client.post("/api/v1/records", data=big, content_type="text/plain")
    assert r.status_code == 401
    r = w.client.post("/api/v1/records", data=big, content_type="text/plain",
                      headers=bearer(w.tokens["evaluator"]))
    assert (r.status_code, r.get_json()["error"]) == (403, "forbidden")
    r = w.client.post("/api/v1/records", data=big, content_type="text/plain",
                      headers=bearer(w.tokens["regulator"]))
    assert (r.status_code, r.get_json()["error"]) == (413, "payload_too_large")
    r = w.client.post("/api/v1/records", data="{}", content_type="text/plain",
                      headers=bearer(w.tokens["regulator"]))
    assert (r.status_code, r.get_json()["error"]) == (415, "unsupported_media_type")
    r = w.client.post("/api/v1/records", data="{", content_type="application/json",
                      headers=bearer(w.tokens["regulator"]))
    assert (r.status_code, r.get_json()["error"]) == (400, "malformed_json")
    long_header = {"X-Long": "y" * (8 * 1024)}
    r = w.client.get("/api/v1/models", headers={**long_header,
                                                **bearer(w.tokens["auditor"])})
    assert (r.status_code, r.get_json()["error"]) == (413, "payload_too_large")
    r = w.client.get("/api/v1/models", headers=long_header)
    assert r.status_code == 401


def test_check_order_401_and_403_before_query_validation(world):
    w = world
    for path in ("/api/v1/audit/entries?limit=0", "/api/v1/traces?limit=0",
                 "/api/v1/records?limit=0", f"/api/v1/subjects/{OTHER}/score?sector=x",
                 f"/api/v1/subjects/{OTHER}/inquiries?limit=0"):
        assert w.client.get(path).status_code == 401, path
    r = w.client.get("/api/v1/audit/entries?limit=0", headers=bearer(w.tokens["evaluator"]))
    assert r.status_code == 403


def test_every_regulator_against_every_foreign_sector(world):
    w, rec = world, Recorder()
    from credit.services.context import Actor
    reg = Actor(w.tokens.names["regulator"], "regulator", sectors=frozenset(SECTORS))
    targets = {}
    for i, s in enumerate(SECTORS):
        targets[s] = json.loads(create_record(w.ctx, reg, record_body(
            make_uscc(500 + i), f"靶〔2026〕{i}号", sector=s, decided_on="2026-01-10")).body)
    n = 0
    for own in SECTORS:
        secret = w.tokens.regulators[own]
        for s in SECTORS:
            n += 1
            r = rec.call(w.client, "POST", "/api/v1/records", record_body(
                make_uscc(600 + n), f"跨〔2026〕{n}号", sector=s, decided_on="2026-01-10"),
                secret)
            if s == own:
                assert r.status_code == 201, r.get_json()
            else:
                assert (r.status_code, r.get_json()["error"]) == (403, "sector_forbidden")
            for action, body in (("repair", {"repaired_on": "2026-05-01",
                                             "document_no": "修〔2026〕1号", "reason": "整改"}),
                                 ("revocation", {"document_no": "撤〔2026〕1号",
                                                 "reason": "复议"})):
                if s == own:
                    continue  # the own-sector writes are exercised by the matrix
                before = head(w.ctx)
                r = rec.call(w.client, "POST",
                             f"/api/v1/records/{targets[s]['id']}/{action}", body, secret)
                assert (r.status_code, r.get_json()["error"]) == (403, "sector_forbidden"), \
                    (own, s, action)
                assert head(w.ctx) == before
        # check 8 (validation) comes before check 10 (sector)
        r = rec.call(w.client, "POST", "/api/v1/records",
                     dict(record_body(OTHER, "x", sector="water"), code="NOPE"), secret)
        assert r.status_code == 400
        _tender_loop_of_a_foreign_sector(w, rec, own, secret)
    _no_secret_in(rec.texts, w.tokens.all_secrets())


def _tender_loop_of_a_foreign_sector(w: World, rec: Recorder, own: str, secret: str):
    """The world's tender is of transport: another sector's regulator neither reads it,
    nor its warnings, nor disposes of them (403 sector_forbidden, check 10)."""
    refer = {"action": "refer", "reason": "移送公安机关核查"}
    calls = [("GET", f"/api/v1/tenders/{TENDER}", None),
             ("GET", "/api/v1/tenders?sector=transport", None),
             ("GET", f"/api/v1/warnings/{w.warnings[0]}", None),
             ("GET", "/api/v1/warnings?sector=transport", None),
             # a filter naming one tender reads that tender (WARNINGS.md §5)
             ("GET", f"/api/v1/warnings?tender={TENDER}", None),
             ("POST", f"/api/v1/warnings/{w.warnings[0]}/disposal", refer),
             # PERFORMANCE.md §1: the tender's evaluations and contracts, the review
             ("GET", f"/api/v1/performance/{w.performance}", None),
             ("GET", "/api/v1/performance?sector=transport", None),
             ("GET", f"/api/v1/performance?tender={TENDER}", None),
             ("GET", "/api/v1/contracts?sector=transport", None),
             ("POST", f"/api/v1/performance/{w.performance}/review",
              {"action": "return", "reason": "扣分依据不足", "reviewed_on": "2026-06-01"})]
    for method, path, body in calls:
        before = head(w.ctx)
        r = rec.call(w.client, method, path, body, secret)
        if own == "transport":
            assert r.status_code == 200, (own, path, r.get_json())
        else:
            assert (r.status_code, r.get_json()["error"]) == (403, "sector_forbidden"), \
                (own, path)
            assert head(w.ctx) == before


# ---------------------------------------------------------------- token lifecycle

def test_expired_token_is_refused_and_logged_without_the_secret(ctx, clock, caplog):
    caplog.set_level(logging.INFO, logger="credit.auth")
    client = create_app({"CREDIT_CONTEXT": ctx}).test_client()
    _, secret = create_token(ctx, "op", role="auditor", name="临时审计",
                             expires_at=clock() + timedelta(hours=1))
    assert client.get("/api/v1/audit/verify", headers=bearer(secret)).status_code == 200
    clock.advance(hours=1)
    r = client.get("/api/v1/audit/verify", headers=bearer(secret))
    assert (r.status_code, r.get_json()["error"]) == (401, "unauthenticated")
    assert secret not in r.get_data(as_text=True)
    lines = [m.getMessage() for m in caplog.records if m.name == "credit.auth"]
    assert any("expired" in ln for ln in lines), lines
    prefix = hashlib.sha256(secret.encode()).hexdigest()[:8]
    assert any(prefix in ln for ln in lines)
    _no_secret_in(lines, [secret])
    listed = [t for t in list_tokens(ctx) if t["name"] == "临时审计"][0]
    assert listed["expired"] is True and listed["expires_at"].endswith("+08:00")


def test_revoked_token_is_refused_at_once(ctx, caplog):
    caplog.set_level(logging.INFO, logger="credit.auth")
    client = create_app({"CREDIT_CONTEXT": ctx}).test_client()
    token_id, secret = create_token(ctx, "op", role="admin", name="管理员乙")
    assert client.get("/api/v1/models", headers=bearer(secret)).status_code == 200
    revoke_token(ctx, "op", token_id)
    r = client.get("/api/v1/models", headers=bearer(secret))
    assert r.status_code == 401
    assert any("revoked" in m.getMessage() for m in caplog.records)
    _no_secret_in([m.getMessage() for m in caplog.records] + [r.get_data(as_text=True)],
                  [secret])
    # revoking twice is harmless; the log holds one token.revoked entry
    assert revoke_token(ctx, "op", token_id) is False
    with ctx.uow(write=False) as uow:
        kinds = [e["kind"] for e in uow.audit_queries.page(after=0, limit=100)]
    assert kinds.count("token.revoked") == 1


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer kqc_nope",
                                    "Bearer kqc_" + "a" * 200, "Token x"])
def test_malformed_authorization_is_401(ctx, header, caplog):
    caplog.set_level(logging.INFO, logger="credit.auth")
    client = create_app({"CREDIT_CONTEXT": ctx}).test_client()
    r = client.get("/api/v1/models", headers={"Authorization": header})
    assert (r.status_code, r.get_json()["error"]) == (401, "unauthenticated")
    secret = header.partition(" ")[2]
    if len(secret) > 6:
        assert secret not in r.get_data(as_text=True)
        _no_secret_in([m.getMessage() for m in caplog.records], [secret])


def test_token_cli_create_expires_list_revoke(ctx, database_url):
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_OPERATOR": "测试运维"}
    runner = CliRunner()
    r = runner.invoke(cli, ["token", "create", "--role", "evaluator", "--name", "评标临时",
                       "--expires", "2h"], env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    secret = r.output.strip().splitlines()[-1]
    assert re.fullmatch(r"kqc_[A-Za-z0-9_-]{43}", secret)
    assert "expires" in r.output
    for bad in ("yesterday", "2020-01-01T00:00:00+08:00", "0d"):
        r = runner.invoke(cli, ["token", "create", "--role", "auditor", "--name", "x",
                                "--expires", bad], env=env)
        assert r.exit_code == 2, (bad, r.output)
    r = runner.invoke(cli, ["token", "list"], env=env, catch_exceptions=False)
    assert r.exit_code == 0
    assert secret not in r.output
    assert hashlib.sha256(secret.encode()).hexdigest() not in r.output
    listed = [json.loads(line) for line in r.output.strip().splitlines()]
    mine = [t for t in listed if t["name"] == "评标临时"][0]
    assert mine["expires_at"] is not None and mine["revoked"] is False
    assert not {"secret", "secret_sha256", "token"} & set(mine)
    client = create_app({"CREDIT_DATABASE_URL": database_url}).test_client()
    assert client.get("/api/v1/models", headers=bearer(secret)).status_code == 200
    r = runner.invoke(cli, ["token", "revoke", str(mine["id"])], env=env,
                      catch_exceptions=False)
    assert r.exit_code == 0
    assert r.output.strip() == f"token {mine['id']} revoked"
    assert client.get("/api/v1/models", headers=bearer(secret)).status_code == 401
    # a second revocation changes nothing and says so (it used to say "revoked" again)
    r = runner.invoke(cli, ["token", "revoke", str(mine["id"])], env=env,
                      catch_exceptions=False)
    assert (r.exit_code, r.output.strip()) == (
        0, f"token {mine['id']} was already revoked; nothing changed")
    r = runner.invoke(cli, ["token", "list"], env=env, catch_exceptions=False)
    assert [json.loads(x) for x in r.output.strip().splitlines()
            if json.loads(x)["id"] == mine["id"]][0]["revoked"] is True
    assert runner.invoke(cli, ["token", "revoke", "99999"], env=env).exit_code == 2


# ---------------------------------------------------------------- a real server

def test_live_server_limits_and_logs_never_show_tokens(ctx, database_url, tmp_path):
    tokens = make_tokens(ctx)
    server = LiveServer(database_url, tmp_path / "srv", workers=1,
                        env={"CREDIT_ACCESS_LOG": "-", "CREDIT_LOG_LEVEL": "debug"})
    with server:
        url = server.url
        s = requests.Session()
        bad = "kqc_" + "Q" * 43
        r = s.get(url("/api/v1/models"), headers=bearer(bad), timeout=10)
        assert r.status_code == 401 and bad not in r.text
        r = s.get(url("/api/v1/audit/verify"), headers=bearer(tokens["auditor"]), timeout=30)
        assert r.status_code == 200
        r = s.post(url("/api/v1/records"), data=b"x" * (1024 * 1024 + 1),
                   headers={**bearer(tokens["regulator"]),
                            "Content-Type": "application/json"}, timeout=30)
        assert (r.status_code, r.json()["error"]) == (413, "payload_too_large")
        r = s.get(url("/api/v1/models"), headers={**bearer(tokens["auditor"]),
                                                  "X-Long": "z" * (9 * 1024)}, timeout=10)
        assert (r.status_code, r.json()["error"]) == (413, "payload_too_large")
        r = requests.get(url("/api/v1/models?" + "q=" + "a" * (9 * 1024)),
                         headers=bearer(tokens["auditor"]), timeout=10)
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        r = s.get(url("/api/v1/nowhere"), headers=bearer(tokens["admin"]), timeout=10)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith(
            "application/json")
        for t in tokens.all_secrets():
            s.get(url("/api/v1/models"), headers=bearer(t), timeout=10)
    log = server.log()
    assert "GET /api/v1/models" in log  # the access log was on
    prefix = hashlib.sha256(bad.encode()).hexdigest()[:8]
    assert f"authentication failed: unknown token (sha256 prefix {prefix})" in log
    _no_secret_in([log], tokens.all_secrets() + [bad])
