"""Issue 9 item 16: one way to present a resource. Every JSON response of the API goes
through its marshmallow response schema (credit.services.resources; errors through
api/schemas.ErrorBody), so schema and response cannot drift:

* every /api/v1 operation documents a 2xx schema, and a walk through every operation
  gets 2xx bodies that load back through that schema exactly (unknown fields refused at
  every level, required ones present) and that the schema dumps unchanged;
* a field a use case adds but no schema declares is never sent — neither by a view
  returning a dict (dumped by flask-smorest) nor in a reply stored at creation and sent
  byte for byte (dumped through the same schema once, then stored);
* no blueprint writes a response by hand.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from marshmallow import Schema

from credit.domain import canonical
from credit.services import (
    applications,
    public_list,
    records,
    resources,
    scoring,
    subjects,
    tenders,
    warnings,
)
from credit.services.performance_resources import PerformanceOut
from credit.services.tokens import create_token
from tests.e2e.conftest import (
    S1,
    S2,
    S3,
    evaluation_body,
    record_body,
    repair_body,
    revocation_body,
)
from tests.tender_data import (
    AGENCY,
    BIDDER_1,
    BIDDER_2,
    BIDDER_3,
    MEMBER_1,
    TENDEREE,
    award_body,
    confirm_body,
    identity_key_file,
    tender_body,
)

ROOT = Path(__file__).resolve().parents[2]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _operations(app):
    """(rule, method) of every documented operation with its view function."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and rule.endpoint != "api-docs.openapi_json":
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield rule, method, app.view_functions[rule.endpoint]


@pytest.fixture
def tender_loop(ctx, api, tmp_path):
    """The tender routes on: an identity key, and a platform token as ``platform``."""
    ctx.settings = ctx.settings.with_(identity_key_path=identity_key_file(tmp_path))
    api.tokens["platform"] = create_token(ctx, "e2e-operator", role="platform",
                                          name="柯桥区公共资源交易中心")[1]
    api.tokens["tenderee"] = create_token(ctx, "e2e-operator", role="tenderee",
                                          uscc=TENDEREE, name="柯桥区某镇人民政府")[1]
    return api


def _success_schema(view, status: int) -> Schema:
    docs = view._apidoc["response"]["responses"][status]
    (doc,) = docs
    return doc["schema"]


def test_every_operation_presents_its_success_through_a_resource_schema(app):
    seen = 0
    for rule, method, view in _operations(app):
        statuses = [s for s in view._apidoc["response"]["responses"] if 200 <= int(s) < 300]
        assert len(statuses) == 1, (rule.rule, method)
        schema = _success_schema(view, statuses[0])
        assert isinstance(schema, resources.Resource), (rule.rule, method, schema)
        seen += 1
    assert seen >= 20


def _walk(api, ctx) -> list:
    """Call every operation at least once with a success; returns the responses."""
    out = []

    def keep(resp):
        assert 200 <= resp.status_code < 300, resp.get_data(as_text=True)
        out.append(resp)
        return resp.get_json()

    r1 = keep(api.post("/api/v1/records", record_body(project_code="P-1", note="备注"),
                       "regulator", headers={"Idempotency-Key": "walk-1"}))
    keep(api.post("/api/v1/records", record_body(project_code="P-1", note="备注"),
                  "regulator", headers={"Idempotency-Key": "walk-1"}))  # the replay
    r2 = keep(api.post("/api/v1/records", record_body(document_no="D-2", code="BID-BAN",
                                                      valid_until="2026-12-31"), "regulator"))
    keep(api.post("/api/v1/records", record_body(uscc=S2, code="AWARD-CITY",
                                                 document_no="G-1"), "regulator"))
    keep(api.post(f"/api/v1/records/{r1['id']}/repair", repair_body("2026-05-01"),
                  "regulator"))
    keep(api.post(f"/api/v1/records/{r2['id']}/revocation", revocation_body(), "regulator"))
    keep(api.get(f"/api/v1/records/{r1['id']}", "evaluator"))
    keep(api.get("/api/v1/records?limit=2", "evaluator"))
    r3 = keep(api.post("/api/v1/records", record_body(document_no="D-3", code="SUB-TRANSFER"),
                       "regulator"))
    _walk_issue13(api, keep, r3)
    score = keep(api.get(f"/api/v1/subjects/{S1}/score?sector=housing", "evaluator"))
    keep(api.get(f"/api/v1/subjects/{S2}/score?sector=transport", "evaluator"))
    keep(api.get(f"/api/v1/subjects/{S3}/score?sector=water", "evaluator"))
    keep(api.get(f"/api/v1/subjects/{S1}", "evaluator"))
    ev = keep(api.post("/api/v1/evaluations", evaluation_body(), "evaluator",
                       headers={"Idempotency-Key": "walk-e"}))
    keep(api.get(f"/api/v1/evaluations/{ev['id']}", "evaluator"))
    keep(api.get(f"/api/v1/subjects/{S1}/inquiries", "enterprise"))
    keep(api.get("/api/v1/traces?limit=3", "auditor"))
    keep(api.get(f"/api/v1/traces/{score['trace_id']}", "auditor"))
    keep(api.get(f"/api/v1/traces/{score['trace_id']}/verify", "auditor"))
    keep(api.get("/api/v1/audit/entries?limit=100", "auditor"))
    keep(api.get("/api/v1/audit/verify", "auditor"))
    cp = keep(api.get("/api/v1/audit/checkpoint", "auditor"))
    keep(api.get(f"/api/v1/audit/verify?position={cp['position']}&sha256={cp['sha256']}",
                 "auditor"))
    keep(api.get(f"/api/v1/audit/verify?position={cp['position'] + 5}&sha256={'a' * 64}",
                 "auditor"))
    keep(api.get("/api/v1/audit/public-key"))
    keep(api.get("/api/v1/models", "evaluator"))
    keep(api.get("/api/v1/models/keqiao-2025@1", "evaluator"))
    keep(api.get("/api/v1/models/keqiao-screens-2025@1", "evaluator"))
    keep(api.get("/api/v1/health"))
    _walk_tenders(api, keep)
    _walk_performance(api, keep)
    return out


