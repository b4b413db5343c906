"""The public joint-punishment list (issue 13) on SQLite and PostgreSQL: no token, paged,
only what a decision document already makes public, no trace logged; and the rate limits
(Flask-Limiter) on it and on the console sign-in, tested in one process.

Fake clock: today 2026-06-01 (CST).
"""

from __future__ import annotations

import pytest

from api import create_app
from tests.e2e.conftest import S1, S2, S3, S4, assert_error, audit_head, revocation_body

pytestmark = pytest.mark.db

ITEM_KEYS = {"uscc", "name", "measures"}
MEASURE_KEYS = {"measure", "until", "basis"}
BASIS_KEYS = {"code", "name", "sector", "document_no", "issued_by", "decided_on",
              "valid_until"}
URL = "/api/v1/public/punishments"


@pytest.fixture
def listed(api):
    """S1: 转包 in housing (blacklist, hence also a bid ban); S2: a bid ban in transport;
    S3: an ordinary penalty (not listed); S4: 转包 revoked (not listed)."""
    api.create_record(code="SUB-TRANSFER", document_no="绍柯建罚〔2026〕11号",
                      decided_on="2026-02-01")
    api.create_record(who="transport", uscc=S2, subject_name="北京某建设有限公司",
                      sector="transport", code="BID-BAN", decided_on="2026-03-01",
                      valid_until="2026-12-31", document_no="绍柯交罚〔2026〕3号",
                      issued_by="柯桥区交通运输局")
    api.create_record(uscc=S3, subject_name="丙公司", document_no="绍柯建罚〔2026〕12号")
    gone = api.create_record(uscc=S4, subject_name="丁公司", code="SUB-TRANSFER",
                             document_no="绍柯建罚〔2026〕13号")
    api.post(f"/api/v1/records/{gone['id']}/revocation", revocation_body(), "regulator")


def test_the_list_needs_no_token_logs_nothing_and_shows_only_public_facts(api, ctx, listed):
    head = audit_head(ctx)
    r = api.get(URL)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"as_of", "items", "next"} and body["as_of"] == "2026-06-01"
    assert [i["uscc"] for i in body["items"]] == sorted([S1, S2]) and body["next"] is None
    by = {i["uscc"]: i for i in body["items"]}
    for item in body["items"]:
        assert set(item) == ITEM_KEYS
        for m in item["measures"]:
            assert set(m) == MEASURE_KEYS
            for b in m["basis"]:
                assert set(b) == BASIS_KEYS
    s1 = by[S1]
    assert s1["name"] == "绍兴柯桥建工集团有限公司"
    assert [m["measure"] for m in s1["measures"]] == ["blacklist", "bid_ban"]
    assert s1["measures"][0]["until"] == "2029-01-31"
    assert s1["measures"][0]["basis"] == [{
        "code": "SUB-TRANSFER", "name": "转包", "sector": "housing",
        "document_no": "绍柯建罚〔2026〕11号", "issued_by": "柯桥区住房和城乡建设局",
        "decided_on": "2026-02-01", "valid_until": "2029-01-31"}]
    s2 = by[S2]
    assert [(m["measure"], m["until"]) for m in s2["measures"]] == [("bid_ban", "2026-12-31")]
    text = r.get_data(as_text=True)
    for secret in ("trace", "token", "sha256", "audit_position", "entered_by", "score"):
        assert secret not in text
    assert audit_head(ctx) == head  # a list of decisions, not a served score: no trace


def test_sector_date_and_paging(api, listed):
    only = api.get(f"{URL}?sector=transport").get_json()["items"]
    assert [i["uscc"] for i in only] == [S2]
    assert api.get(f"{URL}?sector=water").get_json()["items"] == []
    assert [i["uscc"] for i in api.get(f"{URL}?sector=housing").get_json()["items"]] == [S1]
    early = api.get(f"{URL}?as_of=2026-02-15").get_json()
    assert [i["uscc"] for i in early["items"]] == [S1] and early["as_of"] == "2026-02-15"
    assert api.get(f"{URL}?as_of=2027-01-01").get_json()["items"][0]["uscc"] == S1
    first = api.get(f"{URL}?limit=1").get_json()
    assert len(first["items"]) == 1 and first["next"] == first["items"][0]["uscc"]
    rest = api.get(f"{URL}?limit=1&after={first['next']}").get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert {first["items"][0]["uscc"], rest["items"][0]["uscc"]} == {S1, S2}
    # a token changes nothing: the same list for everybody
    assert api.get(URL, "enterprise2").get_json() == api.get(URL).get_json()


