"""An independent reference implementation of the scoring model, from the spec alone.

Written from ``MODEL.md`` (model ``keqiao-2025`` v1) and ``PERFORMANCE.md`` §5 (v2) and
§7 (agency evaluation) *before* reading the engine, then compared with the engine on
generated record sets.  Nothing here imports the engine's rules: the catalogue below is
copied from the spec tables, not from ``scoring_models/``.

Knowledge is modelled as an integer instant ``k``: a record, a repair or a revocation
is known at ``k`` when its own instant is ``<= k`` (MODEL.md §2, "active on date t as
known at k").

Compared (hypothesis, random histories with several sectors, good-conduct duplicates,
repairs at the edges of their window, revocations, explicit bans, leap days and month
ends, ``as_of`` on validity and repair boundaries ±1 day, every knowledge position):

- the single-subject engine under keqiao-2025@1 and @2: score, components, grade,
  eligibility, bid points, multiplier, measures (basis, until), reasons, and per record
  the contribution and ``superseded``;
- the consortium rule (MODEL.md §7); the batch engine of ``credit rate-all``;
- the agency score (PERFORMANCE.md §7);
- the shipped catalogues and parameters against the spec tables, and the date functions.

A larger search: raise ``max_examples`` locally (30 000 engine examples agreed when this
was written).
"""

from __future__ import annotations

import calendar
import dataclasses
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The engine is imported only for the comparisons at the end of this module; the
# reference above them uses none of it.
from credit.batch.population import day_date, from_domain
from credit.batch.vector import NO_DATE, rate
from credit.domain import dates as engine_dates
from credit.domain.agency import AgencyRating, agency_result_body
from credit.domain.agency import evaluate_agency as engine_evaluate_agency
from credit.domain.consortium import combine
from credit.domain.engine import evaluate as engine_evaluate
from credit.domain.records import Knowledge, Record, RecordEvent
from credit.domain.trace import result_body
from scoring_models import default_registry

# --------------------------------------------------------------------------------------
# Catalogue (MODEL.md §9; PERFORMANCE.md §5 and §7)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Code:
    """One catalogue row: points, category, tier, validity/repair months, flags, family."""

    name: str
    points: int
    category: str  # market | site | good | agency
    tier: str | None
    validity: int | None  # months; None = explicit (BID-BAN)
    repair: int | None  # months; None = not repairable
    flags: frozenset[str] = frozenset()
    family: str | None = None


def _bad(name, points, category, tier, validity, repair, *flags):
    return Code(name, points, category, tier, validity, repair, frozenset(flags))


def _good(name, points, family):
    return Code(name, points, "good", None, 36, None, frozenset(), family)


CATALOGUE_V1: dict[str, Code] = {
    # market (MODEL.md §9)
    "BID-COLLUDE": _bad("串通投标", -20, "market", "serious", 36, 12),
    "BID-BRIBE": _bad("以行贿手段谋取中标", -20, "market", "serious", 36, 12),
    "BID-FRAUD": _bad("弄虚作假或以他人名义投标", -15, "market", "serious", 36, 12),
    "BID-NOSIGN": _bad("中标后无正当理由不订立合同", -8, "market", "general", 12, 3),
    "BID-ABANDON": _bad("无正当理由放弃中标资格", -5, "market", "general", 12, 3),
    "BID-COMPLAINT": _bad("捏造事实、伪造材料恶意投诉", -5, "market", "general", 12, 3),
    "BID-BAN": _bad("被依法取消投标资格", 0, "market", "serious", None, None, "bid_ban"),
    "FALSE-INFO": _bad("向监管部门提供虚假材料", -8, "market", "general", 12, 3),
    # site
    "SUB-TRANSFER": _bad("转包", -20, "site", "serious", 36, 12, "blacklist"),
    "QUAL-LEND": _bad("出借资质或挂靠", -20, "site", "serious", 36, 12, "blacklist"),
    "SUB-ILLEGAL": _bad("违法分包", -10, "site", "general", 12, 3),
    "SITE-PM-ABSENT": _bad("项目经理等关键岗位人员不在岗", -4, "site", "minor", 6, 0),
    "SITE-STAFF-MISMATCH": _bad("现场管理人员与投标承诺不一致", -2, "site", "general", 12, 3),
    "SITE-RECTIFY-REFUSE": _bad("拒不执行整改或停工指令", -6, "site", "general", 12, 3),
    "SITE-QUALITY": _bad("工程质量违法违规", -5, "site", "general", 12, 3),
    "SAFE-ACC-GENERAL": _bad("一般生产安全事故（负有责任）", -10, "site", "serious", 36, 12),
    "SAFE-ACC-LARGER": _bad("较大生产安全事故", -20, "site", "serious", 36, 12, "l2_pair"),
    "SAFE-ACC-MAJOR": _bad("重大及以上生产安全事故", -30, "site", "serious", 36, 12, "blacklist"),
    "SAFE-CONCEAL": _bad("瞒报、谎报生产安全事故", -10, "site", "serious", 36, 12),
    "WAGE-ARREARS": _bad("拖欠农民工工资", -10, "site", "general", 12, 3),
    "WAGE-BLACKLIST": _bad(
        "列入拖欠农民工工资失信联合惩戒对象名单", 0, "site", "serious", 36, 6, "blacklist"
    ),
    "ADMIN-PENALTY": _bad("其他建设领域行政处罚", -5, "site", "general", 12, 3),
    "ADMIN-CRITICISM": _bad("通报批评或约谈", -3, "site", "minor", 6, 0),
    # good
    "AWARD-NATIONAL": _good("国家级工程质量奖（鲁班奖、国家优质工程奖）", 5, "quality-award"),
    "AWARD-PROVINCIAL": _good("省级工程质量奖（钱江杯等）", 3, "quality-award"),
    "AWARD-CITY": _good("市级工程质量奖", 1, "quality-award"),
    "SITE-STANDARD-PROVINCIAL": _good("省级安全文明标准化工地", 2, "standard-site"),
    "SITE-STANDARD-CITY": _good("市级安全文明标准化工地", 1, "standard-site"),
    "COMMEND-EMERGENCY": _good("抢险救灾等省级以上表彰", 3, "emergency"),
}

