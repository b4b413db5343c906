"""A second, independent reference implementation of the 13 screens of WARNINGS.md §4,
written from the spec text only (the screens' modules were not read), and hypothesis
properties that the domain's warnings equal the reference's: screen, code, severity,
basis, the bids named, in the order §4 prescribes, and the evidence exactly (metrics
rounded half-up to 6 places from the exact value, prices and parameters as written).

The reference works on exact rationals (``fractions.Fraction``) and rounds square roots
exactly with integer square roots, so it never depends on a decimal context.

Generated tenders have 2–20 bids, values from small pools (shared identifiers, masks
that collide, the same text under two identifier kinds, exclusions, on-site uploads),
consortia whose members bid elsewhere, and valid prices built to sit exactly on, one
cent off, or anywhere around the thresholds of screens 7–9 (with ties for the lowest and
second-lowest price). Earlier tenders sit on both edges of the co-bidding window and of
the PM-ELSEWHERE contract periods, with openings near midnight CST.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from math import isqrt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
REF_CST = timezone(timedelta(hours=8))
EMPTY = Snapshot(knowledge_position=0)

# ------------------------------------------------------------------ the spec's values

# §4's table, in screen order: code, severity, basis.
TABLE = {
    1: ("SAME-PREPARER", "high", "条例第40条(一)"),
    2: ("SAME-UPLOADER", "high", "条例第40条(二)"),
    3: ("SAME-IP", "low", "条例第40条(二)"),
    4: ("SAME-DEPOSIT", "high", "条例第40条(六)"),
    5: ("SAME-PERSONNEL", "high", "条例第40条(三)"),
    6: ("IDENTICAL-PRICE", "medium", "条例第40条(四) 异常一致"),
    7: ("REGULAR-PRICES", "medium", "条例第40条(四) 规律性差异"),
    8: ("LOW-DISPERSION", "low", "Imhof (2017) CV screen"),
    9: ("COVER-GAP", "low", "Imhof (2017) relative distance"),
    10: ("LOWEST-REJECTED", "low", "cardinal R036"),
    11: ("SOLE-VALID", "medium", "cardinal R035"),
    12: ("PM-ELSEWHERE", "medium", "建市〔2014〕118号 (项目负责人不得同时在两个及以上项目任职)"),
    13: ("CO-BIDDING", "low", "OECD bid-rotation checklist"),
}
# "with these v1 values" (parameters are written as in the definition).
REGULAR_MIN_BIDS, REGULAR_TOLERANCE = 4, "0.02"
CV_MIN_BIDS, CV_MAX = 4, "0.005"
RD_MIN_BIDS, RD_MIN = 4, "3"
CO_BID_WINDOW_DAYS, CO_BID_MIN = 365, 4
DOCUMENT_KINDS = ("machine_code", "file_id", "pricing_lock")


# ------------------------------------------------------------------ exact arithmetic

def six(q: Fraction) -> str:
    """q ≥ 0 rounded half-up to 6 places: floor(q·10⁶ + ½)."""
    k = (q.numerator * 2 * 10**6 + q.denominator) // (2 * q.denominator)
    return f"{k // 10**6}.{k % 10**6:06d}"


def six_sqrt(q: Fraction) -> str:
    """√q (q ≥ 0) rounded half-up to 6 places, exactly: k = floor(√q·10⁶ + ½) is the
    largest k with 2k − 1 ≤ √(4q·10¹²), i.e. 2k − 1 ≤ isqrt(floor(4q·10¹²))."""
    r = q * 4 * 10**12
    k = (isqrt(r.numerator // r.denominator) + 1) // 2
    return f"{k // 10**6}.{k % 10**6:06d}"


def sample_variance(values: list[Fraction]) -> Fraction:
    m = sum(values, Fraction(0)) / len(values)
    return sum(((p - m) ** 2 for p in values), Fraction(0)) / (len(values) - 1)


# --------------------------------------------------------------------- the reference

def components(links: dict[object, set[int]]) -> list[tuple[list[int], list[object]]]:
    """Bids linked when they share a key; each component of ≥ 2 bids with the keys
    shared (by ≥ 2 bids) inside it."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    shared = {key: bids for key, bids in links.items() if len(bids) >= 2}
    for bids in shared.values():
        first, *rest = sorted(bids)
        for other in rest:
            parent[find(other)] = find(first)
    groups: dict[int, list[int]] = {}
    for n in parent:
        groups.setdefault(find(n), []).append(n)
    out = []
    for members in groups.values():
        keys = [k for k, bids in shared.items() if min(bids) in members]
        out.append((sorted(members), keys))
    return out


