"""Post-award performance evaluation (PERFORMANCE.md §2–§4, §6): the shipped definition
keqiao-performance-2025@1, the pure rules of credit.domain.performance, and the golden
cases of tests/golden/performance.toml (derived by hand there)."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from credit.domain.performance import (
    CompletedContract,
    Deduction,
    approval_effects,
    confirmation_allowed,
    consortium_index,
    contract_end,
    contract_status,
    deduction_problems,
    evaluation_score,
    performance_index,
    raises_pm_absent,
    record_code_on_approval,
)
from credit.errors import InvalidInput
from credit.services.inputs import FieldErrors
from scoring_models import ModelError, default_registry, load_bytes
from scoring_models.loader import DEFINITIONS

GOLDEN = tomllib.loads((Path(__file__).resolve().parents[1] / "golden" / "performance.toml")
                       .read_text("utf-8"))
PATH = DEFINITIONS / "keqiao-performance-2025@1.toml"
TEXT = PATH.read_text("utf-8")
DEF = default_registry().active_of("performance")
D = Decimal


def _null(v):
    return None if v == "null" else v


# ---- golden cases ----------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["evaluation"], ids=lambda c: c["name"])
def test_golden_evaluation(case):
    assert deduction_problems(DEF, case["deductions"]) == []
    result = evaluation_score(DEF, [Deduction(d["item"], D(d["points"]))
                                    for d in case["deductions"]])
    assert (f"{result.score:f}", result.rating) == (case["score"], case["rating"])
    assert [s["rule"] for s in result.steps] == ["deductions", "score", "rating"]
    assert result.steps[1]["value"] == case["score"]


@pytest.mark.parametrize("case", GOLDEN["approval"], ids=lambda c: c["name"])
def test_golden_approval(case):
    effects = approval_effects(DEF, case["kind"], case["rating"], case["on_site"],
                               case["items"])
    assert effects.record_code == _null(case["record_code"].replace("none", "null"))
    assert list(effects.warning_triggers) == case["warning"]
    assert (effects.warning is DEF.warning) == bool(case["warning"])
    assert record_code_on_approval(DEF, case["kind"], case["rating"]) == effects.record_code
    assert raises_pm_absent(DEF, case["on_site"], case["items"]) == bool(case["warning"])
    assert [s["rule"] for s in effects.steps] == ["records", "warning"]


def _contracts(case):
    return [CompletedContract(c["tender"], D(c["score"]), c["rating"], D(c["contract_price"]),
                              c["completed_on"]) for c in case["contracts"]]


@pytest.mark.parametrize("case", GOLDEN["index"], ids=lambda c: c["name"])
def test_golden_index(case):
    result = performance_index(DEF, _contracts(case), case["as_of"])
    body = result.as_json()
    assert body["index"] == _null(case["index"])
    assert [c["tender"] for c in body["contracts"]] == case["used"]
    assert body["count"] == len(case["used"])
    window, index = result.steps
    assert window["value"] == len(case["used"]) and index["value"] == _null(case["index"])


@pytest.mark.parametrize("case", GOLDEN["consortium_index"], ids=lambda c: c["name"])
def test_golden_consortium_index(case):
    members = [None if m == "null" else D(m) for m in case["members"]]
    got = consortium_index(members)
    assert (f"{got:f}" if got is not None else "null") == case["index"]


# ---- the shipped definition encodes §3–§4 ----------------------------------------------


def test_indicators_of_section_3():
    assert [(i.item, i.name, i.max_points) for i in DEF.indicators.values()] == [
        ("PM-ABSENT", "项目经理未按投标承诺到岗履职", D(20)),
        ("STAFF-MISMATCH", "主要管理人员与投标承诺不一致", D(10)),
        ("SCHEDULE", "工期延误", D(20)),
        ("QUALITY", "工程质量问题", D(20)),
        ("SAFETY", "安全文明施工问题", D(15)),
        ("WAGES", "农民工工资支付问题", D(15)),
        ("VARIATION", "变更签证管理不规范", D(10)),
        ("COOPERATION", "配合管理及档案资料", D(10)),
    ]
    assert [(b.rating, b.name, b.min_score) for b in DEF.bands] == [
        ("excellent", "优良", D(90)), ("pass", "合格", D(75)), ("basic", "基本合格", D(60)),
        ("fail", "不合格", D(0))]
    assert (DEF.base, DEF.floor, DEF.max_deductions, DEF.index_window_months) == (
        D(100), D(0), 8, 36)
    assert (DEF.note_length, DEF.reason_length, DEF.overdue_after_days) == ((1, 500),
                                                                          (4, 500), 30)


def test_warning_and_records_of_section_4():
    w = DEF.warning
    assert (w.code, w.severity, w.basis, w.stage) == ("PM-ABSENT", "medium", "建市规〔2019〕1号",
                                                      "标后预警")
    assert w.trigger_items == {"PM-ABSENT", "STAFF-MISMATCH"} and w.when_manager_absent
    assert w.confirmation_codes == ("SITE-PM-ABSENT", "SITE-STAFF-MISMATCH")
    assert confirmation_allowed(DEF, "SITE-PM-ABSENT")
    assert confirmation_allowed(DEF, "SITE-STAFF-MISMATCH")
    assert not confirmation_allowed(DEF, "BID-COLLUDE")
    assert dict(DEF.record_codes) == {"excellent": "PERF-EXCELLENT", "fail": "PERF-FAIL"}
    assert DEF.record_kinds == {"final"}
    assert DEF.document_no("KQ2025-017", 12) == "履约评价-KQ2025-017-12"


# ---- validation helpers ----------------------------------------------------------------


def _problems(deductions):
    return [(p.field, p.error) for p in deduction_problems(DEF, deductions)]


def test_valid_deductions_have_no_problem():
    assert _problems([{"item": "PM-ABSENT", "points": "20.00"},
                      {"item": "SCHEDULE", "points": "0.01"}]) == []
    assert _problems([]) == []


def test_duplicate_item():
    problems = deduction_problems(DEF, [{"item": "SCHEDULE", "points": "6.00"},
                                        {"item": "QUALITY", "points": "1.00"},
                                        {"item": "SCHEDULE", "points": "2.00"}])
    assert [(p.field, p.error) for p in problems] == [("deductions.2.item", "duplicate_item")]
    assert "deductions.0" in problems[0].message


@pytest.mark.parametrize("item, points, maximum", [
    ("SCHEDULE", "20.01", "20.00"), ("SAFETY", "15.01", "15.00"), ("VARIATION", "0.00", "10.00"),
    ("COOPERATION", "-1.00", "10.00"), ("WAGES", "100.00", "15.00"),
    # written as the spec writes decimals, only past the 15 digits the service keeps
    ("WAGES", "1000000000000000.00", "15.00"), ("SAFETY", "-1000000000000000.00", "15.00")])
def test_points_out_of_range_names_the_maximum(item, points, maximum):
    (p,) = deduction_problems(DEF, [{"item": item, "points": points}])
    assert (p.field, p.error, dict(p.extra)) == ("deductions.0.points", "points_out_of_range",
                                                 {"maximum": maximum})
    assert maximum in p.message


@pytest.mark.parametrize("points", ["6", "6.0", "6.000", "+6.00", " 6.00", 6, 6.0, None, "６.00"])
def test_points_need_exactly_two_decimals(points):
    (p,) = deduction_problems(DEF, [{"item": "SCHEDULE", "points": points}])
    assert (p.field, p.error) == ("deductions.0.points", None)  # a plain validation_error
    assert "exactly two decimals" in p.message


def _answer(deductions: list[dict]) -> InvalidInput:
    """The error body's fields the service answers with for these deductions."""
    errors = FieldErrors()
    for p in deduction_problems(DEF, deductions):
        errors.add(p.field, p.message, p.error, **p.extra)
    with pytest.raises(InvalidInput) as info:
        errors.raise_if_any(uniform=True)
    return info.value


