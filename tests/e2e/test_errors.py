"""Every error code of API.md §1's table that a client can provoke, the error body
exactly, and the order of checks (the first that fails answers)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from credit.services.tokens import create_token, revoke_token
from tests.e2e.conftest import (
    ANY,
    DROP,
    S1,
    S2,
    S3,
    S4,
    S5,
    Api,
    assert_error,
    audit_head,
    evaluation_body,
    record_body,
    repair_body,
    revocation_body,
)

pytestmark = pytest.mark.db

MIB = 1024 * 1024
KIB8 = 8 * 1024
# S1 = 91330603MA2D4F6E84: its check character is '4'.
S1_BAD_CHECK = S1[:17] + "5"
NEVER = "9223372036854775807"  # the largest id: well-formed, merely unknown


@contextmanager
def writes_nothing(ctx):
    """The block's requests were refused: the audit log (every write and every served
    score appends to it) has not moved."""
    head = audit_head(ctx)
    yield
    assert audit_head(ctx) == head, "a refused request wrote to the audit log"


def raw(api: Api, path: str, data: bytes | str | None, who: str | None = "regulator", *,
        content_type: str | None = "application/json", method: str = "POST",
        headers: dict | None = None):
    """A request with a body sent byte for byte."""
    kw = {}
    if data is not None:
        kw["data"] = data.encode("utf-8") if isinstance(data, str) else data
    if content_type is not None:
        kw["content_type"] = content_type
    return api.request(method, path, who, headers=headers, **kw)


def score_path(uscc: str = S1, query: str = "sector=housing") -> str:
    return f"/api/v1/subjects/{uscc}/score?{query}"


def fields_of(body: dict) -> set[str]:
    return set(body["errors"])


# ---- 400 malformed_json ----------------------------------------------------------------

BAD_JSON = (
    b"",                                   # no body at all
    b"{",                                  # truncated
    b'{"uscc": ',                          # truncated value
    b"{'uscc': 'x'}",                      # not JSON quoting
    b'{"a": 1} {"b": 2}',                  # two documents
    b'{"a": 1,}',                          # trailing comma
    b'{"note": NaN}',                      # not a JSON constant
    b'{"note": Infinity}',
    b"\xff\xfe{}",                         # invalid UTF-8 (a UTF-16 BOM)
    b'{"subject_name": "\xc3\x28"}',       # invalid UTF-8 inside a string
    b'{"subject_name": "\xed\xa0\x80"}',   # a UTF-8-encoded surrogate is invalid UTF-8
)


def test_malformed_json_on_every_body(api, ctx):
    rec = api.create_record()
    paths = ("/api/v1/records", f"/api/v1/records/{rec['id']}/revocation",
             f"/api/v1/records/{rec['id']}/repair", "/api/v1/evaluations")
    with writes_nothing(ctx):
        for path in paths:
            who = "evaluator" if path.endswith("evaluations") else "regulator"
            for data in BAD_JSON:
                body = assert_error(raw(api, path, data, who), 400, "malformed_json")
                assert body["errors"] == {}, (path, data)
            # charset parameters do not change what JSON is
            assert_error(raw(api, path, b"{", who, content_type="application/json; charset=utf-8"),
                         400, "malformed_json")
    # the record is untouched by all of it
    assert api.get(f"/api/v1/records/{rec['id']}", "auditor").get_json()["status"] == "active"


# ---- 400 validation_error ----------------------------------------------------------------

def test_validation_error_record_shapes(api, ctx):
    cases = [
        # unknown fields (also with a valid body around them), listed by name
        (record_body(colour="red"), {"colour"}),
        (record_body(colour="red", size=3), {"colour", "size"}),
        (record_body(status="active"), {"status"}),            # a response field
        # required fields
        (record_body(subject_name=DROP), {"subject_name"}),
        (record_body(document_no=DROP, issued_by=DROP), {"document_no", "issued_by"}),
        (record_body(decided_on=None), {"decided_on"}),
        ({}, {"uscc", "subject_name", "sector", "code", "decided_on", "document_no",
              "issued_by"}),
        # wrong types
        (record_body(decided_on=20260110), {"decided_on"}),
        (record_body(subject_name=["x"]), {"subject_name"}),
        (record_body(sector=1), {"sector"}),
        (record_body(note=5), {"note"}),
        (record_body(document_no={"no": "1"}), {"document_no"}),
        (record_body(valid_until=True, code="BID-BAN"), {"valid_until"}),
        # enums
        (record_body(sector="roads"), {"sector"}),
        (record_body(sector="Housing"), {"sector"}),
        # lengths (of the trimmed text)
        (record_body(subject_name=""), {"subject_name"}),
        (record_body(subject_name="   "), {"subject_name"}),
        (record_body(subject_name="企" * 201), {"subject_name"}),
        (record_body(document_no="x" * 101), {"document_no"}),
        (record_body(issued_by=""), {"issued_by"}),
        (record_body(issued_by="局" * 101), {"issued_by"}),
        (record_body(project_code="P" * 65), {"project_code"}),
        (record_body(project_name="项" * 201), {"project_name"}),
        (record_body(note="n" * 2001), {"note"}),
        # dates: form and the 2000-01-01 … 2099-12-31 range
        (record_body(decided_on="2026-1-10"), {"decided_on"}),
        (record_body(decided_on="2026-02-30"), {"decided_on"}),
        (record_body(decided_on="10/01/2026"), {"decided_on"}),
        (record_body(decided_on="2026-01-10T00:00:00+08:00"), {"decided_on"}),
        (record_body(decided_on="1999-12-31"), {"decided_on"}),
        (record_body(occurred_on="2100-01-01"), {"occurred_on"}),
        (record_body(occurred_on="2026-01-11"), {"occurred_on"}),  # after decided_on
        # U+0000 and unpaired surrogates anywhere
        (record_body(note="a\x00b"), ANY),
    ]
    with writes_nothing(ctx):
        for body, expected in cases:
            r = api.post("/api/v1/records", body, "regulator")
            got = assert_error(r, 400, "validation_error")
            if expected is not ANY:
                assert fields_of(got) == expected, (body, got)
        # a body that is JSON but not an object
        listed = b"[" + json.dumps(record_body()).encode() + b"]"
        for data in (b"[]", b'"text"', b"null", b"42", listed):
            got = assert_error(raw(api, "/api/v1/records", data), 400, "validation_error")
            assert fields_of(got) == {"_body"}, data
        # a raw escaped NUL and a raw lone surrogate in the JSON text
        for data in (b'{"note": "\\u0000"}', b'{"note": "\\ud83d"}'):
            assert_error(raw(api, "/api/v1/records", data), 400, "validation_error")

    # the limits themselves are accepted (lengths count the trimmed text)
    r = api.post("/api/v1/records", record_body(
        subject_name="  " + "企" * 200 + "  ", document_no="x" * 100, issued_by="局" * 100,
        project_code="P" * 64, project_name="项" * 200, note="n" * 2000,
        occurred_on="2026-01-10"), "regulator")
    assert r.status_code == 201, r.get_data(as_text=True)


def test_a_rule_between_fields_is_listed_beside_another_fields_problem(api, ctx):
    """``occurred_on`` after ``decided_on`` is reported even when another field fails too:
    "validation_error with every problem listed" (API.md §1). Marshmallow skips a
    schema's own checks once a field has failed, unless told not to."""
    with writes_nothing(ctx):
        got = assert_error(api.post("/api/v1/records", record_body(
            subject_name="", occurred_on="2026-01-11"), "regulator"), 400, "validation_error")
    assert fields_of(got) == {"subject_name", "occurred_on"}


def test_validation_error_lists_every_field(api, ctx):
    """Several problems at once: validation_error, every field listed, even when some of
    them have a field-specific code of their own."""
    body = record_body(uscc="91330603MA2D4F6E8", sector="roads", code="NOPE",
                       decided_on="2026-02-30", document_no="", colour="red")
    with writes_nothing(ctx):
        got = assert_error(api.post("/api/v1/records", body, "regulator"), 400,
                           "validation_error")
        assert fields_of(got) == {"uscc", "sector", "code", "decided_on", "document_no",
                                  "colour"}
        assert "18" in got["errors"]["uscc"][0]              # the USCC's own message
        assert "BID-NOSIGN" in got["errors"]["code"][0]      # the valid codes listed

        # two field-specific codes: still validation_error, both listed
        got = assert_error(api.post("/api/v1/records", record_body(
            uscc=S1_BAD_CHECK, code="NOPE"), "regulator"), 400, "validation_error")
        assert fields_of(got) == {"uscc", "code"}
        got = assert_error(api.post("/api/v1/records", record_body(
            code="BID-BAN", decided_on="2026-06-02"), "regulator"), 400, "validation_error")
        assert fields_of(got) == {"valid_until", "decided_on"}
        # a field-specific code with a plain shape error: validation_error
        got = assert_error(api.post("/api/v1/records", record_body(
            uscc=S1_BAD_CHECK, note="n" * 2001), "regulator"), 400, "validation_error")
        assert fields_of(got) == {"uscc", "note"}

        # keys are dotted paths, never nested by location
        got = assert_error(api.post("/api/v1/evaluations", evaluation_body(
            tender={"code": "", "name": "n" * 201, "extra": 1}, sector="roads",
            as_of="2026-13-01", model="", bidders=[{"uscc": S1, "consortium": [S2, S3]},
                                                   {"consortium": [S4]},
                                                   {"uscc": S5, "colour": "red"}, {}]),
            "evaluator"), 400, "validation_error")
        assert fields_of(got) == {"tender.code", "tender.name", "tender.extra", "sector",
                                  "as_of", "model", "bidders.0", "bidders.1.consortium",
                                  "bidders.2.colour", "bidders.3"}, got["errors"]


