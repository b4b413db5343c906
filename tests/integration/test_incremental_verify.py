"""Incremental ``audit verify`` (API.md §6, issue 10), on SQLite and PostgreSQL: every
run is stored outside the chain; ``incremental=True`` (``?from=checkpoint``,
``credit audit verify --incremental``) re-checks the newest intact run's entry, then
walks only the entries after it and the rows they created — every table a full run
re-hashes (``VERIFIED_TABLES``), tokens and subjects — and checks them as a full run does.
An edit after the stored position is located; one before it is caught by a full run (the
default)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from credit.services import performance, tenders
from credit.services.applications import decide, submit
from credit.services.audit import last_verification, verify_chain
from credit.services.context import Actor
from credit.services.demo import load_demo
from credit.services.idempotency import IdempotentRequest
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score
from credit.services.sessions import end_session
from credit.services.verification import VERIFIED_TABLES
from tests.tender_data import TENDEREE, award_body, tender_body

from .helpers import EVALUATOR, HOUSING, S1, S2, S3, entry, head, record_body, tamper
from .tender_helpers import PLATFORM, TRANSPORT, award, register

pytestmark = pytest.mark.db

ENTERPRISE = Actor("绍兴柯桥建工集团有限公司", "enterprise", token_id=90, uscc=S1)


def rec(ctx, clock, **kw) -> dict:
    clock.advance(seconds=5)
    return json.loads(create_record(ctx, HOUSING, record_body(**kw)).body)


def serve(ctx, uscc=S1) -> dict:
    return score(ctx, EVALUATOR, ScoreQuery(uscc, "housing", date(2026, 6, 1)))


def incremental(ctx) -> dict:
    return verify_chain(ctx, incremental=True)


def test_without_a_stored_run_the_whole_chain_is_walked(ctx, clock):
    rec(ctx, clock, document_no="I1")
    serve(ctx)
    result = incremental(ctx)
    assert result == {"ok": True, "entries_checked": 2, "first_bad": None,
                      "from_position": 0}
    stored = last_verification(ctx)
    assert (stored["mode"], stored["position"], stored["ok"]) == ("incremental", 2, True)


def test_only_what_came_after_the_stored_run_is_walked(ctx, clock):
    rec(ctx, clock, document_no="I1")
    serve(ctx)
    assert verify_chain(ctx)["ok"]  # full, stored at position 2
    r2 = rec(ctx, clock, uscc=S2, document_no="I2")
    serve(ctx, S2)
    result = incremental(ctx)
    assert result == {"ok": True, "entries_checked": 2, "first_bad": None,
                      "from_position": 2}
    assert incremental(ctx)["from_position"] == head(ctx)[0]  # nothing new: 0 entries
    # an edit after the stored position: located by the next incremental run
    rec(ctx, clock, uscc=S3, document_no="I3")
    r3 = rec(ctx, clock, uscc=S3, code="SITE-QUALITY", document_no="I4")
    tamper(ctx, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
           {"id": r3["id"]})
    bad = incremental(ctx)
    assert bad["ok"] is False and bad["first_bad"] == {
        "position": r3["audit_position"], "problem": "row_mismatch", "table": "records",
        "id": r3["id"]}
    # a failed run is stored but never a starting point: the next one finds it again
    assert incremental(ctx)["first_bad"] == bad["first_bad"]
    assert last_verification(ctx)["ok"] is False
    del r2


def test_an_edit_before_the_stored_position_takes_a_full_run(ctx, clock):
    r1 = rec(ctx, clock, document_no="I1")
    serve(ctx)
    assert verify_chain(ctx)["ok"]
    rec(ctx, clock, uscc=S2, document_no="I2")
    tamper(ctx, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
           {"id": r1["id"]})
    assert incremental(ctx)["ok"] is True  # documented: before its starting point
    full = verify_chain(ctx)
    assert full["first_bad"] == {"position": r1["audit_position"], "problem": "row_mismatch",
                                 "table": "records", "id": r1["id"]}


def test_a_failure_is_found_again_until_a_whole_walk_shows_it_gone(ctx, clock):
    """A full run that finds an edit below the newest intact run's position is not
    stepped over: the next incremental runs walk from the start of the chain and find
    it again, and the console shows the failure; once the row is as it was and a whole
    walk is intact, incremental runs start from that walk again."""
    r1 = rec(ctx, clock, document_no="I1")
    serve(ctx)
    assert verify_chain(ctx)["ok"] and incremental(ctx)["from_position"] == 2
    tamper(ctx, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
           {"id": r1["id"]})
    clock.advance(seconds=1)
    found = verify_chain(ctx)["first_bad"]
    assert found == {"position": r1["audit_position"], "problem": "row_mismatch",
                     "table": "records", "id": r1["id"]}
    for _ in range(2):
        clock.advance(seconds=1)
        again = incremental(ctx)
        assert (again["from_position"], again["first_bad"]) == (0, found)
        assert last_verification(ctx)["ok"] is False
    tamper(ctx, "records", "UPDATE records SET document_no = 'I1' WHERE id = :id",
           {"id": r1["id"]})
    clock.advance(seconds=1)
    assert incremental(ctx) == {"ok": True, "entries_checked": 2, "first_bad": None,
                                "from_position": 0}  # itself a whole walk, intact
    clock.advance(seconds=1)
    assert incremental(ctx)["from_position"] == 2


def test_a_run_that_started_before_a_failure_but_ended_after_it(ctx, clock, monkeypatch):
    """Runs overlap: the first walks a snapshot taken before an edit and is stored after
    a second run that started later and found the edit. What the first saw is older:
    the console shows the failure, and an incremental run does not start from the first
    run's verdict."""
    from credit.services import verification
    r1 = rec(ctx, clock, document_no="I1")
    serve(ctx)
    walk, edited = verification._walk, []

    def walk_then_edit(uow, checkpoint, start):  # the first run, while it walks
        result = walk(uow, checkpoint, start)
        if not edited:
            edited.append(True)
            tamper(ctx, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
                   {"id": r1["id"]})
            clock.advance(seconds=1)
            with monkeypatch.context() as m:
                m.setattr(verification, "_walk", walk)
                assert verify_chain(ctx)["ok"] is False  # the second run, stored first
        return result

    monkeypatch.setattr(verification, "_walk", walk_then_edit)
    assert verify_chain(ctx)["ok"] is True  # the first run: stored last
    monkeypatch.undo()
    assert last_verification(ctx)["ok"] is False
    clock.advance(seconds=1)
    assert incremental(ctx)["from_position"] == 0 and \
        incremental(ctx)["first_bad"]["id"] == r1["id"]


