"""The hash-chained log checked end to end (API.md §6): verify_chain finds and locates
tampering done behind the service's back (triggers removed first — detection must not
depend on them); verify_trace recomputes, links and replays a trace."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from credit.errors import NotFound
from credit.persistence.tables import RecordRow
from credit.services.audit import verify_chain, verify_trace
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, score

from .helpers import (
    EVALUATOR,
    HOUSING,
    S1,
    S2,
    S3,
    all_entries,
    canonical_sha256,
    record_body,
    repair_body,
    revocation_body,
    snapshot,
    tamper,
)


def serve(ctx, uscc=S1, as_of=date(2026, 6, 1)) -> dict:
    return score(ctx, EVALUATOR, ScoreQuery(uscc, "housing", as_of))


@pytest.fixture
def store(ctx, clock):
    """A small history of every kind of row: records, a repair, a revocation, scores and
    an evaluation. Returns the ids and positions the tests tamper with."""
    out = {}

    def rec(**kw):
        clock.advance(seconds=7)
        return json.loads(create_record(ctx, HOUSING, record_body(**kw)).body)

    out["r1"] = rec(uscc=S1, document_no="T1")                                 # pos 1
    out["r2"] = rec(uscc=S2, code="SUB-TRANSFER", decided_on="2025-01-01",
                    document_no="T2")                                          # pos 2
    out["r3"] = rec(uscc=S1, code="SITE-QUALITY", document_no="T3")            # pos 3
    clock.advance(seconds=7)
    out["s1"] = serve(ctx)                                                     # pos 4
    clock.advance(seconds=7)
    out["repair"] = repair_record(ctx, HOUSING, out["r1"]["id"],
                                  repair_body("2026-04-10"))["events"][0]      # pos 5
    clock.advance(seconds=7)
    out["revoke"] = revoke_record(ctx, HOUSING, out["r2"]["id"],
                                  revocation_body())["events"][0]              # pos 6
    clock.advance(seconds=7)
    out["s2"] = serve(ctx)                                                     # pos 7
    clock.advance(seconds=7)
    ev = create_evaluation(ctx, EVALUATOR, {
        "tender": {"code": "KQ-1", "name": "标段一"}, "sector": "housing",
        "as_of": "2026-06-01", "bidders": [{"uscc": S1}, {"uscc": S2}]})  # pos 8, 9, 10
    out["evaluation"] = json.loads(ev.body)
    clock.advance(seconds=7)
    out["r4"] = rec(uscc=S3, document_no="T4")                                 # pos 11
    clock.advance(seconds=7)
    out["s3"] = serve(ctx, uscc=S3)                                            # pos 12
    assert [e["position"] for e in all_entries(ctx)] == list(range(1, 13))
    return out


def first_bad(ctx):
    result = verify_chain(ctx)
    assert result["ok"] is False
    assert result["entries_checked"] >= 1
    return result["first_bad"]


def test_intact_chain(ctx, store):
    before = snapshot(ctx)
    assert verify_chain(ctx) == {"ok": True, "entries_checked": 12, "first_bad": None}
    assert snapshot(ctx) == before  # appends nothing


def test_empty_chain(ctx):
    assert verify_chain(ctx) == {"ok": True, "entries_checked": 0, "first_bad": None}


def test_every_entry_hash_is_reproducible_by_hand(ctx, store):
    prev = "0" * 64
    for e in all_entries(ctx):
        assert set(e) == {"position", "kind", "at", "actor", "payload", "prev_sha256", "sha256"}
        assert e["prev_sha256"] == prev
        assert canonical_sha256({k: v for k, v in e.items() if k != "sha256"}) == e["sha256"]
        prev = e["sha256"]
    assert [e["kind"] for e in all_entries(ctx)] == [
        "record.created", "record.created", "record.created", "score.served",
        "record.repaired", "record.revoked", "score.served", "score.served", "score.served",
        "evaluation.created", "record.created", "score.served"]


# ---------------------------------------------------------------- defence in depth

def test_triggers_refuse_update_and_delete(ctx, store):
    for sql in ("UPDATE records SET note = 'x' WHERE id = 1",
                "DELETE FROM record_events",
                "UPDATE audit_entries SET actor = 'x' WHERE position = 1",
                "DELETE FROM audit_entries WHERE position = 12",
                "UPDATE evaluations SET document = '{}'",
                "DELETE FROM subjects"):
        with pytest.raises(DBAPIError):
            with ctx.uow.engine.begin() as conn:
                conn.execute(text(sql))
    assert verify_chain(ctx)["ok"] is True


# ---------------------------------------------------------------- rows

def test_edited_record_column(ctx, store):
    r3 = store["r3"]
    assert tamper(ctx, "records", "UPDATE records SET decided_on = :d WHERE id = :id",
                  {"d": date(2026, 1, 11), "id": r3["id"]}) == 1
    assert first_bad(ctx) == {"position": r3["audit_position"], "problem": "row_mismatch",
                              "table": "records", "id": r3["id"]}


def test_edited_record_with_forged_hash_column(ctx, store):
    # Rewriting the row's own sha256 consistently does not help: the creating entry
    # carries the original hash.
    r1 = store["r1"]
    facts = {k: r1.get(k) for k in ("id", "uscc", "subject_name", "sector", "code",
                                     "decided_on", "document_no", "issued_by", "project_code",
                                     "project_name", "occurred_on", "note", "entered_by",
                                     "recorded_at", "audit_position")}
    facts["valid_until"] = r1["original_valid_until"]
    facts["document_no"] = "伪造文号"
    tamper(ctx, "records", "UPDATE records SET document_no = :n, sha256 = :s WHERE id = :id",
           {"n": "伪造文号", "s": canonical_sha256(facts), "id": r1["id"]})
    assert first_bad(ctx) == {"position": 1, "problem": "row_mismatch", "table": "records",
                              "id": r1["id"]}


def test_deleted_event_row(ctx, store):
    rev = store["revoke"]
    assert tamper(ctx, "record_events", "DELETE FROM record_events WHERE audit_position = :p",
                  {"p": rev["audit_position"]}) == 1
    bad = first_bad(ctx)
    assert bad["position"] == rev["audit_position"] == 6
    assert bad["problem"] == "row_missing"
    assert bad["table"] == "record_events"


def test_deleted_record_row(ctx, store):
    r4 = store["r4"]
    tamper(ctx, "records", "DELETE FROM records WHERE id = :id", {"id": r4["id"]})
    assert first_bad(ctx) == {"position": 11, "problem": "row_missing", "table": "records",
                              "id": r4["id"]}


def test_edited_event_row(ctx, store):
    rep = store["repair"]
    tamper(ctx, "record_events",
           "UPDATE record_events SET repaired_on = :d WHERE audit_position = :p",
           {"d": date(2026, 4, 11), "p": rep["audit_position"]})
    bad = first_bad(ctx)
    assert (bad["position"], bad["problem"], bad["table"]) == (5, "row_mismatch",
                                                              "record_events")


def test_unreferenced_record(ctx, store):
    with ctx.uow.engine.begin() as conn:
        conn.execute(insert(RecordRow.__table__).values(
            id=99, uscc=S3, subject_name="凭空出现", sector="housing", code="SUB-TRANSFER",
            decided_on=date(2026, 1, 1), valid_until=date(2028, 12, 31), document_no="X",
            issued_by="X", entered_by="X", recorded_at=store["r1"]["recorded_at"],
            audit_position=999, sha256="0" * 64))
    assert first_bad(ctx) == {"position": None, "problem": "row_unreferenced",
                              "table": "records", "id": 99}


def test_unreferenced_row_comes_after_positioned_problems(ctx, store):
    with ctx.uow.engine.begin() as conn:
        conn.execute(insert(RecordRow.__table__).values(
            id=99, uscc=S3, subject_name="凭空出现", sector="housing", code="SUB-TRANSFER",
            decided_on=date(2026, 1, 1), valid_until=date(2028, 12, 31), document_no="X",
            issued_by="X", entered_by="X", recorded_at=store["r1"]["recorded_at"],
            audit_position=999, sha256="0" * 64))
    tamper(ctx, "records", "UPDATE records SET note = 'x' WHERE id = :id",
           {"id": store["r4"]["id"]})
    assert first_bad(ctx)["position"] == 11


def test_edited_evaluation_document(ctx, store):
    ev = store["evaluation"]
    doc = json.loads(json.dumps(ev))
    doc["results"][0]["score"] = "100.00"
    tamper(ctx, "evaluations", "UPDATE evaluations SET document = :d WHERE id = :id",
           {"d": json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            "id": ev["id"]})
    assert first_bad(ctx) == {"position": 10, "problem": "row_mismatch",
                              "table": "evaluations", "id": ev["id"]}


# ---------------------------------------------------------------- entries

def _entry_text(ctx, position):
    with ctx.uow.engine.connect() as conn:
        return conn.execute(text("SELECT text FROM audit_entries WHERE position = :p"),
                            {"p": position}).scalar()


def test_edited_entry_text(ctx, store):
    original = _entry_text(ctx, 7)
    forged = original.replace(EVALUATOR.name, "某人")
    assert forged != original
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = 7",
           {"t": forged})
    assert first_bad(ctx) == {"position": 7, "problem": "hash_mismatch"}


def test_entry_text_that_is_not_json(ctx, store):
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = 'gone' WHERE position = 9")
    assert first_bad(ctx) == {"position": 9, "problem": "hash_mismatch"}


def test_edited_entry_hash_column(ctx, store):
    tamper(ctx, "audit_entries",
           "UPDATE audit_entries SET sha256 = :s WHERE position = 2", {"s": "f" * 64})
    assert first_bad(ctx) == {"position": 2, "problem": "hash_mismatch"}


def test_edited_entry_text_with_forged_hash_breaks_the_link(ctx, store):
    entry = json.loads(_entry_text(ctx, 4))
    entry["payload"]["result"]["score"] = "100.00"
    forged = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tamper(ctx, "audit_entries",
           "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = 4",
           {"t": forged, "s": canonical_sha256(entry)})
    assert first_bad(ctx) == {"position": 5, "problem": "prev_mismatch"}


def test_edited_record_entry_payload(ctx, store):
    # The creating entry of record 3, rewritten: its own hash no longer matches.
    entry = json.loads(_entry_text(ctx, 3))
    entry["payload"]["record"]["note"] = "补充说明"
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = 3",
           {"t": json.dumps(entry, sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False)})
    assert first_bad(ctx) == {"position": 3, "problem": "hash_mismatch"}


def test_deleted_middle_entry(ctx, store):
    tamper(ctx, "audit_entries", "DELETE FROM audit_entries WHERE position = 7")
    result = verify_chain(ctx)
    assert result["ok"] is False
    assert result["entries_checked"] == 11
    bad = result["first_bad"]
    assert bad["problem"] == "position_gap"
    assert bad["position"] == 7  # the missing one, not the intact entry after it


def test_deleted_first_entry(ctx, store):
    tamper(ctx, "audit_entries", "DELETE FROM audit_entries WHERE position = 1")
    bad = first_bad(ctx)
    assert bad["problem"] == "position_gap" and bad["position"] == 1


# ---------------------------------------------------------------- verify_trace

def test_verify_trace_ok_and_appends_nothing(ctx, store):
    before = snapshot(ctx)
    for position in (4, 7, 8, 9, 12):
        assert verify_trace(ctx, position) == {"hash_ok": True, "chain_ok": True,
                                               "replay_ok": True, "ok": True,
                                               "differences": []}
    assert snapshot(ctx) == before


def test_verify_trace_of_a_non_trace(ctx, store):
    for position in (1, 5, 6, 10, 13, 0):
        with pytest.raises(NotFound):
            verify_trace(ctx, position)


def test_verify_trace_tampered_text(ctx, store):
    entry = json.loads(_entry_text(ctx, 7))
    entry["payload"]["result"]["score"] = "99.00"
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = 7",
           {"t": json.dumps(entry, sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False)})
    v = verify_trace(ctx, 7)
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"], v["ok"]) == (False, True, False, False)
    assert v["differences"] == ["result.score"]


def test_verify_trace_tampered_text_with_forged_hash(ctx, store):
    entry = json.loads(_entry_text(ctx, 4))
    entry["payload"]["result"]["grade"] = "A"
    tamper(ctx, "audit_entries",
           "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = 4",
           {"t": json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            "s": canonical_sha256(entry)})
    v = verify_trace(ctx, 4)
    # The next entry no longer links to it (chain_ok), and the replay differs.
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"]) == (True, False, False)
    assert v["differences"] == ["result.grade"]


def test_verify_trace_breaks_when_predecessor_changes(ctx, store):
    # Trace 8's predecessor is trace 7: rewrite 7 (with a consistent hash) and 8's link
    # is broken.
    entry = json.loads(_entry_text(ctx, 7))
    entry["actor"] = "某人"
    tamper(ctx, "audit_entries",
           "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = 7",
           {"t": json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            "s": canonical_sha256(entry)})
    # 7 itself: its actor column disagrees with its text and 8 no longer links to it.
    v = verify_trace(ctx, 7)
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"], v["ok"]) == (False, False, True, False)
    v = verify_trace(ctx, 8)
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"], v["ok"]) == (True, False, True, False)


def test_verify_trace_replay_detects_changed_record(ctx, store):
    r3 = store["r3"]
    tamper(ctx, "records", "UPDATE records SET decided_on = :d WHERE id = :id",
           {"d": date(2026, 1, 11), "id": r3["id"]})
    v = verify_trace(ctx, 4)
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"], v["ok"]) == (True, True, False, False)
    assert any(d.startswith("records.") and d.endswith(".decided_on") for d in v["differences"])


def test_verify_trace_replay_detects_deleted_event(ctx, store):
    # trace 7 knew the repair of record 1 (position 5); without it the replay differs
    tamper(ctx, "record_events", "DELETE FROM record_events WHERE audit_position = 5")
    v = verify_trace(ctx, 7)
    assert v["replay_ok"] is False and v["hash_ok"] is True
    assert "result.score" in v["differences"]
    # trace 4 was served before the repair: its replay is unaffected
    assert verify_trace(ctx, 4)["ok"] is True


@pytest.mark.parametrize("broken", ["no server", "a file in the way", "not a database"])
def test_cli_verify_says_unreachable_not_tampered_when_the_database_cannot_be_read(
        tmp_path, broken):
    """``credit audit verify`` exits 2 ("database unreachable", API.md §8) with a message,
    never 1 ("not intact"), when it cannot read the database at all: an auditor's alarm
    on exit 1 must mean the chain, not the configuration. Before, a file where the
    SQLite file's directory should be, or a file that is not a database, ended in a
    traceback and exit 1."""
    from click.testing import CliRunner

    from credit.cli import main as cli
    (tmp_path / "in-the-way").write_text("x")
    (tmp_path / "junk.db").write_bytes(b"not a database, " * 512)
    url = {"no server": "postgresql://nobody@127.0.0.1:1/x",
           "a file in the way": f"sqlite:///{tmp_path}/in-the-way/credit.db",
           "not a database": f"sqlite:///{tmp_path}/junk.db"}[broken]
    r = CliRunner().invoke(cli, ["audit", "verify"], env={"CREDIT_DATABASE_URL": url})
    assert r.exit_code == 2, (r.exit_code, r.output, repr(r.exception))
    assert r.output.startswith("error: ") and "Traceback" not in r.output


def test_cli_verify_of_a_database_without_the_schema_exits_2_on_both_backends(
        unmigrated_database_url):
    """A database that answers but holds no schema cannot be verified: exit 2 with a
    message on both backends (API.md §8), never a traceback and exit 1 ("not intact").
    Before, PostgreSQL's missing table (UndefinedTable, a ProgrammingError) ended in a
    traceback and exit 1, where SQLite's ("no such table", an OperationalError) exited
    2."""
    from click.testing import CliRunner

    from credit.cli import main as cli
    r = CliRunner().invoke(cli, ["audit", "verify"],
                           env={"CREDIT_DATABASE_URL": unmigrated_database_url})
    assert r.exit_code == 2, (r.exit_code, r.output, repr(r.exception))
    assert r.output.startswith("error: ") and "Traceback" not in r.output
