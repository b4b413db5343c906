"""The console translates the use cases' refusals into Chinese without re-implementing
them. These tests produce every message the decision, revocation and repair forms can
meet from the real validators and check that each one has a translation, so a reworded
English message shows up here instead of reaching a clerk untranslated."""

from __future__ import annotations

import re
from datetime import date

import pytest

from api.console.forms import RECORD_FIELDS, body_from, form_errors, zh
from credit.errors import Conflict, Forbidden, InvalidInput, RuleViolation
from credit.services.context import Actor
from credit.services.inputs import FieldErrors, RecordInput, RepairInput, load
from credit.services.tokens import check_issuer
from credit.uscc import InvalidUSCC, normalise_uscc

LATIN = re.compile(r"[A-Za-z]{4,}")  # an English word left in a translated message


def _uscc_message(raw: str) -> str:
    with pytest.raises(InvalidUSCC) as info:
        normalise_uscc(raw)
    return str(info.value)


@pytest.mark.parametrize("raw", [
    "", "9133060", "91330603MA2D4F6E8 4", "91330603MA2D4F6E84X",
    "A1330603MA2D4F6E84", "91330603MA2D4F6EI4", "91330603MA2D4F6E8I", "91330603MA2D4F6E80",
])
def test_every_uscc_refusal_is_translated(raw):
    text = zh(_uscc_message(raw))
    assert "统一社会信用代码" in text and not LATIN.search(text.replace("GB", "")), text


def test_shape_messages_are_translated():
    errors = FieldErrors()
    load(RecordInput(), {"uscc": "x", "subject_name": " ", "sector": "air", "code": "",
                         "decided_on": "2026-13-01", "document_no": "x" * 101,
                         "issued_by": "x", "occurred_on": "1999-01-01", "bogus": 1}, errors)
    load(RepairInput(), {}, errors)
    messages = [m for msgs in errors.errors.values() for m in msgs]
    assert len(messages) >= 7
    for message in messages:
        text = zh(message)
        assert text != message and not LATIN.search(text.replace("YYYY", "")), (message, text)


def _offline_context(model: str = "keqiao-2025@1"):
    """A service context without a database: the validators below never open one."""
    from datetime import datetime, timezone

    from credit.services.context import ServiceContext
    from scoring_models import default_registry
    return ServiceContext(uow=None, models=default_registry(model),
                          clock=lambda: datetime(2026, 6, 1, 2, tzinfo=timezone.utc))


@pytest.mark.parametrize("overrides", [
    {"code": "NO-SUCH-CODE"},
    {"decided_on": "2026-06-02"},
    {"code": "BID-BAN"},
    {"code": "BID-NOSIGN", "valid_until": "2026-12-31"},
    {"code": "BID-BAN", "valid_until": "2030-01-01"},
])
def test_rule_messages_of_the_record_use_case_are_translated(overrides):
    from credit.services.records import validate_record
    body = {"uscc": "91330603MA2D4F6E84", "subject_name": "甲", "sector": "housing",
            "code": "BID-NOSIGN", "decided_on": "2026-01-10", "document_no": "1",
            "issued_by": "乙", **overrides}
    with pytest.raises(InvalidInput) as info:
        validate_record(_offline_context(), body)
    fields, general = form_errors(info.value)
    assert not general and fields
    for messages in fields.values():
        for text in messages:
            assert not LATIN.search(re.sub(r"BID-\w+|NO-SUCH-CODE", "", text)), text


def test_the_repair_date_rule_is_translated():
    from credit.services.context import Actor
    from credit.services.records import repair_record
    actor = Actor("柯桥区住房和城乡建设局", "regulator", sectors=frozenset(["housing"]))
    with pytest.raises(InvalidInput) as info:  # refused before any database access
        repair_record(_offline_context(), actor, 1, {"repaired_on": "2026-06-02",
                                                     "document_no": "1", "reason": "r"})
    fields, _ = form_errors(info.value)
    assert fields["repaired_on"] == ["修复日期 2026-06-02 晚于今天（北京时间 2026-06-01）。"]


def _issuer_refusal() -> Forbidden:
    """What a regulator token named past the issued_by limit meets (tokens.check_issuer)."""
    with pytest.raises(Forbidden) as info:
        check_issuer(Actor("局" * 101, "regulator"))
    return info.value