def test_validation_error_other_bodies(api, ctx):
    rec = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    rev = f"/api/v1/records/{rec['id']}/revocation"
    rep = f"/api/v1/records/{rec['id']}/repair"
    cases = [
        (rev, {}, {"document_no", "reason"}),
        (rev, revocation_body(extra=1), {"extra"}),
        (rev, revocation_body(document_no=""), {"document_no"}),
        (rev, revocation_body(document_no="x" * 101), {"document_no"}),
        (rev, revocation_body(reason="r" * 2001), {"reason"}),
        (rev, revocation_body(reason=None), {"reason"}),
        (rep, {}, {"repaired_on", "document_no", "reason"}),
        (rep, repair_body("2026-04-01", extra=1), {"extra"}),
        (rep, repair_body("2026-4-1"), {"repaired_on"}),
        (rep, repair_body("1999-12-31"), {"repaired_on"}),
        (rep, repair_body(20260401), {"repaired_on"}),
        (rep, repair_body("2026-04-01", reason=""), {"reason"}),
        ("/api/v1/evaluations", evaluation_body(bidders=[]), {"bidders"}),
        ("/api/v1/evaluations", evaluation_body(bidders=None), {"bidders"}),
        ("/api/v1/evaluations", evaluation_body(bidders={"uscc": S1}), {"bidders"}),
        ("/api/v1/evaluations", evaluation_body(tender=None), {"tender"}),
        ("/api/v1/evaluations", evaluation_body(tender={"code": "KQ-1"}), {"tender.name"}),
        ("/api/v1/evaluations", evaluation_body(tender={"code": "K" * 65, "name": "n"}),
         {"tender.code"}),
        ("/api/v1/evaluations", evaluation_body(as_of="2100-01-01"), {"as_of"}),
        ("/api/v1/evaluations", evaluation_body(sector="roads"), {"sector"}),
        ("/api/v1/evaluations", evaluation_body(extra=True), {"extra"}),
        ("/api/v1/evaluations", evaluation_body(bidders=[{"consortium": [S1, S2, S3, S4, S5,
                                                                          "x", "y", "z", "u",
                                                                          "v", "w"]}]),
         {"bidders.0.consortium"}),
    ]
    # 201 bidders is one too many
    many = [{"uscc": S1}] * 201
    cases.append(("/api/v1/evaluations", evaluation_body(bidders=many), {"bidders"}))
    with writes_nothing(ctx):
        for path, body, expected in cases:
            who = "evaluator" if path.endswith("evaluations") else "regulator"
            got = assert_error(api.post(path, body, who), 400, "validation_error")
            assert fields_of(got) == expected, (path, body, got["errors"])


# ---- 400 invalid_uscc -------------------------------------------------------------------

INVALID_USCCS = [
    # (sent, what the message must name)
    ("91330603MA2D4F6E8", ("17", "18")),                     # length
    ("91330603MA2D4F6E845", ("19", "18")),
    ("", ("0", "18")),
    ("91330603-MA2D4F6E84", ("19", "18", "9", "'-'")),       # a separator is never forgiven
    ("91330603 A2D4F6E84", ("9", "space")),                  # an inner space
    ("A1330603MA2D4F6E84", ("1", "'A'")),                    # a letter among the digits
    ("91330603MA2D4F6EO4", ("17", "'O'")),                   # O is not in the alphabet
    ("91330603IA2D4F6E84", ("9", "'I'")),
    ("91330603MA2D4F6E8Z", ("18", "'Z'")),
    ("91330603MA2D4F6E8中", ("18", "中")),
    (S1_BAD_CHECK, ("'5'", "'4'")),                          # the expected check character
    (S1_BAD_CHECK.lower(), ("'5'", "'4'")),
]


def _names(message: str, parts) -> bool:
    return all(re.search(rf"(?<![0-9]){re.escape(p)}(?![0-9])", message) if p.isdigit()
               else p in message for p in parts)


def test_invalid_uscc_in_body_path_and_query(api, ctx):
    with writes_nothing(ctx):
        for sent, parts in INVALID_USCCS:
            # body
            got = assert_error(api.post("/api/v1/records", record_body(uscc=sent), "regulator"),
                               400, "invalid_uscc")
            assert set(got["errors"]) == {"uscc"}
            msg = got["errors"]["uscc"][0]
            assert _names(msg, parts), (sent, msg)
            assert _names(got["message"], parts), (sent, got["message"])
            if not sent:
                continue  # an empty path segment is another route
            seg = quote(sent, safe="")
            # path
            for path in (f"/api/v1/subjects/{seg}", f"/api/v1/subjects/{seg}/score?sector=housing",
                         f"/api/v1/subjects/{seg}/inquiries"):
                got = assert_error(api.get(path, "auditor"), 400, "invalid_uscc")
                assert set(got["errors"]) == {"uscc"} and _names(got["message"], parts), \
                    (path, got)
            # query
            for path in (f"/api/v1/records?uscc={seg}", f"/api/v1/traces?uscc={seg}"):
                got = assert_error(api.get(path, "auditor"), 400, "invalid_uscc")
                assert set(got["errors"]) == {"uscc"}, got
                assert _names(got["errors"]["uscc"][0], parts), (path, got)
    # surrounding whitespace and lower case are forgiven everywhere
    rec = api.create_record(uscc="\u3000 " + S1.lower() + " ")
    assert rec["uscc"] == S1
    assert api.get(f"/api/v1/subjects/%20{S1.lower()}%20", "auditor").status_code == 200
    assert [x["id"] for x in api.get(f"/api/v1/records?uscc=%20{S1.lower()}",
                                     "auditor").get_json()["items"]] == [rec["id"]]


def test_invalid_and_duplicate_bidders(api, ctx):
    with writes_nothing(ctx):
        # invalid USCCs are keyed by their place among the bidders
        bidders = [{"uscc": S1}, {"uscc": S2}, {"consortium": [S3, S4]},
                   {"uscc": "91330603MA2D4F6E8"}, {"consortium": [S5, S1_BAD_CHECK]}]
        got = assert_error(api.post("/api/v1/evaluations", evaluation_body(bidders=bidders),
                                    "evaluator"), 400, "invalid_uscc")
        assert set(got["errors"]) == {"bidders.3.uscc", "bidders.4.consortium.1"}
        assert _names(got["errors"]["bidders.3.uscc"][0], ("17", "18"))
        assert _names(got["errors"]["bidders.4.consortium.1"][0], ("'5'", "'4'"))
        # a single one
        got = assert_error(api.post("/api/v1/evaluations", evaluation_body(
            bidders=[{"uscc": "X" + S1[1:]}]), "evaluator"), 400, "invalid_uscc")
        assert set(got["errors"]) == {"bidders.0.uscc"}
        # with another problem: validation_error listing both
        got = assert_error(api.post("/api/v1/evaluations", evaluation_body(
            tender={"code": "KQ-1"}, bidders=bidders), "evaluator"), 400, "validation_error")
        assert set(got["errors"]) == {"tender.name", "bidders.3.uscc", "bidders.4.consortium.1"}

        # a USCC appearing twice anywhere (after normalisation)
        for bidders, key in (
            ([{"uscc": S1}, {"consortium": [S2, " " + S1.lower()]}], "bidders.1.consortium.1"),
            ([{"consortium": [S2, S2]}], "bidders.0.consortium.1"),
            ([{"uscc": S1}, {"uscc": S2}, {"uscc": S1.lower()}], "bidders.2.uscc"),
            ([{"consortium": [S3, S4]}, {"uscc": S4}], "bidders.1.uscc"),
        ):
            got = assert_error(api.post("/api/v1/evaluations", evaluation_body(bidders=bidders),
                                        "evaluator"), 400, "duplicate_bidder")
            assert set(got["errors"]) == {key}, got
            assert S1 in got["message"] or S2 in got["message"] or S4 in got["message"]
        # a duplicate and an invalid USCC: validation_error, both listed
        got = assert_error(api.post("/api/v1/evaluations", evaluation_body(
            bidders=[{"uscc": S1}, {"uscc": S1}, {"uscc": S1_BAD_CHECK}]), "evaluator"),
            400, "validation_error")
        assert set(got["errors"]) == {"bidders.1.uscc", "bidders.2.uscc"}
    assert api.evaluate(bidders=[{"uscc": S1}, {"consortium": [S2, S3]}]).status_code == 201