def identifier_screen(number: int, tender: Tender, keys_of, entry) -> list[tuple]:
    """Screens 1–5: ``keys_of(bid)`` the bid's linking keys, ``entry(key, bids)`` the
    evidence entry; entries sorted by their values in key order."""
    links: dict[object, set[int]] = {}
    for b in tender.bids:
        for key in keys_of(b):
            links.setdefault(key, set()).add(b.n)
    out = []
    for members, keys in components(links):
        entries = [entry(k, sorted(links[k])) for k in keys]
        entries.sort(key=lambda e: list(e.values()))
        out.append((number, members, {"shared": entries}))
    return out


def reference(tender: Tender, snapshot: Snapshot) -> list[tuple]:
    """Every warning of §4 as (screen, code, severity, basis, bids, evidence), in the
    order they are raised."""
    excl = set(tender.exclusions)
    found: list[tuple] = []

    def keys_1(b):
        return {(kind, getattr(d, kind)) for d in b.documents for kind in DOCUMENT_KINDS
                if getattr(d, kind) is not None and (kind, getattr(d, kind)) not in excl}

    def keys_2(b):
        return {(u.mac, u.cpu, u.disk) for u in b.uploads
                if not u.onsite and None not in (u.mac, u.cpu, u.disk)
                and not {("mac", u.mac), ("cpu", u.cpu), ("disk", u.disk)} & excl}

    def keys_3(b):
        return {u.ip for u in b.uploads
                if not u.onsite and u.ip is not None and ("ip", u.ip) not in excl}

    masks: dict[str, str] = {}
    for b in tender.bids:
        if b.deposit_hash is not None:
            masks[b.deposit_hash] = b.deposit_masked
        for p in b.personnel:
            masks[p.id_hash] = p.id_masked

    found += identifier_screen(1, tender, keys_1, lambda k, bids: {
        "kind": k[0], "value": k[1], "bids": bids})
    found += identifier_screen(2, tender, keys_2, lambda k, bids: {
        "mac": k[0], "cpu": k[1], "disk": k[2], "bids": bids})
    found += identifier_screen(3, tender, keys_3, lambda k, bids: {"ip": k, "bids": bids})
    found += identifier_screen(
        4, tender, lambda b: {b.deposit_hash} - {None},
        lambda k, bids: {"deposit_account_masked": masks[k], "bids": bids})
    found += identifier_screen(
        5, tender, lambda b: {p.id_hash for p in b.personnel},
        lambda k, bids: {"id_number_masked": masks[k], "bids": bids})
    found += price_screens(tender)
    found += history_screens(tender, snapshot)
    found.sort(key=lambda w: (w[0], w[1]))
    return [(s, *TABLE[s], tuple(bids), ev) for s, bids, ev in found]


def price_screens(tender: Tender) -> list[tuple]:
    found: list[tuple] = []
    valid = sorted((b for b in tender.bids if b.valid), key=lambda b: (b.price, b.n))
    p = [Fraction(b.price) for b in valid]
    n = len(p)
    every_valid = [b.n for b in valid]
    # 6: one warning per price shared by ≥ 2 valid bids
    by_price: dict[Fraction, list[Bid]] = {}
    for b in valid:
        by_price.setdefault(Fraction(b.price), []).append(b)
    for bids in by_price.values():
        if len(bids) >= 2:
            found.append((6, sorted(b.n for b in bids), {"price": str(bids[0].price)}))
    # 7
    if n >= REGULAR_MIN_BIDS:
        g = [p[k + 1] - p[k] for k in range(n - 1)]
        spread = (max(g) - min(g)) * (n - 1)
        if min(g) > 0 and spread <= Fraction(REGULAR_TOLERANCE) * sum(g):
            found.append((7, sorted(every_valid), {"gap_spread": six(spread / sum(g)),
                                                    "regular_tolerance": REGULAR_TOLERANCE}))
    if tender.method != "benchmark" and n >= CV_MIN_BIDS:  # 8
        m = sum(p, Fraction(0)) / n
        s2 = sample_variance(p)
        if s2 <= Fraction(CV_MAX) ** 2 * m**2:
            found.append((8, sorted(every_valid), {"cv": six_sqrt(s2 / m**2),
                                                    "cv_max": CV_MAX}))
    if tender.method != "benchmark" and n >= RD_MIN_BIDS:  # 9
        d = p[1] - p[0]
        sl2 = sample_variance(p[1:])
        if sl2 > 0 and d**2 >= Fraction(RD_MIN) ** 2 * sl2:
            found.append((9, sorted([valid[0].n, valid[1].n]),
                          {"rd": six_sqrt(d**2 / sl2), "rd_min": RD_MIN}))
    # 10
    if tender.method == "lowest_price" and len(tender.bids) >= 2:
        low = min(b.price for b in tender.bids)
        lows = [b for b in tender.bids if b.price == low and not b.valid]
        if lows:
            found.append((10, [b.n for b in lows], {"lowest_price": str(lows[0].price)}))
    # 11
    if len(tender.bids) >= 3 and n == 1:
        found.append((11, [b.n for b in tender.bids], {"valid_bid": valid[0].n}))
    return found


