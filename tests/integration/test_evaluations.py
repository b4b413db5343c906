"""Bid-opening evaluations through the store (API.md §5; MODEL.md §7 consortium rule):
results in bidder order, one trace per member at one known_at, the frozen document and
who may read it, and the validation errors keyed like ``bidders.3.uscc``."""

from __future__ import annotations

import json
from datetime import date

import pytest

from credit.errors import Forbidden, InvalidInput, NotFound
from credit.services.audit import inquiries, verify_chain, verify_trace
from credit.services.records import create_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, get_evaluation, score

from .helpers import (
    ADMIN,
    AUDITOR,
    EVALUATOR,
    EVALUATOR_2,
    HOUSING,
    INSTANT_RE,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    canonical_sha256,
    entry,
    expect,
    make_uscc,
    record_body,
    revocation_body,
    snapshot,
    wrong_check,
)

TENDER = {"code": "KQ-2026-0012", "name": "柯桥区鉴湖路改造工程施工"}


def body(bidders, **overrides) -> dict:
    out = {"tender": dict(TENDER), "sector": "housing", "as_of": "2026-06-01",
           "bidders": bidders}
    out.update(overrides)
    return out


@pytest.fixture
def world(ctx, clock):
    """S1 92.00 C; S2 never seen; S3 80.00 E (blacklisted); S4 105.00 A; S5 never seen;
    S6 100.00 B but banned from bidding."""
    ids = {}

    def add(key, **kw):
        ids[key] = json.loads(create_record(ctx, HOUSING, record_body(**kw)).body)["id"]

    add("s1", uscc=S1, code="BID-NOSIGN", decided_on="2026-01-10", document_no="W1")
    add("s3", uscc=S3, code="SUB-TRANSFER", decided_on="2025-01-01", document_no="W3",
        subject_name="某转包企业")
    add("s4a", uscc=S4, code="AWARD-NATIONAL", decided_on="2025-01-01", document_no="W4a")
    add("s4b", uscc=S4, code="AWARD-NATIONAL", decided_on="2025-02-01", document_no="W4b")
    add("s4c", uscc=S4, code="AWARD-NATIONAL", decided_on="2025-03-01", document_no="W4c",
        project_code="P9")
    add("s6", uscc=S6, code="BID-BAN", decided_on="2026-03-01", valid_until="2026-12-31",
        document_no="W6")
    clock.advance(minutes=5)
    return ids


def evaluate(ctx, bidders, actor=EVALUATOR, **overrides) -> tuple[str, dict]:
    out = create_evaluation(ctx, actor, body(bidders, **overrides))
    assert out.status == 201 and out.replayed is False
    return out.body, json.loads(out.body)


def test_results_in_bidder_order_with_consortium_rule(ctx, world):
    text, doc = evaluate(ctx, [
        {"uscc": S4},
        {"consortium": [S2, S1]},
        {"uscc": "  " + S3.lower() + " "},
        {"consortium": [S5, S6]},
    ])
    assert doc["tender"] == TENDER and doc["sector"] == "housing"
    assert doc["as_of"] == "2026-06-01"
    assert doc["created_by"] == EVALUATOR.name
    assert doc["model"]["id"] == "keqiao-2025"
    assert INSTANT_RE.match(doc["created_at"]) and doc["known_at"] == doc["created_at"]
    bidders = [r["bidder"] for r in doc["results"]]
    assert bidders == [{"uscc": S4}, {"consortium": [S2, S1]}, {"uscc": S3},
                       {"consortium": [S5, S6]}]
    summary = [(r["score"], r["grade"], r["eligible_to_bid"], r["bid_points"])
               for r in doc["results"]]
    assert summary == [
        ("115.00", "A", True, "10.00"),     # capped at +15
        ("92.00", "C", True, "7.11"),       # lowest score, worst grade
        ("80.00", "E", False, "0.00"),
        ("100.00", "B", False, "0.00"),     # one member banned: the consortium is
    ]
    members = [[m["uscc"] for m in r["members"]] for r in doc["results"]]
    assert members == [[S4], [S2, S1], [S3], [S5, S6]]
    s3 = doc["results"][2]
    assert [m["measure"] for m in s3["measures"]] == ["blacklist", "bid_ban", "key_supervision"]
    assert all(m["uscc"] == S3 for m in s3["measures"] + s3["reasons"])
    s56 = doc["results"][3]
    assert s56["measures"] == [{"uscc": S6, "measure": "bid_ban", "basis": [world["s6"]],
                                "until": "2026-12-31"}]
    assert doc["results"][1]["reasons"][0]["uscc"] == S1
    # names as registered (null for never-seen subjects)
    assert doc["results"][1]["members"][0]["name"] is None
    assert doc["results"][2]["members"][0]["name"] == "某转包企业"
    assert get_evaluation(ctx, EVALUATOR, doc["id"]) == text


