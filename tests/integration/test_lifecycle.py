"""Revocation (撤销) and credit repair (信用修复) through the store: API.md §3 refusals
in their order, with the dates the errors carry (MODEL.md §2)."""

from __future__ import annotations

import json

from credit.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from credit.services.records import create_record, get_record, repair_record, revoke_record
from credit.services.subjects import get_subject

from .helpers import (
    EVALUATOR,
    HOUSING,
    HOUSING_2,
    S1,
    TRANSPORT,
    canonical_sha256,
    entry,
    expect,
    record_body,
    repair_body,
    revocation_body,
    snapshot,
)


def create(ctx, **overrides) -> dict:
    return json.loads(create_record(ctx, HOUSING, record_body(**overrides)).body)


def refused(ctx, call, exc_type, error):
    before = snapshot(ctx)
    with expect(exc_type, error) as info:
        call()
    assert snapshot(ctx) == before
    return info.value


# ---------------------------------------------------------------- revocation

def test_revoke(ctx, clock):
    rec = create(ctx)
    clock.advance(minutes=5)
    body = revoke_record(ctx, HOUSING_2, rec["id"], revocation_body(reason="  复议撤销  "))
    assert body["status"] == "revoked"
    assert body["counts_today"] is False
    assert body["original_valid_until"] == body["valid_until"] == "2027-01-09"
    (ev,) = body["events"]
    e = entry(ctx, ev["audit_position"])
    assert e["kind"] == "record.revoked" and e["actor"] == HOUSING_2.name
    assert ev == {"kind": "revocation", "document_no": "绍柯建撤〔2026〕1号", "reason": "复议撤销",
                  "entered_by": HOUSING_2.name, "recorded_at": e["at"],
                  "audit_position": e["position"]}
    assert body["revoked_at"] == e["at"]
    assert e["payload"]["sha256"] == canonical_sha256(e["payload"]["event"])
    assert e["payload"]["event"]["record_id"] == rec["id"]
    # The immutable facts of the record are untouched by its events.
    assert body["sha256"] == rec["sha256"] and body["recorded_at"] == rec["recorded_at"]
    assert get_record(ctx, HOUSING, rec["id"]) == body
    assert get_subject(ctx, S1)["counts"]["housing"] == {"active": 0, "repaired": 0,
                                                         "revoked": 1}


def test_revocation_refusals(ctx):
    rec = create(ctx)
    # 404 for an unknown id; 403 for another sector or role
    refused(ctx, lambda: revoke_record(ctx, HOUSING, 42, revocation_body()),
            NotFound, "not_found")
    refused(ctx, lambda: revoke_record(ctx, TRANSPORT, rec["id"], revocation_body()),
            Forbidden, "sector_forbidden")
    refused(ctx, lambda: revoke_record(ctx, EVALUATOR, rec["id"], revocation_body()),
            Forbidden, "forbidden")
    revoke_record(ctx, HOUSING, rec["id"], revocation_body())
    exc = refused(ctx, lambda: revoke_record(ctx, HOUSING, rec["id"], revocation_body()),
                  Conflict, "already_revoked")
    assert exc.status == 409


def test_revocation_validation(ctx):
    rec = create(ctx)
    for body in ({"document_no": "D"}, {"reason": "r"}, {"document_no": "", "reason": "r"},
                 {"document_no": "D", "reason": "  "}, {"document_no": "D", "reason": "r", "x": 1},
                 {"document_no": "D" * 101, "reason": "r"},
                 {"document_no": "D", "reason": "r" * 2001}, {"document_no": 5, "reason": "r"},
                 None, ["D", "r"]):
        refused(ctx, lambda b=body: revoke_record(ctx, HOUSING, rec["id"], b),
                InvalidInput, "validation_error")


def test_validation_before_unknown_id(ctx):
    # check 8 (400) comes before check 9 (404)
    refused(ctx, lambda: revoke_record(ctx, HOUSING, 42, {"document_no": "D"}),
            InvalidInput, "validation_error")
    refused(ctx, lambda: repair_record(ctx, HOUSING, 42, repair_body("2026-06-02")),
            InvalidInput, "repaired_in_future")


# ---------------------------------------------------------------- repair

def test_repair(ctx, clock):
    rec = create(ctx)  # BID-NOSIGN 2026-01-10, valid until 2027-01-09, repair after 3 m
    clock.advance(minutes=1)
    body = repair_record(ctx, HOUSING, rec["id"], repair_body("2026-04-10"))
    assert body["status"] == "repaired"
    assert body["repaired_on"] == "2026-04-10"
    assert body["valid_until"] == "2026-04-09"
    assert body["original_valid_until"] == "2027-01-09"
    assert body["counts_today"] is False
    (ev,) = body["events"]
    e = entry(ctx, ev["audit_position"])
    assert e["kind"] == "record.repaired"
    assert ev["kind"] == "repair" and ev["repaired_on"] == "2026-04-10"
    assert ev["recorded_at"] == e["at"]
    assert e["payload"]["sha256"] == canonical_sha256(e["payload"]["event"])
    assert get_record(ctx, HOUSING, rec["id"]) == body
    assert get_subject(ctx, S1)["counts"]["housing"]["repaired"] == 1


