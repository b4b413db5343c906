"""API.md §2: the role × route matrix (five roles and no token against every route),
regulators confined to their sectors, enterprises to their own USCC, evaluations to
their creator and traces to the token that caused them."""

from __future__ import annotations

import itertools
import re

import pytest

from credit.services.tokens import create_token
from tests.e2e.conftest import (
    NAMES,
    ROLES,
    S1,
    S2,
    assert_error,
    audit_head,
    evaluation_body,
    record_body,
    repair_body,
    revocation_body,
)

pytestmark = pytest.mark.db

EVERYONE = (None,) + ROLES
READERS = ROLES
AUDIT = ("auditor", "admin")
_doc = itertools.count(1)


def _matrix(api):
    """(label, allowed callers, expected success status, prepare). ``prepare()`` makes
    whatever the request needs (a fresh record for a write, so that allowed writes
    succeed every time) and returns ``send(who)``."""
    rec = api.create_record(document_no="M-0")
    ev = api.evaluate().get_json()
    ev_trace = ev["results"][0]["members"][0]["trace_id"]

    def fixed(method, path, body=None):
        def prepare():
            if method == "GET":
                return lambda who: api.get(path, who)
            return lambda who: api.post(path, body() if callable(body) else body, who)
        return prepare

    def on_new_record(action, body, **record):
        def prepare():
            r = api.create_record(document_no=f"M-{next(_doc)}", **record)
            return lambda who: api.post(f"/api/v1/records/{r['id']}/{action}", body, who)
        return prepare

    return [
        ("GET /health", EVERYONE, 200, fixed("GET", "/api/v1/health")),
        ("GET /openapi.json", EVERYONE, 200, fixed("GET", "/api/v1/openapi.json")),
        ("GET /audit/public-key", EVERYONE, 200, fixed("GET", "/api/v1/audit/public-key")),
        ("GET /models", READERS, 200, fixed("GET", "/api/v1/models")),
        ("GET /models/{ref}", READERS, 200, fixed("GET", "/api/v1/models/keqiao-2025@1")),
        ("GET /records", READERS, 200, fixed("GET", "/api/v1/records")),
        ("GET /records/{id}", READERS, 200, fixed("GET", f"/api/v1/records/{rec['id']}")),
        ("GET /subjects/{uscc}", READERS, 200, fixed("GET", f"/api/v1/subjects/{S1}")),
        ("GET /subjects/{uscc}/score", READERS, 200,
         fixed("GET", f"/api/v1/subjects/{S1}/score?sector=housing")),
        ("POST /records", ("regulator",), 201,
         fixed("POST", "/api/v1/records",
               lambda: record_body(document_no=f"M-{next(_doc)}"))),
        ("POST /records/{id}/revocation", ("regulator",), 200,
         on_new_record("revocation", revocation_body())),
        ("POST /records/{id}/repair", ("regulator",), 200,
         on_new_record("repair", repair_body("2026-04-01"), code="SITE-PM-ABSENT",
                       decided_on="2026-03-01")),
        ("POST /evaluations", ("evaluator",), 201,
         fixed("POST", "/api/v1/evaluations", evaluation_body())),
        ("GET /evaluations/{id}", ("evaluator", "auditor", "admin"), 200,
         fixed("GET", f"/api/v1/evaluations/{ev['id']}")),
        ("GET /traces/{id}", ("evaluator", "auditor", "admin"), 200,
         fixed("GET", f"/api/v1/traces/{ev_trace}")),
        ("GET /subjects/{uscc}/inquiries", ("auditor", "admin", "enterprise"), 200,
         fixed("GET", f"/api/v1/subjects/{S1}/inquiries")),
        ("GET /traces", AUDIT, 200, fixed("GET", "/api/v1/traces")),
        ("GET /traces/{id}/verify", AUDIT, 200, fixed("GET", f"/api/v1/traces/{ev_trace}/verify")),
        ("GET /audit/entries", AUDIT, 200, fixed("GET", "/api/v1/audit/entries")),
        ("GET /audit/verify", AUDIT, 200, fixed("GET", "/api/v1/audit/verify")),
        ("GET /audit/checkpoint", AUDIT, 200, fixed("GET", "/api/v1/audit/checkpoint")),
    ]


