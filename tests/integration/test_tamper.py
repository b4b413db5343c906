"""Tampering behind the service's back (API.md §6): editing, deleting or reordering a
record row, an event, an evaluation or an audit entry, and truncating the log's tail,
are each detected by ``verify_chain`` and located (``first_bad``); truncation via a
checkpoint. The append-only triggers are removed first: detection must not depend on
them. Every backend."""

from __future__ import annotations

import json

import pytest

from credit.domain import canonical
from credit.persistence.repositories import RECORD_HASH_FIELDS
from credit.services import checkpoints
from credit.services.audit import verify_chain, verify_trace
from credit.services.context import Actor
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, score
from tests.live_server import make_uscc, query, raw, record_body

REG = Actor("柯桥区联合监管", "regulator", token_id=1,
            sectors=frozenset(["housing", "transport", "water"]))
EVAL = Actor("评标系统", "evaluator", token_id=2)
A, B, C = make_uscc(11), make_uscc(12), make_uscc(13)


@pytest.fixture
def log(ctx):
    """A small realistic log: records in three sectors, a revocation, a repair, scores
    and an evaluation. Returns positions and ids by name."""
    out = {}

    def rec(name, uscc, sector, code, doc):
        body = json.loads(create_record(ctx, REG, record_body(
            uscc, doc, sector=sector, code=code, decided_on="2026-01-10")).body)
        out[name] = body
        return body

    rec("r1", A, "housing", "BID-NOSIGN", "绍柯建罚〔2026〕1号")
    rec("r2", A, "transport", "SAFE-ACC-GENERAL", "绍柯交罚〔2026〕2号")
    rec("r3", B, "water", "SITE-QUALITY", "绍柯水罚〔2026〕3号")
    rec("r4", C, "housing", "AWARD-CITY", "绍柯建奖〔2026〕4号")
    out["s1"] = score(ctx, EVAL, ScoreQuery(A, "housing"))
    out["revoked"] = revoke_record(ctx, REG, out["r2"]["id"],
                                   {"document_no": "撤〔2026〕1号", "reason": "复议撤销"})
    out["repaired"] = repair_record(ctx, REG, out["r3"]["id"],
                                    {"repaired_on": "2026-05-01", "document_no": "修〔2026〕1号",
                                     "reason": "整改完毕"})
    out["s2"] = score(ctx, EVAL, ScoreQuery(B, "water"))
    out["ev"] = json.loads(create_evaluation(ctx, EVAL, {
        "tender": {"code": "KQ-2026-0012", "name": "鉴湖路提升改造工程"},
        "sector": "housing", "as_of": "2026-06-01",
        "bidders": [{"uscc": A}, {"consortium": [B, C]}]}).body)
    out["s3"] = score(ctx, EVAL, ScoreQuery(C, "housing"))
    out["head"] = query(ctx, "SELECT max(position) FROM audit_entries")[0][0]
    assert verify_chain(ctx)["ok"] is True
    return out


def entry_position(event_body: dict, kind: str) -> int:
    return next(e["audit_position"] for e in event_body["events"] if e["kind"] == kind)


def text_at(ctx, position: int) -> str:
    return query(ctx, "SELECT text FROM audit_entries WHERE position = :p",
                 {"p": position})[0][0]


def first_bad(ctx) -> dict:
    result = verify_chain(ctx)
    assert result["ok"] is False
    return result["first_bad"]


# ---------------------------------------------------------------- record rows

def test_edited_record_row_is_located(ctx, log):
    r = log["r1"]
    raw(ctx, "UPDATE records SET code = 'BID-ABANDON' WHERE id = :i", {"i": r["id"]},
        tables=["records"])
    assert first_bad(ctx) == {"position": r["audit_position"], "problem": "row_mismatch",
                              "table": "records", "id": r["id"]}