def history_screens(tender: Tender, snapshot: Snapshot) -> list[tuple]:
    found: list[tuple] = []
    day = tender.opened_at.astimezone(REF_CST).date()
    others = [t for t in snapshot.tenders if t.code != tender.code]
    # 12
    for b in tender.bids:
        managers = {p.id_hash for p in b.personnel if p.role == "project_manager"}
        if not b.valid or not managers:
            continue
        codes = sorted(t.code for t in others if t.award is not None
                       and t.award.awarded_on <= day <= t.award.end
                       and managers & t.award.project_managers)
        if codes:
            found.append((12, [b.n], {"tenders": codes}))
    # 13
    start = day - timedelta(days=CO_BID_WINDOW_DAYS)
    for x, y in combinations(tender.bids, 2):
        a, c = x.bidder.uscc, y.bidder.uscc
        both = [t for t in others if start <= t.opened_on <= day
                and a in t.bidders and c in t.bidders]
        count = 1 + len(both)
        if count >= CO_BID_MIN:
            winners = {t.award.winner for t in both if t.award is not None}
            found.append((13, [x.n, y.n], {
                "tenders": sorted([tender.code, *(t.code for t in both)]),
                "co_bids": count, "rotation": a in winners and c in winners}))
    return found


def domain(tender: Tender, snapshot: Snapshot) -> list[tuple]:
    """The domain's warnings in the same shape; evidence as canonical JSON so that a
    ``1`` where ``true`` belongs (or a Decimal, or a tuple order) shows."""
    return [(w.screen, w.code, w.severity, w.basis, tuple(w.bids),
             json.dumps(w.evidence, sort_keys=True, ensure_ascii=False))
            for w in run(DEFINITION, tender, snapshot)]


def expected(tender: Tender, snapshot: Snapshot) -> list[tuple]:
    return [(*w[:5], json.dumps(w[5], sort_keys=True, ensure_ascii=False))
            for w in reference(tender, snapshot)]


def check(tender: Tender, snapshot: Snapshot = EMPTY) -> None:
    got, want = domain(tender, snapshot), expected(tender, snapshot)
    # first the set of (code, bids, severity), then everything in order
    assert sorted(w[1:5] for w in got) == sorted(w[1:5] for w in want)
    assert got == want


# ------------------------------------------------------------------------ builders

OPENINGS = [
    datetime(2026, 5, 12, 9, 30, tzinfo=REF_CST),
    datetime(2026, 5, 12, 16, 30, tzinfo=timezone.utc),        # 00:30 CST on 13 May
    datetime(2026, 5, 12, 15, 59, 59, tzinfo=timezone.utc),    # 23:59:59 CST on 12 May
    datetime(2024, 2, 29, 10, 0, tzinfo=REF_CST),              # a window across a leap day
]
BIDDERS = [f"913306{i:02d}MA2D4F6E{i:02d}" for i in range(24)]
# two accounts and two persons share a mask: entries then sort by their bids
ACCOUNTS = [("a1" * 32, "****1234"), ("a2" * 32, "****1234"), ("a3" * 32, "****0567"),
            ("a4" * 32, "****9999")]
PERSONS = [("b1" * 32, "330621********1236"), ("b2" * 32, "330621********1236"),
           ("b3" * 32, "110101********0015"), ("b4" * 32, "330621********123X")]
