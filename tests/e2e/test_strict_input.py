"""Strict dates, instants and query integers, and no repeated query parameters
(issue 9 items 8 and 9): each lax form is a 400 ``validation_error`` naming the field or
parameter, writes nothing, and the strict form next to it still works."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.e2e.conftest import S1, assert_error, audit_head, record_body, repair_body

pytestmark = pytest.mark.db

FULL_WIDTH_DATE = "２０２６-01-10"
LAX_DATES = [FULL_WIDTH_DATE, "2026-01-1０", "2026-01-10\n", "2026-01-10\r\n"]
LAX_INSTANTS = ["2026-05-01T08:00:00+08:00\n", "２０２６-05-01T08:00:00+08:00",
                "2026-05-01T08:00:00Z\n", "2026-05-01T08:00:00 08:00\n"]


def score_path(query: str) -> str:
    return f"/api/v1/subjects/{S1}/score?{query}"


def q(text: str) -> str:
    return quote(text, safe="")


# ---- item 8: dates and instants -----------------------------------------------------

@pytest.mark.parametrize("text", LAX_DATES)
def test_a_lax_date_in_a_body_is_refused(api, ctx, text):
    head = audit_head(ctx)
    got = assert_error(api.post("/api/v1/records", record_body(decided_on=text),
                                "regulator"), 400, "validation_error")
    assert set(got["errors"]) == {"decided_on"}, got
    record = api.create_record()
    got = assert_error(api.post(f"/api/v1/records/{record['id']}/repair",
                                repair_body(text), "regulator"), 400, "validation_error")
    assert set(got["errors"]) == {"repaired_on"}, got
    got = assert_error(api.post(f"/api/v1/records/{record['id']}/applications", {
        "kind": "repair", "reason": "已完成整改", "requested_repair_on": text}, "enterprise"),
        400, "validation_error")
    assert set(got["errors"]) == {"requested_repair_on"}, got
    assert audit_head(ctx) == head + 1  # only the valid record


@pytest.mark.parametrize("text", LAX_DATES)
def test_a_lax_date_in_a_query_is_refused(api, ctx, text):
    head = audit_head(ctx)
    got = assert_error(api.get(score_path(f"sector=housing&as_of={q(text)}"), "evaluator"),
                       400, "validation_error")
    assert set(got["errors"]) == {"as_of"}
    got = assert_error(api.get(f"/api/v1/public/punishments?as_of={q(text)}"),
                       400, "validation_error")
    assert set(got["errors"]) == {"as_of"}
    assert audit_head(ctx) == head
    api.score(S1, as_of="2026-01-10")


@pytest.mark.parametrize("text", LAX_INSTANTS)
def test_a_lax_instant_in_a_query_is_refused(api, ctx, text):
    head = audit_head(ctx)
    got = assert_error(api.get(score_path(f"sector=housing&known_at={q(text)}"),
                               "evaluator"), 400, "validation_error")
    assert set(got["errors"]) == {"known_at"}
    got = assert_error(api.get(f"/api/v1/traces?from={q(text)}", "auditor"),
                       400, "validation_error")
    assert set(got["errors"]) == {"from"}
    assert audit_head(ctx) == head
    assert api.get("/api/v1/traces?from=2026-05-01T08:00:00%2B08:00",
                   "auditor").status_code == 200
    assert api.get("/api/v1/traces?from=2026-05-01T08:00:00%2008:00",
                   "auditor").status_code == 200  # an unescaped + arrives as a space


# ---- item 9: plain integers, one value per parameter --------------------------------

LAX_INTEGERS = ["5_0", "+5", " 5", "5 ", "５", "٥", "0x10", "5.0", "1e2", "5\n", ""]


@pytest.mark.parametrize("route, name", [
    ("/api/v1/records?{}", "limit"),
    ("/api/v1/records?{}", "after"),
    ("/api/v1/audit/entries?{}", "after"),
    ("/api/v1/audit/entries?{}", "limit"),
    ("/api/v1/traces?{}", "limit"),
    (f"/api/v1/subjects/{S1}/inquiries?{{}}", "limit"),
    ("/api/v1/audit/verify?sha256=" + "0" * 64 + "&{}", "position"),
    ("/api/v1/applications?{}", "limit"),
    ("/api/v1/applications?{}", "after"),
    ("/api/v1/public/punishments?{}", "limit"),
])
def test_an_integer_parameter_is_plain_ascii_digits(api, ctx, route, name):
    head = audit_head(ctx)
    for value in LAX_INTEGERS:
        got = assert_error(api.get(route.format(f"{name}={q(value)}"), "auditor"),
                           400, "validation_error")
        assert set(got["errors"]) == {name}, (value, got)
        assert name in got["message"]
    assert audit_head(ctx) == head


def test_plain_integers_still_work(api):
    api.create_record()
    for path in ("/api/v1/records?limit=50", "/api/v1/records?limit=050&after=7",
                 "/api/v1/audit/entries?after=0&limit=500", "/api/v1/traces?limit=1"):
        r = api.get(path, "auditor")
        assert r.status_code == 200, (path, r.get_data(as_text=True))


@pytest.mark.parametrize("path, name", [
    (score_path("sector=transport&sector=housing"), "sector"),
    (score_path("sector=housing&sector=housing"), "sector"),
    (score_path("sector=housing&as_of=2026-01-10&as_of=2026-01-11"), "as_of"),
    ("/api/v1/records?limit=5&limit=6", "limit"),
    (f"/api/v1/records?uscc={S1}&uscc={S1}", "uscc"),
    ("/api/v1/audit/entries?kind=score.served&kind=record.created", "kind"),
    ("/api/v1/traces?from=2026-01-01T00:00:00Z&from=2026-02-01T00:00:00Z", "from"),
    ("/api/v1/applications?status=pending&status=accepted", "status"),
    ("/api/v1/public/punishments?sector=water&sector=housing", "sector"),
    ("/api/v1/public/punishments?as_of=2026-01-10&as_of=2026-01-11", "as_of"),
])
def test_a_repeated_parameter_is_refused_by_name(api, ctx, path, name):
    head = audit_head(ctx)
    got = assert_error(api.get(path, "auditor"), 400, "validation_error")
    assert set(got["errors"]) == {name}, got
    assert "more than once" in got["errors"][name][0]
    assert name in got["message"]
    assert audit_head(ctx) == head


def test_every_problem_of_a_query_is_listed_together(api):
    got = assert_error(api.get("/api/v1/records?limit=5_0&sector=roads&sector=water"
                               "&after=x&colour=red", "auditor"), 400, "validation_error")
    assert set(got["errors"]) == {"limit", "sector", "after", "colour"}, got
