"""API.md §1: a 400 of several problems is ``validation_error`` "with every problem
listed". A rule across fields of an input (marshmallow's ``validates_schema``) was
skipped whenever one field failed, so a user fixed one problem, resent, and met the
next; a field refused on its own must not also be called missing."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from api.blueprints.audit import VerifyQuery
from credit.services.inputs import ApplicationInput, BidderInput, DecisionInput
from credit.services.tender_inputs import AwardIn, DisposalIn

H64 = "a" * 64


def problems(schema, raw: dict) -> dict:
    with pytest.raises(ValidationError) as info:
        schema.load(raw)
    return info.value.messages


@pytest.mark.parametrize("schema, raw, expected", [
    (ApplicationInput(), {"kind": "repair", "reason": "ab"},
     {"reason", "requested_repair_on"}),
    (ApplicationInput(), {"kind": "repair", "reason": "ab", "requested_repair_on": "x"},
     {"reason", "requested_repair_on"}),
    (DecisionInput(), {"action": "accept", "reason": "ab"}, {"reason", "document_no"}),
    (AwardIn(), {"winner": 5, "awarded_on": "2026-05-20", "contract_price": "1.5",
                 "completion_due": "2026-05-01"}, {"winner", "contract_price",
                                                   "completion_due"}),
    (DisposalIn(), {"action": "confirm", "reason": "ab"},
     {"reason", "bids", "code", "decided_on", "document_no"}),
    (DisposalIn(), {"action": "refer", "reason": "ab", "bids": [1]}, {"reason", "bids"}),
], ids=["application", "application-bad-date", "decision", "award", "confirm", "refer"])
def test_a_rule_across_fields_is_listed_beside_a_fields_problem(schema, raw, expected):
    assert set(problems(schema, raw)) == expected


@pytest.mark.parametrize("schema, raw, field", [
    (ApplicationInput(), {"kind": "repair", "reason": "ab", "requested_repair_on": "x"},
     "requested_repair_on"),
    (DecisionInput(), {"action": "accept", "reason": "ab", "document_no": "x" * 101},
     "document_no"),
    (BidderInput(), {"uscc": 5}, "uscc"),
    (DisposalIn(), {"action": "confirm", "reason": "ab", "bids": "1",
                    "covered_by": [1]}, "bids"),
    (DisposalIn(), {"action": "confirm", "reason": "ab", "bids": [1],
                    "covered_by": "7"}, "covered_by"),
], ids=["repair-date", "document-no", "bidder", "bids", "covered-by"])
def test_a_field_refused_on_its_own_has_its_own_problem_only(schema, raw, field):
    got = problems(schema, raw)
    assert len(got[field]) == 1, got
    assert "_schema" not in got, got


def test_a_covered_by_refused_is_not_a_missing_decision():
    got = problems(DisposalIn(), {"action": "confirm", "reason": "ab", "bids": [1],
                                  "covered_by": "7"})
    assert set(got) == {"reason", "covered_by"}, got


@pytest.mark.parametrize("raw, expected", [
    ({"position": "x", "sha256": H64}, {"position"}),
    ({"position": "x"}, {"position", "sha256"}),  # refused, but sent: its half is missing
    ({"position": "5", "from": "bogus"}, {"from", "sha256"}),
    ({"position": "5", "sha256": "zz"}, {"sha256"}),
    ({"position": "5", "sha256": H64, "from": "start"}, {"from"}),
    ({"position": "5", "sha256": H64, "from": "checkpoint"}, {"from"}),
    ({"position": "5"}, {"sha256"}),
])
def test_a_checkpoints_two_halves(raw, expected):
    assert set(problems(VerifyQuery(), raw)) == expected


@pytest.mark.parametrize("raw, expected", [
    (5, {"_schema": ["Invalid input type."]}),
    ({"uscc": None}, {"uscc": ["Field may not be null."]}),
])
def test_a_bidder_refused_on_its_own_is_not_also_neither(raw, expected):
    assert problems(BidderInput(), raw) == expected


def test_a_bidder_that_sent_both_is_told_so_beside_a_short_consortium():
    got = problems(BidderInput(), {"uscc": "91330603MA2D4F6E84",
                                   "consortium": ["91110000600037341L"]})
    assert set(got) == {"consortium", "_schema"}, got


@pytest.mark.parametrize("pairs, expected", [
    ([("sha256", H64)], {"position"}),
    ([("position", "5")], {"sha256"}),
    ([("position", "x"), ("sha256", H64)], {"position"}),
])
def test_a_checkpoints_two_halves_as_webargs_hands_the_query(pairs, expected):
    """webargs hands a query over as a proxy whose ``get`` of an absent key is
    marshmallow's ``missing``, not None."""
    from webargs.multidictproxy import MultiDictProxy
    from werkzeug.datastructures import MultiDict
    schema = VerifyQuery()
    assert set(problems(schema, MultiDictProxy(MultiDict(pairs), schema))) == expected