def _walk_performance(api, keep) -> None:
    """Post-award performance (PERFORMANCE.md §2–§6) on the awarded KQ-2026-0031:
    an evaluation (and its replay) returned, another approved with the PM-ABSENT warning,
    the lists, the contracts, the index."""
    url, key = "/api/v1/tenders/KQ-2026-0031/performance", {"Idempotency-Key": "walk-p"}
    body = {"kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": False,
            "deductions": [{"item": "SCHEDULE", "points": "6.00", "note": "滞后"}]}
    first = keep(api.post(url, body, "tenderee", headers=key))
    keep(api.post(url, body, "tenderee", headers=key))
    review = {"action": "return", "reason": "扣分依据不足", "reviewed_on": "2026-06-01"}
    keep(api.post(f"/api/v1/performance/{first['id']}/review", review, "transport"))
    second = keep(api.post(url, body, "tenderee"))
    keep(api.post(f"/api/v1/performance/{second['id']}/review",
                  {**review, "action": "approve"}, "transport"))
    keep(api.get(f"/api/v1/performance/{second['id']}", "tenderee"))
    keep(api.get("/api/v1/performance?status=approved", "transport"))
    keep(api.get("/api/v1/contracts?village=true", "auditor"))
    keep(api.get(f"/api/v1/subjects/{BIDDER_1}/performance", "evaluator"))


def _walk_issue13(api, keep, listed: dict) -> None:
    """Applications (a repair accepted, an objection rejected: a decision with and
    without a document number) and the public list (``listed`` is a blacklist record)."""
    r4 = keep(api.post("/api/v1/records", record_body(document_no="D-4"), "regulator"))
    repair = keep(api.post(f"/api/v1/records/{r4['id']}/applications", {
        "kind": "repair", "reason": "已完成整改", "requested_repair_on": "2026-05-01"},
        "enterprise"))
    objection = keep(api.post(f"/api/v1/records/{listed['id']}/applications", {
        "kind": "objection", "reason": "处罚所依据的事实有误"}, "enterprise"))
    keep(api.get("/api/v1/applications?status=pending", "regulator"))
    keep(api.post(f"/api/v1/applications/{repair['id']}/decision", {
        "action": "accept", "reason": "经核查已整改到位", "document_no": "绍柯建修〔2026〕9号"},
        "regulator"))
    keep(api.post(f"/api/v1/applications/{objection['id']}/decision", {
        "action": "reject", "reason": "原处罚事实清楚"}, "regulator"))
    keep(api.get("/api/v1/applications", "enterprise"))
    page = keep(api.get("/api/v1/public/punishments?limit=1"))
    assert page["items"] and page["items"][0]["measures"][0]["basis"]
    keep(api.get("/api/v1/public/punishments?sector=transport"))