def test_the_stored_position_s_entry_is_checked_again(ctx, clock):
    rec(ctx, clock, document_no="I1")
    serve(ctx)
    assert verify_chain(ctx)["ok"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET sha256 = :s WHERE position = 2",
           {"s": "0" * 64})
    result = incremental(ctx)
    assert result["first_bad"] == {"position": 2, "problem": "hash_mismatch"}


def test_entries_after_it_are_rehashed_and_linked(ctx, clock):
    rec(ctx, clock, document_no="I1")
    assert verify_chain(ctx)["ok"]
    serve(ctx)
    serve(ctx)
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, "
           "'\"housing\"', '\"water\"') WHERE position = 3")
    assert incremental(ctx)["first_bad"] == {"position": 3, "problem": "hash_mismatch"}


def test_forged_rows_after_it_are_unreferenced(ctx, clock):
    r1 = rec(ctx, clock, document_no="I1")
    assert verify_chain(ctx)["ok"]
    rec(ctx, clock, uscc=S2, document_no="I2")
    # a record row no entry created, claiming a position after the stored run
    tamper(ctx, "records", "INSERT INTO records SELECT id + 100, uscc, subject_name, sector,"
           " code, decided_on, valid_until, document_no, issued_by, project_code, "
           "project_name, occurred_on, note, entered_by, recorded_at, audit_position + 100,"
           " sha256, source_warning, source_performance FROM records WHERE id = :id",
           {"id": r1["id"]})
    result = incremental(ctx)
    assert result["first_bad"] == {"position": None, "problem": "row_unreferenced",
                                   "table": "records", "id": r1["id"] + 100}


