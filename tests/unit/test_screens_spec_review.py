"""An independent, spec-first review of the 13 collusion screens (WARNINGS.md §4) and the
normalisation rules they rely on (WARNINGS.md §2).

Every case here was derived by hand from the spec text alone, before the implementation
or its golden cases were read; the arithmetic is in the comments. The tests go through
the public API only: ``credit.domain.screens.run(definition, tender, snapshot)`` with the
value types of ``credit.domain.tenders`` and the shipped definition.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest

from credit.domain import identifiers as ids
from credit.domain.screens import run
from credit.domain.tenders import (
    Bid,
    Document,
    Party,
    Person,
    PriorAward,
    PriorTender,
    Snapshot,
    Tender,
    Upload,
)
from scoring_models import default_registry

DEFINITION = default_registry().active_of("screens")
CST = timezone(timedelta(hours=8))
OPENED = datetime(2026, 5, 12, 9, 30, tzinfo=CST)
EMPTY = Snapshot(knowledge_position=0)

# §4's table, in screen order: code, severity, basis.
TABLE = [
    ("SAME-PREPARER", "high", "条例第40条(一)"),
    ("SAME-UPLOADER", "high", "条例第40条(二)"),
    ("SAME-IP", "low", "条例第40条(二)"),
    ("SAME-DEPOSIT", "high", "条例第40条(六)"),
    ("SAME-PERSONNEL", "high", "条例第40条(三)"),
    ("IDENTICAL-PRICE", "medium", "条例第40条(四) 异常一致"),
    ("REGULAR-PRICES", "medium", "条例第40条(四) 规律性差异"),
    ("LOW-DISPERSION", "low", "Imhof (2017) CV screen"),
    ("COVER-GAP", "low", "Imhof (2017) relative distance"),
    ("LOWEST-REJECTED", "low", "cardinal R036"),
    ("SOLE-VALID", "medium", "cardinal R035"),
    ("PM-ELSEWHERE", "medium", "建市〔2014〕118号 (项目负责人不得同时在两个及以上项目任职)"),
    ("CO-BIDDING", "low", "OECD bid-rotation checklist"),
]
EVIDENCE_KEYS = {
    "SAME-PREPARER": {"shared"}, "SAME-UPLOADER": {"shared"}, "SAME-IP": {"shared"},
    "SAME-DEPOSIT": {"shared"}, "SAME-PERSONNEL": {"shared"},
    "IDENTICAL-PRICE": {"price"}, "REGULAR-PRICES": {"gap_spread", "regular_tolerance"},
    "LOW-DISPERSION": {"cv", "cv_max"}, "COVER-GAP": {"rd", "rd_min"},
    "LOWEST-REJECTED": {"lowest_price"}, "SOLE-VALID": {"valid_bid"},
    "PM-ELSEWHERE": {"tenders"}, "CO-BIDDING": {"tenders", "co_bids", "rotation"},
}
SHARED_KEYS = {
    "SAME-PREPARER": ["kind", "value", "bids"],
    "SAME-UPLOADER": ["mac", "cpu", "disk", "bids"],
    "SAME-IP": ["ip", "bids"],
    "SAME-DEPOSIT": ["deposit_account_masked", "bids"],
    "SAME-PERSONNEL": ["id_number_masked", "bids"],
}


# ---------------------------------------------------------------------------- builders

def bid(n, price="1000.00", status="valid", *, bidder=None, consortium=(), documents=(),
        uploads=(), deposit=None, personnel=()):
    """Bid ``n``; the bidder is ``U<n>`` unless named. ``deposit`` = (hash, mask)."""
    return Bid(
        n=n, bidder=Party(bidder or f"U{n}", f"投标人{n}"), price=Decimal(price),
        status=status, submitted_at=OPENED - timedelta(hours=1),
        consortium=tuple(Party(u, f"成员{u}") for u in consortium),
        reject_reason="未按要求提交投标保证金" if status == "rejected" else None,
        documents=tuple(documents), uploads=tuple(uploads),
        deposit_hash=deposit[0] if deposit else None,
        deposit_masked=deposit[1] if deposit else None, personnel=tuple(personnel))


def priced(*prices, statuses=None):
    """Bids 1..n with these prices (all valid unless ``statuses`` says otherwise)."""
    statuses = statuses or ["valid"] * len(prices)
    return [bid(i + 1, p, s) for i, (p, s) in enumerate(zip(prices, statuses, strict=True))]


def tender(bids, *, method="lowest_price", exclusions=(), opened_at=OPENED,
           tender_code="KQ-T"):
    return Tender(code=tender_code, name="柯桥区某村道路硬化工程", sector="transport",
                  tenderee=Party("11330621002587465Y", "某镇人民政府"), agency=None,
                  method=method, ceiling_price=Decimal("99999999999.00"),
                  opened_at=opened_at, village=True, bids=tuple(bids),
                  exclusions=frozenset(exclusions))


def screen(bids, code=None, snapshot=EMPTY, **kw):
    """Run every screen; with ``code``, keep that screen's warnings only."""
    warnings = run(DEFINITION, tender(bids, **kw), snapshot)
    return [w for w in warnings if code is None or w.code == code]


def ev(warning):
    """The evidence as the JSON it becomes (fails on anything JSON cannot carry, such as
    a Decimal or a set)."""
    return json.loads(json.dumps(warning.evidence, ensure_ascii=False))


def pm(id_hash, mask="330621********1236", role="project_manager"):
    return Person(role=role, id_hash=id_hash, id_masked=mask)


# ---------------------------------------------------------- warnings: general contract