def test_edited_record_row_with_recomputed_hash_is_located(ctx, log):
    """The attacker also rewrites the row's own sha256 column: the creating entry still
    carries the original hash."""
    r = log["r4"]
    row = {f: r[f] for f in RECORD_HASH_FIELDS}
    row["valid_until"] = r["original_valid_until"]
    row["subject_name"] = "冒名公司"
    raw(ctx, "UPDATE records SET subject_name = :n, sha256 = :s WHERE id = :i",
        {"n": "冒名公司", "s": canonical.digest(row), "i": r["id"]}, tables=["records"])
    assert first_bad(ctx) == {"position": r["audit_position"], "problem": "row_mismatch",
                              "table": "records", "id": r["id"]}


def test_deleted_record_row_is_located(ctx, log):
    r = log["r1"]
    raw(ctx, "DELETE FROM records WHERE id = :i", {"i": r["id"]}, tables=["records"])
    assert first_bad(ctx) == {"position": r["audit_position"], "problem": "row_missing",
                              "table": "records", "id": r["id"]}


def test_reordered_record_rows_are_located(ctx, log):
    """Two records swap their places in the log (audit_position and recorded_at)."""
    r1, r4 = log["r1"], log["r4"]
    raw(ctx, "UPDATE records SET audit_position = -1 WHERE id = :i", {"i": r1["id"]},
        tables=["records"])
    raw(ctx, "UPDATE records SET audit_position = :p, recorded_at = :t WHERE id = :i",
        {"p": r1["audit_position"], "t": r1["recorded_at"], "i": r4["id"]})
    raw(ctx, "UPDATE records SET audit_position = :p, recorded_at = :t WHERE id = :i",
        {"p": r4["audit_position"], "t": r4["recorded_at"], "i": r1["id"]})
    bad = first_bad(ctx)
    assert bad == {"position": r1["audit_position"], "problem": "row_mismatch",
                   "table": "records", "id": r1["id"]}


def test_forged_record_row_no_entry_created_is_found(ctx, log):
    r = log["r1"]
    raw(ctx, "INSERT INTO records (id, uscc, subject_name, sector, code, decided_on, "
             "valid_until, document_no, issued_by, entered_by, recorded_at, "
             "audit_position, sha256) SELECT 999, uscc, subject_name, sector, 'BID-BRIBE', "
             "decided_on, valid_until, '伪造〔2026〕9号', issued_by, entered_by, "
             "recorded_at, 99999, sha256 FROM records WHERE id = :i", {"i": r["id"]})
    assert first_bad(ctx) == {"position": None, "problem": "row_unreferenced",
                              "table": "records", "id": 999}


# ---------------------------------------------------------------- events, evaluations

def test_edited_event_row_is_located(ctx, log):
    pos = entry_position(log["revoked"], "revocation")
    raw(ctx, "UPDATE record_events SET reason = '无' WHERE audit_position = :p", {"p": pos},
        tables=["record_events"])
    bad = first_bad(ctx)
    assert (bad["position"], bad["problem"], bad["table"]) == (pos, "row_mismatch",
                                                               "record_events")


def test_deleted_event_row_is_located(ctx, log):
    """Deleting a revocation would make a revoked penalty count again."""
    pos = entry_position(log["revoked"], "revocation")
    raw(ctx, "DELETE FROM record_events WHERE audit_position = :p", {"p": pos},
        tables=["record_events"])
    bad = first_bad(ctx)
    assert (bad["position"], bad["problem"], bad["table"]) == (pos, "row_missing",
                                                               "record_events")


def test_edited_evaluation_is_located(ctx, log):
    ev = log["ev"]
    doc = query(ctx, "SELECT document FROM evaluations WHERE id = :i", {"i": ev["id"]})[0][0]
    forged = doc.replace('"eligible_to_bid":false', '"eligible_to_bid":true')
    forged = forged if forged != doc else doc.replace('"grade":"', '"grade":"A', 1)
    raw(ctx, "UPDATE evaluations SET document = :d WHERE id = :i",
        {"d": forged, "i": ev["id"]}, tables=["evaluations"])
    bad = first_bad(ctx)
    assert (bad["problem"], bad["table"], bad["id"]) == ("row_mismatch", "evaluations",
                                                         ev["id"])
    created = query(ctx, "SELECT audit_position FROM evaluations WHERE id = :i",
                    {"i": ev["id"]})[0][0]
    assert bad["position"] == created


