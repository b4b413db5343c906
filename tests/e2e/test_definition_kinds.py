"""Definitions of another kind than scoring, over HTTP: the screen definition
keqiao-screens-2025@1 (WARNINGS.md §4) is listed by GET /models with its kind and
served whole by GET /models/{ref}, but it is no scoring model, so every route that
scores refuses it as an unknown model (404)."""

from __future__ import annotations

import hashlib

import pytest

from scoring_models.loader import DEFINITIONS
from tests.e2e.conftest import S1, assert_error, audit_head, evaluation_body

pytestmark = pytest.mark.db

REF = "keqiao-screens-2025@1"
SHA = hashlib.sha256((DEFINITIONS / f"{REF}.toml").read_bytes()).hexdigest()


def test_models_lists_every_kind(api):
    items = api.get("/api/v1/models", "enterprise").get_json()["items"]
    by_ref = {f"{m['id']}@{m['version']}": m for m in items}
    assert by_ref[REF] == {"id": "keqiao-screens-2025", "version": 1, "sha256": SHA,
                           "kind": "screens", "active": True}
    assert by_ref["keqiao-2025@1"]["kind"] == "scoring"
    assert by_ref["keqiao-2025@1"]["active"] is True


def test_the_screen_definition_whole(api):
    r = api.get(f"/api/v1/models/{REF}", "regulator")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert {k: body[k] for k in ("id", "version", "sha256", "kind", "active")} == {
        "id": "keqiao-screens-2025", "version": 1, "sha256": SHA, "kind": "screens",
        "active": True}
    assert body["title"]
    assert body["parameters"] == {
        "regular_min_bids": 4, "regular_tolerance": "0.02", "cv_min_bids": 4,
        "cv_max": "0.005", "rd_min_bids": 4, "rd_min": "3", "co_bid_window_days": 365,
        "co_bid_min": 4}
    screens = body["screens"]
    assert [(s["number"], s["code"], s["severity"]) for s in screens] == [
        (1, "SAME-PREPARER", "high"), (2, "SAME-UPLOADER", "high"), (3, "SAME-IP", "low"),
        (4, "SAME-DEPOSIT", "high"), (5, "SAME-PERSONNEL", "high"),
        (6, "IDENTICAL-PRICE", "medium"), (7, "REGULAR-PRICES", "medium"),
        (8, "LOW-DISPERSION", "low"), (9, "COVER-GAP", "low"),
        (10, "LOWEST-REJECTED", "low"), (11, "SOLE-VALID", "medium"),
        (12, "PM-ELSEWHERE", "medium"), (13, "CO-BIDDING", "low")]
    assert screens[0]["basis"] == "条例第40条(一)"
    assert all(s["allowed_codes"] == ["BID-COLLUDE", "BID-FRAUD"] and s["name"]
               for s in screens)
    assert "catalogue" not in body


def test_the_scoring_model_says_its_kind(api):
    body = api.get("/api/v1/models/keqiao-2025@1", "auditor").get_json()
    assert body["kind"] == "scoring" and len(body["catalogue"]) == 29


def test_score_routes_refuse_the_screen_definition(api, ctx):
    api.create_record()
    before = audit_head(ctx)
    assert_error(api.get(f"/api/v1/subjects/{S1}/score?sector=housing&model={REF}",
                         "evaluator"), 404, "not_found")
    r = api.post("/api/v1/evaluations", evaluation_body(model=REF), "evaluator")
    assert_error(r, 404, "not_found")
    assert audit_head(ctx) == before          # a refused score logs nothing
    assert_error(api.get("/api/v1/models/keqiao-screens-2025@2", "auditor"), 404,
                 "not_found")