def test_a_repair_ends_the_listing(api, listed):
    record = api.get(f"/api/v1/records?uscc={S1}", "regulator").get_json()["items"][0]
    r = api.post(f"/api/v1/records/{record['id']}/repair",
                 {"repaired_on": "2026-05-01", "document_no": "修〔2026〕9号",
                  "reason": "已整改"}, "regulator")
    assert r.status_code == 422  # 转包 is repairable only after 12 months
    api.post(f"/api/v1/records/{record['id']}/revocation", revocation_body(), "regulator")
    assert [i["uscc"] for i in api.get(URL).get_json()["items"]] == [S2]


@pytest.mark.parametrize("query,field", [
    ("sector=roads", "sector"), ("as_of=2026-02-30", "as_of"), ("as_of=1999-12-31", "as_of"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("after=123", "after"), ("page=2", "page"),
])
def test_bad_queries_are_400(api, query, field):
    r = api.get(f"{URL}?{query}")
    assert r.status_code == 400
    assert field in r.get_json()["errors"], r.get_json()


# ------------------------------------------------------------------ rate limits

def _app(ctx, **limits):
    return create_app({"CREDIT_CONTEXT": ctx, "TESTING": True, "SECRET_KEY": "k" * 32,
                       **limits})


def test_public_routes_are_limited_per_client_address_with_retry_after(ctx):
    app = _app(ctx, CREDIT_RATE_LIMIT_PUBLIC="3 per hour")
    client = app.test_client()
    for _ in range(2):
        assert client.get(URL).status_code == 200
    assert client.get("/public").status_code == 200  # the console page shares the count
    r = client.get(URL)
    body = assert_error(r, 429, "rate_limited")
    assert body["status"] == "Too Many Requests"
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    page = client.get("/public")
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert "请求过于频繁" in page.get_data(as_text=True)
    assert 0 < int(page.headers["Retry-After"]) <= 3600
    # another client address has its own count; other routes are not limited
    other = client.get(URL, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200
    assert client.get("/api/v1/health").status_code == 200


def test_console_sign_in_is_limited_per_client_address(ctx):
    app = _app(ctx, CREDIT_RATE_LIMIT_SIGNIN="2 per hour")
    from tests.integration.test_console_pages import Browser
    b = Browser(app)
    b.get("/")
    for _ in range(2):
        assert b.post("/signin", {"token": "kqc_wrong"}).status_code == 401
    r = b.post("/signin", {"token": "kqc_wrong"})
    assert r.status_code == 429 and r.mimetype == "text/html"
    assert "请求过于频繁" in r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    assert b.get("/").status_code == 200  # the sign-in page itself is not limited


def test_the_default_public_limit_is_sixty_a_minute(ctx):
    client = _app(ctx).test_client()
    codes = [client.get(f"{URL}?limit=1").status_code for _ in range(61)]
    assert codes == [200] * 60 + [429]


def test_the_limiter_runs_only_inside_the_limited_views(app):
    """Flask-Limiter's app-wide hooks are gone (api/ratelimit.py): the three limited views
    check their limits themselves (the 429 tests above), no other request pays for a
    look-up of limits that never apply to it."""
    limiter = app.extensions["credit_limiter"]
    hooks = [h for table in (app.before_request_funcs, app.after_request_funcs,
                             app.teardown_request_funcs) for h in table.get(None, [])]
    owners = [getattr(h, "__self__", None) or (getattr(h, "args", None) or [None])[0]
              for h in hooks]
    assert limiter not in owners
