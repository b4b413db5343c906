"""Repair applications and objections (issue 13) end to end through the real app, on
SQLite and PostgreSQL: an enterprise applies for its own records only; refusals come with
the codes and dates of API.md §3; the regulator of the record's sector decides, and an
accepted application performs the repair or revocation in the same transaction — which
the next score shows; every application and decision is hashed and re-checked by
``audit verify``.

The fake clock's today is 2026-06-01 (CST). The default record (conftest.record_body)
is BID-NOSIGN for S1 in housing, decided 2026-01-10: repairable from 2026-04-10
(3 months, MODEL.md §2), counting until 2027-01-09.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DatabaseError

from tests.e2e.conftest import (
    INSTANT_RE,
    S1,
    SHA_RE,
    assert_error,
    audit_head,
    canonical_sha256,
    revocation_body,
)
from tests.live_server import raw

pytestmark = pytest.mark.db

APPLICATION_KEYS = {"id", "record_id", "uscc", "sector", "kind", "reason",
                    "requested_repair_on", "status", "submitted_by", "submitted_at",
                    "decision"}


def apply(api, record_id, who="enterprise", **body):
    body.setdefault("reason", "已完成整改并提交信用承诺书")
    return api.post(f"/api/v1/records/{record_id}/applications", body, who)


def decide(api, application_id, who="regulator", **body):
    body.setdefault("reason", "经审核符合信用修复条件")
    return api.post(f"/api/v1/applications/{application_id}/decision", body, who)


def entries(ctx, kind):
    with ctx.uow(write=False) as uow:
        return list(uow.audit_queries.iter_kind(kind))


def verify(api):
    r = api.get("/api/v1/audit/verify", "auditor")
    assert r.status_code == 200
    return r.get_json()


# ------------------------------------------------------------------ the happy paths

def test_a_repair_application_is_accepted_and_the_record_is_repaired(api, ctx):
    record = api.create_record()
    r = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-01")
    assert r.status_code == 201, r.get_json()
    app = r.get_json()
    assert set(app) == APPLICATION_KEYS
    assert app["record_id"] == record["id"] and app["uscc"] == S1
    assert (app["kind"], app["status"], app["decision"]) == ("repair", "pending", None)
    assert app["requested_repair_on"] == "2026-05-01" and INSTANT_RE.match(app["submitted_at"])
    submitted = entries(ctx, "application.submitted")
    assert len(submitted) == 1 and submitted[0]["actor"] == "绍兴柯桥建工集团有限公司"
    facts = submitted[0]["payload"]["application"]
    assert facts["id"] == app["id"] and submitted[0]["payload"]["uscc"] == S1
    assert SHA_RE.match(submitted[0]["payload"]["sha256"])
    assert canonical_sha256(facts) == submitted[0]["payload"]["sha256"]

    # the housing regulator's queue holds it; the transport regulator's does not
    queue = api.get("/api/v1/applications?status=pending", "regulator").get_json()
    assert [a["id"] for a in queue["items"]] == [app["id"]] and queue["next"] is None
    assert api.get("/api/v1/applications", "transport").get_json()["items"] == []
    assert api.get("/api/v1/applications", "enterprise").get_json()["items"] == [app]
    assert api.get("/api/v1/applications", "enterprise2").get_json()["items"] == []

    r = decide(api, app["id"], action="accept", document_no="绍柯建修〔2026〕5号")
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["status"] == "accepted"
    assert set(done["decision"]) == {"action", "reason", "document_no", "by", "at"}
    assert done["decision"]["document_no"] == "绍柯建修〔2026〕5号"
    assert done["decision"]["by"] == "柯桥区住房和城乡建设局"
    # the repair use case itself ran, with the requested date and the decision's number
    rec = api.get(f"/api/v1/records/{record['id']}", "regulator").get_json()
    assert rec["status"] == "repaired" and rec["repaired_on"] == "2026-05-01"
    assert rec["valid_until"] == "2026-04-30"
    assert rec["events"][0]["document_no"] == "绍柯建修〔2026〕5号"
    with ctx.uow(write=False) as uow:
        kinds = [e["kind"] for e in uow.audit_queries.page(after=0, limit=100)]
    assert kinds[-2:] == ["record.repaired", "application.decided"]
    assert api.score(S1)["score"] == "100.00"
    assert api.get("/api/v1/applications?status=accepted", "auditor").get_json()[
        "items"] == [done]
    assert api.get("/api/v1/applications?status=pending", "admin").get_json()["items"] == []
    assert verify(api)["ok"] is True


def test_an_accepted_objection_revokes_the_record_and_the_next_score_shows_it(api):
    record = api.create_record()
    before = api.score(S1)
    assert before["score"] == "92.00"
    app = apply(api, record["id"], kind="objection",
                reason="处罚所依据的事实有误，已提起行政复议").get_json()
    assert app["requested_repair_on"] is None
    r = decide(api, app["id"], action="accept", document_no="绍柯建复〔2026〕2号",
               reason="复议决定撤销原处罚")
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    after = api.score(S1)
    assert after["score"] == "100.00" and after["grade"] == "B" and after["reasons"] == []
    trace = api.get(f"/api/v1/traces/{after['trace_id']}", "auditor").get_json()
    assert [r_["status"] for r_ in trace["payload"]["records"]] == ["revoked"]
    rec = api.get(f"/api/v1/records/{record['id']}", "enterprise").get_json()
    assert rec["status"] == "revoked"
    assert rec["events"][0]["document_no"] == "绍柯建复〔2026〕2号"
    # the earlier score is still what it was
    old = api.get(f"/api/v1/traces/{before['trace_id']}/verify", "auditor").get_json()
    assert old["ok"] is True


def test_a_rejected_application_changes_no_record(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-01").get_json()
    r = decide(api, app["id"], action="reject", reason="整改材料不完整，不予修复")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "rejected" and body["decision"]["document_no"] is None
    assert api.get(f"/api/v1/records/{record['id']}", "regulator").get_json()["status"] \
        == "active"
    assert [e["payload"]["decision"]["action"] for e in
            entries(ctx, "application.decided")] == ["reject"]
    # a rejection frees the record for a new application
    assert apply(api, record["id"], kind="objection").status_code == 201


# ------------------------------------------------------------------ refusals

def test_an_enterprise_applying_for_another_enterprises_record_is_403(api, ctx):
    record = api.create_record()  # S1's
    head = audit_head(ctx)
    r = apply(api, record["id"], who="enterprise2", kind="objection")
    assert_error(r, 403, "forbidden")
    assert audit_head(ctx) == head


def test_a_repair_application_outside_the_window_is_422_with_the_dates(api, ctx):
    record = api.create_record()
    head = audit_head(ctx)
    r = apply(api, record["id"], kind="repair", requested_repair_on="2026-03-01")
    assert_error(r, 422, "repair_too_early", earliest_repair_on="2026-04-10")
    old = api.create_record(decided_on="2025-01-01", document_no="绍柯建罚〔2025〕9号")
    r = apply(api, old["id"], kind="repair", requested_repair_on="2026-01-05")
    assert_error(r, 422, "repair_after_expiry", latest_repair_on="2025-12-31")
    ban = api.create_record(code="BID-BAN", valid_until="2026-12-31",
                            document_no="绍柯建罚〔2026〕7号")
    r = apply(api, ban["id"], kind="repair", requested_repair_on="2026-05-01")
    assert_error(r, 422, "not_repairable")
    r = apply(api, record["id"], kind="repair", requested_repair_on="2026-06-02")
    assert_error(r, 400, "repaired_in_future")
    assert audit_head(ctx) == head + 2  # only the two records


def test_state_conflicts(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-01").get_json()
    assert_error(apply(api, record["id"], kind="objection"), 409, "application_pending",
                 application_id=app["id"])
    assert decide(api, app["id"], action="reject").status_code == 200
    assert_error(decide(api, app["id"], action="reject"), 409, "already_decided")
    repaired = api.post(f"/api/v1/records/{record['id']}/repair",
                        {"repaired_on": "2026-05-01", "document_no": "修〔2026〕1号",
                         "reason": "整改"}, "regulator")
    assert repaired.status_code == 200
    r = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-02")
    assert_error(r, 409, "already_repaired")
    # an objection to a repaired record is still possible (a repaired record may be revoked)
    objection = apply(api, record["id"], kind="objection")
    assert objection.status_code == 201
    api.post(f"/api/v1/records/{record['id']}/revocation", revocation_body(), "regulator")
    other = api.create_record(document_no="绍柯建罚〔2026〕8号")
    api.post(f"/api/v1/records/{other['id']}/revocation", revocation_body(), "regulator")
    for kind, extra in (("objection", {}), ("repair", {"requested_repair_on": "2026-05-01"})):
        assert_error(apply(api, other["id"], kind=kind, **extra), 409, "already_revoked")


def test_a_pending_application_is_409_before_the_repair_rules_422(api):
    """API.md §1: step 11 (409 ``application_pending``) before step 12 (422
    ``not_repairable``): a repair application for a record with an objection pending."""
    ban = api.create_record(code="BID-BAN", valid_until="2026-12-31",
                            document_no="绍柯建罚〔2026〕7号")
    objection = apply(api, ban["id"], kind="objection")
    assert objection.status_code == 201
    r = apply(api, ban["id"], kind="repair", requested_repair_on="2026-05-01")
    assert_error(r, 409, "application_pending", application_id=objection.get_json()["id"])
    other = api.create_record(code="BID-BAN", valid_until="2026-12-31",
                              document_no="绍柯建罚〔2026〕9号")
    assert_error(apply(api, other["id"], kind="repair", requested_repair_on="2026-05-01"),
                 422, "not_repairable")  # with nothing pending


def test_accepting_after_the_record_changed_answers_409_and_leaves_it_pending(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-01").get_json()
    api.post(f"/api/v1/records/{record['id']}/revocation", revocation_body(), "regulator")
    head = audit_head(ctx)
    r = decide(api, app["id"], action="accept", document_no="绍柯建修〔2026〕6号")
    assert_error(r, 409, "already_revoked")
    assert audit_head(ctx) == head
    still = api.get("/api/v1/applications", "enterprise").get_json()["items"][0]
    assert still["status"] == "pending"
    assert decide(api, app["id"], action="reject").get_json()["status"] == "rejected"

    second = api.create_record(document_no="绍柯建罚〔2026〕3号")
    app2 = apply(api, second["id"], kind="repair", requested_repair_on="2026-05-01").get_json()
    api.post(f"/api/v1/records/{second['id']}/repair",
             {"repaired_on": "2026-05-03", "document_no": "修〔2026〕3号", "reason": "整改"},
             "regulator")
    assert_error(decide(api, app2["id"], action="accept", document_no="修〔2026〕4号"),
                 409, "already_repaired")


@pytest.mark.parametrize("body,field", [
    ({"kind": "appeal"}, "kind"),
    ({"kind": "objection", "reason": "太短"}, "reason"),
    ({"kind": "objection", "reason": "x" * 1001}, "reason"),
    ({"kind": "repair"}, "requested_repair_on"),
    ({"kind": "objection", "requested_repair_on": "2026-05-01"}, "requested_repair_on"),
    ({"kind": "repair", "requested_repair_on": "2026-13-01"}, "requested_repair_on"),
    ({"kind": "objection", "note": "x"}, "note"),
])
def test_bad_application_bodies_are_400(api, ctx, body, field):
    record = api.create_record()
    head = audit_head(ctx)
    r = api.post(f"/api/v1/records/{record['id']}/applications",
                 {"reason": "理由充分的说明", **body}, "enterprise")
    problem = assert_error(r, 400, "validation_error")
    assert field in problem["errors"], problem
    assert audit_head(ctx) == head


def test_bad_decisions_and_who_may_decide(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="objection").get_json()
    head = audit_head(ctx)
    problem = assert_error(decide(api, app["id"], action="accept"), 400, "validation_error")
    assert "document_no" in problem["errors"]
    assert "action" in assert_error(decide(api, app["id"], action="maybe"), 400,
                                    "validation_error")["errors"]
    assert_error(decide(api, app["id"], who="transport", action="reject"), 403,
                 "sector_forbidden")
    assert_error(decide(api, app["id"], who="enterprise", action="reject"), 403, "forbidden")
    assert_error(decide(api, app["id"], who="auditor", action="reject"), 403, "forbidden")
    assert_error(decide(api, 999, action="reject"), 404, "not_found")
    assert_error(decide(api, "abc", action="reject"), 404, "not_found")
    assert_error(apply(api, 999, kind="objection"), 404, "not_found")
    assert_error(apply(api, record["id"], who="regulator", kind="objection"), 403, "forbidden")
    assert_error(api.get("/api/v1/applications", "evaluator"), 403, "forbidden")
    assert_error(api.get("/api/v1/applications?sector=housing", "transport"), 403,
                 "sector_forbidden")
    assert_error(api.get("/api/v1/applications?status=open", "auditor"), 400,
                 "validation_error")
    assert_error(api.get("/api/v1/applications"), 401, "unauthenticated")
    assert audit_head(ctx) == head


def test_the_list_pages_newest_first(api):
    ids = []
    for n in range(3):
        record = api.create_record(document_no=f"绍柯建罚〔2026〕{20 + n}号")
        ids.append(apply(api, record["id"], kind="objection").get_json()["id"])
    first = api.get("/api/v1/applications?limit=2", "regulator").get_json()
    assert [a["id"] for a in first["items"]] == ids[:0:-1] and first["next"] == str(ids[1])
    rest = api.get(f"/api/v1/applications?limit=2&after={first['next']}", "regulator")
    assert [a["id"] for a in rest.get_json()["items"]] == [ids[0]]


# ------------------------------------------------------------------ audit verify

def test_audit_verify_rechecks_applications_and_decisions(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="repair", requested_repair_on="2026-05-01").get_json()
    decide(api, app["id"], action="reject")
    assert verify(api)["ok"] is True
    raw(ctx, "UPDATE applications SET reason = 'x' WHERE id = :i", {"i": app["id"]},
        tables=["applications"])
    bad = verify(api)["first_bad"]
    assert (bad["problem"], bad["table"], bad["id"]) == ("row_mismatch", "applications",
                                                         app["id"])
    raw(ctx, "DELETE FROM application_decisions", tables=["application_decisions"])
    problems = verify(api)
    assert problems["ok"] is False


def test_a_deleted_decision_is_row_missing(api, ctx):
    record = api.create_record()
    app = apply(api, record["id"], kind="objection").get_json()
    decide(api, app["id"], action="reject")
    position = entries(ctx, "application.decided")[0]["position"]
    raw(ctx, "DELETE FROM application_decisions", tables=["application_decisions"])
    bad = verify(api)["first_bad"]
    assert bad == {"position": position, "problem": "row_missing",
                   "table": "application_decisions", "id": app["id"]}


def test_an_application_entrys_uscc_column_and_a_forged_application_are_found(api, ctx):
    """The application.* entries name their subject in the payload: the typed uscc
    column must say the same; an application row no entry created is unreferenced."""
    record = api.create_record()
    app = apply(api, record["id"], kind="objection").get_json()
    position = entries(ctx, "application.submitted")[0]["position"]
    assert verify(api)["ok"] is True
    raw(ctx, "UPDATE audit_entries SET uscc = '91110000600037341L' WHERE position = :p",
        {"p": position}, tables=["audit_entries"])
    assert verify(api)["first_bad"] == {"position": position, "problem": "row_mismatch",
                                        "table": "audit_entries", "id": position}
    raw(ctx, "UPDATE audit_entries SET uscc = :u WHERE position = :p",
        {"u": S1, "p": position}, tables=["audit_entries"])
    raw(ctx, "INSERT INTO applications (id, record_id, uscc, sector, kind, reason, "
        "submitted_by, submitted_at, audit_position, sha256) VALUES (:i, :r, :u, 'housing', "
        "'objection', '伪造的申请', 'x', '2026-06-01T10:00:00.000000+08:00', 999, :h)",
        {"i": app["id"] + 1, "r": record["id"], "u": S1, "h": "0" * 64})
    assert verify(api)["first_bad"] == {"position": None, "problem": "row_unreferenced",
                                        "table": "applications", "id": app["id"] + 1}


def test_append_only_triggers_refuse_changes(api, ctx):
    record = api.create_record()
    apply(api, record["id"], kind="objection")
    for sql in ("UPDATE applications SET reason = 'x'", "DELETE FROM applications"):
        with pytest.raises(DatabaseError, match="append-only"):
            raw(ctx, sql)
    assert verify(api)["ok"] is True
