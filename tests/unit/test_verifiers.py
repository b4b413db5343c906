"""Issue 9 item 18: ``audit verify`` is a chain walk feeding small verifiers, and a new
kind of stored row (tenders, bids, warnings, ...) is verified by declaring one
``VerifiedTable`` — shown here with a made-up table, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from credit.domain import canonical
from credit.services.verification import (
    VERIFIED_TABLES,
    CheckpointVerifier,
    RowVerifier,
    SubjectVerifier,
    TokenVerifier,
    VerifiedTable,
)


@dataclass
class Tender:
    id: int
    name: str
    sha256: str


def facts(t: Tender) -> dict:
    return {"id": t.id, "name": t.name}


TENDERS = VerifiedTable("tenders", kinds=("tender.created",),
                        origin=lambda p: (p["tender"]["id"], p["sha256"]),
                        rows=lambda uow: uow.tenders, key=lambda t: t.id,
                        digest=lambda t: canonical.digest(facts(t)),
                        column=lambda t: t.sha256)


def _created(position: int, tender: Tender) -> tuple[int, str, dict]:
    return position, "tender.created", {"tender": facts(tender),
                                        "sha256": canonical.digest(facts(tender))}


def _verify(entries, rows) -> list[dict]:
    v = RowVerifier([TENDERS])
    for position, kind, payload in entries:
        v.see(position, kind, payload)
    return v.finish(SimpleNamespace(tenders=rows))


def test_intact_rows_raise_nothing_and_other_kinds_are_ignored():
    t1, t2 = Tender(1, "鉴湖路", ""), Tender(2, "柯北安置房", "")
    t1.sha256, t2.sha256 = canonical.digest(facts(t1)), canonical.digest(facts(t2))
    entries = [_created(3, t1), (4, "score.served", {"uscc": "x"}), _created(5, t2)]
    assert _verify(entries, [t1, t2]) == []


def test_edited_missing_and_forged_rows_are_located():
    t1, t2 = Tender(1, "鉴湖路", ""), Tender(2, "柯北安置房", "")
    entries = [_created(3, t1), _created(5, t2)]
    t1.sha256 = canonical.digest(facts(t1))
    edited = Tender(1, "冒名工程", t1.sha256)  # the row's own hash column left as it was
    forged = Tender(9, "伪造", canonical.digest({"id": 9, "name": "伪造"}))
    assert _verify(entries, [edited, forged]) == [
        {"position": 3, "problem": "row_mismatch", "table": "tenders", "id": 1},
        {"position": None, "problem": "row_unreferenced", "table": "tenders", "id": 9},
        {"position": 5, "problem": "row_missing", "table": "tenders", "id": 2},
    ]


def test_a_row_whose_hash_column_was_rewritten_is_a_mismatch():
    t1 = Tender(1, "鉴湖路", "0" * 64)
    assert _verify([_created(3, t1)], [t1]) == [
        {"position": 3, "problem": "row_mismatch", "table": "tenders", "id": 1}]


def test_an_entry_naming_its_row_by_no_key_is_reported_not_a_crash():
    """An entry edited to name its row by a list (of floats, even) or an object: the
    row it created is unreferenced and the entry's row missing, the walk goes on."""
    t1 = Tender(1, "鉴湖路", "")
    t1.sha256 = canonical.digest(facts(t1))
    for odd in ([1.5], {"id": 1.0}, [[1]]):
        entry = (3, "tender.created", {"tender": {"id": odd, "name": "鉴湖路"},
                                       "sha256": t1.sha256})
        found = _verify([entry], [t1])
        assert sorted(p["problem"] for p in found) == ["row_missing", "row_unreferenced"], odd


def test_subject_and_token_verifiers_read_an_edited_payload_without_failing():
    """Payloads edited into other shapes (a list that is a number, a USCC that is a list)
    are read as naming nothing; their entries' hashes report the edits."""
    subjects = SubjectVerifier()
    for payload in ({"bids": 5}, {"bids": [{"bidder": [1], "consortium": 3}]},
                    {"bids": [{"bidder": "x", "consortium": [{"uscc": {"a": 1}}]}]}):
        subjects.see(7, "tender.registered", payload)
    tokens = TokenVerifier()
    tokens.see(1, "token.created", {"token_id": [2], "sectors": 5}, "2026-06-01")
    tokens.see(2, "token.revoked", {"token_id": {"a": 1}})
    row = SimpleNamespace(id=1, name="x", role="auditor", sectors="", uscc=None,
                          expires_at_us=None, created_at="2026-06-01", audit_position=1,
                          secret_sha256="0")
    store = SimpleNamespace(tokens=SimpleNamespace(all=lambda: [row],
                                                   iter_revocations=lambda: []))
    assert {p["problem"] for p in tokens.finish(store)} == {"row_unreferenced",
                                                           "row_missing"}


def test_the_service_verifies_its_tables():
    assert {"records", "record_events", "evaluations"} <= {t.table for t in VERIFIED_TABLES}


def test_every_append_only_table_is_verified():
    """A table added with its append-only triggers (issue 13's applications and
    decisions, say) is re-checked by ``audit verify`` too: by a VerifiedTable, or — the
    log itself, subjects and tokens — by a verifier of its own."""
    from credit.persistence.tables import APPEND_ONLY_TABLES
    own_verifiers = {"audit_entries", "subjects", "tokens", "token_revocations"}
    assert {t.table for t in VERIFIED_TABLES} == set(APPEND_ONLY_TABLES) - own_verifiers


def test_a_checkpoint_past_the_head_is_a_truncation():
    cp = CheckpointVerifier(SimpleNamespace(position=7, sha256="a" * 64))
    cp.see(SimpleNamespace(position=5, sha256="b" * 64, text="{}"))
    assert cp.result(5, []) == {"checkpoint_ok": False,
                                "checkpoint_problem": {"position": 6, "problem": "truncated"}}
