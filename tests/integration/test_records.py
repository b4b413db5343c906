"""Entering records through the store (API.md §3, MODEL.md §2): every validation with
its exact error code, refusals that write nothing, duplicates, sector rights and the
record resource."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from credit.errors import Conflict, Forbidden, InvalidInput, NotFound
from credit.services.records import (
    RecordFilter,
    create_record,
    get_record,
    list_records,
    revoke_record,
)
from credit.services.subjects import get_subject

from .helpers import (
    DROP,
    EVALUATOR,
    HOUSING,
    INSTANT_RE,
    S1,
    S2,
    TRANSPORT,
    canonical_sha256,
    entry,
    expect,
    record_body,
    revocation_body,
    snapshot,
    wrong_check,
)

IMMUTABLE = ("id", "uscc", "subject_name", "sector", "code", "decided_on", "valid_until",
             "document_no", "issued_by", "project_code", "project_name", "occurred_on",
             "note", "entered_by", "recorded_at", "audit_position")


def create(ctx, actor=HOUSING, **overrides) -> dict:
    out = create_record(ctx, actor, record_body(**overrides))
    assert out.status == 201
    assert out.replayed is False
    return json.loads(out.body)


def refused(ctx, exc_type, error, body, actor=HOUSING):
    """Create must fail with ``error`` and leave the database exactly as it was."""
    before = snapshot(ctx)
    with expect(exc_type, error) as info:
        create_record(ctx, actor, body)
    assert snapshot(ctx) == before
    return info.value


# ---------------------------------------------------------------- validation (400), rights (403)

INVALID_USCCS = [
    "91330603MA2D4F6E8",          # 17 characters
    "91330603MA2D 4F6E84",        # inner space
    "91330603-MA2D4F6E84",        # separator
    "91330603MA2D4F6I84",         # I never belongs to the alphabet
    "9133060AMA2D4F6E84",         # letter among the first 8 digits
    "９１３３０６０３MA2D4F6E84",  # full-width digits
    "",
    "\u3000",
]

# (label, body, exception, error, the field keys errors must have, whether exactly those)
REFUSALS = [
    ("wrong check character", record_body(uscc=wrong_check(S1)),
     InvalidInput, "invalid_uscc", {"uscc"}, True),
    *[(f"uscc {bad!r}", record_body(uscc=bad), InvalidInput, "invalid_uscc", {"uscc"}, True)
      for bad in INVALID_USCCS],
    ("unknown code", record_body(code="BID-NOPE"), InvalidInput, "unknown_code", {"code"}, True),
    ("decided tomorrow", record_body(decided_on="2026-06-02"),
     InvalidInput, "decided_in_future", {"decided_on"}, True),
    ("explicit code without valid_until", record_body(code="BID-BAN"),
     InvalidInput, "valid_until_required", {"valid_until"}, True),
    ("explicit code with null valid_until", record_body(code="BID-BAN", valid_until=None),
     InvalidInput, "valid_until_required", {"valid_until"}, True),
    ("default validity with valid_until", record_body(valid_until="2026-12-31"),
     InvalidInput, "valid_until_forbidden", {"valid_until"}, True),
    ("unknown field", record_body(penalty_amount="5000"),
     InvalidInput, "validation_error", {"penalty_amount"}, False),
    *[(f"{f} missing", record_body(**{f: DROP}), InvalidInput, "validation_error", {f}, False)
      for f in ("uscc", "subject_name", "sector", "code", "decided_on", "document_no",
                "issued_by")],
    *[(f"{f} null", record_body(**{f: None}), InvalidInput, "validation_error", {f}, False)
      for f in ("uscc", "subject_name", "sector", "code", "decided_on", "document_no",
                "issued_by")],
    *[(f"{f} blank {b!r}", record_body(**{f: b}), InvalidInput, "validation_error", {f}, True)
      for f in ("subject_name", "document_no", "issued_by") for b in ("", "   ", "\u3000")],
    ("NUL in text", record_body(note="a\x00b"), InvalidInput, "validation_error", {"note"}, True),
    *[(f"{f}={v!r}", record_body(**{f: v}), InvalidInput, "validation_error", {f}, False)
      for f, v in [("sector", "farming"), ("sector", "Housing"), ("decided_on", "2026-1-10"),
                   ("decided_on", "2026-02-30"), ("decided_on", "1999-12-31"),
                   ("decided_on", 20260110), ("occurred_on", "2100-01-01"),
                   ("uscc", 91330603), ("subject_name", 5), ("code", ["BID-NOSIGN"]),
                   ("document_no", True), ("valid_until", 5), ("note", "\ud800"),
                   ("project_code", {"a": 1})]],
    ("occurred after decided", record_body(occurred_on="2026-01-11"),
     InvalidInput, "validation_error", {"occurred_on"}, True),
    ("body not an object", [record_body()], InvalidInput, "validation_error", set(), False),
    ("several problems", record_body(uscc=wrong_check(S1), code="BID-NOPE",
                                     decided_on="2026-07-01"),
     InvalidInput, "validation_error", {"uscc", "code", "decided_on"}, False),
    # check 8 (field validation) answers before check 10 (sector_forbidden)
    ("invalid and another sector", record_body(uscc=wrong_check(S1), sector="transport"),
     InvalidInput, "invalid_uscc", {"uscc"}, True),
    ("another sector", record_body(sector="transport"), Forbidden, "sector_forbidden",
     set(), False),
]


def test_refusals_have_their_code_and_write_nothing(ctx):
    for label, body, exc_type, error, fields, exact in REFUSALS:
        before = snapshot(ctx)
        with pytest.raises(exc_type) as info:
            create_record(ctx, HOUSING, body)
        exc = info.value
        assert exc.error == error, (label, exc.error, exc.errors)
        assert exc.status == {InvalidInput: 400, Forbidden: 403}[exc_type], label
        if exact:
            assert set(exc.errors) == fields, (label, exc.errors)
        else:
            assert fields <= set(exc.errors), (label, exc.errors)
        assert snapshot(ctx) == before, label


def test_error_messages_name_the_problem(ctx):
    exc = refused(ctx, InvalidInput, "invalid_uscc", record_body(uscc=wrong_check(S1)))
    assert "'4'" in exc.message  # names the expected check character
    exc = refused(ctx, InvalidInput, "unknown_code", record_body(code="BID-NOPE"))
    for code in ("BID-NOSIGN", "SUB-TRANSFER", "AWARD-CITY"):  # lists the valid codes
        assert code in exc.message
    # other roles than regulators never enter records
    refused(ctx, Forbidden, "forbidden", record_body(), actor=EVALUATOR)


def test_accepted_inputs_are_normalised(ctx):
    body = create(ctx, uscc="  91330603ma2d4f6e84\u3000", document_no=" N1 ")
    assert body["uscc"] == S1 and body["document_no"] == "N1"
    body = create(ctx, document_no="N2", project_code="   ", note="", project_name=None)
    assert body["project_code"] is None and body["note"] is None
    assert body["project_name"] is None
    assert create(ctx, document_no="N3", occurred_on="2026-01-10")["occurred_on"] == "2026-01-10"


def test_decided_in_future_uses_china_standard_time(ctx, clock):
    # clock: 2026-06-01 10:00 CST: today is accepted
    assert create(ctx, decided_on="2026-06-01", document_no="T0")["decided_on"] == "2026-06-01"
    # 2026-06-01T15:59:59Z is 23:59:59 on 06-01 in CST: the 2nd is still the future.
    clock.set(datetime(2026, 6, 1, 15, 59, 59, tzinfo=timezone.utc))
    refused(ctx, InvalidInput, "decided_in_future", record_body(decided_on="2026-06-02"))
    # One second later it is 2026-06-02 in CST although still 06-01 in UTC.
    clock.set(datetime(2026, 6, 1, 16, 0, 0, tzinfo=timezone.utc))
    assert create(ctx, decided_on="2026-06-02")["valid_from"] == "2026-06-02"


def test_valid_until_out_of_range_names_latest(ctx):
    cases = [("2024-02-29", "2027-02-28", "2027-02-27"),
             ("2026-01-31", "2029-01-31", "2029-01-30"),
             ("2026-03-15", "2029-03-15", "2029-03-14"),
             ("2026-01-10", "2026-01-09", "2029-01-09")]  # before the decision
    for n, (decided, wrong, latest) in enumerate(cases):
        exc = refused(ctx, InvalidInput, "valid_until_out_of_range",
                      record_body(code="BID-BAN", decided_on=decided, valid_until=wrong))
        assert exc.extra["latest_valid_until"] == latest
        assert set(exc.errors) == {"valid_until"}
        # The latest allowed day itself is accepted and kept as entered.
        body = create(ctx, code="BID-BAN", decided_on=decided, valid_until=latest,
                      document_no=f"禁{n}")
        assert body["valid_until"] == body["original_valid_until"] == latest
    # valid_until == decided_on is the shortest allowed ban.
    assert create(ctx, code="BID-BAN", decided_on="2026-01-10", valid_until="2026-01-10",
                  document_no="禁短")["valid_until"] == "2026-01-10"


def test_length_limits(ctx):
    limits = {"subject_name": 200, "document_no": 100, "issued_by": 100, "project_code": 64,
              "project_name": 200, "note": 2000}
    for n, (field, limit) in enumerate(limits.items()):
        exc = refused(ctx, InvalidInput, "validation_error",
                      record_body(**{field: "字" * (limit + 1)}))
        assert set(exc.errors) == {field}, field
        # Exactly at the limit (surrounding whitespace does not count) is accepted, trimmed.
        body = create(ctx, **{"document_no": f"长度{n}", field: "  " + "字" * limit + " "})
        assert body[field] == "字" * limit, field


def test_regulator_with_several_sectors(ctx):
    both = HOUSING.__class__("绍兴市建设局", "regulator", token_id=9,
                             sectors=frozenset(["housing", "water"]))
    assert create(ctx, actor=both, sector="water")["sector"] == "water"
    refused(ctx, Forbidden, "sector_forbidden", record_body(sector="transport",
                                                            document_no="X2"), actor=both)


# ---------------------------------------------------------------- duplicates (409)

def test_duplicate_record_refused_until_revoked(ctx):
    first = create(ctx)
    exc = refused(ctx, Conflict, "duplicate_record", record_body(subject_name="另一个名字"))
    assert exc.status == 409
    # Same (uscc, code, document_no) in another sector is still a duplicate.
    refused(ctx, Conflict, "duplicate_record", record_body(sector="transport"),
            actor=TRANSPORT)
    # Anything else differing is a different record.
    create(ctx, document_no="绍柯建罚〔2026〕2号")
    create(ctx, code="BID-ABANDON")
    create(ctx, uscc=S2)
    # document_no is compared exactly (after trimming)
    refused(ctx, Conflict, "duplicate_record", record_body(document_no=" 绍柯建罚〔2026〕1号 "))
    revoke_record(ctx, HOUSING, first["id"], revocation_body())
    again = create(ctx)
    assert again["id"] != first["id"]
    refused(ctx, Conflict, "duplicate_record", record_body())


# ---------------------------------------------------------------- the resource

def test_record_resource(ctx):
    body = create(ctx, project_code=" P-2026-01 ", project_name="柯桥区某安置房项目",
                  occurred_on="2025-12-20", note="  中标后拒签合同  ")
    e = entry(ctx, body["audit_position"])
    assert e["kind"] == "record.created"
    assert e["actor"] == HOUSING.name
    assert body["recorded_at"] == e["at"]
    assert INSTANT_RE.match(body["recorded_at"])
    assert body["audit_position"] == e["position"] == 1
    expected = {
        "id": 1, "uscc": S1, "subject_name": "绍兴柯桥建工集团有限公司", "sector": "housing",
        "code": "BID-NOSIGN", "decided_on": "2026-01-10", "document_no": "绍柯建罚〔2026〕1号",
        "issued_by": "柯桥区住房和城乡建设局", "project_code": "P-2026-01",
        "project_name": "柯桥区某安置房项目", "occurred_on": "2025-12-20", "note": "中标后拒签合同",
        "category": "market", "tier": "general", "points": "-8.00",
        "valid_from": "2026-01-10", "valid_until": "2027-01-09",
        "original_valid_until": "2027-01-09", "status": "active", "counts_today": True,
        "entered_by": HOUSING.name, "events": [],
    }
    for k, v in expected.items():
        assert body[k] == v, k
    facts = {f: body[f] for f in IMMUTABLE}
    facts["valid_until"] = body["original_valid_until"]
    assert body["sha256"] == canonical_sha256(facts)
    assert e["payload"]["sha256"] == body["sha256"]
    assert e["payload"]["record"] == facts
    assert get_record(ctx, HOUSING, body["id"]) == body


def test_record_hash_with_absent_optionals_is_over_nulls(ctx):
    body = create(ctx)
    facts = {f: body.get(f) for f in IMMUTABLE}
    assert facts["note"] is None and facts["occurred_on"] is None
    assert body["sha256"] == canonical_sha256(facts)


def test_good_and_explicit_record_fields(ctx):
    award = create(ctx, code="AWARD-PROVINCIAL", document_no="浙建奖〔2025〕8号",
                   decided_on="2025-03-01")
    assert (award["category"], award["tier"], award["points"]) == ("good", None, "3.00")
    assert award["valid_until"] == "2028-02-29"  # 2025-03-01 + 36 m − 1 day
    ban = create(ctx, code="BID-BAN", document_no="绍柯建禁〔2026〕1号",
                 decided_on="2026-01-01", valid_until="2026-12-31")
    assert (ban["category"], ban["tier"], ban["points"]) == ("market", "serious", "0.00")
    assert ban["valid_until"] == ban["original_valid_until"] == "2026-12-31"
    site = create(ctx, code="SUB-TRANSFER", document_no="D3", decided_on="2025-01-01")
    assert (site["category"], site["tier"], site["points"]) == ("site", "serious", "-20.00")
    assert site["valid_until"] == "2027-12-31"


def test_counts_today(ctx):
    assert create(ctx, decided_on="2024-01-10")["counts_today"] is False   # expired 2025-01-09
    # 2025-06-01 + 12 m − 1 day = 2026-05-31: yesterday was its last day.
    assert create(ctx, decided_on="2025-06-01", document_no="D2")["counts_today"] is False
    # 2025-06-02 + 12 m − 1 day = 2026-06-01 = today in CST: still counts.
    assert create(ctx, decided_on="2025-06-02", document_no="D3")["counts_today"] is True
    assert create(ctx, decided_on="2025-06-01", code="BID-ABANDON",
                  document_no="D4")["valid_until"] == "2026-05-31"


def test_positions_and_ids_increase(ctx, clock):
    a = create(ctx)
    clock.advance(seconds=1)
    b = create(ctx, document_no="D2")
    assert (a["id"], b["id"]) == (1, 2)
    assert (a["audit_position"], b["audit_position"]) == (1, 2)
    assert a["recorded_at"] < b["recorded_at"]
    assert entry(ctx, 2)["prev_sha256"] == entry(ctx, 1)["sha256"]
    assert entry(ctx, 1)["prev_sha256"] == "0" * 64


def test_same_instant_gets_strictly_later_at(ctx):
    # The fake clock does not move: ``at`` still strictly increases by 1 µs.
    a = create(ctx)
    b = create(ctx, document_no="D2")
    ta, tb = datetime.fromisoformat(a["recorded_at"]), datetime.fromisoformat(b["recorded_at"])
    assert (tb - ta).total_seconds() == pytest.approx(1e-6)


def test_first_name_registers_the_subject(ctx):
    create(ctx)
    second = create(ctx, subject_name="柯桥建工（更名后）", document_no="D2")
    assert second["subject_name"] == "柯桥建工（更名后）"
    subject = get_subject(ctx, S1)
    assert subject["name"] == "绍兴柯桥建工集团有限公司"
    assert subject["counts"]["housing"] == {"active": 2, "repaired": 0, "revoked": 0}


def test_get_unknown_record(ctx):
    with expect(NotFound, "not_found"):
        get_record(ctx, HOUSING, 1)


def test_list_records_newest_first(ctx):
    for i in range(5):
        create(ctx, document_no=f"D{i}")
    create(ctx, uscc=S2, document_no="X")
    page = list_records(ctx, HOUSING, RecordFilter(uscc=S1, limit=3))
    assert [r["document_no"] for r in page["items"]] == ["D4", "D3", "D2"]
    assert page["next"] is not None
    rest = list_records(ctx, HOUSING, RecordFilter(uscc=S1, limit=3, after=int(page["next"])))
    assert [r["document_no"] for r in rest["items"]] == ["D1", "D0"]
    assert rest["next"] is None