def test_one_deduction_out_of_range_answers_its_code_and_its_maximum():
    """PERFORMANCE.md §3: 400 ``points_out_of_range``, "naming the maximum"."""
    exc = _answer([{"item": "SAFETY", "points": "15.01"}])
    assert (exc.error, exc.extra, list(exc.errors)) == \
        ("points_out_of_range", {"maximum": "15.00"}, ["deductions.0.points"])


@pytest.mark.parametrize("second", [{"item": "QUALITY", "points": "20.01"},
                                    {"item": "WAGES", "points": "15.01"}])
def test_two_deductions_out_of_range_are_a_validation_error(second):
    """API.md §1: "When exactly one field-specific code applies and no other field
    fails, `error` is that code; otherwise `validation_error` with every problem listed"
    — one body names one maximum, so two fields out of range (different maxima, or even
    the same one) list both; no ``maximum`` of one field under another's message."""
    exc = _answer([{"item": "SAFETY", "points": "15.01"}, second])
    assert (exc.error, exc.extra) == ("validation_error", {})
    assert set(exc.errors) == {"deductions.0.points", "deductions.1.points"}


def test_the_same_check_at_several_paths_naming_nothing_keeps_its_code():
    """Two repeated items: one ``duplicate_item`` keyed by both paths, as before."""
    exc = _answer([{"item": "SCHEDULE", "points": "1.00"}, {"item": "QUALITY", "points": "1.00"},
                   {"item": "SCHEDULE", "points": "2.00"}, {"item": "QUALITY", "points": "2.00"}])
    assert (exc.error, set(exc.errors)) == ("duplicate_item",
                                            {"deductions.2.item", "deductions.3.item"})