def _as_created(ctx, evaluation_id: int) -> str:
    from credit.services.scoring import get_evaluation
    return get_evaluation(ctx, EVAL, evaluation_id)


@pytest.mark.parametrize("edit", ["document", "document and its hash",
                                  "document, its hash and its entry"])
def test_an_edited_evaluation_is_refused_not_served(ctx, log, edit):
    """API.md §5: the document is JSON-equal to the 201 body "forever" (a bid protest
    reads it): one edited behind the service is refused with ``integrity_failure``,
    whether its hash column and its entry were rewritten with it or not (found by a
    review of the auditors' promise: the forged document was served)."""
    from credit.errors import IntegrityFailure
    ev = log["ev"]
    doc = _as_created(ctx, ev["id"])
    assert json.loads(doc) == ev
    forged = doc.replace('"grade":"', '"grade":"A', 1)
    sha = canonical.sha256_hex(forged)
    sets = {"document": "document = :d",
            "document and its hash": "document = :d, sha256 = :s"}.get(edit)
    if sets is None:  # the entry's payload too, so only the entry's own hash tells
        sets = "document = :d, sha256 = :s"
        (pos, text), = query(ctx, "SELECT e.position, e.text FROM audit_entries e JOIN "
                             "evaluations v ON v.audit_position = e.position "
                             "WHERE v.id = :i", {"i": ev["id"]})
        old = json.loads(text)["payload"]["sha256"]
        raw(ctx, "UPDATE audit_entries SET text = :t WHERE position = :p",
            {"t": text.replace(old, sha), "p": pos}, tables=["audit_entries"])
    raw(ctx, f"UPDATE evaluations SET {sets} WHERE id = :i",
        {"d": forged, "s": sha, "i": ev["id"]}, tables=["evaluations"])
    with pytest.raises(IntegrityFailure):
        _as_created(ctx, ev["id"])


# ---------------------------------------------------------------- audit entries

def test_edited_entry_text_is_located(ctx, log):
    pos = log["s1"]["trace_id"]
    text = text_at(ctx, pos)
    forged = text.replace(f'"score":"{log["s1"]["score"]}"', '"score":"100.00"')
    assert forged != text
    raw(ctx, "UPDATE audit_entries SET text = :t WHERE position = :p",
        {"t": forged, "p": pos}, tables=["audit_entries"])
    assert first_bad(ctx) == {"position": pos, "problem": "hash_mismatch"}
    assert verify_trace(ctx, pos)["hash_ok"] is False


def test_edited_entry_with_its_hash_recomputed_breaks_the_next_link(ctx, log):
    pos = log["s1"]["trace_id"]
    entry = json.loads(text_at(ctx, pos))
    entry["actor"] = "冒名审计"
    text = canonical.dumps(entry)
    raw(ctx, "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = :p",
        {"t": text, "s": canonical.sha256_hex(text), "p": pos}, tables=["audit_entries"])
    # The entry's look-up column (actor) no longer agrees with its text: located at the
    # edited entry itself, before the broken link to the next one.
    assert first_bad(ctx) == {"position": pos, "problem": "row_mismatch",
                              "table": "audit_entries", "id": pos}
    # The trace's own verification says so too (an audit review: it answered ok).
    one = verify_trace(ctx, pos)
    assert (one["hash_ok"], one["chain_ok"], one["ok"]) == (False, False, False)