def test_tokens_and_subjects_after_it(ctx, clock):
    from credit.services.tokens import create_token
    rec(ctx, clock, document_no="I1")
    assert verify_chain(ctx)["ok"]
    token_id, _ = create_token(ctx, "op", role="auditor", name="新审计员")
    r2 = rec(ctx, clock, uscc=S2, subject_name="乙公司", document_no="I2")
    rec(ctx, clock, uscc=S1, code="SITE-QUALITY", document_no="I3")  # S1 known before
    assert verify_chain(ctx, incremental=True, store=False)["ok"] is True  # not stored
    tamper(ctx, "tokens", "UPDATE tokens SET role = 'admin' WHERE id = :id", {"id": token_id})
    tamper(ctx, "subjects", "UPDATE subjects SET name = '冒名' WHERE uscc = :u", {"u": S2})
    problems = incremental(ctx)
    assert problems["first_bad"]["table"] == "tokens", problems
    tamper(ctx, "tokens", "UPDATE tokens SET role = 'auditor' WHERE id = :id",
           {"id": token_id})
    assert incremental(ctx)["first_bad"] == {
        "position": r2["audit_position"], "problem": "row_mismatch", "table": "subjects",
        "id": S2}


def test_a_subject_row_moved_before_it_is_found(ctx, clock):
    """A subject first named after the stored run whose row was renamed and moved to a
    position at or before it (so that it looks registered before the run, and the run's
    subjects after it leave it out) no longer matches what registered it: found."""
    rec(ctx, clock, document_no="I1")
    assert verify_chain(ctx)["ok"]  # stored at position 1
    r2 = rec(ctx, clock, uscc=S2, subject_name="乙公司", document_no="I2")
    tamper(ctx, "subjects", "UPDATE subjects SET name = '冒名', registered_position = 1 "
           "WHERE uscc = :u", {"u": S2})
    assert verify_chain(ctx, incremental=True, store=False)["first_bad"] == {
        "position": r2["audit_position"], "problem": "row_mismatch", "table": "subjects",
        "id": S2}
    # A subject registered before the run, named again after it, is left alone.
    tamper(ctx, "subjects", "UPDATE subjects SET name = '乙公司', registered_position = "
           ":p WHERE uscc = :u", {"u": S2, "p": r2["audit_position"]})
    rec(ctx, clock, uscc=S1, code="SITE-QUALITY", document_no="I3")
    assert verify_chain(ctx, incremental=True, store=False)["ok"] is True


def test_the_tender_loop_s_tables_after_it(tctx, clock):
    rec(tctx, clock, document_no="I1")
    assert verify_chain(tctx)["ok"]
    outcome = tenders.register_tender(tctx, PLATFORM, tender_body())
    t = json.loads(outcome.body)
    t["id"] = entry(tctx, t["audit_position"])["payload"]["tender_id"]
    assert verify_chain(tctx, incremental=True, store=False)["ok"] is True
    tamper(tctx, "bids", "UPDATE bids SET price = '1.00' WHERE tender_id = :t AND n = 1",
           {"t": t["id"]})
    result = incremental(tctx)
    assert result["first_bad"] == {"position": t["audit_position"],
                                   "problem": "row_mismatch", "table": "bids", "id": t["id"]}


def test_a_bid_forged_into_a_tender_that_does_not_exist(tctx, clock):
    outcome = tenders.register_tender(tctx, PLATFORM, tender_body())
    t = json.loads(outcome.body)
    t["id"] = entry(tctx, t["audit_position"])["payload"]["tender_id"]
    assert verify_chain(tctx)["ok"]
    rec(tctx, clock, document_no="I1")
    tamper(tctx, "bids", "INSERT INTO bids SELECT tender_id + 50, n, bidder_uscc, "
           "bidder_name, price, status, reject_reason, submitted_at, deposit_hash, "
           "deposit_masked FROM bids WHERE tender_id = :t AND n = 1", {"t": t["id"]})
    result = incremental(tctx)
    assert result["first_bad"] == {"position": None, "problem": "row_unreferenced",
                                   "table": "bids", "id": t["id"] + 50}


def test_applications_after_it(ctx, clock):
    r1 = rec(ctx, clock, document_no="I1")
    assert verify_chain(ctx)["ok"]
    clock.advance(days=1)
    app = submit(ctx, ENTERPRISE, r1["id"], {"kind": "objection",
                                             "reason": "处罚决定书送达有误，申请复核"})
    assert verify_chain(ctx, incremental=True, store=False)["ok"] is True
    position = head(ctx)[0]
    assert entry(ctx, position)["kind"] == "application.submitted"
    tamper(ctx, "applications", "UPDATE applications SET reason = 'x' WHERE id = :id",
           {"id": app["id"]})
    assert incremental(ctx)["first_bad"] == {
        "position": position, "problem": "row_mismatch",
        "table": "applications", "id": app["id"]}