# ---- 400 field-specific codes of records ------------------------------------------------

def test_code_validity_and_future_dates(api, ctx, clock):
    with writes_nothing(ctx):
        got = assert_error(api.post("/api/v1/records", record_body(code="NOPE"), "regulator"),
                           400, "unknown_code")
        assert set(got["errors"]) == {"code"}
        for code in ("BID-NOSIGN", "BID-BAN", "AWARD-PROVINCIAL", "SITE-PM-ABSENT"):
            assert code in got["message"]                  # the valid codes, listed
        # codes are compared exactly
        assert_error(api.post("/api/v1/records", record_body(code="bid-nosign"), "regulator"),
                     400, "unknown_code")
        # any string that is no catalogue code is unknown_code, whatever its length
        # (API.md §3), with a long one cut short in the message
        for code in ("", " ", "X" * 65, "X" * 100_000):
            got = assert_error(api.post("/api/v1/records", record_body(code=code),
                                        "regulator"), 400, "unknown_code")
            assert set(got["errors"]) == {"code"} and "BID-NOSIGN" in got["message"]
            assert len(got["message"]) < 2000
        # not a string at all is a shape error
        got = assert_error(api.post("/api/v1/records", record_body(code=7), "regulator"),
                           400, "validation_error")
        assert set(got["errors"]) == {"code"}

        got = assert_error(api.post("/api/v1/records", record_body(code="BID-BAN"),
                                    "regulator"), 400, "valid_until_required")
        assert set(got["errors"]) == {"valid_until"}
        got = assert_error(api.post("/api/v1/records", record_body(
            code="BID-BAN", valid_until=None), "regulator"), 400, "valid_until_required")
        got = assert_error(api.post("/api/v1/records", record_body(valid_until="2026-12-31"),
                                    "regulator"), 400, "valid_until_forbidden")
        assert set(got["errors"]) == {"valid_until"}
        # BID-BAN: at most 36 months → latest 2028-12-31 for a decision of 2026-01-01
        for vu in ("2029-01-01", "2025-12-31", "2099-12-31"):
            got = assert_error(api.post("/api/v1/records", record_body(
                code="BID-BAN", decided_on="2026-01-01", valid_until=vu), "regulator"),
                400, "valid_until_out_of_range", latest_valid_until="2028-12-31")
            assert set(got["errors"]) == {"valid_until"}
        # month-end clamping: 2025-11-30 + 36 months − 1 day
        assert_error(api.post("/api/v1/records", record_body(
            code="BID-BAN", decided_on="2025-11-30", valid_until="2028-11-30"), "regulator"),
            400, "valid_until_out_of_range", latest_valid_until="2028-11-29")

        # today in China Standard Time is 2026-06-01 (10:00 CST)
        got = assert_error(api.post("/api/v1/records", record_body(decided_on="2026-06-02"),
                                    "regulator"), 400, "decided_in_future")
        assert set(got["errors"]) == {"decided_on"}
        assert_error(api.post("/api/v1/records", record_body(decided_on="2099-12-31"),
                              "regulator"), 400, "decided_in_future")
        # 23:59:59.999999 CST: tomorrow is still the future
        clock.set(datetime(2026, 6, 1, 15, 59, 59, 999999, tzinfo=timezone.utc))
        assert_error(api.post("/api/v1/records", record_body(decided_on="2026-06-02"),
                              "regulator"), 400, "decided_in_future")
    # at 00:00 CST (16:00 UTC) it is today, although UTC is still on 2026-06-01
    clock.set(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))
    assert api.create_record(decided_on="2026-06-02")["decided_on"] == "2026-06-02"
    ban = api.create_record(code="BID-BAN", decided_on="2026-01-01", valid_until="2028-12-31",
                            document_no="BAN-1")
    assert ban["valid_until"] == "2028-12-31"


# ---- 401 / 403 ----------------------------------------------------------------------------

def test_unauthenticated(api, ctx, clock):
    revoked_id, revoked = create_token(ctx, "op", role="regulator", name="已撤销窗口",
                                       sectors=["housing"])
    revoke_token(ctx, "op", revoked_id)
    _, expiring = create_token(ctx, "op", role="auditor", name="临时审计",
                               expires_at=clock() + timedelta(seconds=10))
    assert api.get("/api/v1/records", expiring).status_code == 200
    clock.advance(seconds=11)
    secret = api.tokens["regulator"]
    headers = [
        {},                                              # no token
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer kqc_" + "A" * 43},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": secret},                       # no scheme
        {"Authorization": f"Bearer {secret}x"},
        {"Authorization": f"Bearer {secret[:-1]}"},
        {"Authorization": f"Bearer {revoked}"},          # revoked
        {"Authorization": f"Bearer {expiring}"},         # expired
        {"X-Api-Key": secret},
    ]
    with writes_nothing(ctx):
        for h in headers:
            for method, path, body in (
                ("GET", "/api/v1/records", None),
                ("GET", "/api/v1/models", None),
                ("GET", score_path(), None),
                ("GET", "/api/v1/audit/entries", None),
                ("POST", "/api/v1/records", record_body()),
                ("POST", "/api/v1/evaluations", evaluation_body()),
            ):
                if body is None:
                    r = api.request(method, path, None, headers=h)
                else:
                    r = api.post(path, body, None, headers=h)
                got = assert_error(r, 401, "unauthenticated")
                assert got["errors"] == {}
                assert secret not in r.get_data(as_text=True)


def test_forbidden_and_sector_forbidden(api, ctx):
    rec = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    ev = api.evaluate().get_json()
    with writes_nothing(ctx):
        for who in ("evaluator", "auditor", "admin", "enterprise"):
            assert_error(api.post("/api/v1/records", record_body(document_no="F-1"), who),
                         403, "forbidden")
            assert_error(api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(),
                                  who), 403, "forbidden")
            assert_error(api.post(f"/api/v1/records/{rec['id']}/repair",
                                  repair_body("2026-04-01"), who), 403, "forbidden")
        for who in ("regulator", "auditor", "admin", "enterprise"):
            assert_error(api.post("/api/v1/evaluations", evaluation_body(), who), 403,
                         "forbidden")
        for who in ("regulator", "evaluator", "enterprise"):
            for path in ("/api/v1/audit/entries", "/api/v1/audit/verify", "/api/v1/traces"):
                assert_error(api.get(path, who), 403, "forbidden")
        # another evaluator's evaluation
        assert_error(api.get(f"/api/v1/evaluations/{ev['id']}", "evaluator2"), 403, "forbidden")
        # an enterprise outside its own file
        assert_error(api.get(score_path(S2), "enterprise"), 403, "forbidden")

        # sector_forbidden: the body's sector on creation, the record's on revocation/repair
        for who, sector in (("regulator", "transport"), ("transport", "housing"),
                            ("water", "housing")):
            got = assert_error(api.post("/api/v1/records", record_body(
                sector=sector, document_no=f"SF-{who}"), who), 403, "sector_forbidden")
            assert got["errors"] == {}
        for who in ("transport", "water"):
            assert_error(api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(),
                                  who), 403, "sector_forbidden")
            assert_error(api.post(f"/api/v1/records/{rec['id']}/repair",
                                  repair_body("2026-04-01"), who), 403, "sector_forbidden")
    assert api.get(f"/api/v1/records/{rec['id']}", "auditor").get_json()["events"] == []


# ---- 404 / 405 ----------------------------------------------------------------------------