#: PERFORMANCE.md §5: "Version 2 is version 1 with two catalogue rows added".
CATALOGUE_V2: dict[str, Code] = {
    **CATALOGUE_V1,
    "PERF-FAIL": _bad("合同履约评价不合格", -8, "site", "general", 12, 3),
    "PERF-EXCELLENT": _good("合同履约评价优良", 3, "performance"),
}

#: PERFORMANCE.md §7, catalogue of ``keqiao-agency-2025`` v1.
AGENCY_CATALOGUE: dict[str, Code] = {
    "AGENCY-LEAK": _bad(
        "泄露应当保密的与招标投标活动有关的情况和资料", -20, "agency", "serious", 36, 12, "restrict"
    ),
    "AGENCY-COLLUDE": _bad(
        "与招标人、投标人串通损害国家利益或他人合法权益",
        -20, "agency", "serious", 36, 12, "restrict",
    ),
    "AGENCY-RESTRICT": _bad("以不合理条件限制、排斥潜在投标人", -10, "agency", "general", 12, 3),
    "AGENCY-SPLIT": _bad("协助招标人肢解项目规避招标", -10, "agency", "general", 12, 3),
    "AGENCY-FEE": _bad("违规收取费用", -5, "agency", "general", 12, 3),
    "AGENCY-ARCHIVE": _bad("招标档案资料不全", -2, "agency", "minor", 6, 0),
}

SECTORS = ("housing", "transport", "water")
TWO = Decimal("0.01")

# --------------------------------------------------------------------------------------
# Dates (MODEL.md §2)
# --------------------------------------------------------------------------------------


