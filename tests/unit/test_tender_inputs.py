"""Validation and normalisation of POST /tenders, /award and /disposal bodies
(WARNINGS.md §2, §3, §6): every error code at its path, the uniform-code rule of
API.md §1, and personal values that leave validation only as keyed hash and mask."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, timezone

import pytest

from credit.errors import InvalidInput
from credit.services.tender_inputs import (
    tender_from_document,
    validate_award,
    validate_disposal,
    validate_tender,
)
from tests.tender_data import (
    BIDDER_1,
    BIDDER_2,
    MEMBER_1,
    PM_1,
    RAW_PERSONAL,
    award_body,
    bid,
    confirm_body,
    id_number,
    tender_body,
)

KEY = b"k" * 32
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)


def refused(body, *, now=NOW) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        validate_tender(body, KEY, now)
    text = json.dumps({"m": info.value.message, "e": info.value.errors}, ensure_ascii=False)
    for raw in RAW_PERSONAL:
        assert raw not in text, "an error repeats a personal value"
    return info.value


def hmac_hex(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def test_the_example_is_normalised_and_personal_values_are_hashed_and_masked():
    doc = validate_tender(tender_body(), KEY, NOW)
    assert doc["opened_at"] == "2026-05-12T09:30:00.000000+08:00"
    assert doc["exclusions"] == [{"kind": "machine_code", "value": "8F3A22C1"}]
    b1, b2, b3, _ = doc["bids"]
    assert b1["documents"] == [{"machine_code": "7A1C90EE", "file_id": "F88A1",
                                "pricing_lock": "JS0091"}]
    assert b1["uploads"][0]["mac"] == "001A2B3C4D5E"
    assert b2["uploads"][0]["ip"] == "115.220.4.17"  # IPv4-mapped IPv6 → its IPv4
    assert b1["deposit_account_hash"] == hmac_hex("6222021204001234567")
    assert b1["deposit_account_masked"] == "****4567"
    assert b1["deposit_account_hash"] == b2["deposit_account_hash"]
    assert b1["personnel"] == [{"role": "project_manager", "id_number_hash": hmac_hex(PM_1),
                                "id_number_masked": PM_1[:6] + "********" + PM_1[-4:]}]
    assert b3["personnel"][0]["id_number_hash"] == hmac_hex(PM_1)
    assert [b["n"] for b in doc["bids"]] == [1, 2, 3, 4]
    text = json.dumps(doc, ensure_ascii=False)
    for raw in RAW_PERSONAL:
        assert raw not in text
    tender = tender_from_document(doc)
    assert tender.bids[0].parties[1].uscc == MEMBER_1
    assert tender.excluded("machine_code", "8F3A22C1")
    assert tender.opened_on == date(2026, 5, 12)


@pytest.mark.parametrize("path, value, code", [
    ("tenderee.uscc", "11330621002587465X", "invalid_uscc"),
    ("bids.1.bidder", "91110000600037341", "invalid_uscc"),
    ("bids.0.consortium.0.uscc", "91330602MA2C8R1L5 ", "invalid_uscc"),
    ("bids.0.documents.0.file_id", "F/88", "invalid_identifier"),
    ("bids.0.uploads.0.ip", "115.220.04.17", "invalid_identifier"),
    ("bids.0.uploads.0.ip", "fe80::1%eth0", "invalid_identifier"),
    ("bids.0.uploads.0.mac", "-:.", "invalid_identifier"),
    ("bids.0.deposit_account", "6222 021", "invalid_account"),
    ("bids.0.deposit_account", "6222 0212 0400 12A4", "invalid_account"),
    ("bids.0.personnel.0.id_number", PM_1[:17] + ("0" if PM_1[17] != "0" else "1"),
     "invalid_id_number"),
    ("bids.0.personnel.0.id_number", id_number(7, born="18991231"), "invalid_id_number"),
    ("bids.0.personnel.0.id_number", id_number(7, born="20260230"), "invalid_id_number"),
    ("exclusions.0.value", "空", "invalid_identifier"),
    ("opened_at", "2026-06-01T10:00:02+08:00", "opened_in_future"),
    ("bids.0.submitted_at", "2026-05-12T09:30:00.000001+08:00", "submitted_after_opening"),
])
def test_each_rule_answers_its_code_at_its_path(path, value, code):
    exc = refused(changed_at(path, value))
    assert (exc.error, list(exc.errors)) == (code, [path])


def changed_at(path: str, value) -> dict:
    """The example tender with the value at a dotted path (list items from 0) replaced."""
    body = tender_body()
    *parents, leaf = path.split(".")
    target = body
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    target[int(leaf) if leaf.isdigit() else leaf] = value
    return body


# API.md §1: "Every date the service accepts lies in 2000-01-01 … 2099-12-31 (else 400)"
# and "nothing a client sends may produce a 500": an instant whose date in CST is not
# even a Python date (converting it to +08:00 overflows) is as far out of range as any.
@pytest.mark.parametrize("path, value", [
    ("opened_at", "9999-12-31T23:59:59+00:00"),
    ("opened_at", "0001-01-01T00:00:00+14:00"),
    ("bids.0.submitted_at", "9999-12-31T23:59:59-05:00"),
    ("bids.0.submitted_at", "0001-01-01T00:59:59+01:00"),
])
def test_an_instant_beyond_pythons_dates_is_out_of_range_at_its_path(path, value):
    exc = refused(changed_at(path, value))
    assert (exc.error, list(exc.errors)) == ("validation_error", [path])
    assert exc.errors[path] == ["must lie between 2000-01-01 and 2099-12-31."]


# WARNINGS.md §2 Normalisation: identifiers lose whitespace, "-", ":" and "." and "the
# result must be 1–128 ASCII letters and digits"; deposit_account "after removing
# whitespace and -, 8–32 ASCII digits": lengths are those of the normalised value.
def test_padding_that_normalisation_removes_is_no_part_of_the_length():
    padded = tender_body()
    padded["exclusions"][0]["value"] = "8F3A-22C1" + "." * 600
    padded["bids"][0]["uploads"][0]["mac"] = "00-1A-2B-3C-4D-5E" + ":" * 600
    padded["bids"][1]["documents"][0]["machine_code"] = "7a1c90ee" + " -:." * 200
    padded["bids"][1]["deposit_account"] = "6222-0212-0400-1234-567" + " " * 600
    padded["bids"][0]["personnel"][0]["id_number"] = " " * 300 + PM_1 + " " * 300
    assert validate_tender(padded, KEY, NOW) == validate_tender(tender_body(), KEY, NOW)


@pytest.mark.parametrize("path, value, code", [
    ("bids.0.documents.0.machine_code", "A" * 600, "invalid_identifier"),
    ("exclusions.0.value", "7" * 600, "invalid_identifier"),
    ("bids.0.uploads.0.ip", "1" * 600, "invalid_identifier"),
    ("bids.0.deposit_account", "1" * 600, "invalid_account"),
    ("bids.0.personnel.0.id_number", PM_1 * 4, "invalid_id_number"),
], ids=["machine_code", "exclusion", "ip", "deposit_account", "id_number"])
def test_an_overlong_value_answers_the_code_of_its_rule_not_validation_error(path, value,
                                                                             code):
    exc = refused(changed_at(path, value))
    assert (exc.error, list(exc.errors)) == (code, [path])


def test_an_opening_up_to_one_second_after_now_is_accepted():
    """WARNINGS.md §2: ``opened_at`` "not more than 1 s after now (else 400
    opened_in_future)", compared at microsecond precision (API.md §1)."""
    # NOW is 2026-06-01T02:00:00Z: 10:00:00 in CST
    doc = validate_tender(tender_body(opened_at="2026-06-01T10:00:01+08:00"), KEY, NOW)
    assert doc["opened_at"] == "2026-06-01T10:00:01.000000+08:00"
    exc = refused(tender_body(opened_at="2026-06-01T10:00:01.000001+08:00"))
    assert (exc.error, list(exc.errors)) == ("opened_in_future", ["opened_at"])