def test_every_warning_carries_the_definitions_code_severity_basis_and_evidence_keys():
    # A tender built to raise many screens at once; each warning must match §4's table.
    bids = [
        bid(1, "1000.00", documents=[Document(machine_code="M1")],
            uploads=[Upload(ip="10.0.0.1")], deposit=("h-acc", "****4567"),
            personnel=[pm("h-p")]),
        bid(2, "1000.00", documents=[Document(machine_code="M1")],
            uploads=[Upload(mac="A", cpu="C", disk="D", ip="10.0.0.1")],
            deposit=("h-acc", "****4567"), personnel=[pm("h-p", role="safety_officer")]),
        bid(3, "900.00", "rejected", uploads=[Upload(mac="A", cpu="C", disk="D")]),
    ]
    warnings = screen(bids)
    for w in warnings:
        number = [c for c, _, _ in TABLE].index(w.code) + 1
        assert (w.screen, w.code, w.severity, w.basis) == (number, *TABLE[number - 1])
        assert set(ev(w)) == EVIDENCE_KEYS[w.code]
        assert list(w.bids) == sorted(set(w.bids))
        if w.code in SHARED_KEYS:
            assert all(list(entry) == SHARED_KEYS[w.code] for entry in ev(w)["shared"])
    # 1: M1 (1,2); 2: (A,C,D) by bids 2 and 3 (rejected); 3: 10.0.0.1 (1,2); 4, 5 and 6:
    # (1,2); 10: the lowest bid (900.00) is rejected. SOLE-VALID: two bids are valid.
    assert [(w.code, w.bids) for w in warnings] == [
        ("SAME-PREPARER", (1, 2)), ("SAME-UPLOADER", (2, 3)), ("SAME-IP", (1, 2)),
        ("SAME-DEPOSIT", (1, 2)), ("SAME-PERSONNEL", (1, 2)), ("IDENTICAL-PRICE", (1, 2)),
        ("LOWEST-REJECTED", (3,))]


def test_warnings_come_in_screen_order_then_by_sorted_bid_positions():
    # SAME-PREPARER on (3,4), SAME-IP on (2,3); prices 700, 700, 800, 800 give
    # IDENTICAL-PRICE (1,2) then (3,4).
    bids = [
        bid(1, "700.00"), bid(2, "700.00", uploads=[Upload(ip="10.1.1.1")]),
        bid(3, "800.00", documents=[Document(file_id="F")], uploads=[Upload(ip="10.1.1.1")]),
        bid(4, "800.00", documents=[Document(file_id="F")]),
    ]
    got = [(w.screen, w.bids) for w in screen(bids)]
    assert got == [(1, (3, 4)), (3, (2, 3)), (6, (1, 2)), (6, (3, 4))]


def test_a_tender_with_nothing_suspicious_raises_nothing():
    assert screen(priced("1000.00", "1350.00", "1100.00")) == []


# ------------------------------------------------------------- screen 1 SAME-PREPARER

def test_same_preparer_links_across_kinds_into_one_component_with_every_shared_value():
    # 1–2 share machine_code M1, 2–3 share file_id F2, 3–5 share pricing_lock P7 (bid 5
    # rejected: screens 1–5 consider every bid). Bid 4 shares nothing. One component
    # {1,2,3,5}; its shared list sorted by kind ("file_id" < "machine_code" <
    # "pricing_lock", code point order of the values) then value. F9 and P8 are in one
    # bid each: not shared.
    bids = [
        bid(1, "1000.00", documents=[Document(machine_code="M1", file_id="F9")]),
        bid(2, "1100.00", documents=[Document(machine_code="M1"), Document(file_id="F2")]),
        bid(3, "1210.00", documents=[Document(file_id="F2", pricing_lock="P7")]),
        bid(4, "1330.00", documents=[Document(pricing_lock="P8")]),
        bid(5, "1500.00", "rejected", documents=[Document(pricing_lock="P7")]),
    ]
    [w] = screen(bids, "SAME-PREPARER")
    assert w.bids == (1, 2, 3, 5)
    assert ev(w) == {"shared": [
        {"kind": "file_id", "value": "F2", "bids": [2, 3]},
        {"kind": "machine_code", "value": "M1", "bids": [1, 2]},
        {"kind": "pricing_lock", "value": "P7", "bids": [3, 5]},
    ]}


def test_same_preparer_sorts_values_within_a_kind_and_ignores_repeats_inside_one_bid():
    # Bid 1 carries M9 twice (two documents): one bid only, not shared. Bids 1, 2 share
    # machine codes "M10" and "M9" ("M10" < "M9" by code point); bid 3 shares M10.
    bids = [
        bid(1, "1000.00", documents=[Document(machine_code="M9"), Document(machine_code="M9"),
                                     Document(machine_code="M10")]),
        bid(2, "1100.00", documents=[Document(machine_code="M9"),
                                     Document(machine_code="M10")]),
        bid(3, "1210.00", documents=[Document(machine_code="M10")]),
        bid(4, "1330.00", documents=[Document(machine_code="M11")]),
    ]
    [w] = screen(bids, "SAME-PREPARER")
    assert w.bids == (1, 2, 3)
    assert ev(w)["shared"] == [
        {"kind": "machine_code", "value": "M10", "bids": [1, 2, 3]},
        {"kind": "machine_code", "value": "M9", "bids": [1, 2]},
    ]


def test_same_preparer_needs_the_same_kind_and_honours_exclusions_by_kind_and_value():
    # machine_code CTRL is excluded (the tenderee's control-price file): bids 1 and 2
    # sharing it are not linked. The same string as a file_id is not excluded (exclusions
    # match by (kind, value)): bids 1 and 3 are linked by it. Bid 4's machine_code AB12
    # equals bid 5's file_id AB12: different kinds, no link.
    bids = [
        bid(1, "1000.00", documents=[Document(machine_code="CTRL", file_id="CTRL")]),
        bid(2, "1100.00", documents=[Document(machine_code="CTRL")]),
        bid(3, "1210.00", documents=[Document(file_id="CTRL")]),
        bid(4, "1330.00", documents=[Document(machine_code="AB12")]),
        bid(5, "1460.00", documents=[Document(file_id="AB12")]),
    ]
    [w] = screen(bids, "SAME-PREPARER", exclusions={("machine_code", "CTRL")})
    assert w.bids == (1, 3)
    assert ev(w)["shared"] == [{"kind": "file_id", "value": "CTRL", "bids": [1, 3]}]


def test_same_preparer_one_warning_per_component_ordered_by_positions():
    # Components {2,3} (file_id F) and {1,6} (pricing_lock L) and {4,5} (machine_code M):
    # ordered (1,6), (2,3), (4,5).
    bids = [
        bid(1, "1000.00", documents=[Document(pricing_lock="L")]),
        bid(2, "1100.00", documents=[Document(file_id="F")]),
        bid(3, "1210.00", documents=[Document(file_id="F")]),
        bid(4, "1330.00", documents=[Document(machine_code="M")]),
        bid(5, "1460.00", documents=[Document(machine_code="M")]),
        bid(6, "1600.00", documents=[Document(pricing_lock="L")]),
    ]
    assert [w.bids for w in screen(bids, "SAME-PREPARER")] == [(1, 6), (2, 3), (4, 5)]