def add_months(d: date, n: int) -> date:
    """Same day-of-month n months later, else the last day of that month (MODEL.md §2)."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def default_valid_until(decided_on: date, months: int) -> date:
    """``add_months(decided_on, validity_months) − 1 day`` (MODEL.md §2)."""
    return add_months(decided_on, months) - timedelta(days=1)


def max_explicit_valid_until(decided_on: date) -> date:
    """BID-BAN: at most ``add_months(decided_on, 36) − 1 day`` (MODEL.md §2)."""
    return add_months(decided_on, 36) - timedelta(days=1)


def earliest_repair(decided_on: date, repair_months: int) -> date:
    """``max(decided_on + 1 day, add_months(decided_on, repair_min_months))`` (MODEL.md §2)."""
    return max(decided_on + timedelta(days=1), add_months(decided_on, repair_months))


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rec:
    """A credit record with its life events, each stamped with a knowledge instant."""

    id: int
    position: int  # audit_position of its creation = the instant it became known
    code: str
    sector: str
    decided_on: date
    document_no: str
    explicit_valid_until: date | None = None  # BID-BAN only
    project_code: str | None = None
    repaired_on: date | None = None
    repair_position: int | None = None
    revoke_position: int | None = None


def project_key(rec: Rec) -> str | None:
    """Stored trimmed; empty or all-space counts as absent (MODEL.md §4)."""
    if rec.project_code is None:
        return None
    stripped = rec.project_code.strip()
    return stripped or None


def original_valid_until(rec: Rec, cat: dict[str, Code]) -> date:
    code = cat[rec.code]
    if code.validity is None:
        assert rec.explicit_valid_until is not None
        return rec.explicit_valid_until
    return default_valid_until(rec.decided_on, code.validity)


def effective_valid_until(rec: Rec, cat: dict[str, Code], k: int) -> date:
    """A repair recorded at or before k ends the record the day before (MODEL.md §2)."""
    vu = original_valid_until(rec, cat)
    if rec.repaired_on is not None and rec.repair_position is not None and rec.repair_position <= k:
        vu = rec.repaired_on - timedelta(days=1)
    return vu


def is_active(rec: Rec, cat: dict[str, Code], t: date, k: int) -> bool:
    """MODEL.md §2: recorded ≤ k, not revoked as known at k, decided_on ≤ t ≤ effective vu."""
    if rec.position > k:
        return False
    if rec.revoke_position is not None and rec.revoke_position <= k:
        return False
    return rec.decided_on <= t <= effective_valid_until(rec, cat, k)


# --------------------------------------------------------------------------------------
# The enterprise score (MODEL.md §3–§8)
# --------------------------------------------------------------------------------------


def factor(rec: Rec, code: Code, s: str) -> Decimal:
    """MODEL.md §3: 1 in its own sector; elsewhere 0.5 for a serious bad record, else 0."""
    if rec.sector == s:
        return Decimal(1)
    if code.category != "good" and code.tier == "serious":
        return Decimal("0.5")
    return Decimal(0)


def superseded_ids(active: list[Rec], cat: dict[str, Code]) -> set[str]:
    """MODEL.md §4: one good record per (sector, project_code, family); the rest are superseded."""
    groups: dict[tuple, list[Rec]] = {}
    for r in active:
        code = cat[r.code]
        key = project_key(r)
        if code.category != "good" or key is None:
            continue
        groups.setdefault((r.sector, key, code.family), []).append(r)
    out: set[str] = set()
    for members in groups.values():
        members.sort(
            key=lambda r: (-cat[r.code].points, r.decided_on, r.document_no, r.position)
        )
        out.update(r.id for r in members[1:])
    return out


@dataclasses.dataclass
class Measure:
    measure: str
    basis: list[str]
    until: date | None


@dataclasses.dataclass
class Result:
    score: Decimal
    grade: str
    components: dict[str, Decimal]
    measures: list[Measure]
    eligible: bool
    multiplier: Decimal
    bid_points: Decimal
    reasons: list[dict]
    contributions: dict[str, Decimal]
    superseded: set[str]


def q2(x) -> Decimal:
    """Round half-up to two decimals (MODEL.md §7, PERFORMANCE.md §7)."""
    if isinstance(x, Fraction):
        # exact: scale to cents, round half-up on the exact fraction
        cents = x * 100
        floor = cents.numerator // cents.denominator
        rem = cents - floor
        if rem >= Fraction(1, 2):
            floor += 1
        return (Decimal(floor) / 100).quantize(TWO)
    return Decimal(x).quantize(TWO, rounding=ROUND_HALF_UP)


def bid_points(score: Decimal, eligible: bool) -> Decimal:
    """MODEL.md §7: 10 × clamp((score − 60)/(105 − 60), 0, 1), exact, half-up to 2 decimals."""
    if not eligible:
        return Decimal("0.00")
    frac = (Fraction(score) - 60) / (Fraction(105) - 60)
    frac = min(max(frac, Fraction(0)), Fraction(1))
    return q2(Fraction(10) * frac)


def grade_of(score: Decimal, listed: bool) -> str:
    """MODEL.md §6: E when listed; else A ≥ 105, B ≥ 100, C ≥ 85, else D."""
    if listed:
        return "E"
    if score >= 105:
        return "A"
    if score >= 100:
        return "B"
    if score >= 85:
        return "C"
    return "D"


MULTIPLIER = {"A": "0.50", "B": "1.00", "C": "1.50", "D": "2.00", "E": "3.00"}


def evaluate(
    records: list[Rec], s: str, t: date, k: int, cat: dict[str, Code] = CATALOGUE_V1
) -> Result:
    """Score, grade, measures, bid points and reasons for sector s on t as known at k.

    Records whose code the model does not know take part in no rule and contribute
    0.00 (PERFORMANCE.md §5).
    """
    active = [r for r in records if r.code in cat and is_active(r, cat, t, k)]
    by_pos = sorted(active, key=lambda r: r.position)
    sup = superseded_ids(active, cat)

    # §3 / §4 contributions
    contrib: dict[str, Decimal] = {}
    for r in active:
        code = cat[r.code]
        c = Decimal(code.points) * factor(r, code, s)
        if r.id in sup:
            c = Decimal(0)
        contrib[r.id] = c

    # §5 score
    positive = sum((c for c in contrib.values() if c > 0), Decimal(0))
    bonus = min(positive, Decimal(15))
    deduction = sum((c for c in contrib.values() if c < 0), Decimal(0))
    score = max(Decimal(0), Decimal(100) + bonus + deduction).quantize(TWO)
    components = {
        "market": sum(
            (contrib[r.id] for r in active if cat[r.code].category == "market"), Decimal(0)
        ).quantize(TWO),
        "site": sum(
            (contrib[r.id] for r in active if cat[r.code].category == "site"), Decimal(0)
        ).quantize(TWO),
        "good": bonus.quantize(TWO),
    }

    # §6 listing
    def evu(r: Rec) -> date:
        return effective_valid_until(r, cat, k)

    l1 = [r for r in by_pos if "blacklist" in cat[r.code].flags]
    larger = [r for r in by_pos if "l2_pair" in cat[r.code].flags]
    pairs = [
        (a, b)
        for i, a in enumerate(larger)
        for b in larger[i + 1 :]
        if abs((a.decided_on - b.decided_on).days) <= 365
    ]
    listed = bool(l1 or pairs)
    grade = grade_of(score, listed)

    measures: list[Measure] = []
    bl_basis: set[str] = set()
    bl_until: date | None = None
    if listed:
        untils = []
        if l1:
            bl_basis.update(r.id for r in l1)
            untils.append(max(evu(r) for r in l1))
        if pairs:
            for a, b in pairs:
                bl_basis.update((a.id, b.id))
            untils.append(max(min(evu(a), evu(b)) for a, b in pairs))
        bl_until = max(untils)
        measures.append(Measure("blacklist", _ordered(bl_basis, by_pos), bl_until))
    bans = [r for r in by_pos if "bid_ban" in cat[r.code].flags]
    if listed or bans:
        untils = ([bl_until] if bl_until else []) + [evu(r) for r in bans]
        basis = bl_basis | {r.id for r in bans}
        measures.append(Measure("bid_ban", _ordered(basis, by_pos), max(untils)))
    serious = [r for r in by_pos if cat[r.code].tier == "serious"]
    if grade in ("D", "E") or len(serious) >= 2:
        basis = [r.id for r in serious] if len(serious) >= 2 else []
        measures.append(Measure("key_supervision", basis, None))
    names = [m.measure for m in measures]
    eligible = "bid_ban" not in names
    mult = Decimal(MULTIPLIER[grade])
    if "key_supervision" in names:
        mult = max(mult, Decimal("2.00"))

    # §8 reasons
    reasons: list[dict] = [
        {"kind": "measure", "measure": m.measure, "basis": m.basis, "until": m.until}
        for m in measures
        if m.measure in ("blacklist", "bid_ban")
    ]
    harmful = sorted(
        (r for r in active if contrib[r.id] < 0),
        key=lambda r: (
            contrib[r.id],
            -r.decided_on.toordinal(),
            r.document_no,
            r.code,
            r.position,
        ),
    )
    for r in harmful:
        reasons.append(
            {
                "kind": "record",
                "record_id": r.id,
                "code": r.code,
                "name": cat[r.code].name,
                "sector": r.sector,
                "contribution": contrib[r.id].quantize(TWO),
                "valid_until": evu(r),
            }
        )
    return Result(
        score=score,
        grade=grade,
        components=components,
        measures=measures,
        eligible=eligible,
        multiplier=mult,
        bid_points=bid_points(score, eligible),
        reasons=reasons[:5],
        contributions={i: c.quantize(TWO) for i, c in contrib.items()},
        superseded=sup,
    )


def _ordered(ids: set[str], by_pos: list[Rec]) -> list[str]:
    """Basis lists record ids in ascending audit_position (MODEL.md §6)."""
    return [r.id for r in by_pos if r.id in ids]


# --------------------------------------------------------------------------------------
# Agency score (PERFORMANCE.md §7)
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rating:
    position: int
    rated_on: date
    total: Decimal


@dataclasses.dataclass
class AgencyResult:
    score: Decimal
    grade: str
    restricted: bool
    until: date | None
    service: Decimal  # A rounded half-up to 4 decimals
    conduct: Decimal
    ratings_used: int


def evaluate_agency(
    ratings: list[Rating], records: list[Rec], t: date, k: int
) -> AgencyResult:
    """PERFORMANCE.md §7: S = 0.6·A + 0.4·R exactly, rounded half-up once to 2 decimals."""
    cat = AGENCY_CATALOGUE
    window = [
        r
        for r in ratings
        if r.position <= k and t - timedelta(days=365) <= r.rated_on <= t
    ]
    if len(window) >= 3:
        a = sum((Fraction(r.total) for r in window), Fraction(0)) / len(window)
        used = len(window)
    else:
        a = Fraction(80)
        used = 0
    active = [r for r in records if r.code in cat and is_active(r, cat, t, k)]
    r_ = max(Fraction(0), 100 - sum(Fraction(abs(cat[r.code].points)) for r in active))
    s = q2(Fraction(6, 10) * a + Fraction(4, 10) * r_)
    restrict = [r for r in active if "restrict" in cat[r.code].flags]
    if restrict:
        grade = "D"
    elif s >= 90:
        grade = "A"
    elif s >= 80:
        grade = "B"
    elif s >= 70:
        grade = "C"
    else:
        grade = "D"
    until = max((effective_valid_until(r, cat, k) for r in restrict), default=None)
    service = _q4(a)
    return AgencyResult(s, grade, bool(restrict), until, service, q2(r_), used)


def _q4(x: Fraction) -> Decimal:
    scaled = x * 10000
    floor = scaled.numerator // scaled.denominator
    if scaled - floor >= Fraction(1, 2):
        floor += 1
    return (Decimal(floor) / 10000).quantize(Decimal("0.0001"))


# --------------------------------------------------------------------------------------
# The reference against the spec's own examples (MODEL.md §2, §7, §10, §11)
# --------------------------------------------------------------------------------------


def test_reference_dates_examples():
    """MODEL.md §2's worked dates."""
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert default_valid_until(date(2026, 3, 15), 12) == date(2027, 3, 14)
    assert max_explicit_valid_until(date(2024, 2, 29)) == date(2027, 2, 27)
    assert max_explicit_valid_until(date(2026, 1, 31)) == date(2029, 1, 30)