def test_not_found(api, ctx):
    rec = api.create_record()
    s = api.score(S1, who="auditor")
    ev = api.evaluate().get_json()
    with writes_nothing(ctx):
        for who in (None, "auditor"):
            for path in ("/api/v1/nope", "/api/v2/records", "/api/v1/records/1/delete",
                         "/api/v1/records/1/revocation/x", "/api/v1/subjects",
                         f"/api/v1/subjects/{S1}/score/x", "/api/v1/audit",
                         "/api/v1/audit/entries/1", "/api/v1/evaluations/1/x"):
                assert_error(api.get(path, who), 404, "not_found")
                assert_error(api.post(path, {}, who), 404, "not_found")
        for path in (f"/api/v1/records/{NEVER}", f"/api/v1/records/{rec['id'] + 1000}",
                     f"/api/v1/evaluations/{ev['id'] + 1000}", f"/api/v1/evaluations/{NEVER}",
                     f"/api/v1/traces/{NEVER}", f"/api/v1/traces/{NEVER}/verify",
                     f"/api/v1/traces/{audit_head(ctx) + 1}", "/api/v1/traces/1",
                     f"/api/v1/traces/{rec['audit_position']}/verify",
                     f"/api/v1/subjects/{S4}",                   # never registered
                     "/api/v1/models/nope@1", "/api/v1/models/keqiao-2025@99",
                     "/api/v1/models/keqiao-2025", "/api/v1/models/@1"):
            assert_error(api.get(path, "auditor"), 404, "not_found")
        for bad in ("0", "-1", "9223372036854775808", "1.0", "abc", "%201", "1e3", "0x1",
                    "+1", "١"):  # an Arabic-Indic digit one
            for path in (f"/api/v1/records/{bad}", f"/api/v1/evaluations/{bad}",
                         f"/api/v1/traces/{bad}", f"/api/v1/traces/{bad}/verify"):
                assert_error(api.get(path, "auditor"), 404, "not_found")
            assert_error(api.post(f"/api/v1/records/{bad}/revocation", revocation_body(),
                                  "regulator"), 404, "not_found")
            assert_error(api.post(f"/api/v1/records/{bad}/repair", repair_body("2026-05-01"),
                                  "regulator"), 404, "not_found")
        for path, body in ((f"/api/v1/records/{NEVER}/revocation", revocation_body()),
                           (f"/api/v1/records/{NEVER}/repair", repair_body("2026-05-01"))):
            assert_error(api.post(path, body, "regulator"), 404, "not_found")
        # an unknown model is a 404, and a refused score logs nothing
        for q in ("sector=housing&model=nope@1", "sector=housing&model=keqiao-2025@99",
                  "sector=housing&model=keqiao-2025",
                  "sector=housing&model=keqiao-agency-2025@1"):  # a definition of another kind
            assert_error(api.get(score_path(S1, q), "auditor"), 404, "not_found")
    assert api.get(f"/api/v1/traces/{s['trace_id']}", "auditor").status_code == 200


def test_method_not_allowed(api, ctx):
    rec = api.create_record()
    with writes_nothing(ctx):
        for who in (None, "regulator", "auditor", "garbage-token"):
            for method, path in (
                ("DELETE", f"/api/v1/records/{rec['id']}"),
                ("PUT", f"/api/v1/records/{rec['id']}"),
                ("PATCH", f"/api/v1/records/{rec['id']}"),
                ("PUT", "/api/v1/records"),
                ("DELETE", "/api/v1/records"),
                ("GET", f"/api/v1/records/{rec['id']}/revocation"),
                ("GET", f"/api/v1/records/{rec['id']}/repair"),
                ("GET", "/api/v1/evaluations"),
                ("POST", "/api/v1/health"),
                ("POST", f"/api/v1/subjects/{S1}/score"),
                ("DELETE", "/api/v1/audit/entries"),
                ("POST", "/api/v1/traces/1"),
            ):
                r = api.request(method, path, who, data=b"{}", content_type="application/json")
                assert_error(r, 405, "method_not_allowed")
                assert r.headers.get("Allow"), (method, path)
                assert method not in r.headers["Allow"]
            # HEAD on the score route would log a trace: 405, without a body
            r = api.request("HEAD", score_path(), who)
            assert r.status_code == 405
    assert api.get(f"/api/v1/records/{rec['id']}", "auditor").status_code == 200


# ---- 409 --------------------------------------------------------------------------------

def test_state_conflicts(api, ctx):
    rec = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    with writes_nothing(ctx):
        # the same (uscc, code, document_no), also written differently
        got = assert_error(api.post("/api/v1/records", record_body(
            code="SITE-PM-ABSENT", decided_on="2026-03-01"), "regulator"), 409,
            "duplicate_record", allow_extra=True)
        assert got.get("record_id", rec["id"]) == rec["id"]
        assert_error(api.post("/api/v1/records", record_body(
            uscc=" " + S1.lower(), code="SITE-PM-ABSENT", decided_on="2026-02-01",
            document_no="  " + rec["document_no"], subject_name="另一名称"), "regulator2"),
            409, "duplicate_record", allow_extra=True)
        # a duplicate in another sector by that sector's regulator is still a duplicate
        assert_error(api.post("/api/v1/records", record_body(
            code="SITE-PM-ABSENT", decided_on="2026-03-01", sector="transport"), "transport"),
            409, "duplicate_record", allow_extra=True)

    r = api.post(f"/api/v1/records/{rec['id']}/repair", repair_body("2026-04-01"), "regulator")
    assert r.status_code == 200, r.get_data(as_text=True)
    with writes_nothing(ctx):
        for day in ("2026-04-01", "2026-05-01"):
            assert_error(api.post(f"/api/v1/records/{rec['id']}/repair", repair_body(day),
                                  "regulator"), 409, "already_repaired")
    r = api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(), "regulator")
    assert r.status_code == 200, r.get_data(as_text=True)
    with writes_nothing(ctx):
        assert_error(api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(),
                              "regulator2"), 409, "already_revoked")
        assert_error(api.post(f"/api/v1/records/{rec['id']}/revocation", revocation_body(
            document_no="另一文号"), "regulator"), 409, "already_revoked")
        # revoked comes before repaired
        assert_error(api.post(f"/api/v1/records/{rec['id']}/repair", repair_body("2026-04-02"),
                              "regulator"), 409, "already_revoked")


def test_idempotency_errors(api, ctx):
    key = {"Idempotency-Key": "K-0001"}
    first = api.post("/api/v1/records", record_body(), "regulator", headers=key)
    assert first.status_code == 201
    with writes_nothing(ctx):
        for body in (record_body(document_no="other"), record_body(note="x"),
                     record_body(colour="red"),                      # invalid: replay first
                     record_body(uscc=S1_BAD_CHECK), record_body(sector="transport"), {}):
            assert_error(api.post("/api/v1/records", body, "regulator", headers=key), 409,
                         "idempotency_key_reused")
        # the same JSON value replays (not duplicate_record) ...
        again = api.post("/api/v1/records", record_body(), "regulator", headers=key)
        assert again.status_code == 201 and again.data == first.data
        # ... also when the retry names the route with a trailing slash, which answers
        # like the route itself (a review found it a second write: duplicate_record)
        again = api.post("/api/v1/records/", record_body(), "regulator", headers=key)
        assert again.status_code == 201 and again.data == first.data
        # ... but malformed JSON and the wrong media type are refused before the replay
        assert_error(raw(api, "/api/v1/records", b"{", headers=key), 400, "malformed_json")
        assert_error(raw(api, "/api/v1/records", json.dumps(record_body()), headers=key,
                         content_type="text/plain"), 415, "unsupported_media_type")
        # a key is 1–200 printable ASCII characters
        for bad in ("", "x" * 201, "clé", "tab\there", "键", "\x7f"):
            got = assert_error(api.post("/api/v1/records", record_body(document_no="N-1"),
                                        "regulator", headers={"Idempotency-Key": bad}),
                               400, "validation_error")
            assert set(got["errors"]) == {"Idempotency-Key"}, got

    ev_key = {"Idempotency-Key": "EV-0001"}
    created = api.post("/api/v1/evaluations", evaluation_body(), "evaluator", headers=ev_key)
    assert created.status_code == 201
    with writes_nothing(ctx):
        # a retry to "/evaluations/" is the same request: not a second bid-opening snapshot
        again = api.post("/api/v1/evaluations/", evaluation_body(), "evaluator",
                         headers=ev_key)
        assert again.status_code == 201 and again.data == created.data
        for body in (evaluation_body(as_of="2026-05-01"),
                     evaluation_body(bidders=[{"uscc": S1_BAD_CHECK}]),
                     evaluation_body(bidders=[{"uscc": S1}, {"uscc": S1}])):
            assert_error(api.post("/api/v1/evaluations", body, "evaluator", headers=ev_key),
                         409, "idempotency_key_reused")


