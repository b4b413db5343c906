"""Found by a review against WARNINGS.md and API.md §1 (both backends, the real HTTP API):

1. A disposal, an award or a registration with a field-level problem answered that
   problem only: the rules across fields (a confirmation's bids and decision, a
   rejected bid's reason, completion after the award) were skipped whenever any field
   failed, so the user fixed one problem, resent, and met the next. API.md §1:
   "otherwise ``validation_error`` with every problem listed".
2. ``GET /warnings?code=same-ip`` (no warning has that code) answered an empty list,
   which reads as "no such warnings"; API.md §3: invalid filter values are 400 like the
   fields they filter, as ``GET /records?code=FOO`` is.
3. A confirmation's 65-character ``code`` was ``validation_error`` (a length), where any
   code the warning's kind does not allow is ``code_not_allowed`` (WARNINGS.md §6).
4. An amount of 16 digits before the point was refused as "must have exactly two
   decimals", which it had; it now names the maximum.
"""

from __future__ import annotations

import pytest

from tests.tender_data import award_body, confirm_body, tender_body

from .conftest import Api, assert_error

pytestmark = pytest.mark.db
TENDERS, WARNINGS = "/api/v1/tenders", "/api/v1/warnings"
CODE = "KQ-2026-0031"


@pytest.fixture
def tapi(platform_api) -> Api:
    return platform_api


@pytest.fixture
def registered(tapi) -> dict:
    r = tapi.post(TENDERS, tender_body(), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def _problems(r) -> dict:
    assert r.status_code == 400, r.get_data(as_text=True)
    body = r.get_json()
    assert body["error"] == "validation_error", body
    return body["errors"]


def test_a_confirmation_lists_its_missing_fields_beside_a_bad_reason(tapi, registered):
    errors = _problems(tapi.post(f"{WARNINGS}/1/disposal", {"action": "confirm",
                                                             "reason": "ab"}, "transport"))
    assert set(errors) == {"reason", "bids", "code", "decided_on", "document_no"}, errors


def test_a_field_refused_on_its_own_is_not_also_called_missing(tapi, registered):
    """``bids`` sent as text has its own problem; "names at least one bid" would add a
    second, wrong one."""
    errors = _problems(tapi.post(f"{WARNINGS}/1/disposal", {
        **confirm_body([1]), "reason": "ab", "bids": "1", "decided_on": "2026-13-01"},
        "transport"))
    assert set(errors) == {"reason", "bids", "decided_on"}, errors
    assert len(errors["bids"]) == 1 and len(errors["decided_on"]) == 1, errors


def test_a_dismissal_lists_a_confirmations_field_beside_a_bad_reason(tapi, registered):
    errors = _problems(tapi.post(f"{WARNINGS}/1/disposal", {
        "action": "dismiss", "reason": "ab", "document_no": "绍柯交罚〔2026〕1号"}, "transport"))
    assert set(errors) == {"reason", "document_no"}, errors


def test_an_award_lists_its_dates_beside_a_bad_price(tapi, registered):
    errors = _problems(tapi.post(f"{TENDERS}/{CODE}/award", award_body(
        contract_price="1.5", completion_due="2026-05-01"), "platform"))
    assert set(errors) == {"contract_price", "completion_due"}, errors


def test_a_registration_lists_a_missing_reason_beside_a_bad_price(tapi):
    body = tender_body()
    rejected = next(i for i, b in enumerate(body["bids"]) if b["status"] == "rejected")
    body["bids"][rejected]["price"] = "1.5"
    body["bids"][rejected].pop("reject_reason")
    errors = _problems(tapi.post(TENDERS, body, "platform"))
    assert {f"bids.{rejected}.price", f"bids.{rejected}.reject_reason"} <= set(errors), errors


@pytest.mark.parametrize("code", ["same-ip", "SAME_IP", "X" * 65])
def test_a_warning_code_no_warning_can_have_is_400_listing_the_codes(tapi, registered,
                                                                    code):
    r = tapi.get(f"{WARNINGS}?code={code}", "auditor")
    errors = _problems(r)
    assert list(errors) == ["code"] and "PM-ABSENT" in errors["code"][0], errors
    listed = tapi.get(f"{WARNINGS}", "auditor").get_json()["items"]
    one = listed[0]["code"]
    assert tapi.get(f"{WARNINGS}?code={one}", "auditor").get_json()["items"], one


def test_a_role_that_reads_no_warnings_is_403_before_the_code(tapi, registered):
    assert_error(tapi.get(f"{WARNINGS}?code=same-ip", "enterprise"), 403, "forbidden")


def test_a_long_confirmation_code_is_code_not_allowed(tapi, registered):
    r = tapi.post(f"{WARNINGS}/1/disposal", confirm_body([1], code="X" * 65), "transport")
    assert_error(r, 400, "code_not_allowed")


def test_a_very_long_code_is_quoted_back_cut_short(tapi, registered):
    r = tapi.post(f"{WARNINGS}/1/disposal", confirm_body([1], code="X" * 200_000), "transport")
    body = assert_error(r, 400, "code_not_allowed")
    assert len(body["message"]) < 400 and "X" * 64 + "…" in body["message"], body["message"]
    r = tapi.get(f"{WARNINGS}?code={'X' * 5000}", "auditor")
    assert len(r.get_data()) < 2000, r.get_data(as_text=True)[:300]


def test_an_amount_past_the_maximum_says_so(tapi):
    errors = _problems(tapi.post(TENDERS, tender_body(ceiling_price="1000000000000000.00"),
                                 "platform"))
    assert errors["ceiling_price"] == [
        "must be at most 999999999999999.99 (15 digits before the decimal point)."], errors
    ok = tapi.post(TENDERS, tender_body(ceiling_price="999999999999999.99"), "platform")
    assert ok.status_code == 201, ok.get_data(as_text=True)