def test_reference_bid_points_examples():
    """MODEL.md §7: 100.00 → 8.89; 85.00 → 5.56; 115.00 → 10.00; 50.00 → 0.00."""
    for score, points in [("100", "8.89"), ("85", "5.56"), ("115", "10.00"), ("50", "0.00")]:
        assert bid_points(Decimal(score), True) == Decimal(points)


def test_reference_worked_example():
    """MODEL.md §10."""
    recs = [
        Rec(1, 1, "BID-NOSIGN", "housing", date(2026, 1, 10), "d1"),
        Rec(2, 2, "SAFE-ACC-GENERAL", "transport", date(2025, 9, 1), "d2"),
        Rec(3, 3, "SITE-PM-ABSENT", "transport", date(2026, 5, 1), "d3"),
        Rec(4, 4, "AWARD-PROVINCIAL", "housing", date(2024, 12, 1), "d4", project_code="P1"),
        Rec(5, 5, "AWARD-CITY", "housing", date(2025, 2, 1), "d5", project_code="P1"),
    ]
    res = evaluate(recs, "housing", date(2026, 6, 30), 10)
    assert res.components == {
        "market": Decimal("-8.00"),
        "site": Decimal("-5.00"),
        "good": Decimal("3.00"),
    }
    assert (res.score, res.grade, res.measures) == (Decimal("90.00"), "C", [])
    assert res.multiplier == Decimal("1.50") and res.bid_points == Decimal("6.67")
    assert res.superseded == {5}