def test_a_trace_rewritten_with_its_hash_and_columns_fails_its_own_verification(ctx, log):
    """Only the next entry's link tells such a rewrite: the trace's verification checks
    it, as a full run does (audit review: ``ok`` for a forged actor and token)."""
    pos = log["s1"]["trace_id"]
    entry = json.loads(text_at(ctx, pos))
    entry["actor"] = "冒名审计"
    entry["payload"]["token_id"] = 99
    text = canonical.dumps(entry)
    raw(ctx, "UPDATE audit_entries SET text = :t, sha256 = :s, actor = :a WHERE "
        "position = :p", {"t": text, "s": canonical.sha256_hex(text), "a": "冒名审计",
                          "p": pos}, tables=["audit_entries"])
    one = verify_trace(ctx, pos)
    assert (one["hash_ok"], one["chain_ok"], one["ok"]) == (True, False, False)
    assert verify_trace(ctx, log["s3"]["trace_id"])["ok"] is True  # the newest: no next


def test_edited_entry_text_and_columns_still_break_the_next_link(ctx, log):
    pos = log["s1"]["trace_id"]
    entry = json.loads(text_at(ctx, pos))
    entry["payload"]["as_of"] = "2020-01-01"
    text = canonical.dumps(entry)
    raw(ctx, "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = :p",
        {"t": text, "s": canonical.sha256_hex(text), "p": pos}, tables=["audit_entries"])
    assert first_bad(ctx) == {"position": pos + 1, "problem": "prev_mismatch"}


def test_edited_record_entry_is_located(ctx, log):
    """The creating entry of a record rewritten, the record hash it carries and its own
    hash recomputed: the row no longer matches, located at the entry itself (before the
    broken link to the next entry)."""
    r = log["r1"]
    entry = json.loads(text_at(ctx, r["audit_position"]))
    entry["payload"]["record"]["code"] = "BID-ABANDON"
    entry["payload"]["sha256"] = canonical.digest(entry["payload"]["record"])
    text = canonical.dumps(entry)
    raw(ctx, "UPDATE audit_entries SET text = :t, sha256 = :s WHERE position = :p",
        {"t": text, "s": canonical.sha256_hex(text), "p": r["audit_position"]},
        tables=["audit_entries"])
    assert first_bad(ctx) == {"position": r["audit_position"], "problem": "row_mismatch",
                              "table": "records", "id": r["id"]}


def test_deleted_entry_is_located(ctx, log):
    pos = log["s1"]["trace_id"]
    raw(ctx, "DELETE FROM audit_entries WHERE position = :p", {"p": pos},
        tables=["audit_entries"])
    # The missing position itself, not the intact entry after it.
    assert first_bad(ctx) == {"position": pos, "problem": "position_gap"}


def test_deleted_record_entry_leaves_its_row_unreferenced(ctx, log):
    r = log["r4"]
    raw(ctx, "DELETE FROM audit_entries WHERE position = :p", {"p": r["audit_position"]},
        tables=["audit_entries"])
    result = verify_chain(ctx)
    assert result["first_bad"] == {"position": r["audit_position"],
                                   "problem": "position_gap"}


def test_reordered_entries_are_located(ctx, log):
    """Two entries swap places (every column but the position)."""
    i, j = log["s1"]["trace_id"], log["s2"]["trace_id"]
    cols = "kind, at_us, actor, uscc, text, sha256"
    a = query(ctx, f"SELECT {cols} FROM audit_entries WHERE position = :p", {"p": i})[0]
    b = query(ctx, f"SELECT {cols} FROM audit_entries WHERE position = :p", {"p": j})[0]
    sql = ("UPDATE audit_entries SET kind = :kind, at_us = :at_us, actor = :actor, "
           "uscc = :uscc, text = :text, sha256 = :sha256 WHERE position = :p")
    raw(ctx, sql, dict(b._mapping, p=i), tables=["audit_entries"])
    raw(ctx, sql, dict(a._mapping, p=j))
    assert first_bad(ctx) == {"position": i, "problem": "hash_mismatch"}