def _walk_tenders(api, keep) -> None:
    """The tender loop (WARNINGS.md §2–§7): register (and replay), award (and replay),
    read, refer, confirm with records, and an evaluation carrying the open warnings."""
    key = {"Idempotency-Key": "walk-t"}
    t = keep(api.post("/api/v1/tenders", tender_body(), "platform", headers=key))
    keep(api.post("/api/v1/tenders", tender_body(), "platform", headers=key))
    keep(api.post("/api/v1/tenders", tender_body("KQ-2026-0032"), "platform"))
    key = {"Idempotency-Key": "walk-a"}
    keep(api.post(f"/api/v1/tenders/{t['code']}/award", award_body(), "platform",
                  headers=key))
    keep(api.post(f"/api/v1/tenders/{t['code']}/award", award_body(), "platform",
                  headers=key))
    keep(api.get(f"/api/v1/tenders/{t['code']}", "auditor"))
    keep(api.get("/api/v1/tenders?limit=1", "transport"))
    first, second = t["warnings"][:2]
    keep(api.post(f"/api/v1/warnings/{second}/disposal",
                  {"action": "refer", "reason": "移送公安机关核查"}, "transport"))
    key = {"Idempotency-Key": "walk-d"}
    keep(api.post(f"/api/v1/warnings/{first}/disposal", confirm_body([1, 2]), "transport",
                  headers=key))
    keep(api.post(f"/api/v1/warnings/{first}/disposal", confirm_body([1, 2]), "transport",
                  headers=key))
    keep(api.get(f"/api/v1/warnings/{first}", "evaluator"))
    keep(api.get("/api/v1/warnings?limit=3", "transport"))
    keep(api.get("/api/v1/records?limit=3", "evaluator"))  # records with source_warning
    keep(api.post("/api/v1/evaluations", {
        "tender": {"code": "KQ-2026-0032", "name": "柯桥区某村道路硬化工程"},
        "sector": "transport", "as_of": "2026-06-01",
        "bidders": [{"consortium": [BIDDER_1, MEMBER_1]}, {"uscc": BIDDER_2},
                    {"uscc": BIDDER_3}]}, "evaluator"))
    _walk_agencies(api, keep, t["code"])


def _walk_agencies(api, keep, code: str) -> None:
    """PERFORMANCE.md §7: a rating (and its replay), an agency record, the agency score,
    its trace verified, the agency's inquiries (a null sector) and tenders by agency."""
    key = {"Idempotency-Key": "walk-r"}
    rating = {"rated_on": "2026-05-25", "note": "服务规范",
              "items": {"documents": "27.00", "procedure": "30.00", "service": "16.50",
                        "archive": "18.00"}}
    for _ in range(2):
        keep(api.post(f"/api/v1/tenders/{code}/agency-rating", rating, "tenderee",
                      headers=key))
    keep(api.post("/api/v1/records", record_body(uscc=AGENCY, code="AGENCY-LEAK",
                                                 document_no="D-A"), "regulator"))
    score = keep(api.get(f"/api/v1/agencies/{AGENCY}/score", "evaluator"))
    keep(api.get(f"/api/v1/traces/{score['trace_id']}/verify", "auditor"))
    keep(api.get(f"/api/v1/subjects/{AGENCY}/inquiries", "auditor"))
    keep(api.get(f"/api/v1/tenders?agency={AGENCY}", "auditor"))


@SQLITE_ONLY
def test_every_success_response_is_exactly_its_schema(app, tender_loop, ctx):
    adapter = app.url_map.bind("localhost")
    covered = set()
    for resp in _walk(tender_loop, ctx):
        request = resp.request
        endpoint, _ = adapter.match(request.path, request.method)
        schema = _success_schema(app.view_functions[endpoint], resp.status_code)
        body = json.loads(resp.get_data(as_text=True))
        errors = schema.validate(body)  # unknown fields refused, required ones present
        assert errors == {}, (request.path, errors)
        assert schema.dump(body) == body, request.path  # nothing the schema leaves out
        covered.add((endpoint, request.method))
    every = {(rule.endpoint, m) for rule, m, _ in _operations(app)}
    assert every - covered == set()


@SQLITE_ONLY
def test_stored_replies_are_their_schema_dump(app, tender_loop, ctx):
    api = tender_loop
    created = api.post("/api/v1/records", record_body(), "regulator",
                       headers={"Idempotency-Key": "k"})
    ev = api.post("/api/v1/evaluations", evaluation_body(), "evaluator")
    tender = api.post("/api/v1/tenders", tender_body(), "platform")
    awarded = api.post("/api/v1/tenders/KQ-2026-0031/award", award_body(), "platform")
    disposed = api.post(f"/api/v1/warnings/{tender.get_json()['warnings'][0]}/disposal",
                        confirm_body([1, 2]), "transport")
    evaluated = api.post("/api/v1/tenders/KQ-2026-0031/performance", {
        "kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": False,
        "deductions": []}, "tenderee")
    reviewed = api.post("/api/v1/performance/1/review", {
        "action": "approve", "reason": "经现场核查", "reviewed_on": "2026-06-01"}, "transport")
    for resp, schema in ((evaluated, PerformanceOut()), (reviewed, PerformanceOut()),
                         (created, resources.RecordOut()),
                         (ev, resources.EvaluationOut()),
                         (tender, resources.RegisteredTenderOut()),
                         (awarded, resources.RegisteredTenderOut()),
                         (disposed, resources.WarningOut())):
        assert 200 <= resp.status_code < 300, resp.get_data(as_text=True)
        text = resp.get_data(as_text=True)
        assert text == resources.present(schema, json.loads(text))
        assert text == canonical.dumps(json.loads(text))