def test_reference_more_examples():
    """MODEL.md §11, examples 1–4."""
    st = Rec(1, 1, "SUB-TRANSFER", "housing", date(2025, 1, 1), "d")
    res = evaluate([st], "housing", date(2026, 3, 1), 2)
    assert (res.score, res.grade, res.bid_points) == (Decimal("80.00"), "E", Decimal("0.00"))
    assert [(m.measure, m.until, m.basis) for m in res.measures] == [
        ("blacklist", date(2027, 12, 31), [1]),
        ("bid_ban", date(2027, 12, 31), [1]),
        ("key_supervision", None, []),
    ]
    assert earliest_repair(st.decided_on, 12) == date(2026, 1, 1)
    st = dataclasses.replace(st, repaired_on=date(2026, 2, 1), repair_position=3)
    res = evaluate([st], "housing", date(2026, 3, 1), 3)
    assert (res.score, res.grade, res.bid_points, res.measures) == (
        Decimal("100.00"), "B", Decimal("8.89"), []
    )
    res = evaluate([st], "housing", date(2026, 1, 15), 3)
    assert res.grade == "E" and res.measures[0].until == date(2026, 1, 31)
    assert evaluate([st], "housing", date(2026, 3, 1), 2).grade == "E"

    ban = Rec(1, 1, "BID-BAN", "transport", date(2026, 1, 1), "a", date(2026, 12, 31))
    fraud = Rec(2, 2, "BID-FRAUD", "water", date(2025, 6, 1), "b")
    res = evaluate([ban, fraud], "housing", date(2026, 6, 1), 5)
    assert (res.score, res.grade, res.bid_points, res.multiplier) == (
        Decimal("92.50"), "C", Decimal("0.00"), Decimal("2.00")
    )
    assert [(m.measure, m.basis, m.until) for m in res.measures] == [
        ("bid_ban", [1], date(2026, 12, 31)),
        ("key_supervision", [1, 2], None),
    ]

    a = Rec(1, 1, "SAFE-ACC-LARGER", "housing", date(2025, 1, 1), "a")
    b = Rec(2, 2, "SAFE-ACC-LARGER", "water", date(2026, 1, 1), "b")
    res = evaluate([a, b], "housing", date(2026, 2, 1), 5)
    assert (res.score, res.grade, res.multiplier) == (Decimal("70.00"), "E", Decimal("3.00"))
    assert [(m.measure, m.basis, m.until) for m in res.measures] == [
        ("blacklist", [1, 2], date(2027, 12, 31)),
        ("bid_ban", [1, 2], date(2027, 12, 31)),
        ("key_supervision", [1, 2], None),
    ]
    b = dataclasses.replace(b, decided_on=date(2026, 1, 2))
    res = evaluate([a, b], "housing", date(2026, 2, 1), 5)
    assert (res.score, res.grade, res.bid_points, res.multiplier) == (
        Decimal("70.00"), "D", Decimal("2.22"), Decimal("2.00")
    )
    assert [m.measure for m in res.measures] == ["key_supervision"]

    p = Rec(1, 1, "AWARD-PROVINCIAL", "housing", date(2025, 3, 1), "a", project_code="P1")
    n = Rec(2, 2, "AWARD-NATIONAL", "transport", date(2025, 6, 1), "b", project_code="P1")
    h = evaluate([p, n], "housing", date(2026, 1, 1), 5)
    t = evaluate([p, n], "transport", date(2026, 1, 1), 5)
    assert (h.score, h.grade, h.bid_points) == (Decimal("103.00"), "B", Decimal("9.56"))
    assert (t.score, t.grade, t.bid_points) == (Decimal("105.00"), "A", Decimal("10.00"))


# --------------------------------------------------------------------------------------
# Comparison with the engine on generated histories
# --------------------------------------------------------------------------------------

REGISTRY = default_registry()
ENGINE_MODELS = {1: REGISTRY.get("keqiao-2025@1"), 2: REGISTRY.get("keqiao-2025@2")}
REFERENCE_CATALOGUES = {1: CATALOGUE_V1, 2: CATALOGUE_V2}
AGENCY_DEFINITION = REGISTRY.active_of("agency")
USCC = "91330603MA2D4F6E84"
T0 = datetime(2030, 6, 1, 9, tzinfo=engine_dates.CST)
PROFILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

ALL_CODES = {**CATALOGUE_V2, **AGENCY_CATALOGUE}
GOOD = sorted(c for c, e in CATALOGUE_V2.items() if e.category == "good")
BAD = sorted(c for c, e in CATALOGUE_V2.items() if e.category != "good")
SERIOUS = sorted(c for c, e in CATALOGUE_V2.items() if e.tier == "serious")
THEMES = {
    "any": sorted(ALL_CODES),
    "listing": ["SAFE-ACC-LARGER"] * 8 + ["BID-BAN"] * 2 + SERIOUS + ["SUB-TRANSFER"],
    "good": GOOD * 3 + ["PERF-EXCELLENT"] * 2 + BAD,
    "dedup": ["AWARD-NATIONAL", "AWARD-PROVINCIAL", "AWARD-CITY", "PERF-EXCELLENT",
              "SITE-STANDARD-CITY"] * 2 + GOOD,
    "floor": ["SAFE-ACC-MAJOR", "BID-COLLUDE", "SUB-TRANSFER", "QUAL-LEND"] + SERIOUS,
    "reasons": BAD * 2 + ["SITE-STAFF-MISMATCH", "BID-ABANDON", "BID-COMPLAINT"] * 2,
}
#: Dates near month ends, leap days and year ends, plus a plain random range.
SPECIAL_DATES = [date(2024, 2, 29), date(2024, 2, 28), date(2024, 3, 1), date(2025, 1, 31),
                 date(2025, 2, 28), date(2025, 3, 31), date(2025, 12, 31), date(2026, 1, 1),
                 date(2026, 1, 31), date(2026, 8, 31), date(2027, 2, 28), date(2028, 2, 29)]
DOCS = ["A-1", "B-1", "a-1", "甲-1", "Z"]  # code point order: "A-1" < "B-1" < "Z" < "a-1" < "甲-1"
PROJECTS = [None, "P1", "P2", "P1", ""]
any_date = st.one_of(st.sampled_from(SPECIAL_DATES),
                     st.dates(date(2023, 1, 1), date(2027, 12, 31)))