def test_member_traces_share_known_at(ctx, world):
    _, doc = evaluate(ctx, [{"uscc": S1}, {"consortium": [S3, S4]}, {"uscc": S2}])
    members = [m for r in doc["results"] for m in r["members"]]
    positions = [m["trace_id"] for m in members]
    assert positions == list(range(positions[0], positions[0] + 4))
    ats = []
    for m in members:
        e = entry(ctx, m["trace_id"])
        assert e["kind"] == "score.served" and e["actor"] == EVALUATOR.name
        assert e["sha256"] == m["trace_sha256"]
        assert m["known_at"] == doc["known_at"] == doc["created_at"]
        assert e["payload"]["known_at"] == doc["created_at"]
        assert e["payload"]["evaluation"] == {"id": doc["id"], "tender_code": TENDER["code"]}
        assert e["payload"]["result"] == {k: v for k, v in m.items()
                                          if k not in ("trace_id", "trace_sha256")}
        assert verify_trace(ctx, m["trace_id"])["ok"] is True
        ats.append(e["at"])
    assert ats[0] == doc["created_at"]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)
    # the creating entry follows the member traces and carries the document's hash
    created = entry(ctx, positions[-1] + 1)
    assert created["kind"] == "evaluation.created"
    assert created["payload"]["evaluation_id"] == doc["id"]
    assert created["payload"]["sha256"] == canonical_sha256(doc)
    assert verify_chain(ctx)["ok"] is True


def test_document_is_frozen(ctx, world, clock):
    text, doc = evaluate(ctx, [{"uscc": S3}, {"uscc": S2}])
    clock.advance(days=1)
    revoke_record(ctx, HOUSING, world["s3"], revocation_body())
    create_record(ctx, HOUSING, record_body(uscc=S2, code="SUB-TRANSFER",
                                            decided_on="2026-05-01", document_no="late"))
    fresh = score(ctx, EVALUATOR, ScoreQuery(S3, "housing", date(2026, 6, 1)))
    assert fresh["score"] == "100.00"
    for reader in (EVALUATOR, AUDITOR, ADMIN):
        assert get_evaluation(ctx, reader, doc["id"]) == text
    # the member traces still replay to what the document says
    for m in (m for r in doc["results"] for m in r["members"]):
        assert verify_trace(ctx, m["trace_id"])["ok"] is True


def test_another_evaluator_may_not_read(ctx, world):
    _, doc = evaluate(ctx, [{"uscc": S1}])
    with expect(Forbidden, "forbidden") as info:
        get_evaluation(ctx, EVALUATOR_2, doc["id"])
    assert info.value.status == 403
    with expect(Forbidden, "forbidden"):
        get_evaluation(ctx, HOUSING, doc["id"])
    with expect(NotFound, "not_found"):
        get_evaluation(ctx, EVALUATOR, doc["id"] + 1)


def test_ids_increase(ctx, world):
    _, a = evaluate(ctx, [{"uscc": S1}])
    _, b = evaluate(ctx, [{"uscc": S1}], actor=EVALUATOR_2)
    assert (a["id"], b["id"]) == (1, 2)
    assert b["created_by"] == EVALUATOR_2.name


def test_pinned_model(ctx, world):
    _, doc = evaluate(ctx, [{"uscc": S4}], model="keqiao-test@1")
    assert doc["model"]["id"] == "keqiao-test"
    (member,) = doc["results"][0]["members"]
    assert member["model"] == doc["model"]
    assert member["score"] == "108.00"  # keqiao-test caps the bonus at 8.00
    assert verify_trace(ctx, member["trace_id"])["ok"] is True


def test_unknown_model(ctx, world):
    before = snapshot(ctx)
    with expect(NotFound, "not_found"):
        create_evaluation(ctx, EVALUATOR, body([{"uscc": S1}], model="keqiao-2025@7"))
    assert snapshot(ctx) == before


def test_inquiries_name_the_tender(ctx, world):
    _, doc = evaluate(ctx, [{"consortium": [S1, S2]}])
    items = inquiries(ctx, AUDITOR, S1)["items"]
    assert items[0]["evaluation_id"] == doc["id"]
    assert items[0]["tender_code"] == TENDER["code"]
    assert items[0]["actor"] == EVALUATOR.name


# ---------------------------------------------------------------- validation

def refused(ctx, error, bidders, **overrides):
    before = snapshot(ctx)
    with expect(InvalidInput, error) as info:
        create_evaluation(ctx, EVALUATOR, body(bidders, **overrides))
    assert info.value.status == 400
    assert snapshot(ctx) == before
    return info.value


def test_duplicate_bidder(ctx):
    exc = refused(ctx, "duplicate_bidder",
                  [{"uscc": S1}, {"consortium": [S2, " " + S1.lower()]}])
    assert set(exc.errors) == {"bidders.1.consortium.1"}
    exc = refused(ctx, "duplicate_bidder", [{"consortium": [S1, S1]}])
    assert set(exc.errors) == {"bidders.0.consortium.1"}
    exc = refused(ctx, "duplicate_bidder", [{"uscc": S1}, {"uscc": S2}, {"uscc": S1}])
    assert set(exc.errors) == {"bidders.2.uscc"}