def test_role_route_matrix(api, ctx):
    """Every route × {no token, regulator, evaluator, auditor, admin, enterprise}."""
    mismatches = []
    for label, allowed, ok_status, prepare in _matrix(api):
        for who in EVERYONE:
            send = prepare()
            head = audit_head(ctx)
            r = send(who)
            if who in allowed:
                expected, error = ok_status, None
            elif who is None:
                expected, error = 401, "unauthenticated"
            else:
                expected, error = 403, "forbidden"
            got = r.get_json(silent=True) or {}
            if r.status_code != expected or (error and got.get("error") != error):
                mismatches.append((label, who, expected, error, r.status_code, got.get("error")))
            elif error:
                assert_error(r, expected, error)
            # a refused request writes nothing (a refused score logs no trace either)
            if error and audit_head(ctx) != head:
                mismatches.append((label, who, "a refused request wrote to the audit log"))
    assert mismatches == []


def _operation_key(label_or_path: str) -> str:
    """"GET /records/{id}" and "GET /api/v1/records/{record_id}" alike: "GET /records/{}"."""
    method, _, path = label_or_path.partition(" ")
    return f"{method} {re.sub(r'{[^}]*}', '{}', path.removeprefix('/api/v1'))}"


def test_the_openapi_document_states_who_may_call_each_route(api):
    """API.md §2 in the document: a public route needs no token (``security: []``);
    every other operation needs a bearer token, names the roles that may call it
    (``x-roles``) — at least every role the matrix above lets through — and documents
    its 401 and 403."""
    doc = api.get("/api/v1/openapi.json").get_json()
    operations = {_operation_key(f"{m.upper()} {p}"): op for p, ops in doc["paths"].items()
                  for m, op in ops.items() if m in ("get", "post")}
    for op in operations.values():
        if op["security"]:
            assert op["security"] == [{"bearer": []}]
            assert op["x-roles"] and {"401", "403"} <= set(op["responses"])
        else:
            assert "x-roles" not in op
    for label, allowed, _status, _prepare in _matrix(api):
        if label == "GET /openapi.json":
            continue  # the document need not describe itself
        op = operations[_operation_key(label)]
        if allowed == EVERYONE:
            assert op["security"] == [], label
        else:
            assert op["security"] == [{"bearer": []}], label
            assert set(allowed) <= set(op["x-roles"]), label


def test_every_role_that_can_cause_a_trace_may_ask_for_it(api):
    """API.md §2: GET /traces/{id} is for "auditor, admin, and the token that caused the
    trace". In the document its ``x-roles`` are the auditors' and those of every route
    that serves a score and so logs a trace — the score routes (marked logs_a_trace:
    the subject's, the agency's of PERFORMANCE.md §7) and POST /evaluations — so no
    role is served a trace it may not read (which one is its own: the test above)."""
    app = api.client.application
    doc = api.get("/api/v1/openapi.json").get_json()
    operations = {_operation_key(f"{m.upper()} {p}"): op for p, ops in doc["paths"].items()
                  for m, op in ops.items() if m in ("get", "post")}
    causing = {_operation_key("GET " + re.sub(r"<[^>]*>", "{}", rule.rule))
               for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
               and getattr(app.view_functions[rule.endpoint], "logs_a_trace", False)}
    assert causing >= {"GET /subjects/{}/score", "GET /agencies/{}/score"}
    causing.add("POST /evaluations")
    expected = set(AUDIT).union(*(operations[k]["x-roles"] for k in causing))
    assert "tenderee" in expected  # the agency score's
    assert set(operations["GET /traces/{}"]["x-roles"]) == expected