def _entry_validity(code: str, decided: date) -> date:
    """The ``valid_until`` a record is stored with (computed at entry, MODEL.md §2)."""
    return default_valid_until(decided, ALL_CODES[code].validity)


@st.composite
def histories(draw, theme_codes=None):
    """Records with repairs and revocations at random audit positions (events after their
    record), every write one position; returns (reference records, engine records,
    engine events, last position)."""
    codes = theme_codes or THEMES[draw(st.sampled_from(sorted(THEMES)))]
    n = draw(st.integers(0, 10))
    center = draw(any_date)
    sectors = draw(st.sampled_from([SECTORS, SECTORS[:1], SECTORS[:2]]))
    recent = st.one_of(st.integers(0, 1100), st.integers(0, 370)).map(
        lambda days: center - timedelta(days=days))
    decided_dates = st.one_of(any_date, recent, recent)
    drafts = []
    for i in range(1, n + 1):
        code = draw(st.sampled_from(codes))
        twin = None
        if drafts and draw(st.integers(0, 3)) == 0:
            # a second decision on the same project (MODEL.md §4's ties)
            twin = draw(st.sampled_from(drafts))
            code = twin["code"]
        entry = ALL_CODES[code]
        if twin is not None or (drafts and draw(st.integers(0, 2)) == 0):
            # ties (same day) and the pair rule's edge (365 against 366 days, MODEL.md §6)
            decided = (twin or draw(st.sampled_from(drafts)))["decided"] + timedelta(
                days=draw(st.sampled_from([0, 0, 1, -1, 365, -365, 366, -366])))
        else:
            decided = draw(decided_dates)
        explicit = None
        if entry.validity is None:
            latest = max_explicit_valid_until(decided)
            explicit = draw(st.one_of(st.just(latest), st.just(decided),
                                      st.dates(decided, latest)))
        original = explicit or _entry_validity(code, decided)
        repaired_on = None
        if entry.repair is not None and draw(st.integers(0, 2)) == 0:
            lo = earliest_repair(decided, entry.repair)
            if lo <= original:
                repaired_on = draw(st.one_of(st.just(lo), st.just(original),
                                             st.dates(lo, original)))
        revoked = draw(st.integers(0, 7)) == 0
        project = draw(st.sampled_from(PROJECTS)) if entry.category == "good" else None
        sector = draw(st.sampled_from(sectors))
        if twin is not None and draw(st.booleans()):
            project, sector = twin["project"], twin["sector"]
        drafts.append(dict(
            id=i, code=code, sector=sector, decided=decided,
            explicit=explicit, original=original, doc=draw(st.sampled_from(DOCS)),
            project=project, repaired_on=repaired_on, revoked=revoked,
            # order keys: each event comes after its record
            key=draw(st.integers(0, 20)), repair_delay=draw(st.integers(1, 20)),
            revoke_delay=draw(st.integers(1, 20)),
        ))
    items = []
    for d in drafts:
        items.append((d["key"], 0, d["id"], "record"))
        if d["repaired_on"]:
            items.append((d["key"] + d["repair_delay"], 1, d["id"], "repair"))
        if d["revoked"]:
            items.append((d["key"] + d["revoke_delay"], 2, d["id"], "revocation"))
    items.sort()
    positions = {(rid, kind): pos for pos, (_, _, rid, kind) in enumerate(items, start=1)}
    refs, recs, evs = [], [], []
    for d in drafts:
        pos = positions[(d["id"], "record")]
        refs.append(Rec(
            d["id"], pos, d["code"], d["sector"], d["decided"], d["doc"], d["explicit"],
            d["project"], d["repaired_on"], positions.get((d["id"], "repair")),
            positions.get((d["id"], "revocation")),
        ))
        recs.append(Record(
            id=d["id"], uscc=USCC, sector=d["sector"], code=d["code"],
            decided_on=d["decided"], valid_until=d["original"], document_no=d["doc"],
            audit_position=pos, recorded_at=_instant(pos), project_code=d["project"],
        ))
        for kind in ("repair", "revocation"):
            if (d["id"], kind) in positions:
                p = positions[(d["id"], kind)]
                evs.append(RecordEvent(
                    record_id=d["id"], kind=kind, audit_position=p, recorded_at=_instant(p),
                    repaired_on=d["repaired_on"] if kind == "repair" else None,
                    document_no=f"EV-{p}",
                ))
    evs.sort(key=lambda e: e.audit_position)
    return refs, recs, evs, len(items), center


def _instant(position: int):
    return T0 + timedelta(seconds=position)


@st.composite
def as_of_near(draw, refs: list[Rec], center: date):
    """An as_of at a boundary of some record (decision, validity end, repair) ± 1 day,
    near the history's centre, or any date."""
    anchors = []
    for r in refs:
        code = ALL_CODES[r.code]
        vu = r.explicit_valid_until or default_valid_until(r.decided_on, code.validity)
        anchors += [r.decided_on, vu, add_months(r.decided_on, 12)]
        if r.repaired_on:
            anchors.append(r.repaired_on)
    choice = draw(st.integers(0, 3))
    if anchors and choice < 2:
        return draw(st.sampled_from(anchors)) + timedelta(days=draw(st.integers(-1, 1)))
    if choice == 2:
        return center + timedelta(days=draw(st.integers(-5, 60)))
    return draw(any_date)


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _fmt(x: Decimal) -> str:
    text = f"{x.quantize(TWO):f}"
    return "0.00" if text == "-0.00" else text


