"""Post-award performance under the integrity rules (API.md §6), on SQLite and
PostgreSQL: an evaluation and its review are rows of append-only tables whose creating
entries (``performance.submitted`` / ``performance.reviewed``) carry their hashes, so
``audit verify`` locates an edited, deleted or forged row; both entries carry the
Idempotency-Key stamp of the reply; the rows refuse UPDATE and DELETE; the review's
entry precedes the records and the warning it creates, whose ids its reply names."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from credit.services import performance
from credit.services.audit import verify_chain
from credit.services.context import Actor
from credit.services.idempotency import IdempotentRequest
from credit.services.verification import IDEMPOTENT_KINDS, VERIFIED_TABLES
from tests.tender_data import TENDEREE, award_body, tender_body

from .helpers import all_entries, tamper
from .tender_helpers import TRANSPORT, award, register

pytestmark = pytest.mark.db

TENDEREE_ACTOR = Actor("柯桥区某镇人民政府", "tenderee", token_id=31, uscc=TENDEREE)
BODY = {"kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": False,
        "deductions": [{"item": "STAFF-MISMATCH", "points": "4.00", "note": "安全员更换"}]}
APPROVE = {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01"}


def reviewed(tctx) -> tuple[dict, dict]:
    t = register(tctx, tender_body())
    award(tctx, t["code"], award_body())
    path = f"/api/v1/tenders/{t['code']}/performance"
    e = json.loads(performance.submit_evaluation(
        tctx, TENDEREE_ACTOR, t["code"], BODY,
        IdempotentRequest(31, "POST", path, "k-1", BODY)).body)
    r = json.loads(performance.review_evaluation(
        tctx, TRANSPORT, e["id"], APPROVE,
        IdempotentRequest(22, "POST", f"/api/v1/performance/{e['id']}/review", "k-2",
                          APPROVE)).body)
    return e, r


def test_the_entries_stamp_their_replies_and_precede_what_they_create(tctx):
    e, r = reviewed(tctx)
    kinds = {t.table: t for t in VERIFIED_TABLES}
    assert {"performance.submitted", "performance.reviewed"} <= set(IDEMPOTENT_KINDS)
    assert {"performance_evaluations", "performance_reviews"} <= set(kinds)
    entries = all_entries(tctx)
    submitted = next(x for x in entries if x["kind"] == "performance.submitted")
    assert submitted["position"] == e["audit_position"]
    assert submitted["payload"]["idempotency"]["key"] == "k-1"
    assert [s["rule"] for s in submitted["payload"]["steps"]] == ["deductions", "score",
                                                                  "rating"]
    tail = [x["kind"] for x in entries if x["position"] >= r["review"]["audit_position"]]
    assert tail == ["performance.reviewed", "warning.raised"]  # periodic: no records
    review_entry = entries[-2]["payload"]
    assert review_entry["review"]["warning"] == r["review"]["warning"]
    assert review_entry["idempotency"]["key"] == "k-2"
    assert verify_chain(tctx)["ok"]


@pytest.mark.parametrize("table, sql, problem", [
    ("performance_evaluations", "UPDATE performance_evaluations SET score = '100.00'",
     "row_mismatch"),
    ("performance_evaluations", "UPDATE performance_evaluations SET project_manager_on_site"
     " = :t", "row_mismatch"),
    ("performance_reviews", "UPDATE performance_reviews SET action = 'return'",
     "row_mismatch"),
    ("performance_reviews", "DELETE FROM performance_reviews", "row_missing"),
])
def test_an_edited_or_deleted_row_is_located(tctx, table, sql, problem):
    e, r = reviewed(tctx)
    assert tamper(tctx, table, sql, {"t": True}) == 1
    bad = verify_chain(tctx)["first_bad"]
    position = e["audit_position"] if table == "performance_evaluations" \
        else r["review"]["audit_position"]
    assert bad == {"position": position, "problem": problem, "table": table, "id": e["id"]}


def test_a_forged_review_is_unreferenced(tctx):
    t = register(tctx, tender_body())
    award(tctx, t["code"], award_body())
    e = json.loads(performance.submit_evaluation(tctx, TENDEREE_ACTOR, t["code"], BODY).body)
    tamper(tctx, "performance_reviews", "INSERT INTO performance_reviews VALUES (:i, "
           "'approve', '伪造', '2026-06-01', NULL, '冒名者', 'x', 999999)", {"i": e["id"]})
    assert verify_chain(tctx)["first_bad"] == {
        "position": None, "problem": "row_unreferenced", "table": "performance_reviews",
        "id": e["id"]}


@pytest.mark.parametrize("sql", ["UPDATE performance_evaluations SET score = '1.00'",
                                 "DELETE FROM performance_reviews"])
def test_the_tables_are_append_only(tctx, sql):
    reviewed(tctx)
    with pytest.raises(DatabaseError):
        with tctx.uow.engine.begin() as conn:
            conn.execute(text(sql))


def test_the_demo_data_covers_contracts_an_approval_and_a_pending_review(tctx, tmp_path):
    from credit.services import warnings
    from credit.services.demo import load_demo
    from credit.services.performance import (
        ContractFilter,
        PerformanceFilter,
        list_contracts,
        list_evaluations,
        performance_index,
    )
    from tests.tender_data import TENDEREE

    summary = load_demo(tctx, tmp_path / "tokens.txt")
    assert "performance:" in summary
    assert "tenderee\t" in (tmp_path / "tokens.txt").read_text(encoding="utf-8")
    auditor = Actor("审计", "auditor")
    contracts = {c["tender"]: c["status"] for c in list_contracts(
        tctx, Actor("镇政府", "tenderee", uscc=TENDEREE), ContractFilter())["items"]}
    # The agency demo's two tenders (issue 12 §7) are this tenderee's too: 011 was due
    # 110 days ago with no final evaluation (overdue: past due + 30 days), 012 ten days ago.
    assert contracts == {"KQ-DEMO-2026-001": "in_progress", "KQ-DEMO-2025-004": "completed",
                         "KQ-DEMO-2025-011": "overdue", "KQ-DEMO-2025-012": "in_progress"}
    statuses = [(e["tender"], e["kind"], e["status"]) for e in list_evaluations(
        tctx, auditor, PerformanceFilter())["items"]]
    assert statuses == [("KQ-DEMO-2025-004", "final", "approved"),
                        ("KQ-DEMO-2026-001", "periodic", "submitted"),
                        ("KQ-DEMO-2026-001", "periodic", "approved")]
    open_ = warnings.list_warnings(tctx, TRANSPORT, warnings.WarningFilter(
        status="open", code="PM-ABSENT"))["items"]
    assert [w["tender"] for w in open_] == ["KQ-DEMO-2026-001"]
    winner = "913306031460111110"  # 柯桥水利水电建设有限公司
    assert performance_index(tctx, winner, None)["index"] == "96.50"
    assert verify_chain(tctx)["ok"]