# "X1" is a machine code and a file id, "A2" a mac and a cpu: the same text under two
# kinds never links, and an exclusion names one kind only
EXCLUDABLE = [("machine_code", "X1"), ("file_id", "X1"), ("pricing_lock", "L2"),
              ("mac", "A2"), ("cpu", "C1"), ("disk", "D1"), ("ip", "10.0.0.2"),
              ("ip", "2001:DB8::1".lower()), ("machine_code", "8F3A22C1")]


def yuan(cents: int) -> Decimal:
    """A price as the input writes it: two decimals."""
    return Decimal(f"{cents // 100}.{cents % 100:02d}")


def maybe(values):
    return st.one_of(st.none(), st.sampled_from(values))


documents = st.builds(Document, machine_code=maybe(["X1", "X2", "X3"]),
                      file_id=maybe(["X1", "F2"]), pricing_lock=maybe(["L1", "L2"])
                      ).filter(lambda d: (d.machine_code, d.file_id, d.pricing_lock)
                               != (None, None, None))
uploads = st.one_of(
    st.builds(Upload, mac=st.sampled_from(["A1", "A2"]), cpu=st.sampled_from(["C1", "A2"]),
              disk=st.sampled_from(["D1", "D2"]),
              ip=maybe(["10.0.0.1", "10.0.0.2", "2001:db8::1", "9.9.9.9"]),
              onsite=st.sampled_from([False, False, True])),
    st.builds(Upload, mac=maybe(["A1"]), cpu=maybe(["C1"]), disk=maybe(["D1"]),
              ip=maybe(["10.0.0.1", "9.9.9.9", "::1"]), onsite=st.booleans()
              ).filter(lambda u: (u.mac, u.cpu, u.disk, u.ip) != (None,) * 4))
persons = st.builds(lambda role, p: Person(role, *p),
                    st.sampled_from(["project_manager", "project_manager", "technical_lead",
                                     "safety_officer"]),
                    st.sampled_from(PERSONS))


# p₂…pₙ deviations (Σe = 0, Σe² = (r−1)·w²) for r = n − 1 others: sL is rational, so
# d = 3·sL is a whole number of cents and COVER-GAP's threshold is hit exactly (odd r
# use ±1 pairs and a 0; see valid_prices)
COVER_SHAPES = {4: [1, 1, 1, -3], 6: [3, -3, 1, -1, 0, 0], 8: [3, -3, 2, -2, 1, -1, 0, 0]}