def test_an_id_number_from_any_region_and_with_a_lower_case_x_is_accepted():
    # region 999999 does not exist; regions are not checked
    number = next(x for x in (id_number(n, born="19900101", region="999999")
                              for n in range(1000)) if x.endswith("X"))
    body = tender_body()
    body["bids"][0]["personnel"][0]["id_number"] = number.lower()
    doc = validate_tender(body, KEY, NOW)
    assert doc["bids"][0]["personnel"][0]["id_number_hash"] == hmac_hex(number.upper())


def test_a_duplicate_bidder_names_both_paths():
    body = tender_body()
    body["bids"][1]["bidder"] = MEMBER_1.lower()
    exc = refused(body)
    assert exc.error == "duplicate_bidder"
    assert list(exc.errors) == ["bids.1.bidder"]
    assert "bids.0.consortium.0.uscc" in exc.errors["bids.1.bidder"][0]


def test_the_same_code_at_several_paths_answers_that_code_mixed_codes_do_not():
    body = tender_body()
    body["bids"][0]["documents"][0]["file_id"] = "F/1"
    body["bids"][1]["uploads"][0]["ip"] = "1.2.3"
    exc = refused(body)
    assert exc.error == "invalid_identifier" and len(exc.errors) == 2
    body["bids"][1]["deposit_account"] = "12"
    exc = refused(body)
    assert exc.error == "validation_error" and len(exc.errors) == 3