def _escaped(body: dict) -> bytes:
    """``body`` as JSON text with every non-ASCII character escaped: a lone surrogate
    (``"\\ud800"``) as a client can send it."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def test_a_reused_key_answers_before_text_no_field_can_store(api, ctx):
    """U+0000 or an unpaired surrogate in a body is a field problem (step 8 of API.md §1),
    so an Idempotency-Key seen before answers first (step 7): its replay of the same body
    cannot happen (that body was never accepted), a different body is 409. It used to be
    400 whatever the key. Without a remembered key, the 400 names the field."""
    key = {"Idempotency-Key": "NUL-1"}
    assert api.post("/api/v1/records", record_body(), "regulator", headers=key) \
        .status_code == 201
    ev_key = {"Idempotency-Key": "NUL-EV-1"}
    assert api.post("/api/v1/evaluations", evaluation_body(), "evaluator",
                    headers=ev_key).status_code == 201
    with writes_nothing(ctx):
        for bad, escaped in (("a\x00b", "a\\u0000b"), ("工程\ud800", "工程\\ud800")):
            got = assert_error(raw(api, "/api/v1/records", _escaped(record_body(note=bad)),
                                   headers=key), 409, "idempotency_key_reused")
            assert got["errors"] == {}
            assert_error(raw(api, "/api/v1/records", _escaped({"note\x00": bad}),
                             headers=key), 409, "idempotency_key_reused")
            assert_error(raw(api, "/api/v1/evaluations", _escaped(evaluation_body(
                tender={"code": "KQ-1", "name": bad})), "evaluator", headers=ev_key),
                409, "idempotency_key_reused")
            # a key never used, or none: the 400 names where the text sits
            for headers in ({"Idempotency-Key": "NUL-NEW"}, None):
                got = assert_error(raw(api, "/api/v1/records", _escaped(record_body(
                    note=bad)), headers=headers), 400, "validation_error")
                assert set(got["errors"]) == {"note"}, got
            got = assert_error(raw(api, "/api/v1/evaluations", _escaped(evaluation_body(
                bidders=[{"uscc": S1}, {"consortium": [S2, bad]}])), "evaluator"),
                400, "validation_error")
            assert set(got["errors"]) == {"bidders.1.consortium.1"}, got
            # a key is named as JSON escapes it: its own text cannot be written back
            got = assert_error(raw(api, "/api/v1/records", _escaped({**record_body(),
                                                                    "x" + bad: 1})),
                               400, "validation_error")
            assert set(got["errors"]) == {"x" + escaped}, got


def test_a_key_twice_in_one_object_is_malformed_json(api, ctx):
    """``{"note": "a", "note": "b"}`` was read as its last value. A regulator's record must
    not depend on which duplicate a parser keeps (RFC 8259 §4: receivers differ), so such
    a body is 400 malformed_json — step 6, before an Idempotency-Key's replay (7)."""
    key = {"Idempotency-Key": "DUP-1"}
    assert api.post("/api/v1/records", record_body(), "regulator", headers=key) \
        .status_code == 201
    text = json.dumps(record_body())
    twice = text[:-1] + ', "document_no": "另一文号"}'
    nested = json.dumps(evaluation_body()).replace('"code": ', '"code": "A", "code": ', 1)
    with writes_nothing(ctx):
        for path, data, who, headers in (
                ("/api/v1/records", twice, "regulator", key),
                ("/api/v1/records", twice, "regulator", None),
                ("/api/v1/evaluations", nested, "evaluator", None)):
            got = assert_error(raw(api, path, data, who, headers=headers), 400,
                               "malformed_json")
            assert "appears twice" in got["message"], got


# ---- 413 / 415 --------------------------------------------------------------------------