def test_truncated_tail_is_located_by_a_checkpoint(ctx, log, tmp_path):
    from credit import signing
    key = signing.create_key(tmp_path / "k.pem")
    doc = checkpoints.issue(ctx, key)
    cp = checkpoints.parse(doc["position"], doc["sha256"])
    # the last two entries are a score and, before it, the evaluation's entries
    raw(ctx, "DELETE FROM audit_entries WHERE position > :p", {"p": log["head"] - 1},
        tables=["audit_entries"])
    result = verify_chain(ctx, cp)
    assert result["ok"] is True  # the chain alone cannot see a shorter log
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"] == {"position": log["head"], "problem": "truncated"}


# ---------------------------------------------------------------- known gaps (reported)

def test_edited_entry_index_column_is_detected(ctx, log):
    pos = log["s1"]["trace_id"]
    raw(ctx, "UPDATE audit_entries SET uscc = :u WHERE position = :p", {"u": C, "p": pos},
        tables=["audit_entries"])
    assert verify_chain(ctx)["ok"] is False


def test_event_moved_to_another_subject_is_detected(ctx, log):
    pos = entry_position(log["revoked"], "revocation")
    raw(ctx, "UPDATE record_events SET uscc = :u WHERE audit_position = :p",
        {"u": C, "p": pos}, tables=["record_events"])
    assert verify_chain(ctx)["ok"] is False


def test_renamed_subject_is_detected(ctx, log):
    raw(ctx, "UPDATE subjects SET name = '冒名公司' WHERE uscc = :u", {"u": A},
        tables=["subjects"])
    assert verify_chain(ctx)["ok"] is False


def test_token_role_escalation_is_detected(ctx, log):
    from credit.services.tokens import create_token
    create_token(ctx, "op", role="enterprise", name="某企业", uscc=A)
    raw(ctx, "UPDATE tokens SET role = 'admin' WHERE name = '某企业'", tables=["tokens"])
    assert verify_chain(ctx)["ok"] is False


def test_untouched_log_verifies_and_traces_replay(ctx, log):
    assert verify_chain(ctx)["ok"] is True
    for name in ("s1", "s2", "s3"):
        assert verify_trace(ctx, log[name]["trace_id"])["ok"] is True


# ---------------------------------------------------------------- no false alarms

def _verify_while_a_record_commits(ctx, monkeypatch):
    """verify_chain with one record committed between its walk of the log and its scan
    of the records table — what concurrent writers do on a busy server."""
    from credit.persistence.repositories import RecordRepository
    original = RecordRepository.iter_all
    done = []

    def iter_all(self):
        if not done:
            done.append(create_record(ctx, REG, record_body(
                A, "并发中〔2026〕1号", decided_on="2026-01-10")))
        return original(self)

    monkeypatch.setattr(RecordRepository, "iter_all", iter_all)
    result = verify_chain(ctx)
    monkeypatch.undo()
    assert done
    return result


@pytest.mark.parametrize("database_url", [
    "sqlite",
    "postgresql",
], indirect=True)
def test_verify_during_concurrent_writes_raises_no_false_alarm(ctx, log, monkeypatch):
    result = _verify_while_a_record_commits(ctx, monkeypatch)
    assert result["ok"] is True, result
    assert verify_chain(ctx)["ok"] is True


# ---------------------------------------------------------------- values no column gives back

def test_a_date_edited_into_what_its_column_cannot_give_back_is_named_not_a_failure(ctx, log):
    """PostgreSQL's ``'infinity'`` (list an enterprise forever), on SQLite any text
    where a date belongs: the driver cannot read the row, and the verification failed
    with it — nothing located, no run stored, the console still showing "intact" (audit
    review). The run now names the table and is stored as failed."""
    from credit.services.audit import last_verification
    value = "infinity" if ctx.uow.engine.dialect.name == "postgresql" else "forever"
    raw(ctx, "UPDATE records SET valid_until = :v WHERE id = :i",
        {"v": value, "i": log["r1"]["id"]}, tables=["records"])
    result = verify_chain(ctx)
    assert result["ok"] is False
    assert result["first_bad"] == {"position": log["r1"]["audit_position"],
                                   "problem": "row_mismatch", "table": "records",
                                   "id": log["r1"]["id"]}
    assert last_verification(ctx)["ok"] is False
    assert verify_chain(ctx, incremental=True)["ok"] is False


