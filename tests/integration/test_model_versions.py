"""Two versions of keqiao-2025 over one store (PERFORMANCE.md §5, API.md §6–§7): a trace
served under version 1 still verifies and replays after version 2 becomes the active
model; records of the new codes are not_in_model under version 1 and counted under
version 2; those codes are never entered by hand."""

from __future__ import annotations

import json
from datetime import date

import pytest

from credit.errors import InvalidInput, RuleViolation
from credit.services.audit import verify_trace
from credit.services.bootstrap import build_context
from credit.services.records import (
    RecordFilter,
    create_record,
    get_record,
    insert_record,
    list_records,
    repair_record,
    revoke_record,
)
from credit.services.scoring import ScoreQuery, score

from .helpers import (
    AUDITOR,
    EVALUATOR,
    HOUSING,
    S1,
    entry,
    expect,
    instant,
    record_body,
    repair_body,
    revocation_body,
    snapshot,
)


@pytest.fixture
def contexts(database_url, clock):
    """``open(model)``: a service context on the same store with that active model
    (None: the configured default, as ``credit serve`` starts)."""
    opened = []

    def open_(model: str | None):
        ctx = build_context(database_url, model=model, clock=clock)
        opened.append(ctx)
        return ctx

    yield open_
    for ctx in opened:
        ctx.uow.engine.dispose()


def approve_perf_fail(ctx) -> int:
    """What the approval of a final evaluation rated fail does for one party (§4.1):
    a PERF-FAIL record through the same insertion as every record."""
    data = {"uscc": S1, "subject_name": "绍兴柯桥建工集团有限公司", "sector": "housing",
            "code": "PERF-FAIL", "decided_on": date(2026, 5, 20), "valid_until": None,
            "document_no": "履约评价-KQ2025-017-1", "issued_by": "柯桥区住房和城乡建设局",
            "project_code": "KQ2025-017"}
    with ctx.uow(write=True) as uow:
        row, _ = insert_record(ctx, uow, HOUSING, data)
        uow.commit()
    return row.id


def served(ctx, model: str | None = None, known_at=None) -> dict:
    return score(ctx, EVALUATOR, ScoreQuery(S1, "housing", date(2026, 6, 1), known_at, model))


def test_v1_trace_verifies_and_replays_after_v2_becomes_active(contexts, clock):
    v1 = contexts("keqiao-2025@1")
    create_record(v1, HOUSING, record_body())                     # BID-NOSIGN −8
    clock.advance(minutes=1)
    old = served(v1)
    assert (old["model"]["version"], old["score"]) == (1, "92.00")

    clock.advance(days=1)
    v2 = contexts(None)              # restarted with the default: v2 becomes active
    assert v2.models.active.ref == "keqiao-2025@2"
    perf = approve_perf_fail(v2)
    clock.advance(minutes=1)

    check = verify_trace(v2, old["trace_id"])
    assert check == {"hash_ok": True, "chain_ok": True, "replay_ok": True, "ok": True,
                     "differences": []}
    # Replaying by hand: the same question, pinned to v1 and to the trace's known_at.
    again = served(v2, "keqiao-2025@1", known_at=instant(old["known_at"]))
    assert {k: v for k, v in again.items() if k not in ("trace_id", "trace_sha256")} == \
        {k: v for k, v in old.items() if k not in ("trace_id", "trace_sha256")}

    # Now, with the PERF-FAIL record known: v1 ignores it, v2 counts it (−8 site).
    now_v1, now_v2 = served(v2, "keqiao-2025@1"), served(v2)
    assert (now_v1["score"], now_v2["score"]) == ("92.00", "84.00")
    assert now_v2["model"]["version"] == 2 and now_v2["components"]["site"] == "-8.00"
    rows = {r["id"]: r for r in entry(v2, now_v1["trace_id"])["payload"]["records"]}
    assert (rows[perf]["status"], rows[perf]["factor"], rows[perf]["contribution"],
            rows[perf]["points"]) == ("not_in_model", "0.00", "0.00", None)
    for body in (now_v1, now_v2):
        assert verify_trace(v2, body["trace_id"])["ok"] is True


@pytest.mark.parametrize("code", ["PERF-FAIL", "PERF-EXCELLENT"])
def test_perf_codes_are_never_entered_by_hand(contexts, code):
    v2 = contexts("keqiao-2025@2")
    before = snapshot(v2)
    with expect(InvalidInput, "code_not_enterable") as exc:
        create_record(v2, HOUSING, record_body(code=code))
    assert code in exc.value.message and exc.value.errors.keys() == {"code"}
    # Under version 1 the code does not exist at all.
    with expect(InvalidInput, "unknown_code"):
        create_record(contexts("keqiao-2025@1"), HOUSING, record_body(code=code))
    assert snapshot(v2) == before