def _padded(body: dict, size: int) -> bytes:
    """``body`` as JSON, padded with trailing whitespace to exactly ``size`` bytes."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert len(data) <= size
    return data + b" " * (size - len(data))


def test_payload_too_large(api, ctx):
    rec = api.create_record()
    big_record = _padded(record_body(document_no="BIG"), MIB + 1)
    with writes_nothing(ctx):
        for path, who, data in (
            ("/api/v1/records", "regulator", big_record),
            ("/api/v1/records", "regulator", _padded(record_body(), 2 * MIB)),
            (f"/api/v1/records/{rec['id']}/revocation", "regulator",
             _padded(revocation_body(), MIB + 1)),
            (f"/api/v1/records/{rec['id']}/repair", "regulator",
             _padded(repair_body("2026-05-01"), MIB + 1)),
            ("/api/v1/evaluations", "evaluator", _padded(evaluation_body(), MIB + 1)),
            # the body's content does not matter: 413 comes before 415 and 400
            ("/api/v1/records", "regulator", b"{" * (MIB + 1)),
        ):
            r = raw(api, path, data, who)
            got = assert_error(r, 413, "payload_too_large")
            assert got["errors"] == {}
        assert_error(raw(api, "/api/v1/records", big_record, content_type="text/plain"), 413,
                     "payload_too_large")

        # a header line over 8 KiB ("Name: value")
        long_line = {"X-Padding": "a" * (KIB8 - len("X-Padding: ") + 1)}
        for method, path, who, data in (
            ("GET", "/api/v1/health", None, None),
            ("GET", "/api/v1/records", "auditor", None),
            ("GET", score_path(), "auditor", None),
            ("POST", "/api/v1/records", "regulator", json.dumps(record_body(document_no="H"))),
        ):
            r = raw(api, path, data, who, method=method, headers=long_line,
                    content_type="application/json" if data else None)
            assert_error(r, 413, "payload_too_large")
        # the request line (path and query string) counts as a header line
        assert_error(api.get("/api/v1/records?code=" + "A" * KIB8, "auditor"), 413,
                     "payload_too_large")

    # exactly at the limits is fine
    ok = raw(api, "/api/v1/records", _padded(record_body(document_no="1MiB"), MIB))
    assert ok.status_code == 201, ok.get_data(as_text=True)
    edge = {"X-Padding": "a" * (KIB8 - len("X-Padding: "))}
    assert api.get("/api/v1/health", headers=edge).status_code == 200


def test_unsupported_media_type(api, ctx):
    rec = api.create_record()
    text = json.dumps(record_body(document_no="MT-1"))
    with writes_nothing(ctx):
        for path, who in (("/api/v1/records", "regulator"),
                          (f"/api/v1/records/{rec['id']}/revocation", "regulator"),
                          (f"/api/v1/records/{rec['id']}/repair", "regulator"),
                          ("/api/v1/evaluations", "evaluator")):
            for ctype, data in (("text/plain", text),
                                ("application/x-www-form-urlencoded", "uscc=" + S1),
                                ("multipart/form-data; boundary=x", "--x--"),
                                ("application/xml", "<record/>"),
                                ("application/merge-patch+json", text),
                                ("text/json", text),
                                (None, text),                # no Content-Type at all
                                (None, None),                # and no body either
                                ("text/plain", "{"),         # 415 before malformed JSON
                                ("text/plain", b"\xff")):
                got = assert_error(raw(api, path, data, who, content_type=ctype), 415,
                                   "unsupported_media_type")
                assert got["errors"] == {}, (path, ctype)


# ---- 422 --------------------------------------------------------------------------------

def test_repair_rules(api, ctx, clock):
    ban = api.create_record(code="BID-BAN", decided_on="2026-01-01", valid_until="2026-12-31",
                            document_no="R-BAN")
    award = api.create_record(code="AWARD-CITY", decided_on="2025-02-01", document_no="R-AW")
    nosign = api.create_record(code="BID-NOSIGN", decided_on="2026-01-10", document_no="R-NS")
    old = api.create_record(code="SITE-PM-ABSENT", decided_on="2025-06-01", document_no="R-OLD")
    assert old["valid_until"] == "2025-11-30"

    def repair(rec, day):
        return api.post(f"/api/v1/records/{rec['id']}/repair", repair_body(day), "regulator")

    with writes_nothing(ctx):
        for rec in (ban, award):
            got = assert_error(repair(rec, "2026-05-01"), 422, "not_repairable")
            assert got["errors"] == {}
        # BID-NOSIGN: repair after 3 months → from 2026-04-10
        for day in ("2026-01-10", "2026-01-11", "2026-04-09", "2025-01-01"):
            assert_error(repair(nosign, day), 422, "repair_too_early",
                         earliest_repair_on="2026-04-10")
        # SITE-PM-ABSENT stopped counting on 2025-11-30
        for day in ("2025-12-01", "2026-06-01"):
            assert_error(repair(old, day), 422, "repair_after_expiry",
                         latest_repair_on="2025-11-30")
        # repaired_on ≤ today in CST: 400 before anything about the record
        for rec in (nosign, ban, old):
            got = assert_error(repair(rec, "2026-06-02"), 400, "repaired_in_future")
            assert set(got["errors"]) == {"repaired_on"}
        clock.set(datetime(2026, 6, 1, 15, 59, 59, tzinfo=timezone.utc))
        assert_error(repair(nosign, "2026-06-02"), 400, "repaired_in_future")
    clock.set(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))
    assert repair(nosign, "2026-06-02").status_code == 200
    assert repair(old, "2025-11-30").status_code == 200


def test_known_at_errors(api, ctx, clock):
    api.create_record()
    base = score_path(S1, "sector=housing&known_at=")
    now = clock()                                     # 2026-06-01T02:00:00Z
    with writes_nothing(ctx):
        for k in ("2026-06-01T02:00:01.000001Z", "2026-06-01T10:00:02%2B08:00",
                  "2026-06-02T00:00:00Z", "2099-12-31T23:59:59.999999%2B08:00",
                  "2099-12-31T15:59:59.999999Z"):
            got = assert_error(api.get(base + k, "auditor"), 422, "known_at_in_future")
            assert got["errors"] == {}
        # a date (CST) outside 2000-01-01 … 2099-12-31 is a 400, keyed by the parameter
        # (API.md §1: every date the service accepts), before it is in the future
        for k in ("1999-12-31T23:59:59.999999%2B08:00", "1999-12-31T15:59:59Z",
                  "0001-01-01T00:00:00Z", "0001-01-01T00:00:00%2B23:59",
                  "2100-01-01T00:00:00%2B08:00", "2099-12-31T16:00:00Z",
                  "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999999-23:59"):
            got = assert_error(api.get(base + k, "auditor"), 400, "validation_error")
            assert set(got["errors"]) == {"known_at"}, got
        # listed beside the query's other problems (API.md §1: every problem listed)
        for k in ("1999-12-31T15:59:59Z", "2100-01-01T00:00:00%2B08:00"):
            got = assert_error(api.get(score_path(S1, f"sector=roads&known_at={k}"),
                                       "auditor"), 400, "validation_error")
            assert set(got["errors"]) == {"known_at", "sector"}, got
        # not RFC 3339 with an offset and at most six fraction digits
        for k in ("2026-06-01T10:00:00", "2026-06-01", "2026-06-01T10:00:00.1234567Z",
                  "2026-06-01%2010:00:00Z", "yesterday", "2026-06-01T10:00:00%2B24:00",
                  "2026-06-01T25:00:00Z", "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", ""):
            got = assert_error(api.get(base + k, "auditor"), 400, "validation_error")
            assert set(got["errors"]) == {"known_at"}, (k, got)
        # a far-future known_at is never a 500, whatever the route
        for path in (base + "9999-12-31T23:59:59Z",
                     score_path(S1, "sector=housing&as_of=9999-12-31")):
            r = api.get(path, "auditor")
            assert r.status_code < 500, (path, r.get_data(as_text=True))
        # the traces' time filters are instants the service accepts too: their date in
        # CST within 2000-01-01 … 2099-12-31 (a review found them taking years 1 and 9999)
        for query in ("from=9999-12-31T23:59:59Z", "to=0001-01-01T00:00:00%2B23:59",
                      "from=9999-12-31T23:59:59.999999-23:59",
                      "from=0001-01-01T00:00:00%2B14:00", "from=1999-12-31T15:59:59Z",
                      "to=2100-01-01T00:00:00%2B08:00", "to=9999-12-31T23:59:59Z"):
            got = assert_error(api.get(f"/api/v1/traces?{query}", "auditor"), 400,
                               "validation_error")
            assert set(got["errors"]) == {query.split("=")[0]}, (query, got)
        for query in ("from=2000-01-01T00:00:00%2B08:00", "to=2099-12-31T15:59:59.999999Z"):
            r = api.get(f"/api/v1/traces?{query}", "auditor")
            assert r.status_code == 200, (query, r.get_data(as_text=True))
    # up to 1 s ahead is tolerated as clock skew
    ahead = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = api.get(base + ahead, "auditor")
    assert r.status_code == 200, r.get_data(as_text=True)


def test_query_parameter_errors(api, ctx):
    api.create_record()
    api.score(S1)
    cases = [
        # unknown parameters are refused, keyed by their name (a misspelt as_of must not
        # silently serve today's score)
        (score_path(S1, "sector=housing&asof=2026-01-01"), {"asof"}),
        (score_path(S1, "sector=housing&knownat=2026-01-01T00:00:00Z"), {"knownat"}),
        (score_path(S1, "sector=housing&Sector=water"), {"Sector"}),
        ("/api/v1/records?usc=" + S1, {"usc"}),
        ("/api/v1/audit/entries?offset=3", {"offset"}),
        ("/api/v1/traces?since=2026-01-01T00:00:00Z", {"since"}),
        (f"/api/v1/subjects/{S1}/inquiries?page=2", {"page"}),
        # bad values, keyed by the parameter
        (score_path(S1, "sector=roads"), {"sector"}),
        (score_path(S1, ""), {"sector"}),
        (score_path(S1, "sector=housing&as_of=2026-13-01"), {"as_of"}),
        (score_path(S1, "sector=housing&as_of=1999-12-31"), {"as_of"}),
        (score_path(S1, "sector=housing&as_of=2100-01-01"), {"as_of"}),
        ("/api/v1/records?sector=roads", {"sector"}),
        ("/api/v1/records?limit=0", {"limit"}),
        ("/api/v1/records?limit=501", {"limit"}),
        ("/api/v1/traces?from=yesterday", {"from"}),
        ("/api/v1/traces?to=2026-06-01T10:00:00", {"to"}),
        ("/api/v1/audit/entries?after=-1", {"after"}),
        ("/api/v1/audit/entries?limit=1.5", {"limit"}),
        # several at once: every one listed
        (score_path(S1, "sector=roads&as_of=2026-13-01&asof=x&known_at=nope"),
         {"sector", "as_of", "asof", "known_at"}),
        ("/api/v1/records?limit=0&after=x&sector=roads&colour=red",
         {"limit", "after", "sector", "colour"}),
    ]
    with writes_nothing(ctx):
        for path, expected in cases:
            got = assert_error(api.get(path, "auditor"), 400, "validation_error")
            assert fields_of(got) == expected, (path, got["errors"])


def test_a_code_filter_is_checked_like_the_code_field(api, ctx):
    """``GET /records?code=``: "invalid filter values are 400 like the fields they filter"
    (API.md §3), so a code no record can have is 400 ``unknown_code`` listing the codes,
    where it used to answer an empty page. It is a check-8 problem, before an
    enterprise's 403 for another subject (check 10, §1). A code the active model does
    not let anyone enter by hand (PERF-FAIL, created by approvals) is still a filter."""
    api.create_record()
    with writes_nothing(ctx):
        for code in ("NO-SUCH-CODE", "bid-nosign", "C" * 65, ""):
            got = assert_error(api.get("/api/v1/records?code=" + code, "auditor"), 400,
                               "unknown_code")
            assert set(got["errors"]) == {"code"} and "BID-NOSIGN" in got["message"]
        assert_error(api.get(f"/api/v1/records?code=NOPE&uscc={S2}", "enterprise"), 400,
                     "unknown_code")
        assert_error(api.get(f"/api/v1/records?code=BID-NOSIGN&uscc={S2}", "enterprise"),
                     403, "forbidden")
        for code, count in (("BID-NOSIGN", 1), ("PERF-FAIL", 0)):
            r = api.get("/api/v1/records?code=" + code, "auditor")
            assert r.status_code == 200 and len(r.get_json()["items"]) == count, code



def test_an_unknown_code_filter_is_listed_with_the_querys_other_problems(api, ctx):
    """API.md §1: validation_error "with every problem listed". An unknown ``code`` was
    found by the use case, after the query had loaded, so a query with another problem
    as well answered that one alone (and, fixed, would then answer the code)."""
    with writes_nothing(ctx):
        for query, fields in (("code=NOPE&limit=0", {"code", "limit"}),
                              ("code=NOPE&limit=5&limit=6", {"code", "limit"}),
                              ("code=NOPE&sector=roads&uscc=123", {"code", "sector", "uscc"}),
                              ("code=NOPE&colour=red", {"code", "colour"})):
            got = assert_error(api.get("/api/v1/records?" + query, "auditor"), 400,
                               "validation_error")
            assert set(got["errors"]) == fields, (query, got)
            assert "BID-NOSIGN" in got["errors"]["code"][0]
        # alone, it answers its own code, the valid codes listed
        got = assert_error(api.get("/api/v1/records?code=NOPE&limit=5", "auditor"), 400,
                           "unknown_code")
        assert set(got["errors"]) == {"code"} and "BID-NOSIGN" in got["message"]
        # a repeated code is a problem of the query string, not an unknown code
        assert_error(api.get("/api/v1/records?code=BID-NOSIGN&code=NOPE", "auditor"), 400,
                     "validation_error")


def test_u0000_in_any_path_segment_or_query_value_is_a_4xx_on_every_backend(api, ctx):
    """U+0000 in a path parameter or a query value of every GET operation the document
    lists, for every role: a 4xx, never a 500 (API.md §1), and nothing logged.
    PostgreSQL refuses to compare text with U+0000 (an error, not "no row"): tenders,
    warnings, performance evaluations, audit entries and traces answered 500 there."""
    doc = api.get("/api/v1/openapi.json").get_json()
    urls = []
    for path, item in doc["paths"].items():
        if "get" not in item:
            continue
        concrete = "/api/v1" + re.sub(r"\{[^}]+\}", "%00", path.removeprefix("/api/v1"))
        queries = [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"]
        urls += [concrete] + [f"{concrete}?{q}=%00" for q in queries]
    assert len(urls) > 40  # the document was read
    with writes_nothing(ctx):
        answers = [(who, url, api.get(url, who).status_code) for url in urls
                   for who in ("auditor", "admin", "evaluator", "regulator", "enterprise")]
    assert [a for a in answers if a[2] >= 500] == []
    assert {code for _, url, code in answers if "?" in url} <= {400, 403, 404}


# ---- 503 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("broken", ["no server", "not a database"])
def test_database_unavailable(signing_key, tmp_path, broken):
    """An app built on a database that cannot be reached, or on a SQLite file that is not
    a database, answers 503 with the error body, on /health and on an authenticated
    route (reads and writes): the database's state, never a 500."""
    from api import create_app
    (tmp_path / "junk.db").write_bytes(b"not a database, " * 512)
    url = {"no server": "postgresql://nobody@127.0.0.1:1/x",
           "not a database": f"sqlite:///{tmp_path}/junk.db"}[broken]
    app = create_app({"CREDIT_DATABASE_URL": url,
                      "TESTING": True, "CREDIT_SIGNING_KEY": signing_key})
    down = Api(app.test_client(), {"auditor": "kqc_" + "a" * 43, "regulator": "kqc_" + "b" * 43})
    assert_error(down.get("/api/v1/health"), 503, "database_unavailable")
    for who in ("auditor", "regulator", "garbage"):
        assert_error(down.get("/api/v1/records", who), 503, "database_unavailable")
        assert_error(down.get(score_path(), who), 503, "database_unavailable")
    assert_error(down.post("/api/v1/records", record_body(), "regulator"), 503,
                 "database_unavailable")
    # routing still answers first
    assert_error(down.get("/api/v1/nope", "auditor"), 404, "not_found")
    assert_error(down.request("DELETE", "/api/v1/records", "auditor"), 405,
                 "method_not_allowed")


