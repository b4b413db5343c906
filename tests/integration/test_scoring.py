"""Serving scores through the store (API.md §4, §6 traces; MODEL.md §2 knowledge, §10–11
examples): bitemporal answers, known_at limits, never-seen subjects, model pinning and
trace replay."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from credit.domain.dates import CST, format_instant
from credit.errors import InvalidInput, NotFound, RuleViolation
from credit.services.audit import verify_trace
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, score

from .helpers import (
    EVALUATOR,
    HOUSING,
    INSTANT_RE,
    S1,
    S2,
    TRANSPORT,
    WATER,
    entry,
    expect,
    instant,
    record_body,
    repair_body,
    revocation_body,
    snapshot,
)

BODY_FIELDS = {"uscc", "name", "sector", "as_of", "known_at", "model", "score", "components",
               "grade", "eligible_to_bid", "bid_points", "inspection_multiplier", "measures",
               "reasons", "trace_id", "trace_sha256"}


def create(ctx, actor=HOUSING, **overrides) -> dict:
    return json.loads(create_record(ctx, actor, record_body(**overrides)).body)


def serve(ctx, uscc=S1, sector="housing", as_of=None, known_at=None, model=None) -> dict:
    q = ScoreQuery(uscc, sector, date.fromisoformat(as_of) if as_of else None,
                   instant(known_at) if isinstance(known_at, str) else known_at, model)
    return score(ctx, EVALUATOR, q)


def result_of(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("trace_id", "trace_sha256")}


def brief(body: dict) -> tuple:
    return (body["score"], body["grade"], body["eligible_to_bid"], body["bid_points"],
            body["inspection_multiplier"])


# ---------------------------------------------------------------- the served body & trace

def test_score_body_and_its_trace(ctx, clock):
    rec = create(ctx)
    clock.advance(minutes=1)
    body = serve(ctx, as_of="2026-06-30")
    assert BODY_FIELDS <= set(body)
    assert body["score"] == "92.00" and body["grade"] == "C"
    assert body["components"] == {"market": "-8.00", "site": "0.00", "good": "0.00"}
    assert body["name"] == "绍兴柯桥建工集团有限公司"
    assert body["model"]["id"] == "keqiao-2025" and body["model"]["version"] == 2  # default
    e = entry(ctx, body["trace_id"])
    assert e["kind"] == "score.served"
    assert e["actor"] == EVALUATOR.name
    assert body["trace_sha256"] == e["sha256"]
    # default knowledge (API.md §4, issue 10): the committed head the computation read,
    # here the record's entry; the trace itself comes after it, a minute later
    head = entry(ctx, body["trace_id"] - 1)
    assert head["kind"] == "record.created"
    assert body["known_at"] == head["at"] < e["at"]
    assert INSTANT_RE.match(body["known_at"])
    p = e["payload"]
    assert p["result"] == result_of(body)
    assert p["knowledge_position"] == body["trace_id"] - 1 == rec["audit_position"]
    assert (p["uscc"], p["sector"], p["as_of"], p["known_at"]) == (
        S1, "housing", "2026-06-30", body["known_at"])
    (r,) = p["records"]
    assert (r["id"], r["sha256"], r["code"], r["status"], r["factor"], r["contribution"]) == (
        rec["id"], rec["sha256"], "BID-NOSIGN", "active", "1.00", "-8.00")
    assert r["valid_until"] == "2027-01-09"
    assert verify_trace(ctx, body["trace_id"]) == {
        "hash_ok": True, "chain_ok": True, "replay_ok": True, "ok": True, "differences": []}


def test_default_as_of_is_today_in_cst(ctx, clock):
    clock.set(datetime(2026, 6, 1, 16, 30, tzinfo=timezone.utc))  # 2026-06-02 00:30 CST
    assert serve(ctx)["as_of"] == "2026-06-02"


def test_never_seen_subject(ctx):
    before = snapshot(ctx)
    body = serve(ctx, uscc=S2, sector="water")
    assert body["score"] == "100.00" and body["name"] is None
    assert body["grade"] == "B" and body["eligible_to_bid"] is True
    assert body["bid_points"] == "8.89" and body["inspection_multiplier"] == "1.00"
    assert body["components"] == {"market": "0.00", "site": "0.00", "good": "0.00"}
    assert body["measures"] == [] and body["reasons"] == []
    # serving a score is logged: exactly one new entry
    assert snapshot(ctx)[0][0] == before[0][0] + 1
    assert verify_trace(ctx, body["trace_id"])["ok"] is True


# ---------------------------------------------------------------- MODEL.md §11 example 1

def test_repair_after_served_score_example_1(ctx, clock):
    rec = create(ctx, code="SUB-TRANSFER", decided_on="2025-01-01")
    assert rec["valid_until"] == "2027-12-31"
    k1 = rec["recorded_at"]
    clock.advance(minutes=10)
    at_k2 = serve(ctx, as_of="2026-03-01")
    k2 = at_k2["known_at"]
    expected_k2 = ("80.00", "E", False, "0.00", "3.00")
    assert brief(at_k2) == expected_k2
    assert at_k2["measures"] == [
        {"measure": "blacklist", "basis": [rec["id"]], "until": "2027-12-31"},
        {"measure": "bid_ban", "basis": [rec["id"]], "until": "2027-12-31"},
        {"measure": "key_supervision", "basis": [], "until": None},
    ]
    assert at_k2["components"] == {"market": "0.00", "site": "-20.00", "good": "0.00"}
    assert [r["kind"] for r in at_k2["reasons"]] == ["measure", "measure", "record"]
    assert at_k2["reasons"][2]["record_id"] == rec["id"]
    assert at_k2["reasons"][2]["contribution"] == "-20.00"

    clock.advance(minutes=10)
    with expect(RuleViolation, "repair_too_early") as info:
        repair_record(ctx, HOUSING, rec["id"], repair_body("2025-12-31"))
    assert info.value.extra["earliest_repair_on"] == "2026-01-01"
    repaired = repair_record(ctx, HOUSING, rec["id"], repair_body("2026-02-01"))
    k3 = repaired["events"][0]["recorded_at"]
    # k2, the default knowledge, is the committed head the score read: the record's
    # own entry, here (API.md §4)
    assert instant(k1) == instant(k2) < instant(k3)

    clock.advance(minutes=10)
    # as known at k2: the old answer, body for body
    again = serve(ctx, as_of="2026-03-01", known_at=k2)
    assert result_of(again) == result_of(at_k2)
    assert again["known_at"] == k2
    # default knowledge (now, after k3): repaired
    now = serve(ctx, as_of="2026-03-01")
    assert brief(now) == ("100.00", "B", True, "8.89", "1.00")
    assert now["measures"] == [] and now["reasons"] == []
    (r,) = entry(ctx, now["trace_id"])["payload"]["records"]
    assert r["status"] == "repaired" and r["valid_until"] == "2026-01-31"
    assert r["contribution"] == "0.00"
    # as known at k3 exactly, as of a date before the repair: still listed, until moved
    before_repair = serve(ctx, as_of="2026-01-15", known_at=k3)
    assert before_repair["grade"] == "E"
    assert [m["until"] for m in before_repair["measures"][:2]] == ["2026-01-31", "2026-01-31"]
    # one microsecond before k3 the repair is unknown
    just_before = instant(k3) - timedelta(microseconds=1)
    assert brief(serve(ctx, as_of="2026-03-01", known_at=just_before)) == expected_k2
    # the k2 trace replays unchanged
    assert verify_trace(ctx, at_k2["trace_id"])["ok"] is True

    # a later revocation changes nothing as known at k2 or k3
    clock.advance(minutes=10)
    revoke_record(ctx, HOUSING, rec["id"], revocation_body())
    assert result_of(serve(ctx, as_of="2026-03-01", known_at=k2)) == result_of(at_k2)
    assert serve(ctx, as_of="2026-01-15", known_at=k3)["grade"] == "E"
    after = serve(ctx, as_of="2026-01-15")
    assert brief(after) == ("100.00", "B", True, "8.89", "1.00")
    (r,) = entry(ctx, after["trace_id"])["payload"]["records"]
    assert r["status"] == "revoked"
    assert verify_trace(ctx, at_k2["trace_id"])["ok"] is True
    assert verify_trace(ctx, before_repair["trace_id"])["ok"] is True


def test_name_is_null_before_registration(ctx, clock):
    clock.advance(minutes=1)
    rec = create(ctx)
    at = instant(rec["recorded_at"])
    clock.advance(minutes=1)
    exactly = serve(ctx, as_of="2026-06-01", known_at=at)
    assert exactly["name"] == "绍兴柯桥建工集团有限公司" and exactly["score"] == "92.00"
    earlier = serve(ctx, as_of="2026-06-01", known_at=at - timedelta(microseconds=1))
    assert earlier["name"] is None and earlier["score"] == "100.00"
    assert verify_trace(ctx, earlier["trace_id"])["ok"] is True
    # known_at in any offset means the same instant
    utc = serve(ctx, as_of="2026-06-01", known_at=at.astimezone(timezone.utc))
    assert utc["known_at"] == rec["recorded_at"]


# ---------------------------------------------------------------- known_at limits

def test_known_at_in_future(ctx, clock):
    create(ctx)
    before = snapshot(ctx)
    with expect(RuleViolation, "known_at_in_future") as info:
        serve(ctx, known_at=clock() + timedelta(seconds=2))
    assert info.value.status == 422
    with expect(RuleViolation, "known_at_in_future"):
        serve(ctx, known_at=clock() + timedelta(seconds=1, microseconds=1))
    assert snapshot(ctx) == before
    # within the 1 s skew tolerance: served, and known_at is the one asked for
    ahead = clock() + timedelta(milliseconds=500)
    body = serve(ctx, known_at=ahead)
    assert body["known_at"] == format_instant(ahead)
    assert body["score"] == "92.00"
    assert verify_trace(ctx, body["trace_id"])["ok"] is True
    # exactly 1 s ahead is still tolerated
    body = serve(ctx, known_at=clock() + timedelta(seconds=1))
    assert body["known_at"] == format_instant(clock() + timedelta(seconds=1))


def test_near_future_known_at_gives_a_stable_answer(ctx, clock):
    k = clock() + timedelta(milliseconds=500)
    first = serve(ctx, as_of="2026-06-01", known_at=k)
    assert first["score"] == "100.00"
    assert instant(first["known_at"]) == k
    clock.advance(milliseconds=100)
    rec = create(ctx)
    # The near-future score's trace is stamped at k, so nothing later can be "known at k".
    assert instant(rec["recorded_at"]) > k
    clock.advance(seconds=5)
    again = serve(ctx, as_of="2026-06-01", known_at=k)
    assert result_of(again) == result_of(first)


def test_known_at_before_2000(ctx):
    before = snapshot(ctx)
    with expect(InvalidInput, "validation_error") as info:
        serve(ctx, known_at=datetime(1999, 12, 31, 23, 59, tzinfo=CST))
    assert "known_at" in info.value.errors
    assert snapshot(ctx) == before
    # 2000-01-01 itself is accepted (nothing known then)
    assert serve(ctx, known_at=datetime(2000, 1, 1, tzinfo=CST))["score"] == "100.00"


# ---------------------------------------------------------------- models

def test_unknown_model_is_not_found_and_writes_nothing(ctx):
    before = snapshot(ctx)
    with expect(NotFound, "not_found"):
        serve(ctx, model="keqiao-2025@9")
    with expect(NotFound, "not_found"):
        serve(ctx, model="nope")
    assert snapshot(ctx) == before


def test_model_pinning(ctx, clock):
    # keqiao-test@1: other-sector general factor 0.50 (keqiao-2025: 0.00)
    create(ctx, actor=TRANSPORT, sector="transport")  # BID-NOSIGN, general, −8
    clock.advance(minutes=1)
    default = serve(ctx, as_of="2026-06-01")
    pinned_default = serve(ctx, as_of="2026-06-01", model="keqiao-2025@2")  # the default
    assert result_of(default) | {"known_at": None} == result_of(pinned_default) | {"known_at": None}
    assert default["score"] == "100.00"
    other = serve(ctx, as_of="2026-06-01", model="keqiao-test@1")
    assert other["model"]["id"] == "keqiao-test"
    assert other["score"] == "96.00"
    assert other["grade"] == "B"  # keqiao-test: B from 95.00
    assert verify_trace(ctx, other["trace_id"])["ok"] is True


# ---------------------------------------------------------------- MODEL.md §10 and §11

def test_worked_example_section_10(ctx):
    create(ctx, code="BID-NOSIGN", decided_on="2026-01-10", document_no="A1")
    create(ctx, actor=TRANSPORT, sector="transport", code="SAFE-ACC-GENERAL",
           decided_on="2025-09-01", document_no="A2")
    create(ctx, actor=TRANSPORT, sector="transport", code="SITE-PM-ABSENT",
           decided_on="2026-05-01", document_no="A3")
    create(ctx, code="AWARD-PROVINCIAL", decided_on="2024-12-01", document_no="A4",
           project_code="P1")
    create(ctx, code="AWARD-CITY", decided_on="2025-02-01", document_no="A5",
           project_code="P1")
    body = serve(ctx, as_of="2026-06-30")
    assert body["components"] == {"market": "-8.00", "site": "-5.00", "good": "3.00"}
    assert brief(body) == ("90.00", "C", True, "6.67", "1.50")
    assert body["measures"] == []
    statuses = {r["code"]: (r["status"], r["factor"], r["contribution"])
                for r in entry(ctx, body["trace_id"])["payload"]["records"]}
    assert statuses == {
        "BID-NOSIGN": ("active", "1.00", "-8.00"),
        "SAFE-ACC-GENERAL": ("active", "0.50", "-5.00"),
        "SITE-PM-ABSENT": ("active", "0.00", "0.00"),
        "AWARD-PROVINCIAL": ("active", "1.00", "3.00"),
        "AWARD-CITY": ("superseded", "1.00", "0.00"),
    }
    # most harmful first
    assert [(r["code"], r["contribution"]) for r in body["reasons"]] == [
        ("BID-NOSIGN", "-8.00"), ("SAFE-ACC-GENERAL", "-5.00")]


def test_example_2_ban_plus_serious_elsewhere(ctx):
    ban = create(ctx, actor=TRANSPORT, sector="transport", code="BID-BAN",
                 decided_on="2026-01-01", valid_until="2026-12-31", document_no="B1")
    fraud = create(ctx, actor=WATER, sector="water", code="BID-FRAUD",
                   decided_on="2025-06-01", document_no="B2")
    body = serve(ctx, as_of="2026-06-01")
    assert brief(body) == ("92.50", "C", False, "0.00", "2.00")
    assert body["measures"] == [
        {"measure": "bid_ban", "basis": [ban["id"]], "until": "2026-12-31"},
        {"measure": "key_supervision", "basis": [ban["id"], fraud["id"]], "until": None},
    ]


@pytest.mark.parametrize("second, expected, listed", [
    ("2026-01-01", ("70.00", "E", False, "0.00", "3.00"), True),
    ("2026-01-02", ("70.00", "D", True, "2.22", "2.00"), False),
])
def test_example_3_pair_rule(ctx, second, expected, listed):
    a = create(ctx, code="SAFE-ACC-LARGER", decided_on="2025-01-01", document_no="C1")
    b = create(ctx, actor=WATER, sector="water", code="SAFE-ACC-LARGER", decided_on=second,
               document_no="C2")
    body = serve(ctx, as_of="2026-02-01")
    assert brief(body) == expected
    basis = [a["id"], b["id"]]
    ks = {"measure": "key_supervision", "basis": basis, "until": None}
    if listed:
        assert body["measures"] == [
            {"measure": "blacklist", "basis": basis, "until": "2027-12-31"},
            {"measure": "bid_ban", "basis": basis, "until": "2027-12-31"}, ks]
    else:
        assert body["measures"] == [ks]


def test_example_4_same_project_code_in_two_sectors(ctx):
    create(ctx, code="AWARD-PROVINCIAL", decided_on="2025-03-01", project_code="P1",
           document_no="E1")
    create(ctx, actor=TRANSPORT, sector="transport", code="AWARD-NATIONAL",
           decided_on="2025-06-01", project_code="P1", document_no="E2")
    housing = serve(ctx, as_of="2026-01-01")
    transport = serve(ctx, sector="transport", as_of="2026-01-01")
    assert (housing["score"], housing["grade"], housing["bid_points"]) == ("103.00", "B", "9.56")
    assert (transport["score"], transport["grade"], transport["bid_points"]) == (
        "105.00", "A", "10.00")


def test_future_as_of_projects_known_records(ctx):
    create(ctx)  # valid until 2027-01-09
    assert serve(ctx, as_of="2027-01-09")["score"] == "92.00"
    assert serve(ctx, as_of="2027-01-10")["score"] == "100.00"
    assert serve(ctx, as_of="2026-01-09")["score"] == "100.00"  # not yet effective