def test_unknown_code_lists_only_enterable_codes(contexts):
    with expect(InvalidInput, "unknown_code") as exc:
        create_record(contexts("keqiao-2025@2"), HOUSING, record_body(code="BID-NOPE"))
    assert "BID-NOSIGN" in exc.value.message and "PERF-FAIL" not in exc.value.message
    assert json.dumps(exc.value.errors, ensure_ascii=False).count("PERF-") == 0


def test_compare_models_v1_to_v2_shows_the_new_codes(contexts, clock, tmp_path, monkeypatch):
    """``credit compare-models --from keqiao-2025@1 --to keqiao-2025@2``: the PERF-FAIL
    record counts only under v2. S1, housing, 2026-06-01: BID-NOSIGN −8 → 92.00 (C) under
    both; PERF-FAIL −8 more under v2 → 84.00 (D: < 85). Nothing else moves."""
    from click.testing import CliRunner

    import credit.cli as cli

    v2 = contexts("keqiao-2025@2")
    create_record(v2, HOUSING, record_body())
    create_record(v2, HOUSING, record_body(uscc="91110000600037341L", code="SITE-QUALITY",
                                           document_no="其他企业"))  # −5 under both
    approve_perf_fail(v2)
    clock.advance(minutes=1)
    monkeypatch.setattr(cli, "_context", lambda: v2)
    out = tmp_path / "v1-v2.xlsx"
    res = CliRunner().invoke(cli.main, [
        "compare-models", "--from", "keqiao-2025@1", "--to", "keqiao-2025@2",
        "--sector", "housing", "--as-of", "2026-06-01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Grade migration (rows: keqiao-2025@1, columns: keqiao-2025@2)" in res.output
    assert "1 enterprises change grade or eligibility" in res.output and S1 in res.output
    assert "92.00 → 84.00" in res.output and "C → D" in res.output
    assert out.exists()


def test_the_default_active_model_is_the_newest_shipped_version(ctx):
    """API.md §8: CREDIT_MODEL defaults to the newest shipped version of keqiao-2025."""
    from credit.settings import DEFAULT_MODEL
    from scoring_models.loader import DEFAULT_ACTIVE

    newest = max(ctx.models.of_kind("scoring"), key=lambda m: (m.id == "keqiao-2025",
                                                               m.version))
    assert ctx.models.active is newest and newest.ref == "keqiao-2025@2"
    assert DEFAULT_MODEL == DEFAULT_ACTIVE["scoring"] == "keqiao-2025@2"


def test_a_record_of_a_newer_model_stays_readable_under_an_older_active_model(contexts,
                                                                               clock):
    """An operator makes version 1 active again after version 2 created a PERF-FAIL
    record (API.md §8 CREDIT_MODEL; §7: a model ignores a record whose code is not in
    its catalogue; §1: nothing a client sends may produce a 500). The record is read
    with the name and class of the newest definition that knows its code, keeps its
    stored validity, counts for nothing today, may be revoked, and cannot be repaired:
    a repair would change nothing the active model scores."""
    perf = approve_perf_fail(contexts("keqiao-2025@2"))
    v1 = contexts("keqiao-2025@1")
    clock.advance(minutes=1)
    got = get_record(v1, AUDITOR, perf)
    v2_entry = v1.models.definition("keqiao-2025@2").catalogue["PERF-FAIL"]
    assert (got["code"], got["name"], got["category"], got["points"]) == \
        ("PERF-FAIL", v2_entry.name, v2_entry.category, "-8.00")
    # Computed at entry under version 2: 12 months from 2026-05-20 (MODEL.md §2).
    assert (got["original_valid_until"], got["valid_until"]) == ("2027-05-19", "2027-05-19")
    assert got["status"] == "active" and got["counts_today"] is False
    assert [r["id"] for r in list_records(v1, AUDITOR, RecordFilter())["items"]] == [perf]
    before = snapshot(v1)
    with expect(RuleViolation, "not_repairable") as exc:
        repair_record(v1, HOUSING, perf, repair_body("2026-06-01"))
    assert "keqiao-2025@1" in exc.value.message and snapshot(v1) == before
    revoked = revoke_record(v1, HOUSING, perf, revocation_body())
    assert (revoked["status"], revoked["counts_today"]) == ("revoked", False)