@st.composite
def valid_prices(draw, k: int) -> list[int]:
    """k valid prices in cents, in no particular order, around the thresholds."""
    style = draw(st.sampled_from(["independent", "identical", "cluster", "regular",
                                  "cv", "cover"]))
    base = draw(st.integers(100_000, 5_000_000))
    if style == "independent":
        out = [draw(st.integers(100_000, 2_000_000)) for _ in range(k)]
    elif style == "identical":
        out = [draw(st.sampled_from([base, base + 1, base + 100])) for _ in range(k)]
    elif style == "cluster":
        width = draw(st.sampled_from([0, 10, 500, 5_000]))
        out = [base + draw(st.integers(0, width)) for _ in range(k)]
    elif style == "regular" and k >= 4:
        # gaps 50D − D/2, 50D + D/2 and 50D: (max − min)·(n−1) = D·(n−1) = 0.02·Σg exactly
        half = draw(st.integers(1, 100))
        d = 2 * half
        gaps = [50 * d - half, 50 * d + half] + [50 * d] * (k - 3)
        gaps = draw(st.permutations(gaps))
        out = [base]
        for g in gaps:
            out.append(out[-1] + g)
    elif style == "cv" and k in (4, 5, 6):
        # s² = 0.005²·m² exactly: 4·(401,401,401,397)t, 5·(1001,999,1007,993,1000)t,
        # 6·(403,397,401,399,400,400)t
        t = draw(st.integers(100, 5_000))
        shape = {4: [401, 401, 401, 397], 5: [1001, 999, 1007, 993, 1000],
                 6: [403, 397, 401, 399, 400, 400]}[k]
        out = [t * s for s in shape]
    elif style == "cover" and k >= 4:
        # the others p₂…pₙ, then p₁ = p₂ − d with d at, just under or just over 3·sL
        if draw(st.booleans()):
            # deviations e of p₂…pₙ with Σe = 0 and Σe² = (n−2)·w², so sL = w·t
            t = draw(st.integers(1, 5_000))
            e = COVER_SHAPES.get(k - 1) or [1, -1] * ((k - 1) // 2) + [0] * (1 - k % 2)
            rest = [base + 2_000 + t * x for x in e]
        else:
            rest = [base + draw(st.integers(0, draw(st.sampled_from([0, 50, 20_000]))))
                    for _ in range(k - 1)]
        sl2 = sample_variance([Fraction(c) for c in rest])
        q = 9 * sl2
        ceil_q = -((-q.numerator) // q.denominator)
        d_min = isqrt(ceil_q - 1) + 1 if q > 0 else 0       # least d with d² ≥ 9·sL²
        d = max(0, d_min + draw(st.sampled_from([-1, 0, 0, 1, 1000])))
        out = [min(rest) - d, *rest]
    else:
        out = [base + draw(st.integers(0, 50_000)) for _ in range(k)]
    if out and draw(st.integers(0, 3)) == 0:       # one cent off
        i = draw(st.integers(0, len(out) - 1))
        out[i] += draw(st.sampled_from([-1, 1]))
    assert all(c > 0 for c in out)
    return draw(st.permutations(out))


@st.composite
def bids_of(draw, k: int) -> list[Bid]:
    statuses = draw(st.lists(st.sampled_from(["valid", "valid", "valid", "rejected"]),
                             min_size=k, max_size=k))
    if draw(st.integers(0, 7)) == 0:                       # exactly one valid
        statuses = ["rejected"] * k
        statuses[draw(st.integers(0, k - 1))] = "valid"
    valid = iter(draw(valid_prices(statuses.count("valid"))))
    prices = [next(valid) if s == "valid" else 0 for s in statuses]
    low = min((c for c in prices if c), default=draw(st.integers(100_000, 2_000_000)))
    prices = [c or max(1, low + draw(st.sampled_from([-1, 0, 0, 1, 70_000])))
              for c in prices]
    bidders = draw(st.permutations(BIDDERS))[:k]
    density = draw(st.sampled_from([0, 1, 2]))     # how much identifying data bids carry
    out = []
    for i, (bidder, status, cents) in enumerate(zip(bidders, statuses, prices, strict=True)):
        account = draw(maybe(ACCOUNTS)) if density else None
        people = draw(st.lists(persons, max_size=density, unique_by=lambda p: p.id_hash))
        out.append(Bid(
            n=i + 1, bidder=Party(bidder, f"投标人{i + 1}"), price=yuan(cents), status=status,
            submitted_at=datetime(2024, 1, 1, tzinfo=REF_CST),
            consortium=tuple(Party(f"{bidder}-M{j}", "成员")
                             for j in range(draw(st.integers(0, 1)))),
            reject_reason="资格审查不合格" if status == "rejected" else None,
            documents=tuple(draw(st.lists(documents, max_size=density))),
            uploads=tuple(draw(st.lists(uploads, max_size=density))),
            deposit_hash=account[0] if account else None,
            deposit_masked=account[1] if account else None,
            personnel=tuple(people)))
    return out


@st.composite
def snapshots(draw, bids: list[Bid], day: date) -> Snapshot:
    """Earlier tenders: mostly this tender's first bidders (so pairs co-bid often), a
    consortium member as a bidder now and then, dates on both edges of the window."""
    pool = [b.bidder.uscc for b in bids[:4]]
    members = [m.uscc for b in bids for m in b.consortium][:2]
    others = [b.bidder.uscc for b in bids[4:6]] + members + ["91330699MA00000000"]
    offsets = st.one_of(st.sampled_from([-366, -365, -364, -1, 0, 1]),
                        st.integers(-400, 3))
    codes = draw(st.lists(st.sampled_from(
        ["KQ-2025-0001", "KQ-2025-0002", "KQ-b", "KQ-B", "KQ-10", "KQ-9", "甲-1", "Z-1",
         "a-1", "KQ-2025-0100"]), max_size=9, unique=True))
    tenders = []
    for code in codes:
        bidders = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
        bidders += draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
        award = None
        if draw(st.integers(0, 2)):
            awarded_on = day + timedelta(days=draw(offsets))
            end = day + timedelta(days=draw(st.sampled_from([-1, 0, 1, 200])))
            award = PriorAward(
                winner=draw(st.sampled_from(bidders)), awarded_on=awarded_on,
                end=max(end, awarded_on),
                project_managers=frozenset(draw(st.lists(st.sampled_from(
                    [p[0] for p in PERSONS]), max_size=2))))
        tenders.append(PriorTender(code=code, opened_on=day + timedelta(days=draw(offsets)),
                                   bidders=frozenset(bidders), award=award))
    return Snapshot(knowledge_position=draw(st.integers(0, 99)), tenders=tuple(tenders))


def make_tender(bids, *, method="lowest_price", exclusions=(), opened_at=OPENINGS[0],
                code="KQ-2026-0031") -> Tender:
    return Tender(code=code, name="柯桥区某村道路硬化工程", sector="transport",
                  tenderee=Party("11330621002587465Y", "柯桥区某镇人民政府"), agency=None,
                  method=method, ceiling_price=Decimal("99999999.00"), opened_at=opened_at,
                  village=True, bids=tuple(bids), exclusions=frozenset(exclusions))


@st.composite
def cases(draw, *, min_bids: int = 2, max_bids: int = 20, history: bool = True):
    bids = draw(bids_of(draw(st.integers(min_bids, max_bids))))
    opened_at = draw(st.sampled_from(OPENINGS))
    tender = make_tender(
        bids, method=draw(st.sampled_from(["lowest_price", "comprehensive", "benchmark"])),
        exclusions=draw(st.lists(st.sampled_from(EXCLUDABLE), max_size=4)),
        opened_at=opened_at)
    day = opened_at.astimezone(REF_CST).date()
    snapshot = draw(snapshots(bids, day)) if history else EMPTY
    return tender, snapshot


PROFILE = settings(max_examples=200, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ------------------------------------------------------------------------ properties

@PROFILE
@given(cases())
def test_the_domain_raises_exactly_the_references_warnings(case):
    check(*case)


@settings(PROFILE, max_examples=300)
@given(cases(min_bids=4, max_bids=8, history=False))
def test_price_screens_around_their_thresholds_equal_the_reference(case):
    tender, _ = case
    check(tender)


def test_the_reference_itself_hits_every_screen_and_both_sides_of_each_threshold():
    """A guard on the generator: over a fixed sample, each screen fires, and the price
    screens hit their exact thresholds (a metric equal to its parameter)."""
    fired: set[int] = set()
    at_threshold: set[int] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(cases(min_bids=2, max_bids=10))
    def sample(case):
        for w in reference(*case):
            fired.add(w[0])
            ev = w[5]
            if (w[0] == 7 and Fraction(ev["gap_spread"]) == Fraction(REGULAR_TOLERANCE)
                    or w[0] == 8 and Fraction(ev["cv"]) == Fraction(CV_MAX)
                    or w[0] == 9 and Fraction(ev["rd"]) == Fraction(RD_MIN)):
                at_threshold.add(w[0])

    sample()
    assert fired == set(TABLE)
    assert at_threshold == {7, 8, 9}


# --------------------------------------------------------- the spec's verbatim values

def test_the_definition_carries_the_spec_v1_values():
    assert (DEFINITION.id, DEFINITION.version) == ("keqiao-screens-2025", 1)
    assert (DEFINITION.regular_min_bids, str(DEFINITION.regular_tolerance),
            DEFINITION.cv_min_bids, str(DEFINITION.cv_max), DEFINITION.rd_min_bids,
            str(DEFINITION.rd_min), DEFINITION.co_bid_window_days, DEFINITION.co_bid_min) \
        == (4, "0.02", 4, "0.005", 4, "3", 365, 4)


def test_the_section_2_example_bid_twice_over():
    """§2's example bid, its raw values normalised and masked as §2 says, sent twice by
    two bidders (the second one rejected, cheaper): every identifier screen links them;
    its own exclusion (machine code 8F3A-22C1) never counts."""
    key = b"k" * 32
    account = ids.normalise_account("6222 0212 0400 1234 567")
    person = ids.check_id_number("330621198001011236", date(2026, 5, 12))
    assert (account, ids.mask_account(account)) == ("6222021204001234567", "****4567")
    assert ids.mask_id_number(person) == "330621********1236"
    mac, cpu, disk = (ids.normalise_identifier(v)
                      for v in ("00-1A-2B-3C-4D-5E", "BFEBFBFF000906EA", "S3Z9NB0K"))
    assert mac == "001A2B3C4D5E"

    def example(n, bidder, price, status, machine_code):
        return Bid(
            n=n, bidder=Party(bidder, "浙江柯桥建工有限公司"), price=Decimal(price),
            status=status, submitted_at=datetime(2026, 5, 12, 8, 41, 7, tzinfo=REF_CST),
            consortium=(Party("91330602MA2C8R1L5T", "绍兴某设计院有限公司"),) if n == 1 else (),
            reject_reason="未按要求提交投标保证金" if status == "rejected" else None,
            documents=(Document(machine_code=ids.normalise_identifier(machine_code),
                                file_id="F88A1", pricing_lock="JS0091"),),
            uploads=(Upload(mac=mac, cpu=cpu, disk=disk,
                            ip=ids.normalise_ip("115.220.4.17")),),
            deposit_hash=ids.keyed_hash(key, account), deposit_masked="****4567",
            personnel=(Person("project_manager", ids.keyed_hash(key, person),
                              "330621********1236"),))

    bids = [example(1, "91330603MA2D4F6E84", "1196000.00", "valid", "7A1C-90EE"),
            example(2, "91330604MA2D4F6E85", "1195000.00", "rejected", "8F3A-22C1"),
            example(3, "91330605MA2D4F6E86", "1280000.00", "valid", "8F3A-22C1")]
    tender = make_tender(bids, exclusions=[("machine_code", "8F3A22C1")],
                         opened_at=OPENINGS[0])
    check(tender)
    got = {w.code: (w.bids, json.loads(json.dumps(w.evidence)))
           for w in run(DEFINITION, tender, EMPTY)}
    assert got["SAME-PREPARER"] == ((1, 2, 3), {"shared": [
        {"kind": "file_id", "value": "F88A1", "bids": [1, 2, 3]},
        {"kind": "pricing_lock", "value": "JS0091", "bids": [1, 2, 3]}]})
    assert got["SAME-UPLOADER"][1] == {"shared": [
        {"mac": "001A2B3C4D5E", "cpu": "BFEBFBFF000906EA", "disk": "S3Z9NB0K",
         "bids": [1, 2, 3]}]}
    assert got["SAME-IP"][1] == {"shared": [{"ip": "115.220.4.17", "bids": [1, 2, 3]}]}
    assert got["SAME-DEPOSIT"][1] == {"shared": [
        {"deposit_account_masked": "****4567", "bids": [1, 2, 3]}]}
    assert got["SAME-PERSONNEL"][1] == {"shared": [
        {"id_number_masked": "330621********1236", "bids": [1, 2, 3]}]}
    assert got["LOWEST-REJECTED"] == ((2,), {"lowest_price": "1195000.00"})
    assert "330621198001011236" not in json.dumps([w.evidence for w in run(
        DEFINITION, tender, EMPTY)])


def test_pairs_are_ordered_1_2_before_1_3():
    """"(so pair (1,2) before (1,3))": three bidders who co-bid three times before."""
    bids = [Bid(n=i, bidder=Party(u, u), price=yuan(100_000 + 7_919 * i * i), status="valid",
                submitted_at=OPENINGS[0]) for i, u in enumerate(["A", "B", "C"], 1)]
    snap = Snapshot(knowledge_position=5, tenders=tuple(
        PriorTender(f"P-{i}", date(2026, 1, i + 1), frozenset({"A", "B", "C"}))
        for i in range(3)))
    got = [w.bids for w in run(DEFINITION, make_tender(bids), snap)]
    assert got == [(1, 2), (1, 3), (2, 3)]
    check(make_tender(bids), snap)


def test_a_gap_spread_exactly_half_way_rounds_up():
    """Gaps 7999.99, 8000.01 and 8000.00: (max − min)·(n−1)/Σg = 0.02·3/24000 =
    0.0000025 exactly, "rounded half-up" to 0.000003 (half-even would give 0.000002)."""
    prices = [1_000_000, 1_799_999, 2_600_000, 3_400_000]
    bids = [Bid(n=i, bidder=Party(f"U{i}", "投标人"), price=yuan(c), status="valid",
                submitted_at=OPENINGS[0]) for i, c in enumerate(prices, 1)]
    tender = make_tender(bids, method="benchmark")
    [w] = [w for w in run(DEFINITION, tender, EMPTY) if w.code == "REGULAR-PRICES"]
    assert w.evidence["gap_spread"] == "0.000003"
    check(tender)