@pytest.mark.parametrize("exc,field,needle", [
    (Conflict("dup", error="duplicate_record", record_id=7), "document_no", "#7"),
    (Forbidden("no", error="sector_forbidden"), "sector", "无权"),
    (RuleViolation("early", error="repair_too_early", earliest_repair_on="2026-04-10"),
     "repaired_on", "2026-04-10"),
    (RuleViolation("late", error="repair_after_expiry", latest_repair_on="2027-01-09"),
     "repaired_on", "2027-01-09"),
    (Conflict("r", error="already_revoked"), None, "已被撤销"),
    (Forbidden("Only the regulator of the tender's sector disposes of a warning."), None,
     "当前账号无权执行此操作"),
    (_issuer_refusal(), None, "本账号名称有 101 个字符"),
])
def test_refusals_land_on_their_field(exc, field, needle):
    fields, general = form_errors(exc)
    if field:
        assert needle in fields[field][0] and not general
    else:
        assert needle in general[0] and not fields


def test_field_errors_keep_their_names_and_blank_fields_are_left_out():
    exc = InvalidInput("x", errors={"uscc": ["Missing data for required field."],
                                    "_body": ["The body must be a JSON object."]})
    fields, general = form_errors(exc)
    assert fields == {"uscc": ["此项必填。"]} and general == ["The body must be a JSON object."]
    form = {"uscc": " 9133 ", "valid_until": "", "note": "  ", "code": "BID-NOSIGN",
            "csrf_token": "t"}
    assert body_from(form, RECORD_FIELDS) == {"uscc": " 9133 ", "code": "BID-NOSIGN"}
    assert date.today()  # the module imports cleanly without an app


@pytest.mark.parametrize("covered_by,expected", [
    ([0], "不能小于 1。"),
    ([1, 3, 1, 3], "同一记录只能填写一次（重复的记录：1、3）。"),
])
def test_the_disposal_record_numbers_are_translated(covered_by, expected):
    """已有记录 (``covered_by``) of the disposal form: marshmallow's Range (whose upper
    bound, 2**63 − 1, is left unsaid) and a number typed twice."""
    from credit.services.tender_inputs import validate_disposal
    body = {"action": "confirm", "reason": "经调查属实", "bids": [1], "covered_by": covered_by}
    with pytest.raises(InvalidInput) as info:
        validate_disposal(body, date(2026, 6, 1))
    fields, general = form_errors(info.value)
    assert fields == {"covered_by": [expected]} and not general


def test_a_code_only_an_approval_creates_is_translated():
    from credit.services.records import validate_record
    context = _offline_context("keqiao-2025@2")  # the version with the PERF-* codes
    body = {"uscc": "91330603MA2D4F6E84", "subject_name": "甲", "sector": "housing",
            "code": "PERF-FAIL", "decided_on": "2026-01-10", "document_no": "1",
            "issued_by": "乙"}
    with pytest.raises(InvalidInput) as info:
        validate_record(context, body)
    assert form_errors(info.value)[0]["code"] == [
        "行为代码“PERF-FAIL”只在履约评价审核通过时自动生成，不能手工录入。"]


def test_a_refusal_for_a_field_the_form_has_not_is_shown_for_the_whole_form():
    """A decision accepting a repair application can be refused for its repair date
    (``repair_too_early``, the active model having changed since the application); the
    decision form has no date field, so the message goes with the whole form instead of
    a field nobody sees."""
    from api.console.forms import DECISION_FIELDS
    exc = RuleViolation("too early", error="repair_too_early",
                        earliest_repair_on="2026-09-01")
    fields, general = form_errors(exc, shown=DECISION_FIELDS)
    assert fields == {} and general == ["修复日期过早：最早可于 2026-09-01 修复。"]
    assert form_errors(exc)[0] == {"repaired_on": ["修复日期过早：最早可于 2026-09-01 修复。"]}


def test_a_console_filter_name_is_registered_once():
    """Two label tables under one filter name replaced each other silently (the
    disposal table took the decision's ``action_zh``); now the second one is refused."""
    from flask import Flask

    from api.console.labels import add_filters
    env = Flask("labels").jinja_env  # the console's filters go on a Flask app's
    add_filters(env, {"action_zh": {"accept": "同意"}})
    assert env.filters["action_zh"]("accept") == "同意"
    assert env.filters["action_zh"]("unknown") == "unknown"  # shown as it is
    with pytest.raises(RuntimeError, match="action_zh"):
        add_filters(env, {"action_zh": {"confirm": "查实"}})
    assert env.filters["action_zh"]("accept") == "同意"