def reference_body(res: Result) -> dict:
    """The fields of MODEL.md's result in the API's JSON form (two-decimal strings)."""
    return {
        "score": _fmt(res.score),
        "components": {k: _fmt(v) for k, v in res.components.items()},
        "grade": res.grade,
        "eligible_to_bid": res.eligible,
        "bid_points": _fmt(res.bid_points),
        "inspection_multiplier": _fmt(res.multiplier),
        "measures": [{"measure": m.measure, "basis": m.basis, "until": _iso(m.until)}
                     for m in res.measures],
        "reasons": [
            {**r, "until": _iso(r["until"])} if r["kind"] == "measure"
            else {**r, "contribution": _fmt(r["contribution"]),
                  "valid_until": _iso(r["valid_until"])}
            for r in res.reasons
        ],
    }


RESULT_KEYS = ("score", "components", "grade", "eligible_to_bid", "bid_points",
               "inspection_multiplier", "measures", "reasons")


@settings(PROFILE, max_examples=1000)
@given(data=st.data(), version=st.sampled_from([1, 2]))
def test_engine_agrees_with_the_reference(data, version):
    """MODEL.md §2–§8 (and PERFORMANCE.md §5 for version 2): score, components, grade,
    measures with basis and until, eligibility, multiplier, bid points and reasons."""
    refs, recs, evs, last, center = data.draw(histories())
    as_of = data.draw(as_of_near(refs, center))
    k = data.draw(st.one_of(st.integers(0, last + 1), st.just(last + 1)))
    sector = data.draw(st.sampled_from(SECTORS))
    want = reference_body(evaluate(refs, sector, as_of, k, REFERENCE_CATALOGUES[version]))
    got = engine_evaluate(ENGINE_MODELS[version], USCC, recs, evs, sector, as_of,
                          Knowledge(k, _instant(k)))
    body = result_body(got, None)
    assert {key: body[key] for key in RESULT_KEYS} == want
    # Per record (the trace's rows): contribution, and `superseded` (MODEL.md §4).
    ref = evaluate(refs, sector, as_of, k, REFERENCE_CATALOGUES[version])
    rows = {s.record.id: s for s in got.records}
    assert {i: _fmt(s.contribution) for i, s in rows.items() if s.contribution} == {
        i: _fmt(c) for i, c in ref.contributions.items() if c}
    assert {i for i, s in rows.items() if s.status == "superseded"} == ref.superseded


def _reference_entry(code: Code) -> dict:
    return {"name": code.name, "category": code.category, "points": Decimal(code.points),
            "tier": code.tier, "validity_months": code.validity,
            "explicit_max_months": 36 if code.validity is None else None,
            "repair_min_months": code.repair,
            "flags": {"l2_pair": "pair_rule"}.get(next(iter(code.flags), None),
                                                  next(iter(code.flags), None)),
            "family": code.family}


def _engine_entry(e) -> dict:
    return {"name": e.name, "category": e.category, "points": e.points, "tier": e.tier,
            "validity_months": e.validity_months, "explicit_max_months": e.explicit_max_months,
            "repair_min_months": e.repair_min_months,
            "flags": next(iter(e.flags), None) if e.flags else None, "family": e.family}


def test_shipped_catalogues_are_the_spec_tables():
    """MODEL.md §9, PERFORMANCE.md §5 (v2 = v1 + two rows) and §7 (agency catalogue)."""
    for version, cat in REFERENCE_CATALOGUES.items():
        engine = ENGINE_MODELS[version].catalogue
        assert {c: _engine_entry(e) for c, e in engine.items()} == {
            c: _reference_entry(e) for c, e in cat.items()}
    assert {c: _engine_entry(e) for c, e in AGENCY_DEFINITION.catalogue.items()} == {
        c: _reference_entry(e) for c, e in AGENCY_CATALOGUE.items()}


def test_shipped_model_parameters_are_the_spec_numbers():
    """MODEL.md §5–§7 and PERFORMANCE.md §7 parameters."""
    for model in ENGINE_MODELS.values():
        assert (model.base, model.bonus_cap, model.floor) == (100, 15, 0)
        assert (model.credit_weight, model.bid_floor, model.bid_full) == (10, 60, 105)
        assert model.pair_window_days == 365
        assert {g: _fmt(v) for g, v in model.multipliers.items()} == MULTIPLIER
    d = AGENCY_DEFINITION
    assert (d.min_ratings, d.default_rating, d.window_days) == (3, 80, 365)
    assert (d.service_weight, d.conduct_weight, d.conduct_base) == (
        Decimal("0.6"), Decimal("0.4"), 100)
    assert {k: v.max_points for k, v in d.items.items()} == {
        "documents": 30, "procedure": 30, "service": 20, "archive": 20}


@PROFILE
@given(d=st.one_of(st.sampled_from(SPECIAL_DATES), st.dates(date(2000, 1, 1), date(2096, 12, 31))),
       n=st.integers(0, 36))
def test_date_functions_agree(d, n):
    """MODEL.md §2: add_months, default validity, the explicit maximum, the repair floor."""
    assert engine_dates.add_months(d, n) == add_months(d, n)
    if n:
        assert engine_dates.default_valid_until(d, n) == default_valid_until(d, n)
    assert engine_dates.latest_explicit_valid_until(d, 36) == max_explicit_valid_until(d)
    assert engine_dates.earliest_repair_on(d, n) == earliest_repair(d, n)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), version=st.sampled_from([1, 2]), size=st.integers(1, 3))