def test_repair_too_early_names_earliest(ctx):
    rec = create(ctx)
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-04-09")),
                  RuleViolation, "repair_too_early")
    assert exc.status == 422
    assert exc.extra["earliest_repair_on"] == "2026-04-10"
    # repair 0 m: allowed from the day after the decision
    rec = create(ctx, code="SITE-PM-ABSENT", decided_on="2026-05-01")
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-05-01")),
                  RuleViolation, "repair_too_early")
    assert exc.extra["earliest_repair_on"] == "2026-05-02"
    body = repair_record(ctx, HOUSING, rec["id"], repair_body("2026-05-02"))
    assert body["valid_until"] == "2026-05-01"
    # SUB-TRANSFER 2025-01-31, 12 m: earliest 2026-01-31; WAGE-BLACKLIST 2025-08-31, 6 m:
    # add_months clamps to 2026-02-28.
    a = create(ctx, code="SUB-TRANSFER", decided_on="2025-01-31")
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, a["id"], repair_body("2026-01-30")),
                  RuleViolation, "repair_too_early")
    assert exc.extra["earliest_repair_on"] == "2026-01-31"
    b = create(ctx, code="WAGE-BLACKLIST", decided_on="2025-08-31", document_no="D2")
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, b["id"], repair_body("2026-02-27")),
                  RuleViolation, "repair_too_early")
    assert exc.extra["earliest_repair_on"] == "2026-02-28"
    assert repair_record(ctx, HOUSING, b["id"],
                         repair_body("2026-02-28"))["valid_until"] == "2026-02-27"


def test_repair_after_expiry_names_latest(ctx):
    rec = create(ctx, decided_on="2024-01-10")  # valid until 2025-01-09
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2025-01-10")),
                  RuleViolation, "repair_after_expiry")
    assert exc.extra["latest_repair_on"] == "2025-01-09"
    body = repair_record(ctx, HOUSING, rec["id"], repair_body("2025-01-09"))
    assert body["valid_until"] == "2025-01-08"
    assert body["original_valid_until"] == "2025-01-09"


def test_repaired_in_future(ctx):
    rec = create(ctx)
    exc = refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-06-02")),
                  InvalidInput, "repaired_in_future")
    assert set(exc.errors) == {"repaired_on"}
    assert repair_record(ctx, HOUSING, rec["id"],
                         repair_body("2026-06-01"))["repaired_on"] == "2026-06-01"


def test_not_repairable(ctx):
    for code, extra in (("AWARD-NATIONAL", {}), ("SITE-STANDARD-CITY", {}),
                        ("COMMEND-EMERGENCY", {}), ("BID-BAN", {"valid_until": "2026-12-31"})):
        rec_id = create(ctx, code=code, decided_on="2025-01-01", **extra)["id"]
        refused(ctx, lambda i=rec_id: repair_record(ctx, HOUSING, i, repair_body("2026-05-01")),
                RuleViolation, "not_repairable")


def test_already_repaired(ctx):
    rec = create(ctx)
    repair_record(ctx, HOUSING, rec["id"], repair_body("2026-04-10"))
    refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-05-01")),
            Conflict, "already_repaired")


def test_repaired_record_can_be_revoked(ctx):
    rec = create(ctx)
    repair_record(ctx, HOUSING, rec["id"], repair_body("2026-04-10"))
    body = revoke_record(ctx, HOUSING, rec["id"], revocation_body())
    assert body["status"] == "revoked"
    assert [e["kind"] for e in body["events"]] == ["repair", "revocation"]
    assert body["counts_today"] is False
    # a revoked record cannot be repaired (already_revoked answers first)
    refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-05-01")),
            Conflict, "already_revoked")


def test_refusal_order(ctx):
    # already_revoked before not_repairable
    award = create(ctx, code="AWARD-CITY", decided_on="2025-01-01")
    revoke_record(ctx, HOUSING, award["id"], revocation_body())
    refused(ctx, lambda: repair_record(ctx, HOUSING, award["id"], repair_body("2026-05-01")),
            Conflict, "already_revoked")
    # already_repaired before repair_too_early
    rec = create(ctx)
    repair_record(ctx, HOUSING, rec["id"], repair_body("2026-04-10"))
    refused(ctx, lambda: repair_record(ctx, HOUSING, rec["id"], repair_body("2026-01-11")),
            Conflict, "already_repaired")
    # sector_forbidden (check 10) before state (check 11)
    refused(ctx, lambda: repair_record(ctx, TRANSPORT, rec["id"], repair_body("2026-05-01")),
            Forbidden, "sector_forbidden")
    refused(ctx, lambda: revoke_record(ctx, TRANSPORT, award["id"], revocation_body()),
            Forbidden, "sector_forbidden")
    # 404 (check 9) before sector_forbidden
    refused(ctx, lambda: repair_record(ctx, TRANSPORT, 99, repair_body("2026-05-01")),
            NotFound, "not_found")


def test_repair_validation(ctx):
    rec = create(ctx)
    for body in ({"document_no": "D", "reason": "r"},
                 {"repaired_on": "2026-04-10", "reason": "r"},
                 {"repaired_on": "2026-04-10", "document_no": "D"},
                 {"repaired_on": "2026-4-10", "document_no": "D", "reason": "r"},
                 {"repaired_on": "1999-12-31", "document_no": "D", "reason": "r"},
                 {"repaired_on": None, "document_no": "D", "reason": "r"},
                 {"repaired_on": "2026-04-10", "document_no": "D", "reason": "r", "x": 1},
                 {"repaired_on": "2026-04-10", "document_no": "D", "reason": "r" * 2001},
                 None):
        refused(ctx, lambda b=body: repair_record(ctx, HOUSING, rec["id"], b),
                InvalidInput, "validation_error")