@pytest.mark.parametrize("change, path", [
    (lambda b: b["bids"][0].__setitem__("documents", [{}]), "bids.0.documents.0"),
    (lambda b: b["bids"][0].__setitem__("uploads", [{"onsite": True}]), "bids.0.uploads.0"),
    (lambda b: b["bids"][0]["personnel"].append(
        {"role": "technical_lead", "id_number": PM_1}), "bids.0.personnel.1.id_number"),
    (lambda b: b["bids"][3].pop("reject_reason"), "bids.3.reject_reason"),
    (lambda b: b["bids"][0].__setitem__("reject_reason", "无"), "bids.0.reject_reason"),
    (lambda b: b.__setitem__("code", "KQ 1"), "code"),
    (lambda b: b.__setitem__("code", "KQ/1"), "code"),
    # dot segments: clients remove them from /tenders/{code} (RFC 3986 §5.2.4)
    (lambda b: b.__setitem__("code", "."), "code"),
    (lambda b: b.__setitem__("code", ".."), "code"),
    (lambda b: b.__setitem__("ceiling_price", "0.00"), "ceiling_price"),
    (lambda b: b.__setitem__("ceiling_price", "12.5"), "ceiling_price"),
    (lambda b: b.__setitem__("ceiling_price", 1280000), "ceiling_price"),
    (lambda b: b.__setitem__("village", 1), "village"),
    (lambda b: b.__setitem__("method", "cheapest"), "method"),
    (lambda b: b.__setitem__("bids", []), "bids"),
    (lambda b: b.__setitem__("surprise", 1), "surprise"),
    (lambda b: b["bids"][0].__setitem__("consortium", [{"uscc": MEMBER_1, "name": "x"}] * 5),
     "bids.0.consortium"),
    (lambda b: b.__setitem__("opened_at", "2026-05-12T09:30:00"), "opened_at"),
])
def test_shape_problems_are_validation_errors(change, path):
    body = tender_body()
    change(body)
    exc = refused(body)
    assert exc.error == "validation_error"
    assert path in exc.errors, exc.errors


@pytest.mark.parametrize("code", ["...", ".a", "a..", "KQ.2026.1"])
def test_a_code_with_dots_that_is_no_dot_segment_is_a_code(code):
    assert validate_tender(tender_body(code), KEY, NOW)["code"] == code


def test_a_price_above_the_ceiling_is_stored_as_sent_and_agency_may_be_null():
    body = tender_body(agency=None)
    body["bids"][0]["price"] = "9999999.99"
    doc = validate_tender(body, KEY, NOW)
    assert doc["agency"] is None and doc["bids"][0]["price"] == "9999999.99"


def test_a_minimal_tender_takes_the_defaults():
    body = {"code": "KQ-1", "name": "工程", "sector": "water",
            "tenderee": {"uscc": BIDDER_2, "name": "某局"}, "method": "benchmark",
            "ceiling_price": "100.00", "opened_at": "2026-05-12T01:30:00Z",
            "bids": [bid(BIDDER_1, "99.00")]}
    doc = validate_tender(body, KEY, NOW)
    assert (doc["village"], doc["exclusions"], doc["agency"]) == (False, [], None)
    assert doc["bids"][0]["consortium"] == [] and doc["bids"][0]["personnel"] == []
    assert doc["opened_at"] == "2026-05-12T09:30:00.000000+08:00"