def test_a_database_without_the_schema_is_unavailable_on_both_backends(
        signing_key, unmigrated_database_url):
    """A database that answers but was never migrated: 503 ``database_unavailable``
    on /health and on authenticated reads and writes, on both backends (on PostgreSQL
    the missing table used to be a 500)."""
    from api import create_app
    app = create_app({"CREDIT_DATABASE_URL": unmigrated_database_url,
                      "TESTING": True, "CREDIT_SIGNING_KEY": signing_key})
    down = Api(app.test_client(), {"auditor": "kqc_" + "a" * 43, "regulator": "kqc_" + "b" * 43})
    assert_error(down.get("/api/v1/health"), 503, "database_unavailable")
    for who in ("auditor", "regulator"):
        assert_error(down.get("/api/v1/records", who), 503, "database_unavailable")
        assert_error(down.get(score_path(), who), 503, "database_unavailable")
    assert_error(down.post("/api/v1/records", record_body(), "regulator"), 503,
                 "database_unavailable")


# ---- the order of checks ----------------------------------------------------------------

def test_order_route_auth_role_limits_media_json(api, ctx):
    big = _padded(record_body(), MIB + 1)
    long_line = {"X-Padding": "a" * KIB8}
    with writes_nothing(ctx):
        # 1: unknown route / wrong method, with or without a (valid or garbage) token
        for who in (None, "garbage", "evaluator", "regulator"):
            assert_error(api.get("/api/v1/nope", who), 404, "not_found")
            assert_error(raw(api, "/api/v1/nope", big, who, headers=long_line), 404,
                         "not_found")
            assert_error(api.request("DELETE", "/api/v1/records", who), 405,
                         "method_not_allowed")
            assert_error(raw(api, "/api/v1/records", big, who, method="PUT",
                             content_type="text/plain"), 405, "method_not_allowed")
        # 2: 401 before the role, the size, the media type, the JSON and the fields
        for data, ctype, headers in ((big, "application/json", None),
                                     (b"{", "text/plain", None),
                                     (b"{", "application/json", None),
                                     (b"{}", "application/json", long_line),
                                     (json.dumps(record_body(uscc="x")), "application/json",
                                      {"Idempotency-Key": "é"})):
            for who in (None, "garbage"):
                assert_error(raw(api, "/api/v1/records", data, who, content_type=ctype,
                                 headers=headers), 401, "unauthenticated")
        # 3: the role before 413 / 415 / 400
        for data, ctype, headers in ((big, "application/json", None),
                                     (b"{}", "application/json", long_line),
                                     (b"{", "text/plain", None),
                                     (b"{", "application/json", None),
                                     (json.dumps(record_body(uscc="x")), "application/json",
                                      None),
                                     (json.dumps(record_body()), "application/json",
                                      {"Idempotency-Key": ""})):
            for who in ("evaluator", "admin", "enterprise"):
                assert_error(raw(api, "/api/v1/records", data, who, content_type=ctype,
                                 headers=headers), 403, "forbidden")
            assert_error(raw(api, "/api/v1/evaluations", data, "regulator",
                             content_type=ctype, headers=headers), 403, "forbidden")
        # 4: 413 before 415 and 400
        assert_error(raw(api, "/api/v1/records", big, content_type="text/plain"), 413,
                     "payload_too_large")
        assert_error(raw(api, "/api/v1/records", b"{", content_type="text/plain",
                         headers=long_line), 413, "payload_too_large")
        # 5: 415 before malformed JSON; 6: malformed JSON before the fields
        assert_error(raw(api, "/api/v1/records", b"\xff{", content_type="text/plain"), 415,
                     "unsupported_media_type")
        assert_error(raw(api, "/api/v1/records", b'{"colour": "red",'), 400, "malformed_json")
        # query errors come after 401 / 403 / 413
        assert_error(api.get("/api/v1/audit/entries?limit=0"), 401, "unauthenticated")
        assert_error(api.get("/api/v1/audit/entries?limit=0", "evaluator"), 403, "forbidden")
        assert_error(api.get("/api/v1/audit/entries?limit=0", "auditor", headers=long_line),
                     413, "payload_too_large")
        assert_error(api.get("/api/v1/traces?asof=1&limit=x", "regulator"), 403, "forbidden")
        assert_error(api.get("/api/v1/records?limit=0"), 401, "unauthenticated")
        assert_error(api.get(score_path(S1, "sector=roads&asof=1")), 401, "unauthenticated")
        assert_error(api.get(score_path(S1, "sector=roads"), "auditor", headers=long_line),
                     413, "payload_too_large")
        assert_error(api.get("/api/v1/audit/verify?position=x"), 401, "unauthenticated")
        assert_error(api.get("/api/v1/audit/verify?position=x", "enterprise"), 403,
                     "forbidden")
        # known_at before 2000 (400) comes before an unknown model (404)
        got = assert_error(api.get(score_path(
            S1, "sector=housing&known_at=1999-01-01T00:00:00Z&model=nope@9"), "auditor"),
            400, "validation_error")
        assert set(got["errors"]) == {"known_at"}
        # a bad query before an unknown model, too
        assert_error(api.get(score_path(S1, "sector=roads&model=nope@9"), "auditor"), 400,
                     "validation_error")


def test_order_idempotency_fields_ids_sectors_states_rules(api, ctx):
    rec = api.create_record(code="SITE-PM-ABSENT", decided_on="2026-03-01")
    ban = api.create_record(code="BID-BAN", decided_on="2026-01-01", valid_until="2026-12-31",
                            document_no="O-BAN")
    key = {"Idempotency-Key": "ORDER-1"}
    assert api.post("/api/v1/records", record_body(document_no="O-1"), "regulator",
                    headers=key).status_code == 201
    with writes_nothing(ctx):
        # 7 before 8: a replayed key is answered before the body's fields are read
        assert_error(api.post("/api/v1/records", record_body(uscc="bad", sector="roads"),
                              "regulator", headers=key), 409, "idempotency_key_reused")
        # ... and before duplicate detection (11) and the sector check (10)
        r = api.post("/api/v1/records", record_body(document_no="O-1"), "regulator",
                     headers=key)
        assert r.status_code == 201
        # 8 before 9: the fields before an unknown id
        for path in (f"/api/v1/records/{NEVER}/revocation", f"/api/v1/records/{NEVER}/repair"):
            got = assert_error(api.post(path, {"colour": "red"}, "regulator"), 400,
                               "validation_error")
            assert "colour" in got["errors"]
        assert_error(api.post(f"/api/v1/records/{NEVER}/repair", repair_body("2026-06-02"),
                              "regulator"), 400, "repaired_in_future")
        # 8 before 10: the fields before the sector (check 10 needs a valid body)
        assert_error(api.post("/api/v1/records", record_body(code="NOPE", document_no="O-2"),
                              "transport"), 400, "unknown_code")
        assert_error(api.post("/api/v1/records", record_body(
            decided_on="2026-06-02", document_no="O-2"), "transport"), 400, "decided_in_future")
        # 9 before 10: an unknown record for a regulator of another sector
        for who in ("transport", "water"):
            assert_error(api.post(f"/api/v1/records/{NEVER}/revocation", revocation_body(),
                                  who), 404, "not_found")
            assert_error(api.post(f"/api/v1/records/{NEVER}/repair", repair_body("2026-05-01"),
                                  who), 404, "not_found")
        # 10 before 11: a duplicate entered for a sector the token may not write
        assert_error(api.post("/api/v1/records", record_body(
            code="SITE-PM-ABSENT", decided_on="2026-03-01"), "transport"), 403,
            "sector_forbidden")
        # 10 before 12: a rule violation on a record of another sector
        assert_error(api.post(f"/api/v1/records/{ban['id']}/repair", repair_body("2026-05-01"),
                              "transport"), 403, "sector_forbidden")
        # 12: not_repairable before repair_too_early
        assert_error(api.post(f"/api/v1/records/{ban['id']}/repair", repair_body("2026-01-01"),
                              "regulator"), 422, "not_repairable")

    for path, body in ((f"/api/v1/records/{rec['id']}/repair", repair_body("2026-04-01")),
                       (f"/api/v1/records/{ban['id']}/revocation", revocation_body())):
        assert api.post(path, body, "regulator").status_code == 200
    with writes_nothing(ctx):
        # 10 before 11: the record's sector before its state
        for who in ("transport", "water"):
            assert_error(api.post(f"/api/v1/records/{ban['id']}/revocation", revocation_body(),
                                  who), 403, "sector_forbidden")
            assert_error(api.post(f"/api/v1/records/{rec['id']}/repair",
                                  repair_body("2026-04-01"), who), 403, "sector_forbidden")
        # 11 before 12: the state before the rules
        assert_error(api.post(f"/api/v1/records/{ban['id']}/repair", repair_body("2026-05-01"),
                              "regulator"), 409, "already_revoked")          # not_repairable
        assert_error(api.post(f"/api/v1/records/{rec['id']}/repair", repair_body("2026-03-01"),
                              "regulator"), 409, "already_repaired")         # too early
        # 8 before 11: a future repair date on a repaired record
        assert_error(api.post(f"/api/v1/records/{rec['id']}/repair", repair_body("2026-06-02"),
                              "regulator"), 400, "repaired_in_future")