def test_the_cli_runs_it_incrementally(ctx, clock, database_url, monkeypatch):
    from credit.cli import main
    rec(ctx, clock, document_no="I1")
    monkeypatch.setenv("CREDIT_DATABASE_URL", database_url)
    run = CliRunner().invoke(main, ["audit", "verify"])
    assert run.exit_code == 0, run.output
    serve(ctx)
    run = CliRunner().invoke(main, ["audit", "verify", "--incremental"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.output.strip().splitlines()[-1])
    assert (out["ok"], out["entries_checked"], out["from_position"]) == (True, 1, 1)
    run = CliRunner().invoke(main, ["audit", "verify", "--incremental", "--checkpoint", "x"])
    assert run.exit_code == 2


def _one_of_everything(tctx, clock, tmp_path) -> None:
    """Rows of every kind ``audit verify`` re-hashes: the demo data (records, events, an
    evaluation, the tender loop, performance evaluations and reviews, agency ratings),
    then an idempotency key, an ended session, an application and its decision."""
    load_demo(tctx, tmp_path / "tokens.txt")
    r = rec(tctx, clock, uscc=S3, document_no="I9")
    create_record(tctx, HOUSING, record_body(uscc=S3, document_no="I10"),
                  IdempotentRequest(1, "POST", "/api/v1/records", "k-1",
                                    record_body(uscc=S3, document_no="I10")))
    end_session(tctx, EVALUATOR, "a-console-session")
    clock.advance(days=1)
    enterprise = Actor("乙公司", "enterprise", token_id=91, uscc=S3)
    app = submit(tctx, enterprise, r["id"], {"kind": "objection",
                                            "reason": "处罚决定书送达有误，申请复核"})
    decide(tctx, HOUSING, app["id"], {"action": "reject", "reason": "经复核，处罚无误"})


def test_every_verified_table_is_checked_after_it(tctx, clock, tmp_path):
    """API.md §6: ``?from=checkpoint`` verifies incrementally what the full run verifies.
    Every table of VERIFIED_TABLES holds rows created after the stored run, and the
    incremental run finds them all intact: a row it did not read would be missing, one
    it read in another shape than the full run would crash it or mismatch. A table added
    later fails here until it is given rows."""
    rec(tctx, clock, uscc=S2, document_no="I1")
    assert verify_chain(tctx)["ok"]  # stored: the starting point
    since = head(tctx)[0]
    _one_of_everything(tctx, clock, tmp_path)
    with tctx.uow(write=False) as uow:
        empty = [t.table for t in VERIFIED_TABLES
                 if next(iter(uow.verifications.rows_since(t.table, since)), None) is None]
    assert empty == []
    full = verify_chain(tctx, store=False)
    result = incremental(tctx)
    assert (full["ok"], result["ok"], result["first_bad"]) == (True, True, None), result
    assert result["from_position"] == since


PERIODIC = {"kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": True,
            "deductions": [{"item": "SCHEDULE", "points": "6.00", "note": "主体结构滞后 21 天"}]}
TENDEREE_ACTOR = Actor("柯桥区某镇人民政府", "tenderee", token_id=31, uscc=TENDEREE)


@pytest.mark.parametrize("table, sql", [
    ("performance_evaluations", "UPDATE performance_evaluations SET score = '100.00'"),
    ("performance_reviews", "UPDATE performance_reviews SET reason = '伪造的理由'"),
])
def test_performance_rows_after_it(tctx, table, sql):
    """PERFORMANCE.md §3, §4 and API.md §6: an evaluation and its review appended after
    the stored run are verified incrementally (no 500), and an edit of either is
    located at its creating entry."""
    t = register(tctx, tender_body())
    award(tctx, t["code"], award_body())
    assert verify_chain(tctx)["ok"]
    e = json.loads(performance.submit_evaluation(tctx, TENDEREE_ACTOR, t["code"],
                                                 PERIODIC).body)
    r = json.loads(performance.review_evaluation(tctx, TRANSPORT, e["id"], {
        "action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01"}).body)
    assert verify_chain(tctx, incremental=True, store=False)["ok"] is True
    assert tamper(tctx, table, sql) == 1
    position = e["audit_position"] if table == "performance_evaluations" \
        else r["review"]["audit_position"]
    assert incremental(tctx)["first_bad"] == {"position": position, "problem": "row_mismatch",
                                              "table": table, "id": e["id"]}
