"""The tender loop under issue 9's integrity rules, on SQLite and PostgreSQL.

* Idempotency-Key (issue 9 item 6, WARNINGS.md §2): the entry that creates the resource
  — ``tender.registered``, ``tender.awarded``, ``warning.disposed`` — carries the stamp
  of the remembered reply; an edited remembered reply is located by ``audit verify``
  and never replayed. A disposal's reply names the records it creates although they are
  appended after its entry (§6).
* The look-up columns (kind, at, actor, uscc) of the new entry kinds are checked
  against their text, and the subjects a registration registers against its entry.
"""

from __future__ import annotations

import json

import pytest

from credit.errors import IntegrityFailure
from credit.services import tenders, warnings
from credit.services.audit import verify_chain
from credit.services.idempotency import IdempotentRequest
from credit.services.records import get_record
from credit.services.verification import IDEMPOTENT_KINDS, VERIFIED_TABLES, idempotency_key
from tests.tender_data import MEMBER_1, award_body, confirm_body, tender_body

from .helpers import all_entries, entry, expect, snapshot, tamper
from .tender_helpers import AUDITOR, PLATFORM, TRANSPORT, register

pytestmark = pytest.mark.db

TENDERS = "/api/v1/tenders"


def key(actor, path: str, body, k: str = "k-1") -> IdempotentRequest:
    return IdempotentRequest(actor.token_id, "POST", path, k, body)


def _stamp(ctx, position: int) -> dict:
    return entry(ctx, position)["payload"]["idempotency"]


def test_every_creating_entry_of_the_loop_carries_the_stamp_of_its_reply(tctx):
    body = tender_body()
    reg = tenders.register_tender(tctx, PLATFORM, body, key(PLATFORM, TENDERS, body))
    t = json.loads(reg.body)
    assert _stamp(tctx, t["audit_position"])["path"] == TENDERS
    path = f"{TENDERS}/{t['code']}/award"
    awarded = tenders.award_tender(tctx, PLATFORM, t["code"], award_body(),
                                   key(PLATFORM, path, award_body()))
    position = json.loads(awarded.body)["award"]["audit_position"]
    assert entry(tctx, position)["kind"] == "tender.awarded"
    assert _stamp(tctx, position)["path"] == path
    path = f"/api/v1/warnings/{t['warnings'][0]}/disposal"
    confirm = confirm_body([1, 2])
    before = len(all_entries(tctx))
    disposed = warnings.dispose(tctx, TRANSPORT, t["warnings"][0], confirm,
                                key(TRANSPORT, path, confirm))
    w = json.loads(disposed.body)
    entries = all_entries(tctx)[before:]
    # §6: the records after the disposal; the reply names exactly the records stored
    assert [e["kind"] for e in entries] == ["warning.disposed"] + ["record.created"] * 3
    assert "idempotency" in entries[0]["payload"]
    assert all("idempotency" not in e["payload"] for e in entries[1:])
    created = w["disposals"][0]["records"]
    assert created == [e["payload"]["record"]["id"] for e in entries[1:]]
    assert [get_record(tctx, AUDITOR, i)["source_warning"] for i in created] == [w["id"]] * 3
    assert {get_record(tctx, AUDITOR, i)["uscc"] for i in created} >= {MEMBER_1}
    assert verify_chain(tctx)["ok"]
    # each key replays its first 200 or 201, byte for byte, and writes nothing
    now = snapshot(tctx)
    assert tenders.register_tender(tctx, PLATFORM, body,
                                   key(PLATFORM, TENDERS, body)).body == reg.body
    assert tenders.award_tender(tctx, PLATFORM, t["code"], award_body(), key(
        PLATFORM, f"{TENDERS}/{t['code']}/award", award_body())).body == awarded.body
    again = warnings.dispose(tctx, TRANSPORT, t["warnings"][0], confirm,
                             key(TRANSPORT, path, confirm))
    assert (again.replayed, again.status, again.body) == (True, 200, disposed.body)
    assert snapshot(tctx) == now


