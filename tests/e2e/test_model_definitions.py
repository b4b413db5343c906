"""GET /api/v1/models and /models/{ref} list and show every kind of definition
(API.md §7, PERFORMANCE.md §3 and §7): scoring models, the performance-evaluation rules
and the agency rules, each whole, decimals as strings; score routes stay 404 for a
definition that is not a scoring model."""

from __future__ import annotations

import hashlib

from scoring_models.loader import DEFINITIONS

from .conftest import S1, SHA_RE, assert_error

SHIPPED = {
    "keqiao-2025@1": "scoring", "keqiao-2025@2": "scoring",
    "keqiao-performance-2025@1": "performance", "keqiao-agency-2025@1": "agency",
}


def no_floats(value) -> None:
    assert not isinstance(value, float), value
    if isinstance(value, dict):
        for v in value.values():
            no_floats(v)
    if isinstance(value, list):
        for v in value:
            no_floats(v)


def test_models_lists_every_definition_with_its_kind(api):
    items = api.get("/api/v1/models", "enterprise").get_json()["items"]
    listed = {f"{m['id']}@{m['version']}": m for m in items}
    assert {ref: listed[ref]["kind"] for ref in SHIPPED} == SHIPPED
    for ref, m in listed.items():
        assert SHA_RE.match(m["sha256"])
        if ref in SHIPPED:
            assert m["sha256"] == hashlib.sha256(
                (DEFINITIONS / f"{ref}.toml").read_bytes()).hexdigest()
    assert listed["keqiao-performance-2025@1"]["active"] is True
    assert listed["keqiao-agency-2025@1"]["active"] is True
    active_scoring = [r for r, m in listed.items() if m["kind"] == "scoring" and m["active"]]
    assert len(active_scoring) == 1


def test_performance_definition_whole(api):
    r = api.get("/api/v1/models/keqiao-performance-2025@1", "auditor")
    assert r.status_code == 200
    d = r.get_json()
    no_floats(d)
    assert (d["id"], d["version"], d["kind"], d["active"]) == (
        "keqiao-performance-2025", 1, "performance", True)
    assert [(i["item"], i["max"]) for i in d["indicators"]] == [
        ("PM-ABSENT", "20.00"), ("STAFF-MISMATCH", "10.00"), ("SCHEDULE", "20.00"),
        ("QUALITY", "20.00"), ("SAFETY", "15.00"), ("WAGES", "15.00"), ("VARIATION", "10.00"),
        ("COOPERATION", "10.00")]
    assert [(b["rating"], b["min_score"]) for b in d["bands"]] == [
        ("excellent", "90.00"), ("pass", "75.00"), ("basic", "60.00"), ("fail", "0.00")]
    assert d["base"] == "100.00" and d["document_no"] == "履约评价-{tender}-{evaluation}"
    assert d["records"] == {"kinds": ["final"],
                            "codes": {"excellent": "PERF-EXCELLENT", "fail": "PERF-FAIL"}}
    assert d["warning"]["confirmation_codes"] == ["SITE-PM-ABSENT", "SITE-STAFF-MISMATCH"]
    assert (d["warning"]["code"], d["warning"]["severity"]) == ("PM-ABSENT", "medium")


def test_agency_definition_whole(api):
    d = api.get("/api/v1/models/keqiao-agency-2025@1", "regulator").get_json()
    no_floats(d)
    assert (d["kind"], d["min_ratings"], d["default_rating"], d["window_days"]) == (
        "agency", 3, "80.00", 365)
    assert d["weights"] == {"service": "0.60", "conduct": "0.40"}
    assert [(i["item"], i["max"]) for i in d["items"]] == [
        ("documents", "30.00"), ("procedure", "30.00"), ("service", "20.00"),
        ("archive", "20.00")]
    codes = {e["code"]: e for e in d["catalogue"]}
    assert list(codes) == ["AGENCY-LEAK", "AGENCY-COLLUDE", "AGENCY-RESTRICT", "AGENCY-SPLIT",
                           "AGENCY-FEE", "AGENCY-ARCHIVE"]
    assert (codes["AGENCY-LEAK"]["points"], codes["AGENCY-LEAK"]["flags"]) == (
        "-20.00", ["restrict"])
    assert [b["grade"] for b in d["grades"]["bands"]] == ["A", "B", "C", "D"]


def test_scoring_model_v2_shows_who_creates_each_code(api):
    d = api.get("/api/v1/models/keqiao-2025@2", "evaluator").get_json()
    assert d["kind"] == "scoring"
    codes = {e["code"]: e for e in d["catalogue"]}
    assert len(codes) == 31
    assert (codes["PERF-FAIL"]["points"], codes["PERF-FAIL"]["enterable"],
            codes["PERF-FAIL"]["created_by"]) == ("-8.00", False, "performance_approval")
    assert (codes["PERF-EXCELLENT"]["family"], codes["PERF-EXCELLENT"]["enterable"]) == (
        "performance", False)
    assert codes["BID-NOSIGN"]["enterable"] is True
    v1 = api.get("/api/v1/models/keqiao-2025@1", "evaluator").get_json()
    assert len(v1["catalogue"]) == 29 and all(e["enterable"] for e in v1["catalogue"])


def test_score_routes_refuse_definitions_of_another_kind(api):
    for ref in ("keqiao-performance-2025@1", "keqiao-agency-2025@1"):
        assert_error(api.get(f"/api/v1/subjects/{S1}/score?sector=housing&model={ref}",
                             "evaluator"), 404, "not_found")
    assert_error(api.get("/api/v1/models/keqiao-agency-2025@9", "evaluator"), 404,
                 "not_found")


def test_a_sector_the_model_does_not_rate_is_400(database_url, clock, tokens, tmp_path):
    """The loader accepts a model covering some sectors only; a score or an evaluation
    in another sector with it is 400 on ``sector`` (as rate-all answers), not the
    engine's error (a 500)."""
    from api import create_app
    from credit.services.bootstrap import build_context
    from tests.conftest import TEST_MODELS

    from .conftest import Api
    text = (TEST_MODELS / "keqiao-test@1.toml").read_text(encoding="utf-8")
    partial = text.replace('sectors = ["housing", "transport", "water"]',
                           'sectors = ["housing", "transport"]').replace(
        'id = "keqiao-test"', 'id = "keqiao-partial"')
    assert partial.count("keqiao-partial") == 1 and 'sectors = ["housing", "transport"]\n' \
        in partial
    (tmp_path / "keqiao-partial@1.toml").write_text(partial, encoding="utf-8")
    ctx = build_context(database_url, clock=clock, extra_model_dirs=[tmp_path])
    api = Api(create_app({"CREDIT_CONTEXT": ctx, "TESTING": True}).test_client(), tokens)
    try:
        r = api.get(f"/api/v1/subjects/{S1}/score?sector=water&model=keqiao-partial@1",
                    "evaluator")
        assert_error(r, 400, "validation_error")
        assert "sector" in r.get_json()["errors"]
        body = {"tender": {"code": "KQ-1", "name": "x"}, "sector": "water",
                "as_of": "2026-05-01", "bidders": [{"uscc": S1}], "model": "keqiao-partial@1"}
        assert_error(api.post("/api/v1/evaluations", body, "evaluator"), 400,
                     "validation_error")
        assert api.get(f"/api/v1/subjects/{S1}/score?sector=housing&model=keqiao-partial@1",
                       "evaluator").status_code == 200
    finally:
        ctx.uow.engine.dispose()
