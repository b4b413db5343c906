"""An independent, adversarial conformance review of MODEL.md (keqiao-2025) over HTTP
(create_app, SQLite and PostgreSQL) and, where HTTP cannot reach an edge, the pure engine.

Every expected figure is derived by hand from MODEL.md / API.md §4–§6 in the comments,
not copied from the golden files. The fake clock's "today" is 2026-06-01 (CST, 10:00).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

import pytest

from .conftest import (
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    Api,
    assert_error,
    record_body,
    repair_body,
    revocation_body,
)

pytestmark = pytest.mark.db

SCORE_KEYS = {"uscc", "name", "sector", "as_of", "known_at", "model", "score", "components",
              "grade", "eligible_to_bid", "bid_points", "inspection_multiplier", "measures",
              "reasons", "trace_id", "trace_sha256"}
REGULATOR = {"housing": "regulator", "transport": "transport", "water": "water"}
_docs = itertools.count(1)


def rec(api: Api, code: str, decided_on: str, sector: str = "housing", uscc: str = S1,
        **kw) -> dict:
    """Enter a record through POST /records with a fresh document number."""
    kw.setdefault("document_no", f"绍柯罚〔审〕{next(_docs)}号")
    return api.create_record(REGULATOR[sector], uscc=uscc, sector=sector, code=code,
                             decided_on=decided_on, **kw)


def score(api: Api, uscc: str = S1, sector: str = "housing", as_of: str = "2026-06-01",
          known_at: str | None = None, **kw) -> dict:
    q = {"as_of": as_of, **kw}
    if known_at is not None:
        q["known_at"] = quote(known_at, safe="")
    body = api.score(uscc, "auditor", sector, **q)
    assert set(body) == SCORE_KEYS, body.keys()
    return body


def trace(api: Api, body: dict) -> dict:
    r = api.get(f"/api/v1/traces/{body['trace_id']}", "auditor")
    assert r.status_code == 200
    return r.get_json()["payload"]


def statuses(api: Api, body: dict) -> dict[int, str]:
    return {r["id"]: r["status"] for r in trace(api, body)["records"]}


def summary(body: dict) -> tuple:
    return (body["score"], body["components"], body["grade"], body["eligible_to_bid"],
            body["bid_points"], body["inspection_multiplier"])


def comps(market: str, site: str, good: str) -> dict:
    return {"market": market, "site": site, "good": good}


def at_cst(day: str, hms: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hms}+08:00").astimezone(timezone.utc)


# ---- §3 sector factors -------------------------------------------------------------------

def test_sector_factors_minor_general_serious_good_in_every_sector(api):
    """MODEL.md §3: minor/general/good count only in their own sector; serious counts
    0.5 elsewhere.

    water SITE-PM-ABSENT (minor −4) 2026-05-01, transport SUB-ILLEGAL (general −10)
    2026-02-01, water SAFE-CONCEAL (serious −10) 2025-09-01 (valid to 2028-08-31),
    transport AWARD-NATIONAL (+5, P9) 2025-01-01.

    housing:   −10 × 0.5 = −5.00 → 95.00, C, 1.50, bid 10 × 35/45 = 7.777… → 7.78
    transport: −10 (own) −5 (other serious) +5 → 90.00, C, 10 × 30/45 = 6.67
    water:     −4 −10 → 86.00, C, 10 × 26/45 = 5.777… → 5.78
    One serious record only: no key supervision anywhere.
    """
    pm = rec(api, "SITE-PM-ABSENT", "2026-05-01", "water")
    sub = rec(api, "SUB-ILLEGAL", "2026-02-01", "transport")
    conceal = rec(api, "SAFE-CONCEAL", "2025-09-01", "water")
    rec(api, "AWARD-NATIONAL", "2025-01-01", "transport", project_code="P9")

    h = score(api, sector="housing")
    assert summary(h) == ("95.00", comps("0.00", "-5.00", "0.00"), "C", True, "7.78", "1.50")
    assert h["measures"] == []
    assert h["reasons"] == [{"kind": "record", "record_id": conceal["id"], "code": "SAFE-CONCEAL",
                             "name": "瞒报、谎报生产安全事故", "sector": "water",
                             "contribution": "-5.00", "valid_until": "2028-08-31"}]
    t = score(api, sector="transport")
    assert summary(t) == ("90.00", comps("0.00", "-15.00", "5.00"), "C", True, "6.67", "1.50")
    assert [r["record_id"] for r in t["reasons"]] == [sub["id"], conceal["id"]]
    w = score(api, sector="water")
    assert summary(w) == ("86.00", comps("0.00", "-14.00", "0.00"), "C", True, "5.78", "1.50")
    assert [(r["record_id"], r["contribution"]) for r in w["reasons"]] == \
        [(conceal["id"], "-10.00"), (pm["id"], "-4.00")]
    # The trace's factors: minor in another sector 0.00 with contribution 0.00, active.
    rows = {r["id"]: r for r in trace(api, h)["records"]}
    assert (rows[pm["id"]]["factor"], rows[pm["id"]]["contribution"], rows[pm["id"]]["status"]) \
        == ("0.00", "0.00", "active")
    assert rows[conceal["id"]]["factor"] == "0.50"


# ---- §5 bonus cap and floor --------------------------------------------------------------

def test_bonus_cap_applies_before_deductions(api):
    """MODEL.md §5: bonus = min(Σ positive, 15); deductions added afterwards.

    AWARD-NATIONAL P1, P2, P3 (+5 each, different projects) and COMMEND-EMERGENCY (+3, no
    project) = +18 → bonus 15.00; BID-NOSIGN −8 → 100 + 15 − 8 = 107.00, A, 0.50, 10.00.
    (Capping after netting, min(18 − 8, 15), would give 110.00.)
    """
    for i, day in enumerate(("2025-01-01", "2025-02-01", "2025-03-01"), 1):
        rec(api, "AWARD-NATIONAL", day, project_code=f"P{i}")
    rec(api, "COMMEND-EMERGENCY", "2025-04-01")
    rec(api, "BID-NOSIGN", "2026-01-10")
    s = score(api)
    assert summary(s) == ("107.00", comps("-8.00", "0.00", "15.00"), "A", True, "10.00", "0.50")


def test_floor_at_zero_with_measures_and_reasons_cut_at_five(api):
    """MODEL.md §5 floor, §6 measures, §8 reasons.

    housing: SAFE-ACC-MAJOR −30 2025-01-01 (to 2027-12-31, blacklist), QUAL-LEND −20
    2025-06-01 (to 2028-05-31, blacklist), SUB-TRANSFER −20 2025-03-15 (to 2028-03-14,
    blacklist), BID-COLLUDE −20 2026-02-01, BID-BRIBE −20 2025-12-01, AWARD-CITY +1.
    raw = 100 + 1 − 110 = −9 → 0.00; components market −40.00, site −70.00, good 1.00.
    blacklist until = max L1 = 2028-05-31; bid_ban the same, same basis;
    key_supervision basis all five serious records; E, 3.00, not eligible, 0.00.
    reasons: blacklist, bid_ban, MAJOR (−30), then the −20s by decided_on descending:
    COLLUDE (2026-02-01), BRIBE (2025-12-01) — cut at 5.
    """
    major = rec(api, "SAFE-ACC-MAJOR", "2025-01-01")
    lend = rec(api, "QUAL-LEND", "2025-06-01")
    transfer = rec(api, "SUB-TRANSFER", "2025-03-15")
    collude = rec(api, "BID-COLLUDE", "2026-02-01")
    bribe = rec(api, "BID-BRIBE", "2025-12-01")
    rec(api, "AWARD-CITY", "2025-01-01")
    s = score(api)
    assert summary(s) == ("0.00", comps("-40.00", "-70.00", "1.00"), "E", False, "0.00", "3.00")
    l1 = [major["id"], lend["id"], transfer["id"]]
    assert s["measures"] == [
        {"measure": "blacklist", "basis": l1, "until": "2028-05-31"},
        {"measure": "bid_ban", "basis": l1, "until": "2028-05-31"},
        {"measure": "key_supervision",
         "basis": l1 + [collude["id"], bribe["id"]], "until": None}]
    assert [r.get("measure") or r["record_id"] for r in s["reasons"]] == \
        ["blacklist", "bid_ban", major["id"], collude["id"], bribe["id"]]


# ---- §4 good-conduct de-duplication ------------------------------------------------------

def test_dedup_trimmed_project_code_blank_and_case(api):
    """MODEL.md §4: project_code stored trimmed, compared exactly; all-space = absent.

    AWARD-PROVINCIAL " P7 " 2025-05-01 and AWARD-PROVINCIAL "P7" 2025-04-01: same group
    after trimming, tie on points → earliest decided (the 2025-04-01 one) counts.
    AWARD-CITY "p7": another project (exact comparison) → +1.
    SITE-STANDARD-CITY "   " twice: absent, never de-duplicated → +1 +1.
    AWARD-NATIONAL "P7" in transport: other sector, never supersedes (factor 0 here).
    bonus 3 + 1 + 1 + 1 = 6 → 106.00, A.
    """
    later = rec(api, "AWARD-PROVINCIAL", "2025-05-01", project_code=" P7 ")
    earlier = rec(api, "AWARD-PROVINCIAL", "2025-04-01", project_code="P7")
    rec(api, "AWARD-CITY", "2025-04-01", project_code="p7")
    b1 = rec(api, "SITE-STANDARD-CITY", "2025-04-01", project_code="   ")
    b2 = rec(api, "SITE-STANDARD-CITY", "2025-04-02", project_code="   ")
    rec(api, "AWARD-NATIONAL", "2025-04-01", "transport", project_code="P7")
    assert later["project_code"] == "P7"
    s = score(api)
    assert summary(s)[:3] == ("106.00", comps("0.00", "0.00", "6.00"), "A")
    st = statuses(api, s)
    assert (st[later["id"]], st[earlier["id"]], st[b1["id"]], st[b2["id"]]) == \
        ("superseded", "active", "active", "active")


def test_dedup_best_expired_lets_the_next_one_count(api):
    """MODEL.md §4 is among *active* records: AWARD-NATIONAL P1 decided 2023-03-01 (valid
    to 2026-02-28, 36 m) and AWARD-CITY P1 decided 2025-01-01. As of 2026-02-28 the
    national award counts (+5, city superseded) → 105.00 A; as of 2026-03-01 the national
    expired, the city award counts (+1) → 101.00 B, bid 10 × 41/45 = 9.111… → 9.11."""
    nat = rec(api, "AWARD-NATIONAL", "2023-03-01", project_code="P1")
    city = rec(api, "AWARD-CITY", "2025-01-01", project_code="P1")
    assert nat["valid_until"] == "2026-02-28"
    a = score(api, as_of="2026-02-28")
    assert summary(a)[:3] + (a["bid_points"],) == ("105.00", comps("0.00", "0.00", "5.00"),
                                                   "A", "10.00")
    assert statuses(api, a)[city["id"]] == "superseded"
    b = score(api, as_of="2026-03-01")
    assert (b["score"], b["grade"], b["bid_points"]) == ("101.00", "B", "9.11")
    assert statuses(api, b) == {nat["id"]: "expired", city["id"]: "active"}


def test_dedup_ties_document_no_by_code_point(api):
    """MODEL.md §4 ties: same points, same decided_on → smallest document_no by code
    point: "Z-1" (U+005A) < "a-1" (U+0061) < "绍" (U+7ECD), whatever a database collation
    says."""
    a = rec(api, "SITE-STANDARD-PROVINCIAL", "2025-04-01", project_code="Q", document_no="a-1")
    z = rec(api, "SITE-STANDARD-PROVINCIAL", "2025-04-01", project_code="Q", document_no="Z-1")
    c = rec(api, "SITE-STANDARD-PROVINCIAL", "2025-04-01", project_code="Q", document_no="绍-1")
    s = score(api)
    assert s["score"] == "102.00"
    assert statuses(api, s) == {a["id"]: "superseded", z["id"]: "active",
                                c["id"]: "superseded"}


# ---- §2 dates: validity at month ends and leap days -----------------------------------------

@pytest.mark.parametrize("code,decided,until", [
    ("BID-NOSIGN", "2024-02-29", "2025-02-27"),       # add_months → 2025-02-28, − 1 day
    ("BID-NOSIGN", "2025-01-31", "2026-01-30"),       # → 2026-01-31 − 1
    ("SITE-PM-ABSENT", "2025-08-31", "2026-02-27"),   # 6 m → 2026-02-28 (clamped) − 1
    ("ADMIN-CRITICISM", "2025-12-31", "2026-06-29"),  # 6 m → 2026-06-30 (clamped) − 1
    ("SAFE-ACC-GENERAL", "2024-02-29", "2027-02-27"),  # 36 m → 2027-02-28 − 1
    ("AWARD-CITY", "2023-03-31", "2026-03-30"),
])
def test_default_validity_at_month_ends(api, code, decided, until):
    """MODEL.md §2: valid_until = add_months(decided_on, m) − 1 day; the record counts on
    ``until`` and not the day after (status ``expired``)."""
    r = rec(api, code, decided)
    assert (r["valid_until"], r["original_valid_until"]) == (until, until)
    last = score(api, as_of=until)
    after = score(api, as_of=(date.fromisoformat(until) + timedelta(days=1)).isoformat())
    assert statuses(api, last)[r["id"]] == "active"
    assert statuses(api, after)[r["id"]] == "expired"
    assert last["score"] != "100.00" and after["score"] == "100.00"


@pytest.mark.parametrize("decided,latest", [("2024-02-29", "2027-02-27"),
                                            ("2026-01-31", "2029-01-30"),
                                            ("2023-08-31", "2026-08-30")])
def test_explicit_bid_ban_validity_limits(api, decided, latest):
    """MODEL.md §2: decided_on ≤ valid_until ≤ add_months(decided_on, 36) − 1 day."""
    over = (date.fromisoformat(latest) + timedelta(days=1)).isoformat()
    r = api.post("/api/v1/records", record_body(code="BID-BAN", decided_on=decided,
                                                valid_until=over), "regulator")
    assert_error(r, 400, "valid_until_out_of_range", latest_valid_until=latest)
    before = (date.fromisoformat(decided) - timedelta(days=1)).isoformat()
    r = api.post("/api/v1/records", record_body(code="BID-BAN", decided_on=decided,
                                                valid_until=before), "regulator")
    assert_error(r, 400, "valid_until_out_of_range", latest_valid_until=latest)
    ok = api.create_record(code="BID-BAN", decided_on=decided, valid_until=latest)
    assert ok["valid_until"] == latest
    same_day = api.create_record(code="BID-BAN", decided_on=decided, valid_until=decided,
                                 document_no="另一文号")
    assert same_day["valid_until"] == decided


# ---- §2 repair ---------------------------------------------------------------------------

@pytest.mark.parametrize("code,decided,earliest,latest", [
    ("BID-NOSIGN", "2025-11-30", "2026-02-28", "2026-11-29"),       # 3 m at a month end
    ("SITE-PM-ABSENT", "2026-05-31", "2026-06-01", "2026-11-29"),   # 0 m: the day after; 11-30 − 1
    ("WAGE-BLACKLIST", "2024-08-31", "2025-02-28", "2027-08-30"),   # 6 m clamped
    ("SUB-TRANSFER", "2024-02-29", "2025-02-28", "2027-02-27"),     # 12 m from a leap day
    ("ADMIN-CRITICISM", "2025-11-30", "2025-12-01", "2026-05-29"),
])
def test_repair_window_edges(api, code, decided, earliest, latest):
    """MODEL.md §2: max(decided_on + 1, add_months(decided_on, repair_min_months)) ≤ R ≤
    valid_until; effective valid_until = R − 1 day. A day early → 422 repair_too_early
    with the earliest date; a day after the original end → 422 repair_after_expiry."""
    r = rec(api, code, decided)
    assert r["valid_until"] == latest
    path = f"/api/v1/records/{r['id']}/repair"
    too_early = (date.fromisoformat(earliest) - timedelta(days=1)).isoformat()
    assert_error(api.post(path, repair_body(too_early), "regulator"), 422,
                 "repair_too_early", earliest_repair_on=earliest)
    too_late = (date.fromisoformat(latest) + timedelta(days=1)).isoformat()
    if too_late <= "2026-06-01":  # else it is 400 repaired_in_future first
        assert_error(api.post(path, repair_body(too_late), "regulator"), 422,
                     "repair_after_expiry", latest_repair_on=latest)
    ok = api.post(path, repair_body(earliest), "regulator")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    body = ok.get_json()
    day_before = (date.fromisoformat(earliest) - timedelta(days=1)).isoformat()
    assert (body["status"], body["valid_until"], body["original_valid_until"],
            body["repaired_on"]) == ("repaired", day_before, latest, earliest)
    # Counts through R − 1, not on R (status repaired: R ≤ original valid_until).
    on_last = score(api, as_of=day_before)
    on_r = score(api, as_of=earliest)
    assert statuses(api, on_last)[r["id"]] == "active"
    assert statuses(api, on_r)[r["id"]] == "repaired"


def test_repair_on_the_last_valid_day(api):
    """MODEL.md §2: R = valid_until is allowed: the record then ends one day early.
    SITE-PM-ABSENT decided 2025-11-30 → valid to 2026-05-29; R = 2026-05-29 → valid to
    2026-05-28. As of 2026-05-29: status repaired (a known repair ended it and as_of ≤
    original); as of 2026-05-30: expired (after the original end)."""
    r = rec(api, "SITE-PM-ABSENT", "2025-11-30")
    body = api.post(f"/api/v1/records/{r['id']}/repair", repair_body("2026-05-29"),
                    "regulator").get_json()
    assert body["valid_until"] == "2026-05-28"
    assert statuses(api, score(api, as_of="2026-05-28"))[r["id"]] == "active"
    assert statuses(api, score(api, as_of="2026-05-29"))[r["id"]] == "repaired"
    assert statuses(api, score(api, as_of="2026-05-30"))[r["id"]] == "expired"


def test_not_repairable_codes(api):
    """MODEL.md §9: BID-BAN (—) and good conduct are not repairable: 422 not_repairable."""
    ban = rec(api, "BID-BAN", "2026-01-01", valid_until="2026-12-31")
    award = rec(api, "AWARD-CITY", "2026-01-01")
    for r in (ban, award):
        assert_error(api.post(f"/api/v1/records/{r['id']}/repair", repair_body("2026-05-01"),
                              "regulator"), 422, "not_repairable")


# ---- §2 revocation, not_yet_effective, status precedence ------------------------------------

def test_revocation_precedence_and_knowledge(api, clock):
    """MODEL.md §2 + API.md §6: as known at or after the revocation the record never
    counted on any date — status ``revoked`` even where it would be not_yet_effective or
    expired; as known before, it still counts; the earlier trace replays unchanged.

    BID-NOSIGN decided 2026-01-10 (to 2027-01-09); repaired 2026-04-10 (earliest
    2026-04-10) → valid to 2026-04-09; then revoked.
    """
    r = rec(api, "BID-NOSIGN", "2026-01-10")
    clock.advance(minutes=1)
    ok = api.post(f"/api/v1/records/{r['id']}/repair", repair_body("2026-04-10"), "regulator")
    assert ok.status_code == 200
    clock.advance(minutes=1)
    before = score(api, as_of="2026-03-01")
    assert (before["score"], before["reasons"][0]["valid_until"]) == ("92.00", "2026-04-09")
    clock.advance(minutes=1)
    rv = api.post(f"/api/v1/records/{r['id']}/revocation", revocation_body(), "regulator")
    assert rv.status_code == 200 and rv.get_json()["status"] == "revoked"
    clock.advance(minutes=1)
    for as_of in ("2025-12-31", "2026-03-01", "2026-05-01", "2027-06-01"):
        s = score(api, as_of=as_of)
        assert s["score"] == "100.00" and s["reasons"] == []
        assert statuses(api, s)[r["id"]] == "revoked"
    # As known when `before` was served: still counts.
    again = score(api, as_of="2026-03-01", known_at=before["known_at"])
    assert again["score"] == "92.00"
    v = api.get(f"/api/v1/traces/{before['trace_id']}/verify", "auditor").get_json()
    assert v["ok"] and v["replay_ok"], v


def test_not_yet_effective_before_decided_on(api):
    """API.md §6: as_of before decided_on → not_yet_effective, contribution 0.00, and it
    triggers no measure (a blacklist record decided later does not list the subject)."""
    r = rec(api, "SUB-TRANSFER", "2026-05-01")
    s = score(api, as_of="2026-04-30")
    assert summary(s) == ("100.00", comps("0.00", "0.00", "0.00"), "B", True, "8.89", "1.00")
    assert s["measures"] == [] and s["reasons"] == []
    row = trace(api, s)["records"][0]
    assert (row["id"], row["status"], row["factor"], row["contribution"]) == \
        (r["id"], "not_yet_effective", "1.00", "0.00")
    on = score(api, as_of="2026-05-01")
    assert (on["score"], on["grade"]) == ("80.00", "E")


# ---- §2 knowledge --------------------------------------------------------------------------

def test_knowledge_record_and_repair_known_later(api, clock):
    """MODEL.md §2: a record counts only when recorded at or before k; a repair counts
    only when recorded at or before k. recorded_at = the entry's `at` (API.md §6); a
    known_at exactly at it knows it, one microsecond earlier does not."""
    r = rec(api, "BID-ABANDON", "2026-01-10")  # −5, to 2027-01-09
    recorded = datetime.fromisoformat(r["recorded_at"])
    clock.advance(hours=1)
    just_before = (recorded - timedelta(microseconds=1)).isoformat()
    assert score(api, known_at=just_before)["score"] == "100.00"
    at = score(api, known_at=r["recorded_at"])
    assert at["score"] == "95.00"
    assert at["reasons"][0]["valid_until"] == "2027-01-09"
    rp = api.post(f"/api/v1/records/{r['id']}/repair", repair_body("2026-04-10"), "regulator")
    assert rp.status_code == 200
    repaired_at = rp.get_json()["events"][0]["recorded_at"]
    clock.advance(hours=1)
    # As known before the repair: counts on 2026-05-01 with its original end.
    old = score(api, as_of="2026-05-01",
                known_at=(datetime.fromisoformat(repaired_at)
                          - timedelta(microseconds=1)).isoformat())
    assert (old["score"], old["reasons"][0]["valid_until"]) == ("95.00", "2027-01-09")
    new = score(api, as_of="2026-05-01", known_at=repaired_at)
    assert (new["score"], new["reasons"]) == ("100.00", [])
    # Reasons show the effective valid_until as known at known_at.
    mid = score(api, as_of="2026-03-01")
    assert mid["reasons"][0]["valid_until"] == "2026-04-09"


# ---- §6 joint punishment ---------------------------------------------------------------------

def test_wage_blacklist_zero_points_lists_and_repair_ends_it(api, clock):
    """MODEL.md §6 L1 with a zero-point record: WAGE-BLACKLIST housing 2025-06-01 (36 m →
    to 2028-05-31). Score 100.00 but grade E (listed), not eligible, bid 0.00,
    blacklist + bid_ban until 2028-05-31 basis [it], key_supervision (grade E, one serious
    record → basis empty), multiplier 3.00; reasons: the two measures only (contribution
    0.00 is not negative).
    Repair R = 2025-12-01 (earliest: add_months(2025-06-01, 6)) → valid to 2025-11-30:
    as of 2025-11-30 still E, until 2025-11-30; as of 2025-12-01: 100.00, B, 8.89, 1.00.
    """
    w = rec(api, "WAGE-BLACKLIST", "2025-06-01")
    s = score(api)
    assert summary(s) == ("100.00", comps("0.00", "0.00", "0.00"), "E", False, "0.00", "3.00")
    assert s["measures"] == [
        {"measure": "blacklist", "basis": [w["id"]], "until": "2028-05-31"},
        {"measure": "bid_ban", "basis": [w["id"]], "until": "2028-05-31"},
        {"measure": "key_supervision", "basis": [], "until": None}]
    assert s["reasons"] == [
        {"kind": "measure", "measure": "blacklist", "basis": [w["id"]], "until": "2028-05-31"},
        {"kind": "measure", "measure": "bid_ban", "basis": [w["id"]], "until": "2028-05-31"}]
    clock.advance(minutes=1)
    assert api.post(f"/api/v1/records/{w['id']}/repair", repair_body("2025-12-01"),
                    "regulator").status_code == 200
    last = score(api, as_of="2025-11-30")
    assert last["grade"] == "E" and [m["until"] for m in last["measures"][:2]] == \
        ["2025-11-30", "2025-11-30"]
    after = score(api, as_of="2025-12-01")
    assert summary(after) == ("100.00", comps("0.00", "0.00", "0.00"), "B", True, "8.89",
                              "1.00")
    assert after["measures"] == []


def test_bid_ban_and_blacklist_until_and_basis(api):
    """MODEL.md §6: bid_ban basis = blacklist basis ∪ active BID-BAN records (ascending
    audit_position), until = latest of blacklist until and ban valid_until.

    transport BID-BAN 2026-01-01 → 2028-12-31 (the 36-month maximum), entered first;
    housing QUAL-LEND 2025-06-01 → 2028-05-31. housing as of 2026-06-01: −20 → 80.00, E;
    blacklist [lend] until 2028-05-31; bid_ban [ban, lend] until 2028-12-31;
    key_supervision: two serious (ban counts) → basis [ban, lend]."""
    ban = rec(api, "BID-BAN", "2026-01-01", "transport", valid_until="2028-12-31")
    lend = rec(api, "QUAL-LEND", "2025-06-01")
    s = score(api)
    assert summary(s) == ("80.00", comps("0.00", "-20.00", "0.00"), "E", False, "0.00", "3.00")
    assert s["measures"] == [
        {"measure": "blacklist", "basis": [lend["id"]], "until": "2028-05-31"},
        {"measure": "bid_ban", "basis": [ban["id"], lend["id"]], "until": "2028-12-31"},
        {"measure": "key_supervision", "basis": [ban["id"], lend["id"]], "until": None}]
    # Water: QUAL-LEND is other-sector serious (−10); the ban restricts every sector.
    w = score(api, sector="water")
    assert summary(w) == ("90.00", comps("0.00", "-10.00", "0.00"), "E", False, "0.00", "3.00")


def test_ban_alone_grade_by_score_not_e(api):
    """MODEL.md §6: a BID-BAN alone is not a listing: grade by the score (100.00 → B),
    not eligible, bid 0.00, bid_ban until its valid_until; one serious record and grade B
    → no key supervision; multiplier B 1.00. The day after the ban ends: eligible, 8.89."""
    ban = rec(api, "BID-BAN", "2026-01-01", valid_until="2026-06-30")
    s = score(api)
    assert summary(s) == ("100.00", comps("0.00", "0.00", "0.00"), "B", False, "0.00", "1.00")
    assert s["measures"] == [{"measure": "bid_ban", "basis": [ban["id"]], "until": "2026-06-30"}]
    assert s["reasons"] == [{"kind": "measure", "measure": "bid_ban", "basis": [ban["id"]],
                             "until": "2026-06-30"}]
    after = score(api, as_of="2026-07-01")
    assert (after["eligible_to_bid"], after["bid_points"], after["measures"]) == \
        (True, "8.89", [])


def test_pair_rule_with_a_repaired_accident(api, clock):
    """MODEL.md §6 L2 uses the *effective* valid_until: SAFE-ACC-LARGER housing
    2025-01-01 and water 2025-06-01 (151 days apart). Repair the housing one on
    2026-01-01 (earliest add_months(2025-01-01, 12)) → effective 2025-12-31.
    As of 2025-12-31: listed, housing 100 − 20 − 10 = 70.00, E; blacklist and bid_ban
    until min(2025-12-31, 2028-05-31) = 2025-12-31. As of 2026-01-01: one accident left
    (water, −10 in housing) → 90.00, C, 1.50, 6.67, no measure."""
    a = rec(api, "SAFE-ACC-LARGER", "2025-01-01")
    b = rec(api, "SAFE-ACC-LARGER", "2025-06-01", "water")
    clock.advance(minutes=1)
    assert api.post(f"/api/v1/records/{a['id']}/repair", repair_body("2026-01-01"),
                    "regulator").status_code == 200
    s = score(api, as_of="2025-12-31")
    assert (s["score"], s["grade"]) == ("70.00", "E")
    assert s["measures"][:2] == [
        {"measure": "blacklist", "basis": [a["id"], b["id"]], "until": "2025-12-31"},
        {"measure": "bid_ban", "basis": [a["id"], b["id"]], "until": "2025-12-31"}]
    t = score(api, as_of="2026-01-01")
    assert summary(t) == ("90.00", comps("0.00", "-10.00", "0.00"), "C", True, "6.67", "1.50")
    assert t["measures"] == []


def test_key_supervision_two_serious_other_sector_grade_a(api):
    """MODEL.md §6: two active serious records in *any* sector put an A-grade subject
    under key supervision: multiplier max(0.50, 2.00) = 2.00, basis both.
    transport SAFE-ACC-GENERAL 2025-09-01 (−10 × 0.5) and water BID-FRAUD 2025-06-01
    (−15 × 0.5) and housing AWARD-NATIONAL ×3 (P1–P3, +15): 100 + 15 − 5 − 7.5 = 102.50,
    B (not A), bid 10 × 42.5/45 = 9.444… → 9.44, multiplier max(1.00, 2.00) = 2.00."""
    g = rec(api, "SAFE-ACC-GENERAL", "2025-09-01", "transport")
    f = rec(api, "BID-FRAUD", "2025-06-01", "water")
    for i in (1, 2, 3):
        rec(api, "AWARD-NATIONAL", "2025-01-0%d" % i, project_code=f"P{i}")
    s = score(api)
    assert summary(s) == ("102.50", comps("-7.50", "-5.00", "15.00"), "B", True, "9.44",
                          "2.00")
    assert s["measures"] == [{"measure": "key_supervision", "basis": [g["id"], f["id"]],
                              "until": None}]
    # reasons: −7.50 (fraud) before −5.00 (accident).
    assert [r["record_id"] for r in s["reasons"]] == [f["id"], g["id"]]


def test_grade_band_edges(api):
    """MODEL.md §6 bands. S1: SUB-ILLEGAL −10 + SITE-QUALITY −5 → 85.00 → C (≥ 85.00),
    bid 10 × 25/45 = 5.555… → 5.56, multiplier 1.50.
    S2: housing SUB-ILLEGAL −10, SITE-QUALITY −5, transport BID-FRAUD −15 × 0.5 = −7.50
    → 77.50 → D, key supervision (grade D; one serious → basis []), multiplier 2.00,
    bid 10 × 17.5/45 = 3.888… → 3.89.
    S4: AWARD-NATIONAL → 105.00 → A (≥ 105.00), 10.00, 0.50."""
    rec(api, "SUB-ILLEGAL", "2026-01-01")
    rec(api, "SITE-QUALITY", "2026-01-01")
    c = score(api)
    assert summary(c) == ("85.00", comps("0.00", "-15.00", "0.00"), "C", True, "5.56", "1.50")
    rec(api, "SUB-ILLEGAL", "2026-01-01", uscc=S2)
    rec(api, "SITE-QUALITY", "2026-01-01", uscc=S2)
    rec(api, "BID-FRAUD", "2026-01-01", "transport", uscc=S2)
    d = score(api, S2)
    assert summary(d) == ("77.50", comps("-7.50", "-15.00", "0.00"), "D", True, "3.89", "2.00")
    assert d["measures"] == [{"measure": "key_supervision", "basis": [], "until": None}]
    rec(api, "AWARD-NATIONAL", "2026-01-01", uscc=S4)
    a = score(api, S4)
    assert summary(a) == ("105.00", comps("0.00", "0.00", "5.00"), "A", True, "10.00", "0.50")


# ---- §7 bid points ---------------------------------------------------------------------------

@pytest.mark.parametrize("score_,points", [
    ("100.00", "8.89"), ("85.00", "5.56"), ("115.00", "10.00"), ("50.00", "0.00"),
    ("60.00", "0.00"), ("105.00", "10.00"), ("104.50", "9.89"), ("92.50", "7.22"),
    ("97.50", "8.33"), ("62.50", "0.56"), ("60.50", "0.11"), ("0.00", "0.00"),
    ("60.01", "0.00"), ("60.03", "0.01"), ("104.99", "10.00"), ("104.97", "9.99"),
])
def test_bid_points_exact(score_, points):
    """MODEL.md §7: 10 × clamp((s − 60)/45, 0, 1), exact, half-up. (s − 60) × 2/9:
    104.50 → 9.888… → 9.89; 60.03 → 0.00666… → 0.01; 104.97 → 9.9933… → 9.99."""
    from credit.domain.engine import bid_points
    model = _model()
    assert str(bid_points(model, Decimal(score_), True)) == points
    assert str(bid_points(model, Decimal(score_), False)) == "0.00"


@pytest.mark.parametrize("weight,floor_,full,score_,points", [
    # 10 × 0.10/40 = 0.025 exactly → half-up 0.03 (banker's would give 0.02)
    ("10.00", "60.00", "100.00", "60.10", "0.03"),
    # 10 × 0.30/40 = 0.075 → 0.08
    ("10.00", "60.00", "100.00", "60.30", "0.08"),
    # 10 × 1.70/40 = 0.425 → 0.43
    ("10.00", "60.00", "100.00", "61.70", "0.43"),
    # 5 × 0.01/2 = 0.025 → 0.03
    ("5.00", "60.00", "62.00", "60.01", "0.03"),
])
def test_bid_points_half_up_at_exact_half_cent(weight, floor_, full, score_, points):
    """MODEL.md §7 "rounded half-up": with the keqiao parameters (s − 60) × 2/9 never
    lands on an exact half cent (it would need 4c = 9(2n + 1)), so the rounding rule is
    checked with other parameters on the same function."""
    from credit.domain.engine import _bid_points
    assert str(_bid_points(Decimal(weight), Decimal(floor_), Decimal(full),
                           Decimal(score_))) == points


def _model():
    from pathlib import Path

    from scoring_models.loader import load_file
    return load_file(Path(__file__).parents[2] / "scoring_models" / "definitions"
                     / "keqiao-2025@1.toml")


# ---- §8 reasons ordering ---------------------------------------------------------------------

def test_reasons_order_contribution_then_date_desc_then_document_then_code(api):
    """MODEL.md §8: contribution ascending, decided_on descending, document_no ascending
    by code point, code, audit_position.

    housing: BID-NOSIGN −8 2026-01-10 doc "B"; FALSE-INFO −8 2026-01-10 doc "A";
    BID-NOSIGN −8 2026-02-10 doc "Z"; transport SAFE-ACC-GENERAL −10 × 0.5 = −5
    2026-01-10; housing SUB-ILLEGAL −10 2025-10-01; BID-ABANDON −5 2026-01-10 doc "A".
    Order: SUB-ILLEGAL (−10); then −8s: 02-10 "Z" first (later date), then 01-10 "A"
    (FALSE-INFO), then "B"; then −5s on 2026-01-10: BID-ABANDON doc "A" vs
    SAFE-ACC-GENERAL doc … — cut at 5 anyway: the fifth is the −5 with the smaller
    document_no."""
    nosign_b = rec(api, "BID-NOSIGN", "2026-01-10", document_no="B")
    false_a = rec(api, "FALSE-INFO", "2026-01-10", document_no="A")
    nosign_z = rec(api, "BID-NOSIGN", "2026-02-10", document_no="Z")
    acc = rec(api, "SAFE-ACC-GENERAL", "2026-01-10", "transport", document_no="C")
    sub = rec(api, "SUB-ILLEGAL", "2025-10-01")
    abandon = rec(api, "BID-ABANDON", "2026-01-10", document_no="A")
    s = score(api)
    assert s["score"] == "56.00"
    assert [r["record_id"] for r in s["reasons"]] == \
        [sub["id"], nosign_z["id"], false_a["id"], nosign_b["id"], abandon["id"]]
    assert acc["id"] not in [r["record_id"] for r in s["reasons"]]


def test_reasons_same_contribution_date_and_document_by_code(api):
    """MODEL.md §8: same contribution, date and document_no → by code, by code point:
    "BID-ABANDON" < "BID-COMPLAINT" < "SITE-QUALITY" (all −5, 2026-01-10, doc
    "同一文号"), entered in reverse order."""
    q = rec(api, "SITE-QUALITY", "2026-01-10", document_no="同一文号")
    c = rec(api, "BID-COMPLAINT", "2026-01-10", document_no="同一文号")
    a = rec(api, "BID-ABANDON", "2026-01-10", document_no="同一文号")
    s = score(api)
    assert [r["record_id"] for r in s["reasons"]] == [a["id"], c["id"], q["id"]]


# ---- §7 consortium ---------------------------------------------------------------------------

def test_consortium_weakest_member(api):
    """MODEL.md §7: lowest score, worst grade, eligible only if every member is, bid
    points from the consortium's score.

    S2: WAGE-BLACKLIST → 100.00, E, not eligible. S3: BID-NOSIGN → 92.00 C.
    consortium [S2, S3] → 92.00, E, not eligible, 0.00.
    S4: AWARD-NATIONAL → 105.00 A. S5: SAFE-ACC-GENERAL + SAFE-CONCEAL (housing) → 80.00,
    D (key supervision). consortium [S4, S5] → 80.00, D, eligible, 10 × 20/45 = 4.444 →
    4.44.
    S6 alone: never seen → 100.00, B, 8.89.
    """
    rec(api, "WAGE-BLACKLIST", "2025-06-01", uscc=S2)
    rec(api, "BID-NOSIGN", "2026-01-10", uscc=S3)
    rec(api, "AWARD-NATIONAL", "2025-06-01", uscc=S4)
    rec(api, "SAFE-ACC-GENERAL", "2025-06-01", uscc=S5)
    rec(api, "SAFE-CONCEAL", "2025-06-01", uscc=S5)
    r = api.evaluate(as_of="2026-06-01",
                     bidders=[{"consortium": [S2, S3]}, {"consortium": [S4, S5]},
                              {"uscc": S6}]).get_json()
    got = [(x["score"], x["grade"], x["eligible_to_bid"], x["bid_points"])
           for x in r["results"]]
    assert got == [("92.00", "E", False, "0.00"), ("80.00", "D", True, "4.44"),
                   ("100.00", "B", True, "8.89")]
    m = r["results"][1]["members"]
    assert [(x["score"], x["grade"], x["inspection_multiplier"]) for x in m] == \
        [("105.00", "A", "0.50"), ("80.00", "D", "2.00")]
    assert [x["uscc"] for x in r["results"][0]["measures"]] == [S2, S2, S2]


# ---- CST "today" -----------------------------------------------------------------------------

def test_cst_day_boundary_for_today(api, clock):
    """API.md §3/§4: "today" is the date in China Standard Time. At 2026-06-01T15:59:59.999999Z
    (CST 23:59:59.999999 on 06-01) a decision dated 06-02 is in the future and as_of
    defaults to 2026-06-01; at 16:00:00Z (CST 00:00 on 06-02) it is accepted, as_of
    defaults to 2026-06-02 and the record counts today."""
    clock.set(datetime(2026, 6, 1, 15, 59, 59, 999999, tzinfo=timezone.utc))
    assert_error(api.post("/api/v1/records", record_body(decided_on="2026-06-02"),
                          "regulator"), 400, "decided_in_future")
    assert api.score(S1, "auditor", "housing")["as_of"] == "2026-06-01"
    clock.set(datetime(2026, 6, 1, 16, 0, tzinfo=timezone.utc))
    r = api.create_record(decided_on="2026-06-02")
    assert r["counts_today"] is True
    s = api.score(S1, "auditor", "housing")
    assert (s["as_of"], s["score"]) == ("2026-06-02", "92.00")
    # A SITE-PM-ABSENT that ended 2026-06-01 no longer counts today.
    pm = api.create_record(code="SITE-PM-ABSENT", decided_on="2025-12-02",
                           document_no="PM-1")
    assert (pm["valid_until"], pm["counts_today"]) == ("2026-06-01", False)


# ---- the trace's arithmetic --------------------------------------------------------------------

def test_trace_steps_and_formatting(api):
    """MODEL.md intro: decimals as strings with two decimals, no "-0.00"; API.md §6 the
    trace's records carry factor and contribution. A good record in another sector
    contributes "0.00" (never "-0.00"), a serious one −10 × 0.5 = "-5.00"."""
    rec(api, "AWARD-NATIONAL", "2025-06-01", "water", project_code="W")
    rec(api, "SAFE-CONCEAL", "2025-06-01", "water")
    s = score(api)
    assert s["components"] == comps("0.00", "-5.00", "0.00")
    rows = trace(api, s)["records"]
    assert [(r["code"], r["factor"], r["contribution"]) for r in rows] == \
        [("AWARD-NATIONAL", "0.00", "0.00"), ("SAFE-CONCEAL", "0.50", "-5.00")]


def test_good_offsetting_components_never_negative_zero(api):
    """MODEL.md §5 floor without listing: six BID-COLLUDE (−120) → 0.00, D (not E: no
    listing flag), eligible but 0.00 bid points (clamped), key supervision → 2.00; the
    zero bonus written "0.00"."""
    for i in range(6):
        rec(api, "BID-COLLUDE", f"2025-0{i + 1}-01")
    s = score(api)
    assert (s["score"], s["components"]["good"], s["bid_points"]) == ("0.00", "0.00", "0.00")
    assert s["grade"] == "D" and s["inspection_multiplier"] == "2.00"


# ---- ambiguities pinned (what the service chose) ------------------------------------------------

def test_consortium_reasons_are_every_members_not_cut_at_five(api, clock):
    """Ambiguity: MODEL.md §8 "Each result lists at most 5 reasons" against API.md §5
    "`measures` and `reasons` (the members', each entry with its `uscc`)". The service
    concatenates the members' own lists (each at most 5) in member order: a consortium of
    two members with three harmful records each lists six reasons. The frozen document
    reads back unchanged after a later revocation (API.md §5)."""
    for u in (S2, S3):
        for code in ("BID-NOSIGN", "BID-ABANDON", "SITE-QUALITY"):
            rec(api, code, "2026-01-10", uscc=u)
    r = api.evaluate(as_of="2026-06-01", bidders=[{"consortium": [S2, S3]}]).get_json()
    res = r["results"][0]
    # S2 and S3: 100 − 8 − 5 − 5 = 82.00 → D; key supervision; bid 10 × 22/45 = 4.89.
    assert (res["score"], res["grade"], res["eligible_to_bid"], res["bid_points"]) == \
        ("82.00", "D", True, "4.89")
    assert [x["uscc"] for x in res["reasons"]] == [S2] * 3 + [S3] * 3
    assert [(x["uscc"], x["measure"]) for x in res["measures"]] == \
        [(S2, "key_supervision"), (S3, "key_supervision")]
    clock.advance(minutes=1)
    first = res["reasons"][0]["record_id"]
    assert api.post(f"/api/v1/records/{first}/revocation", revocation_body(),
                    "regulator").status_code == 200
    again = api.get(f"/api/v1/evaluations/{r['id']}", "evaluator").get_json()
    assert again == r


def test_superseded_good_record_counts_today(api):
    """Ambiguity: API.md §3 `counts_today` ("whether it counts today") for a good record
    that is superseded today: the service says true (it is an active record; §4 makes
    its contribution 0.00, the trace says `superseded`)."""
    best = rec(api, "AWARD-NATIONAL", "2025-01-01", project_code="P")
    worse = rec(api, "AWARD-CITY", "2025-02-01", project_code="P")
    got = api.get(f"/api/v1/records/{worse['id']}", "auditor").get_json()
    assert got["counts_today"] is True
    assert statuses(api, score(api)) == {best["id"]: "active", worse["id"]: "superseded"}


def test_pair_rule_chain_of_three_accidents(api):
    """MODEL.md §6 L2 over a chain: SAFE-ACC-LARGER A 2024-01-01 (to 2026-12-31),
    B 2024-12-31 (365 days after A, 2024 being leap; to 2027-12-30), C 2025-12-31 (365
    days after B; to 2028-12-30). Pairs A–B and B–C qualify, A–C (730 days) does not.
    until = max(min(A, B), min(B, C)) = max(2026-12-31, 2027-12-30) = 2027-12-30; basis
    all three; housing (A, C housing, B water): −20 − 10 − 20 = 50.00, E, 3.00; key
    supervision basis all three (three serious records)."""
    a = rec(api, "SAFE-ACC-LARGER", "2024-01-01")
    b = rec(api, "SAFE-ACC-LARGER", "2024-12-31", "water")
    c = rec(api, "SAFE-ACC-LARGER", "2025-12-31")
    s = score(api)
    assert summary(s) == ("50.00", comps("0.00", "-50.00", "0.00"), "E", False, "0.00", "3.00")
    ids = [a["id"], b["id"], c["id"]]
    assert s["measures"] == [
        {"measure": "blacklist", "basis": ids, "until": "2027-12-30"},
        {"measure": "bid_ban", "basis": ids, "until": "2027-12-30"},
        {"measure": "key_supervision", "basis": ids, "until": None}]
    # On 2027-01-01 A has ended: only B–C qualifies, until min(B, C) = 2027-12-30.
    later = score(api, as_of="2027-01-01")
    assert later["measures"][0] == {"measure": "blacklist", "basis": [b["id"], c["id"]],
                                    "until": "2027-12-30"}


def test_expired_ban_is_not_in_the_bid_ban_basis(api):
    """MODEL.md §6: bid_ban's basis and until take only *active* BID-BAN records.
    BID-BAN 2025-01-01 → 2025-12-31 (expired on 2026-06-01); SUB-TRANSFER 2025-06-01 →
    2028-05-31. bid_ban basis [transfer], until 2028-05-31; one active serious record, so
    key_supervision (grade E) has basis []."""
    ban = rec(api, "BID-BAN", "2025-01-01", valid_until="2025-12-31")
    t = rec(api, "SUB-TRANSFER", "2025-06-01")
    s = score(api)
    assert s["measures"] == [
        {"measure": "blacklist", "basis": [t["id"]], "until": "2028-05-31"},
        {"measure": "bid_ban", "basis": [t["id"]], "until": "2028-05-31"},
        {"measure": "key_supervision", "basis": [], "until": None}]
    assert statuses(api, s)[ban["id"]] == "expired"


def test_known_at_in_other_offsets_compares_at_microseconds(api, clock):
    """API.md §1: instants in any offset, compared at microsecond precision. The record's
    recorded_at written in UTC (Z) and in −05:00 knows it; one microsecond earlier does
    not; the response's known_at is the same instant written in +08:00."""
    r = rec(api, "BID-ABANDON", "2026-01-10")
    clock.advance(minutes=5)
    at = datetime.fromisoformat(r["recorded_at"])
    utc = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ny = at.astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="microseconds")
    for text in (utc, ny):
        s = score(api, known_at=text)
        assert (s["score"], s["known_at"]) == ("95.00", r["recorded_at"])
    early = (at - timedelta(microseconds=1)).astimezone(timezone.utc)
    s = score(api, known_at=early.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert (s["score"], s["name"]) == ("100.00", None)