@pytest.mark.parametrize("route", ["register", "award", "dispose"])
def test_an_edited_remembered_reply_of_the_loop_is_located_and_never_replayed(tctx, route):
    t = register(tctx, tender_body())
    calls = {
        "register": (TENDERS, lambda b, k: tenders.register_tender(
            tctx, PLATFORM, b, k), tender_body("KQ-2026-0032"), PLATFORM),
        "award": (f"{TENDERS}/{t['code']}/award", lambda b, k: tenders.award_tender(
            tctx, PLATFORM, t["code"], b, k), award_body(), PLATFORM),
        "dispose": (f"/api/v1/warnings/{t['warnings'][1]}/disposal",
                    lambda b, k: warnings.dispose(tctx, TRANSPORT, t["warnings"][1], b, k),
                    {"action": "refer", "reason": "移送公安机关核查"}, TRANSPORT),
    }
    path, call, body, actor = calls[route]
    call(body, key(actor, path, body))
    assert tamper(tctx, "idempotency_keys", "UPDATE idempotency_keys SET body = :b "
                  "WHERE path = :p", {"b": '{"forged": true}', "p": path}) == 1
    bad = verify_chain(tctx)["first_bad"]
    assert (bad["problem"], bad["table"], bad["id"]) == (
        "row_mismatch", "idempotency_keys",
        idempotency_key(actor.token_id, "POST", path, "k-1"))
    with expect(IntegrityFailure, "integrity_failure"):
        call(body, key(actor, path, body))


def test_the_creating_kinds_of_the_loop_are_verified():
    tables = {t.table: t for t in VERIFIED_TABLES}
    assert {"tender.registered", "tender.awarded", "warning.disposed"} <= set(IDEMPOTENT_KINDS)
    assert set(tables["idempotency_keys"].kinds) == set(IDEMPOTENT_KINDS)
    assert {"tenders", "bids", "bid_parties", "bid_documents", "bid_uploads", "bid_personnel",
            "tender_exclusions", "awards", "warnings", "warning_bids",
            "warning_disposals"} <= set(tables)


@pytest.mark.parametrize("kind", ["tender.registered", "warning.raised", "tender.awarded",
                                  "warning.disposed"])
@pytest.mark.parametrize("column, value", [("uscc", "91330603MA2D4F6E84"),
                                           ("actor", "冒名者"), ("kind", "record.created")])
def test_the_look_up_columns_of_the_new_kinds_are_checked(tctx, kind, column, value):
    t = register(tctx, tender_body())
    tenders.award_tender(tctx, PLATFORM, t["code"], award_body())
    warnings.dispose(tctx, TRANSPORT, t["warnings"][1],
                     {"action": "refer", "reason": "移送公安机关核查"})
    assert verify_chain(tctx)["ok"]
    position = next(e["position"] for e in all_entries(tctx) if e["kind"] == kind)
    tamper(tctx, "audit_entries", f"UPDATE audit_entries SET {column} = :v "
           "WHERE position = :p", {"v": value, "p": position})
    assert verify_chain(tctx)["first_bad"] == {
        "position": position, "problem": "row_mismatch", "table": "audit_entries",
        "id": position}


def test_a_subject_a_registration_registered_is_checked_against_it(tctx):
    t = register(tctx, tender_body())
    tamper(tctx, "subjects", "UPDATE subjects SET name = '冒名公司' WHERE uscc = :u",
           {"u": MEMBER_1})
    assert verify_chain(tctx)["first_bad"] == {
        "position": t["audit_position"], "problem": "row_mismatch", "table": "subjects",
        "id": MEMBER_1}
    tamper(tctx, "subjects", "DELETE FROM subjects WHERE uscc = :u", {"u": MEMBER_1})
    assert verify_chain(tctx)["first_bad"] == {
        "position": t["audit_position"], "problem": "row_missing", "table": "subjects",
        "id": MEMBER_1}