# ------------------------------------------------------------- screen 2 SAME-UPLOADER

def test_same_uploader_needs_all_three_values_off_site_on_both_uploads():
    # Bids 1, 2 and 5 (rejected) upload (A, C, D) off site: linked. Bid 3 has A, C only
    # (no disk); bid 4 has all three but on site; bid 6 shares mac and cpu only.
    bids = [
        bid(1, "1000.00", uploads=[Upload(mac="A", cpu="C", disk="D")]),
        bid(2, "1100.00", uploads=[Upload(mac="A", cpu="C", disk="D", ip="1.1.1.1")]),
        bid(3, "1210.00", uploads=[Upload(mac="A", cpu="C")]),
        bid(4, "1330.00", uploads=[Upload(mac="A", cpu="C", disk="D", onsite=True)]),
        bid(5, "1460.00", "rejected", uploads=[Upload(mac="A", cpu="C", disk="D")]),
        bid(6, "1600.00", uploads=[Upload(mac="A", cpu="C", disk="E")]),
    ]
    [w] = screen(bids, "SAME-UPLOADER")
    assert w.bids == (1, 2, 5)
    assert ev(w) == {"shared": [{"mac": "A", "cpu": "C", "disk": "D", "bids": [1, 2, 5]}]}


def test_same_uploader_one_onsite_upload_does_not_link():
    bids = [bid(1, "1000.00", uploads=[Upload(mac="A", cpu="C", disk="D")]),
            bid(2, "1100.00", uploads=[Upload(mac="A", cpu="C", disk="D", onsite=True)])]
    assert screen(bids, "SAME-UPLOADER") == []


@pytest.mark.parametrize("exclusion, linked", [
    (("disk", "D"), False), (("mac", "A"), False), (("cpu", "C"), False),
    (("cpu", "D"), True),  # D is excluded as a cpu, not as a disk: (kind, value) matching
    (("ip", "A"), True),
])
def test_same_uploader_exclusions_of_any_of_the_three(exclusion, linked):
    bids = [bid(1, "1000.00", uploads=[Upload(mac="A", cpu="C", disk="D")]),
            bid(2, "1100.00", uploads=[Upload(mac="A", cpu="C", disk="D")])]
    got = screen(bids, "SAME-UPLOADER", exclusions={exclusion})
    assert [w.bids for w in got] == ([(1, 2)] if linked else [])


def test_same_uploader_component_lists_each_shared_triple_sorted_by_mac_cpu_disk():
    # 1–2 share (X, Y, Z), 2–3 share (A, C, D): one component; triples sorted by mac.
    bids = [
        bid(1, "1000.00", uploads=[Upload(mac="X", cpu="Y", disk="Z")]),
        bid(2, "1100.00", uploads=[Upload(mac="X", cpu="Y", disk="Z"),
                                   Upload(mac="A", cpu="C", disk="D")]),
        bid(3, "1210.00", uploads=[Upload(mac="A", cpu="C", disk="D")]),
    ]
    [w] = screen(bids, "SAME-UPLOADER")
    assert w.bids == (1, 2, 3)
    assert ev(w)["shared"] == [{"mac": "A", "cpu": "C", "disk": "D", "bids": [2, 3]},
                               {"mac": "X", "cpu": "Y", "disk": "Z", "bids": [1, 2]}]


# ------------------------------------------------------------------- screen 3 SAME-IP

def test_same_ip_ignores_onsite_uploads_even_inside_a_component():
    # Bid 1: X on site, Y off site. Bid 2: X and Y off site. Bid 3: X off site. Links
    # 1–2 (Y) and 2–3 (X): one component {1,2,3}. X is shared off site by 2 and 3 only
    # (bid 1's X upload is on site and does not count).
    x, y = "115.220.4.17", "2001:db8::1"
    bids = [
        bid(1, "1000.00", uploads=[Upload(ip=x, onsite=True), Upload(ip=y)]),
        bid(2, "1100.00", uploads=[Upload(ip=x), Upload(ip=y)]),
        bid(3, "1210.00", "rejected", uploads=[Upload(ip=x)]),
        bid(4, "1330.00", uploads=[Upload(ip=x, onsite=True)]),
    ]
    [w] = screen(bids, "SAME-IP")
    assert w.bids == (1, 2, 3)
    assert ev(w) == {"shared": [{"ip": x, "bids": [2, 3]}, {"ip": y, "bids": [1, 2]}]}


def test_same_ip_exclusion_and_values_sorted_as_strings():
    # "10.0.0.1" < "9.9.9.9" by code point (the stored compressed form is the value).
    bids = [
        bid(1, "1000.00", uploads=[Upload(ip="9.9.9.9"), Upload(ip="10.0.0.1"),
                                   Upload(ip="115.220.4.1")]),
        bid(2, "1100.00", uploads=[Upload(ip="9.9.9.9"), Upload(ip="10.0.0.1"),
                                   Upload(ip="115.220.4.1")]),
    ]
    [w] = screen(bids, "SAME-IP", exclusions={("ip", "115.220.4.1")})
    assert ev(w)["shared"] == [{"ip": "10.0.0.1", "bids": [1, 2]},
                               {"ip": "9.9.9.9", "bids": [1, 2]}]
    assert screen(bids, "SAME-IP", exclusions={("ip", "9.9.9.9"), ("ip", "10.0.0.1"),
                                                ("ip", "115.220.4.1")}) == []


# -------------------------------------------------------------- screen 4 SAME-DEPOSIT

def test_same_deposit_components_and_masks():
    # h1: bids 1, 2, 5 (rejected); h2: bids 3, 4 (a different account with the same last
    # four digits, hence the same mask); bid 6 alone.
    bids = [
        bid(1, "1000.00", deposit=("h1", "****4567")),
        bid(2, "1100.00", deposit=("h1", "****4567")),
        bid(3, "1210.00", deposit=("h2", "****4567")),
        bid(4, "1330.00", deposit=("h2", "****4567")),
        bid(5, "1460.00", "rejected", deposit=("h1", "****4567")),
        bid(6, "1600.00", deposit=("h3", "****0001")),
        bid(7, "1700.00"),
    ]
    got = screen(bids, "SAME-DEPOSIT")
    assert [(w.bids, ev(w)) for w in got] == [
        ((1, 2, 5), {"shared": [{"deposit_account_masked": "****4567", "bids": [1, 2, 5]}]}),
        ((3, 4), {"shared": [{"deposit_account_masked": "****4567", "bids": [3, 4]}]}),
    ]
    assert "h1" not in json.dumps([ev(w) for w in got])