def test_award_validation():
    today = date(2026, 6, 1)
    assert validate_award(award_body(winner=BIDDER_1.lower()), today)["winner"] == BIDDER_1
    for body, path in [(award_body(awarded_on="2026-06-02"), "awarded_on"),
                       (award_body(completion_due="2026-05-20"), "completion_due"),
                       (award_body(contract_price="-1.00"), "contract_price")]:
        with pytest.raises(InvalidInput) as info:
            validate_award(body, today)
        assert info.value.error == "validation_error" and path in info.value.errors
    with pytest.raises(InvalidInput) as info:
        validate_award(award_body(winner="X"), today)
    assert info.value.error == "invalid_uscc"


@pytest.mark.parametrize("body, path", [
    ({"action": "dismiss", "reason": "经核查系巧合", "code": "BID-COLLUDE"}, "code"),
    ({"action": "refer", "reason": "移送公安", "bids": [1]}, "bids"),
    ({"action": "dismiss", "reason": "短"}, "reason"),
    (confirm_body([]), "bids"),
    (confirm_body([1, 1]), "bids"),
    (confirm_body([1], code=None), "code"),
    (confirm_body([1], decided_on="2026-06-02"), "decided_on"),
    (confirm_body([1], covered_by=[3]), "code"),
    ({"action": "confirm", "reason": "已另案处罚", "bids": [1], "covered_by": []}, "covered_by"),
    ({"action": "close", "reason": "关闭预警"}, "action"),
])
def test_disposal_shape(body, path):
    with pytest.raises(InvalidInput) as info:
        validate_disposal(body, date(2026, 6, 1))
    assert path in info.value.errors, info.value.errors


def test_a_record_named_twice_in_covered_by_is_refused():
    """WARNINGS.md §6: ``covered_by`` is a list of existing record ids, each a record of a
    named bid; naming one twice was accepted (and stored twice). Like a bid named twice,
    it is a 400 naming the field, at step 8."""
    body = {"action": "confirm", "reason": "已另案处罚", "bids": [1], "covered_by": [7, 8, 7]}
    with pytest.raises(InvalidInput) as info:
        validate_disposal(body, date(2026, 6, 1))
    assert info.value.error == "validation_error"
    assert info.value.errors == {"covered_by": [
        "must not name a record twice (7 named more than once)."]}


def test_disposal_bodies_that_pass():
    today = date(2026, 6, 1)
    assert validate_disposal({"action": "refer", "reason": "移送公安机关"}, today)["bids"] is None
    data = validate_disposal({"action": "confirm", "reason": "已另案处罚", "bids": [2],
                              "covered_by": [7]}, today)
    assert data["covered_by"] == [7] and data["code"] is None
    assert validate_disposal(confirm_body([2, 3]), today)["decided_on"] == date(2026, 5, 28)


@pytest.mark.parametrize("field, items, expected", [
    ("documents", [None, {"machine_code": 5}],
     {"bids.0.documents.0", "bids.0.documents.1.machine_code"}),
    ("documents", [None, {}], {"bids.0.documents.0", "bids.0.documents.1"}),
    ("personnel", [None, {"role": "project_manager", "id_number": "123"}],
     {"bids.0.personnel.0", "bids.0.personnel.1.id_number"}),
    ("consortium", [None, {"uscc": "X", "name": "某公司"}],
     {"bids.0.consortium.0", "bids.0.consortium.1.uscc"}),
])
def test_an_item_that_loads_nothing_shifts_no_later_item_s_path(field, items, expected):
    """A ``null`` in a bid's list loads nothing, and the schema leaves it out of what it
    loaded: the later items' errors keep the indexes they were sent at."""
    body = tender_body()
    body["bids"][0][field] = items
    assert set(refused(body).errors) == expected


def test_an_identifier_of_the_wrong_type_is_not_also_missing():
    """WARNINGS.md §2: a document without any identifier is refused; one whose
    identifier is of the wrong type has one, and only its type is wrong."""
    body = tender_body()
    body["bids"][0]["documents"] = [{"machine_code": 5}]
    assert refused(body).errors == {"bids.0.documents.0.machine_code": ["Not a valid string."]}