def test_every_score_served_is_traced_with_the_callers_name(api, ctx):
    api.create_record()
    for who in READERS:
        head = audit_head(ctx)
        s = api.score(S1, who=who)
        assert s["trace_id"] == head + 1 == audit_head(ctx)
        t = api.get(f"/api/v1/traces/{s['trace_id']}", "auditor").get_json()
        assert t["actor"] == api_name(who)
        # the token that caused a trace may read it; the other readers may not
        assert api.get(f"/api/v1/traces/{s['trace_id']}", who).status_code == 200
        for other in READERS:
            if other not in (who, "auditor", "admin"):
                assert_error(api.get(f"/api/v1/traces/{s['trace_id']}", other), 403,
                             "forbidden")


def test_regulator_writes_only_its_own_sectors(api, ctx):
    _, multi = create_token(ctx, "op", role="regulator", name="柯桥区建设与水利联合窗口",
                            sectors=["housing", "water"])
    api.tokens["multi"] = multi
    head = audit_head(ctx)
    for who, sector in (("regulator", "transport"), ("regulator", "water"),
                        ("transport", "housing"), ("water", "transport"),
                        ("multi", "transport")):
        assert_error(api.post("/api/v1/records", record_body(sector=sector,
                                                             document_no=f"{who}-{sector}"),
                              who), 403, "sector_forbidden")
    assert audit_head(ctx) == head
    for who, sector in (("regulator", "housing"), ("transport", "transport"),
                        ("water", "water"), ("multi", "housing"), ("multi", "water")):
        r = api.post("/api/v1/records", record_body(sector=sector, uscc=S2,
                                                    document_no=f"{who}-{sector}"), who)
        assert r.status_code == 201, r.get_data(as_text=True)
    # revocation and repair follow the record's sector, not the caller's
    water_rec = api.create_record("water", sector="water", code="SITE-PM-ABSENT",
                                  decided_on="2026-03-01", document_no="W-1")
    for who in ("regulator", "transport"):
        assert_error(api.post(f"/api/v1/records/{water_rec['id']}/revocation",
                              revocation_body(), who), 403, "sector_forbidden")
        assert_error(api.post(f"/api/v1/records/{water_rec['id']}/repair",
                              repair_body("2026-04-01"), who), 403, "sector_forbidden")
    assert api.post(f"/api/v1/records/{water_rec['id']}/repair", repair_body("2026-04-01"),
                    "multi").status_code == 200
    assert api.post(f"/api/v1/records/{water_rec['id']}/revocation", revocation_body(),
                    "water").status_code == 200
    # every regulator may read every sector
    listed = api.get("/api/v1/records", "transport").get_json()["items"]
    assert {r["sector"] for r in listed} == {"housing", "transport", "water"}


def test_an_unknown_subject_is_404_before_an_enterprise_s_403(api):
    """API.md §1: check 9 (404 unknown id) comes before check 10 (403, an enterprise's
    row that is not its own): an enterprise asking for a subject never registered is
    told it is unknown, as an auditor is; a registered one of another is 403."""
    api.create_record(uscc=S2, subject_name="北京某建设有限公司", document_no="S2-1")
    from tests.integration.helpers import S4 as never
    for who in ("auditor", "enterprise"):
        assert_error(api.get(f"/api/v1/subjects/{never}", who), 404, "not_found")
    assert_error(api.get(f"/api/v1/subjects/{S2}", "enterprise"), 403, "forbidden")