@SQLITE_ONLY
def test_a_field_no_schema_declares_is_never_sent(app, tender_loop, ctx, monkeypatch):
    api = tender_loop
    def leaking(fn):
        def wrapper(*args, **kw):
            out = fn(*args, **kw)
            if isinstance(out, dict):
                out["leaked"] = "not in any schema"
                for item in out.get("items") or ():
                    item["leaked"] = "not in any schema"
            return out
        return wrapper

    monkeypatch.setattr(records, "record_resource", leaking(records.record_resource))
    monkeypatch.setattr(applications, "resource", leaking(applications.resource))
    monkeypatch.setattr(public_list, "punishments", leaking(public_list.punishments))
    for module, name in ((scoring, "score"),
                         (subjects, "health"), (subjects, "get_subject"),
                         (tenders, "tender_resource"), (warnings, "warning_resource")):
        monkeypatch.setattr(module, name, leaking(getattr(module, name)))
    responses = [
        api.post("/api/v1/records", record_body(), "regulator",
                 headers={"Idempotency-Key": "k"}),
        api.post("/api/v1/records", record_body(), "regulator",
                 headers={"Idempotency-Key": "k"}),
        api.get("/api/v1/records/1", "evaluator"),
        api.get("/api/v1/records", "evaluator"),
        api.post("/api/v1/records/1/revocation", revocation_body(), "regulator"),
        api.get(f"/api/v1/subjects/{S1}/score?sector=housing", "evaluator"),
        api.get(f"/api/v1/subjects/{S1}", "evaluator"),
        api.post("/api/v1/evaluations", evaluation_body(), "evaluator"),
        api.get("/api/v1/health"),
        api.get("/api/v1/public/punishments"),
        api.post("/api/v1/tenders", tender_body(), "platform"),
        api.post("/api/v1/tenders/KQ-2026-0031/award", award_body(), "platform"),
        api.get("/api/v1/tenders/KQ-2026-0031", "auditor"),
        api.get("/api/v1/tenders", "auditor"),
        api.post("/api/v1/warnings/1/disposal", confirm_body([1, 2]), "transport"),
        api.get("/api/v1/warnings/1", "auditor"),
        api.get("/api/v1/warnings", "auditor"),
    ]
    other = api.post("/api/v1/records", record_body(document_no="D-9"), "regulator")
    app_ = api.post(f"/api/v1/records/{other.get_json()['id']}/applications", {
        "kind": "objection", "reason": "处罚所依据的事实有误"}, "enterprise")
    responses += [app_, api.get("/api/v1/applications", "auditor"),
                  api.post(f"/api/v1/applications/{app_.get_json()['id']}/decision",
                           {"action": "reject", "reason": "原处罚事实清楚"}, "regulator")]
    for resp in responses:
        assert 200 <= resp.status_code < 300, resp.get_data(as_text=True)
        assert b"leaked" not in resp.data, resp.request.path


def test_blueprints_never_write_a_response_by_hand():
    """Views return what the use case returned (dumped by @blp.response) or a reply
    stored at creation (api.http.verbatim); nothing else builds JSON."""
    for path in sorted((ROOT / "api/blueprints").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert not calls & {"Response", "jsonify", "json.dumps", "json_response",
                            "make_response"}, path


def _error_extras(tree) -> set[str]:
    """Keyword arguments beyond ``error``/``errors`` given to a credit.errors exception,
    and those given to ``FieldErrors.add``: each becomes a field of an error body."""
    from credit import errors
    exceptions = {name for name, value in vars(errors).items()
                  if isinstance(value, type) and issubclass(value, errors.CreditError)}
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name.rsplit(".", 1)[-1] in exceptions or name.endswith("errors.add"):
            out |= {k.arg for k in node.keywords if k.arg not in (None, "error", "errors")}
    return out


def test_every_error_extra_is_declared_in_the_error_body():
    """api/errors.py dumps every error through ErrorBody, which drops a field it does
    not declare: a refusal's extra (``earliest_repair_on``, ``application_id``, ...)
    must be declared there or it is silently lost."""
    from api.schemas import ErrorBody
    declared = set(ErrorBody().fields)
    used = set()
    for path in sorted([*(ROOT / "credit").rglob("*.py"), *(ROOT / "api").rglob("*.py")]):
        used |= _error_extras(ast.parse(path.read_text(encoding="utf-8")))
    assert {"earliest_repair_on", "latest_repair_on", "application_id"} <= used
    assert used - declared == set()
