"""An auditor's checks (API.md §6) with nothing but hashlib and json: a served trace
re-hashes to its sha256 and links to its predecessor; and a record row edited behind the
service's back is named by GET /audit/verify."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.e2e.conftest import ENTRY_KEYS, GENESIS, S1, S2, collect_pages, revocation_body

pytestmark = pytest.mark.db


def auditor_sha256(entry: dict) -> str:
    """Exactly the recipe of API.md §6, nothing of the service imported."""
    without = {k: v for k, v in entry.items() if k != "sha256"}
    raw = json.dumps(without, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def test_auditor_rechecks_a_served_trace_by_hand(api, clock):
    api.create_record()
    api.create_record(code="AWARD-PROVINCIAL", decided_on="2025-03-01", project_code="P1",
                      document_no="奖-1", note="钱江杯（优质工程）")
    clock.advance(seconds=3)
    score = api.score(S1, who="evaluator")

    r = api.get(f"/api/v1/traces/{score['trace_id']}", "auditor")
    assert r.status_code == 200
    entry = json.loads(r.get_data(as_text=True))
    assert set(entry) == ENTRY_KEYS
    assert entry["position"] == score["trace_id"] and entry["kind"] == "score.served"
    assert auditor_sha256(entry) == entry["sha256"] == score["trace_sha256"]

    # the link to the previous entry
    prev_page = api.get(f"/api/v1/audit/entries?after={entry['position'] - 2}&limit=1",
                        "auditor").get_json()
    (prev,) = prev_page["items"]
    assert prev["position"] == entry["position"] - 1
    assert auditor_sha256(prev) == prev["sha256"]
    assert entry["prev_sha256"] == prev["sha256"]

    # what the trace says can be checked by hand too: every record's hash is the hash
    # its creating entry carries, and the contributions add up to the score
    payload = entry["payload"]
    created = {e["payload"]["record"]["id"]: e for e in api.get(
        "/api/v1/audit/entries?kind=record.created", "auditor").get_json()["items"]}
    total = Decimal("100.00")
    for rec in payload["records"]:
        creating = created[rec["id"]]
        assert creating["payload"]["sha256"] == rec["sha256"]
        assert hashlib.sha256(json.dumps(
            creating["payload"]["record"], sort_keys=True, separators=(",", ":"),
            ensure_ascii=False).encode("utf-8")).hexdigest() == rec["sha256"]
        assert creating["position"] <= payload["knowledge_position"]
        total += Decimal(rec["contribution"])
    assert f"{total:.2f}" == score["score"] == payload["result"]["score"] == "95.00"
    assert payload["known_at"] == score["known_at"]

    # no floats anywhere in an entry
    def walk(v):
        assert not isinstance(v, float)
        for x in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()):
            walk(x)
    walk(entry)


def test_auditor_walks_the_whole_chain_by_hand(api, clock):
    api.create_record()
    for _ in range(3):
        api.score(S1, who="auditor")
        clock.advance(microseconds=1)
    api.evaluate()
    entries, _ = collect_pages(api, "/api/v1/audit/entries", "auditor", 7)
    prev_sha, prev_at = GENESIS, ""
    for pos, e in enumerate(entries, start=1):
        assert set(e) == ENTRY_KEYS
        assert e["position"] == pos
        assert e["prev_sha256"] == prev_sha
        assert auditor_sha256(e) == e["sha256"]
        assert e["at"] > prev_at        # same offset and width: text order is time order
        prev_sha, prev_at = e["sha256"], e["at"]
    verify = api.get("/api/v1/audit/verify", "auditor").get_json()
    assert verify == {"ok": True, "entries_checked": len(entries), "first_bad": None}


def _tamper(ctx, statements_sqlite: list[str], statements_pg: list[str]) -> None:
    """Edit rows behind the service's back, append-only triggers out of the way."""
    engine = ctx.uow.engine
    with engine.begin() as conn:
        for stmt in (statements_pg if engine.dialect.name == "postgresql"
                     else statements_sqlite):
            conn.execute(text(stmt))