def test_an_unreadable_row_does_not_hide_another_edit_of_its_table(ctx, log):
    """The rest of the table is still checked and each edit located (a second review:
    one unreadable value turned a deleted record into an anonymous table problem)."""
    value = "infinity" if ctx.uow.engine.dialect.name == "postgresql" else "forever"
    raw(ctx, "DELETE FROM records WHERE id = :i", {"i": log["r1"]["id"]}, tables=["records"])
    raw(ctx, "UPDATE records SET valid_until = :v WHERE id = :i",
        {"v": value, "i": log["r3"]["id"]}, tables=["records"])
    assert first_bad(ctx) == {"position": log["r1"]["audit_position"],
                              "problem": "row_missing", "table": "records",
                              "id": log["r1"]["id"]}


def test_a_token_edited_to_never_expire_is_located_not_an_overflow(ctx, log):
    from datetime import datetime, timezone

    from credit.services.tokens import create_token
    create_token(ctx, "op", role="evaluator", name="评标系统",
                 expires_at=datetime(2027, 1, 1, tzinfo=timezone.utc))
    (token_id, position), = query(ctx, "SELECT id, audit_position FROM tokens "
                                  "WHERE expires_at_us IS NOT NULL")
    raw(ctx, "UPDATE tokens SET expires_at_us = :v WHERE id = :i",
        {"v": 2**63 - 1, "i": token_id}, tables=["tokens"])
    assert first_bad(ctx) == {"position": position, "problem": "row_mismatch",
                              "table": "tokens", "id": token_id}


def test_an_entry_stored_as_bytes_is_a_hash_mismatch_not_a_failure(ctx, log):
    """SQLite keeps whatever is written: the same text as a BLOB is no entry text."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    pos = log["s1"]["trace_id"]
    raw(ctx, "UPDATE audit_entries SET text = CAST(text AS BLOB) WHERE position = :p",
        {"p": pos}, tables=["audit_entries"])
    assert first_bad(ctx) == {"position": pos, "problem": "hash_mismatch"}
    one = verify_trace(ctx, pos)
    assert (one["hash_ok"], one["ok"]) == (False, False)


@pytest.mark.parametrize("edit", ["audit_position = audit_position + 0.5",
                                  "document_no = CAST(document_no AS BLOB)"])
def test_a_value_no_canonical_text_has_is_a_mismatch_not_a_crash(ctx, log, edit):
    """SQLite keeps any value: a float where an integer was hashed, bytes where text
    was, read back fine but cannot be hashed; the row is a mismatch of its entry (a
    review: the re-read path raised it, a 500)."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    r3 = log["r3"]
    raw(ctx, f"UPDATE records SET {edit} WHERE id = :i", {"i": r3["id"]},
        tables=["records"])
    assert first_bad(ctx) == {"position": r3["audit_position"], "problem": "row_mismatch",
                              "table": "records", "id": r3["id"]}


@pytest.mark.parametrize("table, column, key", [("audit_entries", "text", "position"),
                                                ("audit_entries", "actor", "position"),
                                                ("records", "document_no", "id")])