def test_database_unavailable_is_generic_to_the_client_and_detailed_in_the_log(
        signing_key, caplog):
    """The 503's message names no host or port; the driver's error goes to the log."""
    from api import create_app
    app = create_app({"CREDIT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x",
                      "TESTING": True, "CREDIT_SIGNING_KEY": signing_key})
    down = Api(app.test_client(), {"regulator": "kqc_" + "b" * 43})
    with caplog.at_level("WARNING", logger="credit.api"):
        resp = down.post("/api/v1/records", record_body(), "regulator")
    assert_error(resp, 503, "database_unavailable")
    assert "127.0.0.1" not in resp.get_data(as_text=True)
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)


def test_an_unknown_model_is_404_before_later_checks_of_the_score_route(api):
    """``model`` unknown → 404 (API.md §4) at check 9 of §1: before an enterprise's 403
    for another subject (check 10) and before ``known_at_in_future`` (422, check 12).
    Both used to answer first."""
    unknown = "sector=housing&model=keqiao-2025@9"
    assert_error(api.get(score_path(S1, unknown + "&known_at=2030-01-01T00:00:00%2B08:00"),
                         "evaluator"), 404, "not_found")
    assert_error(api.get(score_path(S2, unknown), "enterprise"), 404, "not_found")
    # and each of those still answers where the model is known
    assert_error(api.get(score_path(S2, "sector=housing"), "enterprise"), 403, "forbidden")
    assert_error(api.get(score_path(S1, "sector=housing&known_at=2030-01-01T00:00:00%2B08:00"),
                         "evaluator"), 422, "known_at_in_future")


def test_a_malformed_uscc_in_the_path_is_listed_beside_the_querys_problems(api, ctx):
    """"validation_error with every problem listed" (API.md §1): a malformed USCC in the
    path and a bad query parameter are both named, where the path's check used to be
    skipped once the query failed. Alone, the path's code is still ``invalid_uscc``."""
    bad = "91330603MA2D4F6E8"  # 17 characters
    with writes_nothing(ctx):
        for path, who, expected in (
                (f"/api/v1/subjects/{bad}/score?sector=roads", "evaluator", {"sector", "uscc"}),
                (f"/api/v1/subjects/{bad}/score", "evaluator", {"sector", "uscc"}),
                (f"/api/v1/subjects/{bad}/inquiries?limit=0", "auditor", {"limit", "uscc"})):
            got = assert_error(api.get(path, who), 400, "validation_error")
            assert fields_of(got) == expected, (path, got["errors"])
        assert_error(api.get(f"/api/v1/subjects/{bad}/score?sector=housing", "evaluator"),
                     400, "invalid_uscc")


# GET routes that read no query string, with a caller each may use (``None``: no token).
QUERYLESS_ROUTES = [
    ("/api/v1/health", None),
    ("/api/v1/audit/public-key", None),
    ("/api/v1/models", "evaluator"),
    ("/api/v1/models/keqiao-2025@2", "evaluator"),
    ("/api/v1/audit/checkpoint", "auditor"),
    ("/api/v1/evaluations/{evaluation}", "evaluator"),
    ("/api/v1/traces/{trace}", "auditor"),
    ("/api/v1/traces/{trace}/verify", "auditor"),
    ("/api/v1/records/{record}", "auditor"),
    (f"/api/v1/subjects/{S1}", "auditor"),
]


@pytest.mark.parametrize("route, who", QUERYLESS_ROUTES)
def test_a_route_without_parameters_refuses_an_unknown_one(api, ctx, route, who):
    """README "Choices": unknown query parameters are a 400 like unknown body fields —
    also on a route that reads none (``GET /traces/7/verify?known_at=…`` must not pass
    for a replay at another instant, ``GET /audit/checkpoint?position=3`` for a checkpoint
    of entry 3). Before, only routes with a query schema refused them; the others
    answered 200 and ignored the parameter. The 400 is check 8: 401 still comes first."""
    record = api.create_record()
    evaluation = api.evaluate().get_json()
    path = route.format(record=record["id"], evaluation=evaluation["id"],
                        trace=evaluation["results"][0]["members"][0]["trace_id"])
    assert api.get(path, who).status_code == 200
    with writes_nothing(ctx):
        got = assert_error(api.get(path + "?position=3&known_at=x", who), 400,
                           "validation_error")
    assert fields_of(got) == {"position", "known_at"}, got
    if who is not None:
        assert_error(api.get(path + "?position=3"), 401, "unauthenticated")


def test_a_path_uscc_is_listed_beside_an_unknown_parameter(api):
    """Every problem listed (API.md §1): the malformed USCC of the path too."""
    got = assert_error(api.get(f"/api/v1/subjects/{S1_BAD_CHECK}?colour=red", "auditor"),
                       400, "validation_error")
    assert fields_of(got) == {"colour", "uscc"}, got


@pytest.mark.parametrize("route, who", [("/api/v1/health", None),
                                        ("/api/v1/audit/checkpoint", "auditor"),
                                        ("/api/v1/models", "evaluator")])
def test_head_answers_the_status_get_answers_for_an_unknown_parameter(api, route, who):
    """HEAD is GET without the body (RFC 9110 §9.3.2), and a route with a query schema
    already refuses an unknown parameter on HEAD as on GET (webargs parses the query
    for either). A route that reads no query string refused it on GET only: HEAD
    answered 200 where GET answers 400."""
    assert api.get(route + "?colour=red", who).status_code == 400
    assert api.request("HEAD", "/api/v1/records?colour=red", "auditor").status_code == 400
    assert api.request("HEAD", route, who).status_code == 200
    assert api.request("HEAD", route + "?colour=red", who).status_code == 400


@pytest.mark.parametrize("path, who", [
    ("/api/v1/records/{}/revocation", "regulator"),
    ("/api/v1/records/{}/repair", "regulator"),
    ("/api/v1/records/{}/applications", "enterprise"),
    ("/api/v1/applications/{}/decision", "regulator"),
    ("/api/v1/warnings/{}/disposal", "regulator"),
    ("/api/v1/performance/{}/review", "regulator"),
])
def test_a_malformed_id_is_an_unknown_id_after_the_body(api, ctx, path, who):
    """API.md §1: 8 (400 field validation) before 9 (404 unknown id), for an id that is
    no id at all (``abc``, ``0``, past 2^63 − 1) as for one no row has; the 404 names
    the id as sent."""
    with writes_nothing(ctx):
        for raw in ("abc", "0", "9223372036854775808", str(NEVER)):
            got = assert_error(api.post(path.format(raw), {"colour": "red"}, who), 400,
                               "validation_error", allow_extra=True)
            assert "colour" in got["errors"]
        assert_error(api.post(path.format("abc"), {"colour": "red"}, None), 401,
                     "unauthenticated")
    if path.endswith("/revocation"):
        got = assert_error(api.post(path.format("abc"), revocation_body(), who), 404,
                           "not_found")
        assert "'abc'" in got["message"]