def test_tampered_record_row_is_named(api, ctx):
    first = api.create_record()
    victim = api.create_record(uscc=S2, subject_name="北京某建设有限公司", document_no="T-2")
    api.score(S2, who="evaluator")
    api.post(f"/api/v1/records/{first['id']}/revocation", revocation_body(), "regulator")
    before = api.get("/api/v1/audit/verify", "auditor").get_json()
    assert before["ok"] is True

    # the trigger refuses the edit as long as it is there
    with pytest.raises(DBAPIError):
        _tamper(ctx, [f"UPDATE records SET issued_by = 'x' WHERE id = {victim['id']}"],
                [f"UPDATE records SET issued_by = 'x' WHERE id = {victim['id']}"])
    _tamper(ctx,
            ["DROP TRIGGER records_no_update",
             f"UPDATE records SET issued_by = '伪造的处罚机关' WHERE id = {victim['id']}"],
            ["ALTER TABLE records DISABLE TRIGGER USER",
             f"UPDATE records SET issued_by = '伪造的处罚机关' WHERE id = {victim['id']}"])
    assert api.get(f"/api/v1/records/{victim['id']}", "auditor").get_json()["issued_by"] == \
        "伪造的处罚机关"

    after = api.get("/api/v1/audit/verify", "auditor")
    assert after.status_code == 200
    body = after.get_json()
    assert body["ok"] is False
    assert body["entries_checked"] == before["entries_checked"]
    bad = body["first_bad"]
    assert bad["position"] == victim["audit_position"]
    assert bad["problem"] == "row_mismatch"
    assert bad.get("table", "records") == "records"
    assert bad.get("id", victim["id"]) == victim["id"]
    # the trace that counted the record still carries the original hash
    traces = api.get(f"/api/v1/traces?uscc={S2}", "auditor").get_json()["items"]
    assert traces[0]["payload"]["records"][0]["sha256"] == victim["sha256"]


def test_tampered_sha256_column_is_named_too(api, ctx):
    rec = api.create_record()
    fake = hashlib.sha256(b"forged").hexdigest()
    _tamper(ctx,
            ["DROP TRIGGER records_no_update",
             f"UPDATE records SET note = '改', sha256 = '{fake}' WHERE id = {rec['id']}"],
            ["ALTER TABLE records DISABLE TRIGGER USER",
             f"UPDATE records SET note = '改', sha256 = '{fake}' WHERE id = {rec['id']}"])
    body = api.get("/api/v1/audit/verify", "admin").get_json()
    assert body["ok"] is False
    assert body["first_bad"]["position"] == rec["audit_position"]
    assert body["first_bad"]["problem"] == "row_mismatch"


def test_tampered_entry_text_is_named(api, ctx):
    api.create_record()
    s = api.score(S1, who="auditor")
    api.score(S1, who="auditor")
    _tamper(ctx,
            ["DROP TRIGGER audit_entries_no_update",
             f"UPDATE audit_entries SET text = replace(text, '\"score\":\"92.00\"', "
             f"'\"score\":\"99.00\"') WHERE position = {s['trace_id']}"],
            ["ALTER TABLE audit_entries DISABLE TRIGGER USER",
             f"UPDATE audit_entries SET text = replace(text, '\"score\":\"92.00\"', "
             f"'\"score\":\"99.00\"') WHERE position = {s['trace_id']}"])
    entry = api.get(f"/api/v1/traces/{s['trace_id']}", "auditor").get_json()
    assert entry["payload"]["result"]["score"] == "99.00"
    assert auditor_sha256(entry) != entry["sha256"]          # the auditor sees it by hand
    body = api.get("/api/v1/audit/verify", "auditor").get_json()
    assert body["ok"] is False
    assert body["first_bad"]["position"] == s["trace_id"]
    assert body["first_bad"]["problem"] == "hash_mismatch"
    v = api.get(f"/api/v1/traces/{s['trace_id']}/verify", "auditor").get_json()
    assert v["hash_ok"] is False and v["ok"] is False