def test_consortium_agrees_with_the_reference(data, version, size):
    """MODEL.md §7: lowest member score, worst grade, eligible only if all are, bid
    points from the consortium's score."""
    as_of = data.draw(any_date)
    sector = data.draw(st.sampled_from(SECTORS))
    members, refs_results = [], []
    for _ in range(size):
        refs, recs, evs, last, _center = data.draw(histories())
        members.append(engine_evaluate(ENGINE_MODELS[version], USCC, recs, evs, sector,
                                       as_of, Knowledge(last + 1, _instant(last + 1))))
        refs_results.append(evaluate(refs, sector, as_of, last + 1,
                                     REFERENCE_CATALOGUES[version]))
    got = combine(ENGINE_MODELS[version], members)
    score = min(r.score for r in refs_results)
    eligible = all(r.eligible for r in refs_results)
    assert (_fmt(got.score), got.grade, got.eligible_to_bid, _fmt(got.bid_points)) == (
        _fmt(score), max(r.grade for r in refs_results), eligible,
        _fmt(bid_points(score, eligible)))


AGENCY_USCC = "91330621MA2BX7K3QQ"
AGENCY_THEME = sorted(AGENCY_CATALOGUE) * 3 + ["BID-NOSIGN", "SUB-TRANSFER"]


@PROFILE
@given(data=st.data())
def test_agency_score_agrees_with_the_reference(data):
    """PERFORMANCE.md §7: A (mean of ≥ 3 ratings in [as_of − 365 d, as_of], else 80),
    R, S = 0.6·A + 0.4·R half-up once, grade, restriction and its until."""
    refs, recs, evs, last, center = data.draw(histories(AGENCY_THEME))
    recs = [dataclasses.replace(r, uscc=AGENCY_USCC) for r in recs]
    n = data.draw(st.integers(0, 7))
    ratings, engine_ratings = [], []
    for i in range(n):
        pos = last + 1 + i
        rated_on = center - timedelta(days=data.draw(st.sampled_from(
            [0, 365, 366, -1, 1, 364]) | st.integers(-30, 400)))
        items = {"documents": data.draw(st.integers(0, 3000)),
                 "procedure": data.draw(st.integers(0, 3000)),
                 "service": data.draw(st.integers(0, 2000)),
                 "archive": data.draw(st.integers(0, 2000))}
        values = {k: Decimal(v) / 100 for k, v in items.items()}
        total = sum(values.values(), Decimal(0))
        ratings.append(Rating(pos, rated_on, total))
        engine_ratings.append(AgencyRating(f"T{i}", AGENCY_USCC, rated_on, values, total, pos))
    end = last + n
    k = data.draw(st.one_of(st.integers(0, end + 1), st.just(end + 1)))
    as_of = data.draw(st.one_of(as_of_near(refs, center),
                                st.sampled_from([r.rated_on for r in ratings] or [center])))
    want = evaluate_agency(ratings, refs, as_of, k)
    got = agency_result_body(engine_evaluate_agency(
        AGENCY_DEFINITION, AGENCY_USCC, engine_ratings, recs, evs, as_of,
        Knowledge(k, _instant(k))))
    assert {key: got[key] for key in ("score", "grade", "restricted", "until", "components",
                                      "ratings_used")} == {
        "score": _fmt(want.score), "grade": want.grade, "restricted": want.restricted,
        "until": _iso(want.until),
        "components": {"service": f"{want.service:f}", "conduct": _fmt(want.conduct)},
        "ratings_used": want.ratings_used}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), version=st.sampled_from([1, 2]))
def test_batch_engine_agrees_with_the_reference(data, version):
    """The vectorised batch engine (``credit rate-all``) against the same reference:
    MODEL.md §5 score and components, §6 grade, measures and their ends, multiplier, §7
    bid points, §8 record reasons (ids, in order)."""
    refs, recs, evs, last, center = data.draw(histories())
    if not recs:
        return
    as_of = data.draw(as_of_near(refs, center))
    k = data.draw(st.one_of(st.integers(0, last + 1), st.just(last + 1)))
    sector = data.draw(st.sampled_from(SECTORS))
    ref = evaluate(refs, sector, as_of, k, REFERENCE_CATALOGUES[version])
    got = rate(ENGINE_MODELS[version], from_domain(recs, evs), sector, as_of, k)
    row = got.frame.iloc[0]

    def money(cents) -> str:
        return _fmt(Decimal(int(cents)).scaleb(-2))

    def day(n) -> str | None:
        return None if n == NO_DATE else day_date(int(n)).isoformat()

    measures = {m.measure: m for m in ref.measures}
    body = reference_body(ref)
    assert {
        "score": money(row["score"]),
        "components": {p: money(row[p]) for p in ("market", "site", "good")},
        "grade": row["grade"], "eligible_to_bid": bool(row["eligible_to_bid"]),
        "bid_points": money(row["bid_points"]),
        "inspection_multiplier": money(row["inspection_multiplier"]),
        "blacklist": day(row["blacklist_until"]) if row["blacklist"] else None,
        "bid_ban": day(row["bid_ban_until"]) if row["bid_ban"] else None,
        "key_supervision": bool(row["key_supervision"]),
        "record_reasons": [int(i) for i in got.reasons.sort_values("rank")["record_id"]
                           ][: 5 - sum(1 for r in ref.reasons if r["kind"] == "measure")],
    } == {
        **{key: body[key] for key in ("score", "components", "grade", "eligible_to_bid",
                                      "bid_points", "inspection_multiplier")},
        "blacklist": _iso(measures["blacklist"].until) if "blacklist" in measures else None,
        "bid_ban": _iso(measures["bid_ban"].until) if "bid_ban" in measures else None,
        "key_supervision": "key_supervision" in measures,
        "record_reasons": [r["record_id"] for r in ref.reasons if r["kind"] == "record"],
    }