def test_unknown_item_and_too_many_deductions():
    assert _problems([{"item": "NOISE", "points": "1.00"}]) == [("deductions.0.item", None)]
    nine = [{"item": i, "points": "1.00"} for i in DEF.indicators] + [
        {"item": "SCHEDULE", "points": "1.00"}]
    assert _problems(nine) == [("deductions", None), ("deductions.8.item", "duplicate_item")]


# ---- contracts (§2) ----------------------------------------------------------------------


def test_contract_status_and_end():
    due = date(2026, 6, 30)
    assert contract_status(DEF, due, False, date(2026, 7, 30)) == "in_progress"  # due + 30
    assert contract_status(DEF, due, False, date(2026, 7, 31)) == "overdue"      # due + 31
    assert contract_status(DEF, due, True, date(2027, 1, 1)) == "completed"
    assert contract_end(due, None) == due
    assert contract_end(due, date(2026, 5, 2)) == date(2026, 5, 2)


def test_index_trace_shows_the_exact_division():
    case = next(c for c in GOLDEN["index"] if c["name"] == "weighted by contract price")
    _, step = performance_index(DEF, _contracts(case), case["as_of"]).steps
    assert step.inputs == {"weighted_sum": "316250000", "price_sum": "4500000",
                           "exact": "1265/18"}  # 70.2777…
    assert step["value"] == "70.28"


# ---- the loader refuses what cannot be used ----------------------------------------------


def _refusal(old: str, new: str) -> str:
    assert old in TEXT, old
    with pytest.raises(ModelError) as info:
        load_bytes(TEXT.replace(old, new, 1).encode(), source="bad.toml")
    assert str(info.value).startswith("bad.toml: ")
    return str(info.value)


@pytest.mark.parametrize("old, new, names", [
    ('min_score = 75.00', 'min_score = 95.00', "bands[1].min_score"),
    ('rating = "basic"', 'rating = "pass"', "bands"),
    ('max = 15.00', 'max = 15.005', "indicators[4].max"),
    ('max = 10.00', 'max = 0.00', "indicators.1.max"),
    ('item = "WAGES"', 'item = "SCHEDULE"', "duplicate item SCHEDULE"),
    ('trigger_items = ["PM-ABSENT", "STAFF-MISMATCH"]', 'trigger_items = ["PM-GONE"]',
     "warning.trigger_items"),
    ('document_no = "履约评价-{tender}-{evaluation}"', 'document_no = "履约评价-{tender}"',
     "performance.document_no"),
    ('document_no = "履约评价-{tender}-{evaluation}"', 'document_no = "{tender}-{evaluation}-{x}"',
     "performance.document_no"),
    ('severity = "medium"', 'severity = "urgent"', "warning.severity"),
    ('kinds = ["final"]', 'kinds = ["annual"]', "records.kinds"),
    ('codes = { excellent', 'codes = { superb = "X", excellent', "records.codes"),
    ('max_deductions = 8', 'max_deductions = 8\nmax_notes = 3', "performance.max_notes"),
])
def test_unusable_definitions_are_refused(old, new, names):
    assert names in _refusal(old, new)