# ------------------------------------------------------------ screen 5 SAME-PERSONNEL

def test_same_personnel_any_role_components_sorted_by_mask_then_bids():
    # P (mask 330621…1236) in bids 1 (PM) and 2 (safety officer); Q (mask 110101…0015)
    # in 1 and 3: component {1,2,3}, Q's entry first by mask. S and T share one mask:
    # S in 4, 5; T in 4, 6 (6 rejected): component {4,5,6}, entries ordered by bids.
    p, q = ("h-p", "330621********1236"), ("h-q", "110101********0015")
    s, t = ("h-s", "330602********0000"), ("h-t", "330602********0000")
    bids = [
        bid(1, "1000.00", personnel=[pm(*p), pm(*q, role="technical_lead")]),
        bid(2, "1100.00", personnel=[pm(*p, role="safety_officer")]),
        bid(3, "1210.00", personnel=[pm(*q)]),
        bid(4, "1330.00", personnel=[pm(*t), pm(*s, role="technical_lead")]),
        bid(5, "1460.00", personnel=[pm(*s)]),
        bid(6, "1600.00", "rejected", personnel=[pm(*t, role="safety_officer")]),
    ]
    got = screen(bids, "SAME-PERSONNEL")
    assert [w.bids for w in got] == [(1, 2, 3), (4, 5, 6)]
    assert ev(got[0])["shared"] == [{"id_number_masked": q[1], "bids": [1, 3]},
                                    {"id_number_masked": p[1], "bids": [1, 2]}]
    assert ev(got[1])["shared"] == [{"id_number_masked": s[1], "bids": [4, 5]},
                                    {"id_number_masked": s[1], "bids": [4, 6]}]


# ----------------------------------------------------------- screen 6 IDENTICAL-PRICE

def test_identical_price_valid_bids_only_one_warning_per_price():
    # 500.00: bids 1, 3; 400.00: bids 2, 4; 600.00: bid 6 valid and 5 rejected (one valid
    # bid: nothing). Order by positions: (1,3) before (2,4).
    bids = priced("500.00", "400.00", "500.00", "400.00", "600.00", "600.00", "700.00",
                  statuses=["valid"] * 4 + ["rejected", "valid", "valid"])
    got = screen(bids, "IDENTICAL-PRICE")
    assert [(w.bids, ev(w)) for w in got] == [((1, 3), {"price": "500.00"}),
                                              ((2, 4), {"price": "400.00"})]


# ------------------------------------------------------------ screen 7 REGULAR-PRICES

def test_regular_prices_exactly_at_tolerance():
    # Sorted 1000, 1099, 1199, 1300: gaps 99, 100, 101; (101 − 99)·3 = 6 ≤ 0.02·300 = 6.
    # gap_spread = 6/300 = 0.02. Sent out of order: the warning names every valid bid.
    [w] = screen(priced("1199.00", "1000.00", "1300.00", "1099.00"), "REGULAR-PRICES")
    assert w.bids == (1, 2, 3, 4)
    assert ev(w) == {"gap_spread": "0.020000", "regular_tolerance": "0.02"}


def test_regular_prices_just_above_tolerance():
    # Gaps 99, 100, 101.01: (2.01)·3 = 6.03 > 0.02·300.01 = 6.0002.
    assert screen(priced("1000.00", "1099.00", "1199.00", "1300.01"), "REGULAR-PRICES") == []


@pytest.mark.parametrize("prices", [
    ("1000.00", "1000.00", "1000.00", "1000.00"),   # all gaps 0: spread 0 ≤ 0, but gap > 0 fails
    ("1000.00", "1000.00", "1100.00", "1200.00"),   # one zero gap
])
def test_regular_prices_any_zero_gap_raises_nothing(prices):
    assert screen(priced(*prices), "REGULAR-PRICES") == []


def test_regular_prices_counts_valid_bids_only_and_runs_for_benchmark():
    # Valid 1000, 1100, 1200, 1300 (spread 0) plus a rejected 1050 that would break the
    # regularity: the warning names the four valid bids.
    bids = priced("1000.00", "1050.00", "1100.00", "1200.00", "1300.00",
                  statuses=["valid", "rejected", "valid", "valid", "valid"])
    [w] = screen(bids, "REGULAR-PRICES", method="benchmark")
    assert w.bids == (1, 3, 4, 5)
    assert ev(w)["gap_spread"] == "0.000000"
    # Three valid bids (the minimum is 4), even with a fourth, rejected, regular one.
    bids = priced("1000.00", "1100.00", "1200.00", "1300.00",
                  statuses=["valid", "valid", "valid", "rejected"])
    assert screen(bids, "REGULAR-PRICES") == []


def test_regular_prices_gap_spread_rounds_an_exact_tie_half_up():
    # Gaps 1999999.50, 2000000.00, 2000000.50: Σg = 6000000, (max − min)·3 = 3;
    # gap_spread = 3/6000000 = 0.0000005 exactly → half-up 0.000001 (half-even: 0.000000).
    [w] = screen(priced("1000000.00", "2999999.50", "4999999.50", "7000000.00"),
                 "REGULAR-PRICES")
    assert ev(w)["gap_spread"] == "0.000001"


# ------------------------------------------------------------ screen 8 LOW-DISPERSION

def test_low_dispersion_exactly_at_cv_max():
    # 9930, 9990, 10000, 10010, 10070: m = 10000, Σ(p − m)² = 4900+100+0+100+4900 = 10000,
    # s² = 10000/4 = 2500 = 0.005²·10000² → s/m = 50/10000 = 0.005 exactly.
    [w] = screen(priced("10070.00", "9930.00", "10000.00", "9990.00", "10010.00"),
                 "LOW-DISPERSION", method="comprehensive")
    assert w.bids == (1, 2, 3, 4, 5)
    assert ev(w) == {"cv": "0.005000", "cv_max": "0.005"}


def test_low_dispersion_just_above_cv_max():
    # 10071 instead of 10070: m = 10000.2, Σ(p − m)² = 10140.8, s² = 2535.2 >
    # 0.000025·10000.2² = 2500.1000001.
    assert screen(priced("10071.00", "9930.00", "10000.00", "9990.00", "10010.00"),
                  "LOW-DISPERSION") == []