def test_enterprise_sees_only_its_own_file(api, ctx):
    own = api.create_record()
    other = api.create_record(uscc=S2, subject_name="北京某建设有限公司", document_no="S2-1")
    api.score(S2, who="evaluator")
    head = audit_head(ctx)
    for path in (f"/api/v1/records/{other['id']}", f"/api/v1/records?uscc={S2}",
                 f"/api/v1/subjects/{S2}", f"/api/v1/subjects/{S2}/score?sector=housing",
                 f"/api/v1/subjects/{S2}/inquiries"):
        assert_error(api.get(path, "enterprise"), 403, "forbidden")
    assert audit_head(ctx) == head  # a refused score is not served, so not traced
    # its own file, also with the USCC written in lower case or padded
    assert api.get(f"/api/v1/records/{own['id']}", "enterprise").status_code == 200
    assert api.get(f"/api/v1/subjects/{S1.lower()}", "enterprise").status_code == 200
    listed = api.get("/api/v1/records", "enterprise").get_json()["items"]
    assert [r["id"] for r in listed] == [own["id"]]
    listed = api.get(f"/api/v1/records?uscc={S1.lower()}", "enterprise").get_json()["items"]
    assert [r["id"] for r in listed] == [own["id"]]
    s = api.score(S1, who="enterprise")
    assert s["score"] == "92.00"
    # its inquiry log: only its own subject's traces, each caller named
    api.score(S1, who="evaluator")
    inq = api.get(f"/api/v1/subjects/{S1}/inquiries", "enterprise").get_json()
    assert [i["actor"] for i in inq["items"]] == [api_name("evaluator"), api_name("enterprise")]
    for item in inq["items"]:
        t = api.get(f"/api/v1/traces/{item['trace_id']}", "auditor").get_json()
        assert t["payload"]["uscc"] == S1
    inq2 = api.get(f"/api/v1/subjects/{S2}/inquiries", "enterprise2").get_json()
    assert [i["actor"] for i in inq2["items"]] == [api_name("evaluator")]
    # its own trace, not the evaluator's
    assert api.get(f"/api/v1/traces/{s['trace_id']}", "enterprise").status_code == 200
    assert_error(api.get(f"/api/v1/traces/{inq['items'][0]['trace_id']}", "enterprise"), 403,
                 "forbidden")
    # never any write
    assert_error(api.post("/api/v1/records", record_body(document_no="self"), "enterprise"),
                 403, "forbidden")


def test_evaluation_readable_by_creator_auditor_admin_only(api):
    ev = api.evaluate().get_json()
    path = f"/api/v1/evaluations/{ev['id']}"
    for who in ("evaluator", "auditor", "admin"):
        assert api.get(path, who).status_code == 200
    assert_error(api.get(path, "evaluator2"), 403, "forbidden")
    for who in ("regulator", "enterprise"):
        assert_error(api.get(path, who), 403, "forbidden")
    assert_error(api.get(path), 401, "unauthenticated")


def test_trace_readable_by_the_causing_token_not_a_namesake(api, ctx):
    s = api.score(S1, who="evaluator")
    _, namesake = create_token(ctx, "op", role="evaluator", name=api_name("evaluator"))
    api.tokens["namesake"] = namesake
    assert_error(api.get(f"/api/v1/traces/{s['trace_id']}", "namesake"), 403, "forbidden")


def test_audit_checkpoint_and_public_key(api, ctx):
    api.create_record()
    r = api.get("/api/v1/audit/public-key")
    assert r.status_code == 200 and isinstance(r.get_json(), dict)
    head = audit_head(ctx)
    cp = api.get("/api/v1/audit/checkpoint", "auditor")
    assert cp.status_code == 200
    body = cp.get_json()
    entries = api.get("/api/v1/audit/entries", "auditor").get_json()["items"]
    assert body["position"] == head == entries[-1]["position"]
    assert body["sha256"] == entries[-1]["sha256"]
    assert audit_head(ctx) == head  # issuing a checkpoint appends nothing
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/audit/public-key"]
    assert "get" in paths["/api/v1/audit/checkpoint"]


def test_signing_key_missing(ctx, tokens, monkeypatch):
    from api import create_app
    from tests.e2e.conftest import Api
    monkeypatch.delenv("CREDIT_SIGNING_KEY", raising=False)
    bare = Api(create_app({"CREDIT_CONTEXT": ctx, "TESTING": True}).test_client(), tokens)
    assert_error(bare.get("/api/v1/audit/public-key"), 503, "signing_key_missing")
    assert_error(bare.get("/api/v1/audit/checkpoint", "auditor"), 503, "signing_key_missing")
    # the order of checks still holds without a key
    assert_error(bare.get("/api/v1/audit/checkpoint"), 401, "unauthenticated")
    assert_error(bare.get("/api/v1/audit/checkpoint", "evaluator"), 403, "forbidden")


def api_name(who: str) -> str:
    return NAMES[who]