def test_invalid_usccs_keyed_by_path(ctx):
    exc = refused(ctx, "invalid_uscc", [
        {"uscc": S1}, {"uscc": S2}, {"uscc": S4}, {"uscc": wrong_check(S5)},
        {"consortium": [S6, "91330603MA2D4F6E8"]},
    ])
    assert set(exc.errors) == {"bidders.3.uscc", "bidders.4.consortium.1"}
    exc = refused(ctx, "invalid_uscc", [{"uscc": S1}, {"uscc": "X"}])
    assert set(exc.errors) == {"bidders.1.uscc"}


def test_mixed_problems_are_validation_error(ctx):
    exc = refused(ctx, "validation_error",
                  [{"uscc": S1}, {"uscc": S1}, {"uscc": wrong_check(S2)}])
    assert {"bidders.1.uscc", "bidders.2.uscc"} <= set(exc.errors)
    exc = refused(ctx, "validation_error", [{"uscc": wrong_check(S2)}], sector="farming")
    assert {"bidders.0.uscc", "sector"} <= set(exc.errors)


def test_errors_name_the_index_sent_when_an_item_before_loads_nothing(ctx):
    """A ``null`` bidder or a member that is no string loads nothing, and the schema
    leaves it out of the list it loaded: the USCC checks read the body as sent, so the
    bad code after it keeps its own index (and a type error beside it keeps the answer
    ``validation_error``)."""
    exc = refused(ctx, "validation_error", [None, {"uscc": wrong_check(S1)}])
    assert set(exc.errors) == {"bidders.0", "bidders.1.uscc"}
    exc = refused(ctx, "validation_error", [{"consortium": [5, wrong_check(S1)]}])
    assert set(exc.errors) == {"bidders.0.consortium.0", "bidders.0.consortium.1"}
    exc = refused(ctx, "validation_error", [{"uscc": S1}, {"consortium": [None, S2, S1]}])
    assert "appears twice" in " ".join(exc.errors["bidders.1.consortium.2"])


def test_too_many_bidders_of_every_shape_is_a_400(ctx):
    """Found by the schema-driven test: a list over 200 bidders still loads (partly),
    and its items of every shape — a null, a number, a list, a consortium after them —
    give a 400 naming each item at the index it was sent at, never a 500 (the schema
    checks the list's length only when every item loaded)."""
    bidders = [None, 0, [None], "AAA", {"consortium": [S1, S2]}, {"uscc": 0,
               "consortium": [S3, S4]}] + [{"uscc": S5}] * 195
    exc = refused(ctx, "validation_error", bidders)
    assert {"bidders.0", "bidders.1", "bidders.2", "bidders.3", "bidders.5.uscc",
            "bidders.7.uscc"} <= set(exc.errors)  # the 2nd S5 is the first duplicate


def test_bidder_shapes(ctx):
    for bidders in ([], [{}], [{"uscc": S1, "consortium": [S2, S3]}], [{"consortium": [S2]}],
                    [{"consortium": [make_uscc(i) for i in range(11)]}],
                    [{"uscc": S1, "name": "x"}], "not a list", None, ["x"], [None],
                    [{"consortium": S1}], [{"consortium": [None, S1]}], [{"uscc": 5}],
                    [{"consortium": None}]):
        refused(ctx, "validation_error", bidders)


def test_too_many_bidders(ctx):
    refused(ctx, "validation_error", [{"uscc": make_uscc(i)} for i in range(201)])


def test_evaluation_fields(ctx):
    for overrides in ({"tender": {"code": "", "name": "x"}},
                      {"tender": {"code": "C" * 65, "name": "x"}},
                      {"tender": {"code": "C", "name": "x" * 201}},
                      {"tender": {"code": "C"}}, {"tender": "KQ-1"},
                      {"tender": {"code": "C", "name": "x", "budget": 1}},
                      {"sector": "farming"}, {"as_of": "2026-13-01"}, {"as_of": "2100-01-01"},
                      {"as_of": None}, {"model": ""}, {"model": 5}, {"extra": True}):
        refused(ctx, "validation_error", [{"uscc": S1}], **overrides)


def test_missing_fields(ctx):
    for field in ("tender", "sector", "as_of", "bidders"):
        b = body([{"uscc": S1}])
        del b[field]
        before = snapshot(ctx)
        with expect(InvalidInput, "validation_error") as info:
            create_evaluation(ctx, EVALUATOR, b)
        assert field in info.value.errors
        assert snapshot(ctx) == before


def test_two_hundred_bidders_accepted(ctx):
    _, doc = evaluate(ctx, [{"uscc": make_uscc(i)} for i in range(200)])
    assert len(doc["results"]) == 200
    assert [r["bidder"]["uscc"] for r in doc["results"]] == [make_uscc(i) for i in range(200)]