def test_low_dispersion_not_for_benchmark_and_valid_bids_only():
    prices = ("10070.00", "9930.00", "10000.00", "9990.00", "10010.00")
    assert screen(priced(*prices), "LOW-DISPERSION", method="benchmark") == []
    # A rejected outlier changes nothing: the statistics use V only.
    bids = priced(*prices, "5000.00", statuses=["valid"] * 5 + ["rejected"])
    [w] = screen(bids, "LOW-DISPERSION")
    assert (w.bids, ev(w)["cv"]) == ((1, 2, 3, 4, 5), "0.005000")
    # Three valid (identical) bids and a rejected one: below cv_min_bids.
    bids = priced("100.00", "100.00", "100.00", "100.00",
                  statuses=["valid", "valid", "valid", "rejected"])
    assert screen(bids, "LOW-DISPERSION") == []


def test_low_dispersion_cv_rounds_an_exact_tie_half_up():
    # Deviations ±172.83, ±24.69, 0 around m = 100000: s² = 2·(172.83² + 24.69²)/4
    # = (59740.4178 + 1219.1922)/4 = 15239.9025 = 123.45², cv = 0.0012345 exactly →
    # half-up 0.001235 (half-even, or a float 0.0012344999…, would give 0.001234).
    [w] = screen(priced("99827.17", "99975.31", "100000.00", "100024.69", "100172.83"),
                 "LOW-DISPERSION")
    assert ev(w)["cv"] == "0.001235"


def test_low_dispersion_all_equal_prices_have_cv_zero():
    [w] = screen(priced("500.00", "500.00", "500.00", "500.00"), "LOW-DISPERSION")
    assert ev(w)["cv"] == "0.000000"


# ---------------------------------------------------------------- screen 9 COVER-GAP

def test_cover_gap_exactly_at_rd_min_names_lowest_and_second():
    # Sorted 970 (bid 2), 1000 (bid 4), 1010, 1020: d = 30; p₂…p₄ = 1000, 1010, 1020,
    # mean 1010, sL² = 200/2 = 100; d² = 900 = 3²·100 → rd = 30/10 = 3.
    [w] = screen(priced("1010.00", "970.00", "1020.00", "1000.00"), "COVER-GAP")
    assert w.bids == (2, 4)
    assert ev(w) == {"rd": "3.000000", "rd_min": "3"}


def test_cover_gap_just_below_rd_min_and_with_zero_spread_of_the_rest():
    # d = 29.99: d² = 899.4001 < 900.
    assert screen(priced("1010.00", "970.01", "1020.00", "1000.00"), "COVER-GAP") == []
    # p₂…pₙ all equal: sL² = 0 → nothing, however big the gap.
    assert screen(priced("900.00", "1000.00", "1000.00", "1000.00"), "COVER-GAP") == []


def test_cover_gap_second_bid_tie_broken_by_position_and_rd_from_a_square_root():
    # Sorted 700 (bid 1), 1000 (bid 2), 1000 (bid 4), 1030 (bid 3); rejected 500 (bid 5)
    # is ignored. p₂…p₄ = 1000, 1000, 1030: mean 1010, sL² = (100+100+400)/2 = 300;
    # d = 300; rd = 300/√300 = √300 = 17.3205080756887729… → 17.320508.
    bids = priced("700.00", "1000.00", "1030.00", "1000.00", "500.00",
                  statuses=["valid"] * 4 + ["rejected"])
    [w] = screen(bids, "COVER-GAP", method="comprehensive")
    assert w.bids == (1, 2)
    assert ev(w) == {"rd": "17.320508", "rd_min": "3"}
    assert screen(bids, "COVER-GAP", method="benchmark") == []


def test_cover_gap_rd_rounds_an_exact_tie_half_up():
    # p₂…p₄ = 100000, 120000, 140000: sL² = (20000² + 20000²)/2 = 20000², sL = 20000;
    # p₁ = 39999.99, d = 60000.01, rd = 3.0000005 exactly → 3.000001.
    [w] = screen(priced("39999.99", "100000.00", "120000.00", "140000.00"), "COVER-GAP")
    assert ev(w)["rd"] == "3.000001"