def test_text_that_is_not_utf8_is_located_not_an_unreachable_database(ctx, log, table,
                                                                       column, key):
    """SQLite keeps any bytes as TEXT, and its driver cannot decode them: the edit is
    located like any other, not answered as a database that cannot be reached (an
    auditor was told to check the connection while the log had been altered)."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    r3 = log["r3"]
    ident = r3["audit_position"] if key == "position" else r3["id"]
    raw(ctx, f"UPDATE {table} SET {column} = CAST(X'E4B8ADFF' AS TEXT) WHERE {key} = :i",
        {"i": ident}, tables=[table])
    expected = ({"position": ident, "problem": "hash_mismatch"} if column == "text"
                else {"position": r3["audit_position"], "problem": "row_mismatch",
                      "table": table, "id": ident})
    assert first_bad(ctx) == expected


def test_a_head_hash_that_is_not_utf8_refuses_writes_as_altered(ctx, log):
    """Every write reads the head's hash under the append lock: one edited into bytes
    that are not UTF-8 is an altered log (integrity_failure), not a database that
    cannot be reached, which an operator would retry; audit verify locates it."""
    from credit.errors import IntegrityFailure
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    raw(ctx, "UPDATE audit_entries SET sha256 = CAST(X'E4B8ADFF' AS TEXT) "
        "WHERE position = :p", {"p": log["head"]}, tables=["audit_entries"])
    with pytest.raises(IntegrityFailure, match="audit verify"):
        create_record(ctx, REG, record_body(A, "绍柯建罚〔2026〕9号", sector="housing",
                                            code="BID-NOSIGN", decided_on="2026-01-10"))
    assert first_bad(ctx) == {"position": log["head"], "problem": "hash_mismatch"}


@pytest.mark.parametrize("value", ["CAST(X'E4B8ADFF' AS TEXT)", "X'E4B8ADFF'"],
                         ids=["text-not-utf8", "blob"])
def test_an_evaluation_document_that_is_no_text_is_located(ctx, log, value):
    """Its hash cannot be taken: a row_mismatch of evaluations, not an AttributeError
    (a review of the non-UTF-8 fix: audit verify answered 500)."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    raw(ctx, f"UPDATE evaluations SET document = {value} WHERE id = :i",
        {"i": log["ev"]["id"]}, tables=["evaluations"])
    bad = first_bad(ctx)
    assert (bad["problem"], bad["table"], bad["id"]) == ("row_mismatch", "evaluations",
                                                         log["ev"]["id"])


@pytest.mark.parametrize("value", ["'not-a-date'", "CAST(X'E4B8ADFF' AS TEXT)"])
def test_a_trace_whose_history_no_longer_reads_does_not_replay(ctx, log, value):
    """A record of the scored history edited into what its column cannot give back:
    the trace's verification says the replay fails, where it answered 500."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    raw(ctx, f"UPDATE records SET decided_on = {value} WHERE id = :i",
        {"i": log["r1"]["id"]}, tables=["records"])
    one = verify_trace(ctx, log["s1"]["trace_id"])
    assert (one["hash_ok"], one["replay_ok"], one["ok"]) == (True, False, False)
    assert one["differences"] == ["records"]


@pytest.mark.parametrize("start", ["incremental", "checkpoint"])
def test_an_anchor_entry_that_is_no_text_is_found_not_a_crash(ctx, log, start):
    """The entry an incremental run starts from, or a checkpoint names, edited into
    bytes that are no UTF-8 text: not intact, where the run crashed with a TypeError (a
    review of the non-UTF-8 fix)."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    head = log["head"]
    sha = query(ctx, "SELECT sha256 FROM audit_entries WHERE position = :p", {"p": head})[0][0]
    raw(ctx, "UPDATE audit_entries SET text = CAST(X'7B22FF' AS TEXT) WHERE position = :p",
        {"p": head}, tables=["audit_entries"])
    if start == "incremental":  # the log fixture's own run is the start: its head
        assert verify_chain(ctx, incremental=True)["ok"] is False
    else:
        result = verify_chain(ctx, checkpoints.parse(head, sha))
        assert (result["ok"], result["checkpoint_ok"]) == (False, False)


def test_a_registration_that_no_longer_reads_fails_the_replay_not_the_request(ctx, log):
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    raw(ctx, "UPDATE subjects SET registered_position = 'x' WHERE uscc = :u", {"u": A},
        tables=["subjects"])
    one = verify_trace(ctx, log["s1"]["trace_id"])
    assert (one["hash_ok"], one["replay_ok"], one["differences"]) == (True, False, ["records"])
