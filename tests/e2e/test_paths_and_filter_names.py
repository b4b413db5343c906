"""Found by a review of every route against API.md §1 and §3 (both backends):

1. A path with ``//`` (``POST /api/v1/tenders/KQ-1//award``) answered werkzeug's HTML
   308 redirect to the merged path, before any token was checked and outside every
   error handler, its ``Location`` built from the client's ``Host`` header; a client
   following it sent the POST again. It is no route: a JSON 404 (check 1).
2. The ``tender`` filter of ``GET /warnings`` and ``GET /performance`` took ``a/b`` (no
   tender code can be that) and answered an empty list, and did not trim `` KQ-1 ``
   as the code it filters is trimmed: it is checked like that code now.
3. A field or query parameter named ``""`` was reported as ``_body`` (``GET
   /tenders?=x``) or as the path ``bids.0.``; it is spelt ``""`` now, on every route.
"""

from __future__ import annotations

import json

import pytest

from tests.tender_data import award_body, tender_body

from .conftest import Api, assert_error

pytestmark = pytest.mark.db
CODE = "KQ-2026-0031"


@pytest.fixture
def tapi(platform_api) -> Api:
    api = platform_api
    r = api.post("/api/v1/tenders", tender_body(), "platform")
    assert r.status_code == 201, r.get_data(as_text=True)
    return api


@pytest.mark.parametrize("method, path, who", [
    ("GET", "/api/v1//tenders", None),
    ("GET", f"/api/v1/tenders//{CODE}", "auditor"),
    ("POST", f"/api/v1/tenders/{CODE}//award", "platform"),
    ("POST", "/api/v1/warnings/1//disposal", "transport"),
    ("OPTIONS", "/api/v1//health", None),
])
def test_a_path_with_a_double_slash_is_a_json_404(tapi, tctx, method, path, who):
    from credit.services.audit import list_entries
    before = list_entries(tctx, after=0, limit=500)["items"][-1]["position"]
    headers = {"Host": "evil.example"}
    if who:
        headers["Authorization"] = f"Bearer {tapi.tokens[who]}"
    r = tapi.client.open(path, method=method, headers=headers,
                         data=json.dumps(award_body()), content_type="application/json")
    assert_error(r, 404, "not_found")
    assert "Location" not in r.headers
    assert list_entries(tctx, after=0, limit=500)["items"][-1]["position"] == before


@pytest.mark.parametrize("route", ["warnings", "performance"])
@pytest.mark.parametrize("value", ["a/b", "a%23b", "a%25b", "..", "%20"])
def test_a_tender_filter_that_is_no_tender_code_is_400(tapi, route, value):
    r = tapi.get(f"/api/v1/{route}?tender={value}", "auditor")
    body = assert_error(r, 400, "validation_error")
    assert list(body["errors"]) == ["tender"], body


def test_a_padded_tender_filter_is_trimmed_like_the_code(tapi):
    plain = tapi.get(f"/api/v1/warnings?tender={CODE}", "auditor").get_json()["items"]
    padded = tapi.get(f"/api/v1/warnings?tender=%20{CODE}%20", "auditor")
    assert plain and padded.status_code == 200 and padded.get_json()["items"] == plain


@pytest.mark.parametrize("path, who", [("/api/v1/tenders?=x", "auditor"),
                                       ("/api/v1/health?=x", None),
                                       ("/api/v1/warnings?=x", "auditor")])
def test_a_query_parameter_named_empty_is_listed_by_that_name(tapi, path, who):
    body = assert_error(tapi.get(path, who), 400,
                        "validation_error")
    assert body["errors"] == {'""': ["Unknown field."]}, body


def test_a_body_field_named_empty_is_a_dotted_path(tapi):
    body = tender_body(code="KQ-2026-0032")
    body["bids"][0][""] = 1
    r = tapi.post("/api/v1/tenders", body, "platform")
    errors = assert_error(r, 400, "validation_error")["errors"]
    assert errors == {'bids.0.""': ["Unknown field."]}, errors