def _reference(q: Fraction) -> str:
    """√q rounded half-up to 6 places, computed independently with 60 digits (enough:
    none of the cases below lies within 10⁻⁵⁰ of a tie)."""
    with localcontext() as ctx:
        ctx.prec = 60
        root = (Decimal(q.numerator) / Decimal(q.denominator)).sqrt()
        return str(root.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("prices", [
    ("1000.00", "1001.37", "1002.11", "1003.05", "1003.99"),
    ("123456.78", "123456.79", "123500.00", "123401.01"),
    ("0.01", "0.02", "0.03", "0.05"),
    ("99999999.99", "99999999.98", "99999999.97", "100000000.00", "99999999.90"),
])
def test_cv_matches_a_high_precision_reference(prices):
    values = [Fraction(Decimal(p)) for p in prices]
    n, m = len(values), sum(values) / len(values)
    s2 = sum((v - m) ** 2 for v in values) / (n - 1)
    got = screen(priced(*prices), "LOW-DISPERSION")
    expected = s2 <= Fraction(Decimal("0.005")) ** 2 * m * m
    assert bool(got) == expected
    if got:
        assert ev(got[0])["cv"] == _reference(s2 / (m * m))


@pytest.mark.parametrize("prices", [
    ("100.00", "1000.00", "1001.00", "1003.00"),
    ("500.00", "1000.00", "1000.01", "1000.03", "1000.04"),
    ("1.00", "700.00", "700.01", "700.02"),
])
def test_rd_matches_a_high_precision_reference(prices):
    values = sorted(Fraction(Decimal(p)) for p in prices)
    rest = values[1:]
    mean = sum(rest) / len(rest)
    sl2 = sum((v - mean) ** 2 for v in rest) / (len(rest) - 1)
    d = values[1] - values[0]
    [w] = screen(priced(*prices), "COVER-GAP")
    assert ev(w)["rd"] == _reference(d * d / sl2)


# ---------------------------------------------------------- screen 10 LOWEST-REJECTED

def test_lowest_rejected_names_only_the_rejected_bids_among_the_lowest():
    # Lowest price 100.00 is shared by valid bid 1 and rejected bids 2 and 4.
    bids = priced("100.00", "100.00", "200.00", "100.00", "90.00",
                  statuses=["valid", "rejected", "valid", "rejected", "valid"])
    # Bid 5 (90.00, valid) is the lowest: nothing.
    assert screen(bids, "LOWEST-REJECTED") == []
    [w] = screen(bids[:4], "LOWEST-REJECTED")
    assert w.bids == (2, 4)
    assert ev(w) == {"lowest_price": "100.00"}


def test_lowest_rejected_tie_with_a_valid_bid_still_raises():
    bids = priced("100.00", "100.00", statuses=["valid", "rejected"])
    [w] = screen(bids, "LOWEST-REJECTED")
    assert (w.bids, ev(w)) == ((2,), {"lowest_price": "100.00"})


@pytest.mark.parametrize("method", ["comprehensive", "benchmark"])
def test_lowest_rejected_only_for_lowest_price(method):
    bids = priced("100.00", "200.00", statuses=["rejected", "valid"])
    assert screen(bids, "LOWEST-REJECTED", method=method) == []


def test_lowest_rejected_needs_two_bids_and_counts_every_bid():
    assert screen(priced("100.00", statuses=["rejected"]), "LOWEST-REJECTED") == []
    # Both rejected: the lowest is rejected.
    [w] = screen(priced("300.00", "100.00", statuses=["rejected", "rejected"]),
                 "LOWEST-REJECTED")
    assert (w.bids, ev(w)) == ((2,), {"lowest_price": "100.00"})


# --------------------------------------------------------------- screen 11 SOLE-VALID

def test_sole_valid_three_bids_one_valid():
    bids = priced("300.00", "200.00", "100.00", statuses=["rejected", "valid", "rejected"])
    [w] = screen(bids, "SOLE-VALID")
    assert (w.bids, ev(w)) == ((1, 2, 3), {"valid_bid": 2})


@pytest.mark.parametrize("statuses", [
    ["rejected", "valid"],                       # |B| = 2
    ["rejected", "rejected", "rejected"],        # no valid bid
    ["valid", "rejected", "valid"],              # two valid bids
])
def test_sole_valid_not_raised(statuses):
    bids = priced(*["%d.00" % (100 * (i + 1)) for i in range(len(statuses))],
                  statuses=statuses)
    assert screen(bids, "SOLE-VALID") == []


# ------------------------------------------------------------- screen 12 PM-ELSEWHERE

def _award(pms, awarded_on, end, winner="W"):
    return PriorAward(winner=winner, awarded_on=awarded_on, end=end,
                      project_managers=frozenset(pms))


def test_pm_elsewhere_window_ends_roles_and_valid_bids_only():
    d = date(2026, 5, 12)  # date of OPENED
    far = date(2027, 1, 1)
    snapshot = Snapshot(knowledge_position=40, tenders=(
        PriorTender("KQ-b", date(2025, 1, 1), frozenset({"W"}), _award({"P"}, d, far)),
        PriorTender("KQ-B", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P"}, date(2025, 2, 1), d)),                # ends that day
        PriorTender("KQ-9", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P", "Z"}, date(2025, 2, 1), far)),
        PriorTender("KQ-10", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P"}, date(2025, 2, 1), far)),
        PriorTender("KQ-a", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P"}, d + timedelta(days=1), far)),         # awarded after
        PriorTender("KQ-c", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P"}, date(2025, 2, 1), d - timedelta(days=1))),  # ended
        PriorTender("KQ-d", date(2025, 1, 1), frozenset({"W"})),        # not awarded
        PriorTender("KQ-e", date(2025, 1, 1), frozenset({"W"}),
                    _award({"Q"}, date(2025, 2, 1), far)),
        PriorTender("X-2", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P2"}, date(2025, 2, 1), far)),
        PriorTender("X-1", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P3"}, date(2025, 2, 1), far)),
    ))
    bids = [
        bid(1, "1000.00", personnel=[pm("P")]),
        bid(2, "1100.00", personnel=[pm("P", role="technical_lead")]),  # not as PM here
        bid(3, "1210.00", "rejected", personnel=[pm("P")]),              # rejected
        bid(4, "1330.00", personnel=[pm("P2"), pm("P3", "110101********0015")]),
        bid(5, "1460.00", personnel=[pm("Q", role="safety_officer")]),
    ]
    got = screen(bids, "PM-ELSEWHERE", snapshot=snapshot)
    assert [(w.bids, ev(w)) for w in got] == [
        ((1,), {"tenders": ["KQ-10", "KQ-9", "KQ-B", "KQ-b"]}),
        ((4,), {"tenders": ["X-1", "X-2"]}),
    ]


def test_pm_elsewhere_uses_the_cst_date_of_the_opening():
    # 17:00 UTC on 12 May is 01:00 CST on 13 May: the date of the opening is 13 May.
    opened = datetime(2026, 5, 12, 17, 0, tzinfo=timezone.utc)
    snapshot = Snapshot(knowledge_position=3, tenders=(
        PriorTender("A", date(2026, 1, 1), frozenset({"W"}),
                    _award({"P"}, date(2026, 5, 13), date(2026, 12, 1))),   # counts
        PriorTender("B", date(2026, 1, 1), frozenset({"W"}),
                    _award({"P"}, date(2026, 1, 1), date(2026, 5, 12))),    # ended the day before
    ))
    [w] = screen([bid(1, personnel=[pm("P")])], "PM-ELSEWHERE", snapshot=snapshot,
                 opened_at=opened)
    assert ev(w) == {"tenders": ["A"]}


# --------------------------------------------------------------- screen 13 CO-BIDDING

def test_co_bidding_window_count_rotation_and_bidders_only():
    # Opened 2024-05-12 (CST); 365 days earlier is 2023-05-13 (2024 is a leap year), so
    # the window is [2023-05-13, 2024-05-12].
    opened = datetime(2024, 5, 12, 9, 30, tzinfo=CST)
    AB, ABC = frozenset({"A", "B"}), frozenset({"A", "B", "C"})
    snap = Snapshot(knowledge_position=99, tenders=(
        PriorTender("P-1", date(2023, 5, 13), ABC),                          # first day in
        PriorTender("P-2", date(2023, 5, 12), ABC),                          # one day out
        PriorTender("P-3", date(2024, 5, 12), AB, PriorAward("A", date(2024, 5, 20),
                                                              date(2025, 1, 1))),
        PriorTender("P-4", date(2024, 1, 1), ABC, PriorAward("B", date(2024, 1, 20),
                                                              date(2025, 1, 1))),
        PriorTender("P-5", date(2024, 5, 13), ABC),                          # after the opening
        PriorTender("P-6", date(2023, 12, 1), frozenset({"A", "C"}),
                    PriorAward("C", date(2023, 12, 20), date(2024, 6, 1))),
        # E bids with A often, but here E is only a consortium member of bid 4.
        PriorTender("P-7", date(2024, 2, 1), frozenset({"A", "E"})),
        PriorTender("P-8", date(2024, 2, 2), frozenset({"A", "E"})),
        PriorTender("P-9", date(2024, 2, 3), frozenset({"A", "E"})),
    ))
    bids = [bid(1, "1000.00", bidder="A"), bid(2, "1100.00", bidder="B"),
            bid(3, "1210.00", "rejected", bidder="C"),
            bid(4, "1330.00", bidder="D", consortium=["E"])]
    got = screen(bids, "CO-BIDDING", snapshot=snap, opened_at=opened,
                 tender_code="KQ-2024-7")
    # (A,B): P-1, P-3, P-4 and this one: c = 4; A won P-3, B won P-4: rotation.
    # (A,C): P-1, P-4, P-6 and this one: c = 4; A won none of those (P-3 lacks C).
    # (B,C): P-1, P-4 and this one: c = 3 < 4. Nobody co-bid with D.
    assert [(w.bids, ev(w)) for w in got] == [
        ((1, 2), {"tenders": ["KQ-2024-7", "P-1", "P-3", "P-4"], "co_bids": 4,
                  "rotation": True}),
        ((1, 3), {"tenders": ["KQ-2024-7", "P-1", "P-4", "P-6"], "co_bids": 4,
                  "rotation": False}),
    ]


def test_co_bidding_consortium_member_of_this_tender_never_pairs():
    # E co-bid with A as a bidder in 4 earlier tenders, but here E is only a member of
    # bid 2's consortium, so (A, E) is no pair of this tender.
    snap = Snapshot(knowledge_position=9, tenders=tuple(
        PriorTender(f"P-{i}", date(2026, 3, i + 1), frozenset({"A", "E"})) for i in range(4)))
    bids = [bid(1, bidder="A"), bid(2, bidder="D", consortium=["E"])]
    assert screen(bids, "CO-BIDDING", snapshot=snap) == []
    # As the bidder of bid 2 it would pair with A: 4 earlier + this one = 5.
    [w] = screen([bid(1, bidder="A"), bid(2, bidder="E")], "CO-BIDDING", snapshot=snap)
    assert (w.bids, ev(w)["co_bids"], ev(w)["rotation"]) == ((1, 2), 5, False)


def test_co_bidding_rotation_needs_each_of_the_two_to_have_won():
    award_a = PriorAward("A", date(2026, 2, 1), date(2026, 9, 1))
    snap = Snapshot(knowledge_position=9, tenders=(
        PriorTender("P-1", date(2026, 1, 1), frozenset({"A", "B"}), award_a),
        PriorTender("P-2", date(2026, 1, 2), frozenset({"A", "B"}), award_a),
        PriorTender("P-3", date(2026, 1, 3), frozenset({"A", "B", "W"}),
                    PriorAward("W", date(2026, 2, 1), date(2026, 9, 1))),
    ))
    [w] = screen([bid(1, bidder="B"), bid(2, bidder="A")], "CO-BIDDING", snapshot=snap)
    assert ev(w) == {"tenders": ["KQ-T", "P-1", "P-2", "P-3"], "co_bids": 4,
                     "rotation": False}


# ------------------------------------------------------------ §2 normalisation rules

@pytest.mark.parametrize("raw, expected", [
    ("7a1c-90ee", "7A1C90EE"),
    (" 00:1a:2b.3c-4d 5e\t", "001A2B3C4D5E"),
    ("ab\u3000cd\xa0ef\u2003gh\n", "ABCDEFGH"),   # every str.isspace character
    ("x" * 128, "X" * 128),
    ("-".join(["ab"] * 64), "AB" * 64),            # 128 after removing the 63 dashes
])
def test_identifier_normalisation(raw, expected):
    assert ids.normalise_identifier(raw) == expected


@pytest.mark.parametrize("raw", [
    "", " - : . ", "x" * 129, "AB_12", "AB/12", "é1", "ß1", "ı1", "ſ1", "１２", "AB,12",
])
def test_identifier_normalisation_rejects(raw):
    # "ı", "ſ" and "ß" would become ASCII under str.upper(): only ASCII letters are
    # upper-cased, and the result must be ASCII letters and digits.
    with pytest.raises(ValueError):
        ids.normalise_identifier(raw)


@pytest.mark.parametrize("raw, expected", [
    (" 115.220.4.17 ", "115.220.4.17"),
    ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("::FFFF:C000:0201", "192.0.2.1"),
    ("\t0.0.0.0\n", "0.0.0.0"),
])
def test_ip_normalisation(raw, expected):
    assert ids.normalise_ip(raw) == expected
    assert ids.normalise_by_kind("ip", raw) == expected


@pytest.mark.parametrize("raw", [
    "01.2.3.4", "1.2.3", "256.1.1.1", "fe80::1%eth0", "1.2.3.4/32", "١.٢.٣.٤", "", "abc",
])
def test_ip_normalisation_rejects(raw):
    with pytest.raises(ValueError):
        ids.normalise_ip(raw)


def test_normalise_by_kind_routes_every_identifier_kind():
    for kind in ("machine_code", "file_id", "pricing_lock", "mac", "cpu", "disk"):
        assert ids.normalise_by_kind(kind, "bf-eb.fb ff") == "BFEBFBFF"


@pytest.mark.parametrize("raw, expected", [
    ("6222 0212 0400 1234 567", "6222021204001234567"),
    ("6222-0212\t0400", "622202120400"),
    ("12345678", "12345678"),
    ("1" * 32, "1" * 32),
])
def test_account_normalisation(raw, expected):
    assert ids.normalise_account(raw) == expected


@pytest.mark.parametrize("raw", [
    "1234567", "1" * 33, "6222.0212.0400", "６２２２０２１２", "62220212x",
])
def test_account_normalisation_rejects(raw):
    with pytest.raises(ValueError):
        ids.normalise_account(raw)


def _gb11643(first17: str) -> str:
    """The check character of GB 11643: weights 2^(17−i) mod 11, (12 − Σ mod 11) mod 11."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _id(birth: str, seq: str = "123") -> str:
    first17 = "330621" + birth + seq
    return first17 + _gb11643(first17)


def test_id_number_checks():
    today = date(2026, 5, 12)
    assert ids.check_id_number("330621198001011236", today) == "330621198001011236"
    for birth in ("19000101", "20000229", "20260512"):
        assert ids.check_id_number(_id(birth), today) == _id(birth)
    # A lower-case x check character is upper-cased.
    seq = next(s for s in (f"{i:03d}" for i in range(1000)) if _id("19900101", s)[-1] == "X")
    assert ids.check_id_number(_id("19900101", seq).lower(), today) == _id("19900101", seq)
    bad = [_id("18991231"), _id("19000229"), _id("20260513"), _id("19801301"),
           "330621198001011235", "33062119800101123", "3306211980010112366",
           "３30621198001011236", "33062119800101123X"]
    for raw in bad:
        with pytest.raises(ValueError):
            ids.check_id_number(raw, today)


def test_masks_and_keyed_hash():
    assert ids.mask_id_number("330621198001011236") == "330621********1236"
    assert ids.mask_account("6222021204001234567") == "****4567"
    key = b"k" * 32
    expected = hmac.new(key, b"330621198001011236", hashlib.sha256).hexdigest()
    assert ids.keyed_hash(key, "330621198001011236") == expected
    with pytest.raises(ValueError):
        ids.keyed_hash(b"k" * 31, "x")


# ------------------------- rules found on reading the implementation, not yet pinned

def test_same_uploader_entries_with_one_mac_sort_by_cpu_then_disk():
    # Every triple has mac A: the entries fall back to cpu, then disk ("the order the
    # keys are written"). (A,C1,D2) bids 1–2, (A,C1,D1) bids 2–3, (A,C0,D9) bids 3–4.
    bids = [
        bid(1, "1000.00", uploads=[Upload(mac="A", cpu="C1", disk="D2")]),
        bid(2, "1100.00", uploads=[Upload(mac="A", cpu="C1", disk="D2"),
                                   Upload(mac="A", cpu="C1", disk="D1")]),
        bid(3, "1210.00", uploads=[Upload(mac="A", cpu="C1", disk="D1"),
                                   Upload(mac="A", cpu="C0", disk="D9")]),
        bid(4, "1330.00", uploads=[Upload(mac="A", cpu="C0", disk="D9")]),
    ]
    [w] = screen(bids, "SAME-UPLOADER")
    assert w.bids == (1, 2, 3, 4)
    assert [(e["cpu"], e["disk"], e["bids"]) for e in ev(w)["shared"]] == [
        ("C0", "D9", [3, 4]), ("C1", "D1", [2, 3]), ("C1", "D2", [1, 2])]


def test_identical_price_of_three_bids_is_one_warning_naming_all_three():
    [w] = screen(priced("800.00", "800.00", "900.00", "800.00"), "IDENTICAL-PRICE")
    assert (w.bids, ev(w)) == ((1, 2, 4), {"price": "800.00"})


def test_the_tender_itself_in_its_snapshot_is_neither_counted_twice_nor_cited():
    # The snapshot should never hold the registering tender, but a replay reading past
    # its own position must still recompute the same warnings: screen 12 cites only
    # *another* tender, and screen 13 counts "this one included" exactly once.
    snap = Snapshot(knowledge_position=9, tenders=(
        PriorTender("KQ-T", date(2026, 5, 12), frozenset({"A", "B"}),
                    PriorAward("A", date(2026, 5, 12), date(2026, 12, 1), frozenset({"P"}))),
        PriorTender("P-1", date(2026, 1, 1), frozenset({"A", "B"})),
        PriorTender("P-2", date(2026, 1, 2), frozenset({"A", "B"})),
    ))
    bids = [bid(1, bidder="A", personnel=[pm("P")]), bid(2, "1100.00", bidder="B")]
    got = screen(bids, snapshot=snap)
    assert [w.code for w in got] == []   # c = 3 (P-1, P-2, this) < 4; no other tender


def test_pm_elsewhere_lists_a_tender_once_when_two_of_the_bids_managers_work_there():
    snap = Snapshot(knowledge_position=9, tenders=(
        PriorTender("KQ-9", date(2025, 1, 1), frozenset({"W"}),
                    _award({"P", "Z"}, date(2025, 2, 1), date(2027, 1, 1))),))
    bids = [bid(1, personnel=[pm("P"), pm("Z", "110101********0015")])]
    [w] = screen(bids, "PM-ELSEWHERE", snapshot=snap)
    assert (w.bids, ev(w)) == ((1,), {"tenders": ["KQ-9"]})


def test_co_bidding_rotation_reads_awards_known_in_the_snapshot_even_if_later():
    # "the winner of at least one of those tenders' awards in the registration's
    # snapshot": P-3 opened inside the window but was awarded after this opening; its
    # award is in the snapshot, so it counts for rotation.
    snap = Snapshot(knowledge_position=9, tenders=(
        PriorTender("P-1", date(2026, 1, 1), frozenset({"A", "B"}),
                    PriorAward("B", date(2026, 2, 1), date(2026, 9, 1))),
        PriorTender("P-2", date(2026, 1, 2), frozenset({"A", "B"})),
        PriorTender("P-3", date(2026, 5, 12), frozenset({"A", "B"}),
                    PriorAward("A", date(2026, 5, 20), date(2026, 9, 1))),
    ))
    [w] = screen([bid(1, bidder="A"), bid(2, bidder="B")], "CO-BIDDING", snapshot=snap)
    assert ev(w) == {"tenders": ["KQ-T", "P-1", "P-2", "P-3"], "co_bids": 4,
                     "rotation": True}


def test_metrics_keep_every_digit_of_the_integer_part():
    # Sorted 1.00, 700.00, 700.01, 700.02: d = 699, sL² = (0.01² + 0 + 0.01²)/2 = 0.0001,
    # sL = 0.01, rd = 69900 exactly.
    [w] = screen(priced("700.01", "1.00", "700.02", "700.00"), "COVER-GAP")
    assert (w.bids, ev(w)["rd"]) == ((2, 4), "69900.000000")
