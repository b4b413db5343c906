"""An independent reference for post-award performance evaluation, from the spec alone.

Written from ``PERFORMANCE.md`` §2 (a contract's end and status), §3 (an evaluation's
deductions, L and its rating), §4 (what an approval creates: the ``PERF-*`` record code
and the PM-ABSENT warning — the decision only) and §6 (the contract-value weighted
performance index and the consortium's index), with ``MODEL.md`` §2 for ``add_months``
and API.md §1 for decimal texts, *without* reading the domain's rules: only the public
signatures and data classes of ``credit.domain.performance`` are used, to call it. The
indicator table, the bands and the codes below are copied from the spec text, not from
``scoring_models/``.

Compared (hypothesis): valid deduction sets, including sets built to land exactly on a
band edge or one cent below it, on 0.00 and below it; approvals of every kind × rating ×
manager flag × deducted items; indexes over random contracts around the 36-month window
edges, leap days and month ends, and exact half-cent ties; consortium indexes.

The hand-derived golden cases are in ``tests/golden/performance.toml``; this module does
not repeat them.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The domain is imported only for the comparisons below the reference.
from credit.domain.performance import (
    CompletedContract,
    Deduction,
    approval_effects,
    consortium_index,
    contract_end,
    contract_status,
    deduction_problems,
    evaluation_score,
    performance_index,
    raises_pm_absent,
    record_code_on_approval,
)
from scoring_models import default_registry

# --------------------------------------------------------------------------------------
# The reference (PERFORMANCE.md §3, §4, §6; MODEL.md §2)
# --------------------------------------------------------------------------------------

#: §3, indicators of keqiao-performance-2025 v1: item → maximum points.
INDICATORS: dict[str, Decimal] = {
    "PM-ABSENT": Decimal("20.00"),
    "STAFF-MISMATCH": Decimal("10.00"),
    "SCHEDULE": Decimal("20.00"),
    "QUALITY": Decimal("20.00"),
    "SAFETY": Decimal("15.00"),
    "WAGES": Decimal("15.00"),
    "VARIATION": Decimal("10.00"),
    "COOPERATION": Decimal("10.00"),
}
#: §3: "deductions: 0–8".
MAX_DEDUCTIONS = 8
#: §3 bands: excellent L ≥ 90, pass L ≥ 75, basic L ≥ 60, fail otherwise.
BANDS = (("excellent", Decimal(90)), ("pass", Decimal(75)), ("basic", Decimal(60)))
#: §4.1: an approved final evaluation rated excellent or fail creates these codes.
RECORD_CODES = {"excellent": "PERF-EXCELLENT", "fail": "PERF-FAIL"}
#: §4.2: a PM-ABSENT or STAFF-MISMATCH deduction (or the manager absent) raises PM-ABSENT.
WARNING_ITEMS = frozenset({"PM-ABSENT", "STAFF-MISMATCH"})
#: The domain's name for "project_manager_on_site was false" among the triggers.
MANAGER_ABSENT = "project_manager_on_site"
#: §2: overdue when "today > `completion_due` + 30 days".
OVERDUE_AFTER_DAYS = 30
#: §6: the index window, in months.
WINDOW_MONTHS = 36
CENT = Decimal("0.01")


def add_months(d: date, n: int) -> date:
    """MODEL.md §2: same day-of-month n months later, else that month's last day."""
    index = d.year * 12 + d.month - 1 + n
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def two_decimals(text) -> bool:
    """§3: "Points and other decimals must be strings with exactly two decimals"; API.md
    §1: "strings with exactly two decimals, no `+`, never `-0.00`"."""
    if not isinstance(text, str) or text == "-0.00":
        return False
    whole, dot, frac = text.removeprefix("-").partition(".")
    return (dot == "." and len(frac) == 2 and frac.isascii() and frac.isdigit()
            and whole.isascii() and whole.isdigit())


def ref_deduction_refusals(deductions: list[dict]) -> list[tuple[str, str | None, str | None]]:
    """§3's rules for ``deductions`` (the notes aside): (field, error code, maximum named).

    Only used on inputs with at most one fault, so the order of several problems and how
    they overlap (which API.md settles, not §3) does not matter here.
    """
    out: list[tuple[str, str | None, str | None]] = []
    if len(deductions) > MAX_DEDUCTIONS:
        out.append(("deductions", None, None))
    seen: set[str] = set()
    for i, d in enumerate(deductions):
        item, points = d["item"], d["points"]
        if item not in INDICATORS:
            out.append((f"deductions.{i}.item", None, None))
        elif item in seen:
            out.append((f"deductions.{i}.item", "duplicate_item", None))
        seen.add(item)
        if not two_decimals(points):
            out.append((f"deductions.{i}.points", None, None))
        elif item in INDICATORS and not Decimal(0) < Decimal(points) <= INDICATORS[item]:
            out.append((f"deductions.{i}.points", "points_out_of_range",
                        f"{INDICATORS[item]:.2f}"))
    return out


def ref_score(points: list[Decimal]) -> Decimal:
    """§3: L = 100 − Σ points (never below 0.00), two decimals, no rounding needed."""
    exact = Fraction(100) - sum((Fraction(p) for p in points), Fraction(0))
    exact = max(exact, Fraction(0))
    cents = exact * 100
    assert cents.denominator == 1  # two-decimal points: L is exact in cents
    return Decimal(cents.numerator).scaleb(-2)


def ref_rating(score: Decimal) -> str:
    """§3 bands: each edge belongs to the band above it ("L ≥ 90")."""
    for rating, minimum in BANDS:
        if score >= minimum:
            return rating
    return "fail"


def ref_approval(kind: str, rating: str, on_site: bool, items: list[str]
                 ) -> tuple[str | None, frozenset[str]]:
    """§4: (code of the record for every party or None, what raises the PM-ABSENT warning).

    1. "For an approved **final** evaluation rated `excellent` or `fail`: one record …
       with code `PERF-EXCELLENT` resp. `PERF-FAIL`".
    2. "For an approved evaluation (periodic or final) with `project_manager_on_site`
       false or a `PM-ABSENT` or `STAFF-MISMATCH` deduction: a warning `PM-ABSENT`".
    """
    code = RECORD_CODES.get(rating) if kind == "final" else None
    triggers = set(WARNING_ITEMS & set(items))
    if not on_site:
        triggers.add(MANAGER_ABSENT)
    return code, frozenset(triggers)


def half_up_cents(value: Fraction) -> Decimal:
    """Round a non-negative exact value half-up to two decimals (§ header: "every rounding
    is half-up, once, at the end")."""
    assert value >= 0
    cents = value * 100
    q, r = divmod(cents.numerator, cents.denominator)
    if 2 * r >= cents.denominator:
        q += 1
    return Decimal(q).scaleb(-2)


def ref_contract(completion_due: date, final_completed_on: date | None, today: date
                 ) -> tuple[date, str]:
    """§2: a contract's *end* (the approved final evaluation's `completed_on`, else
    `completion_due`) and its status: `completed` with an approved final evaluation,
    `overdue` with none and today > completion_due + 30 days, else `in_progress`."""
    end = final_completed_on if final_completed_on is not None else completion_due
    if final_completed_on is not None:
        return end, "completed"
    if today > completion_due + timedelta(days=OVERDUE_AFTER_DAYS):
        return end, "overdue"
    return end, "in_progress"


def ref_window(as_of: date) -> tuple[date, date]:
    """§6: ``add_months(as_of, −36) < completed_on ≤ as_of`` — (exclusive start, end)."""
    return add_months(as_of, -WINDOW_MONTHS), as_of


def ref_index(contracts: list[tuple[str, Decimal, Decimal, date]], as_of: date
              ) -> tuple[Decimal | None, list[str]]:
    """§6: (index, tenders used) from (tender, L, contract_price, completed_on) rows.

    ``index`` = Σ(Lᵢ·Cᵢ) / ΣCᵢ computed exactly and rounded half-up once to two decimals,
    or None with none in the window.
    """
    after, until = ref_window(as_of)
    used = [c for c in contracts if after < c[3] <= until]
    if not used:
        return None, []
    weighted = sum((Fraction(s) * Fraction(p) for _, s, p, _ in used), Fraction(0))
    total = sum((Fraction(p) for _, _, p, _ in used), Fraction(0))
    return half_up_cents(weighted / total), [c[0] for c in used]


def ref_consortium_index(members: list[Decimal | None]) -> Decimal | None:
    """§6: "for a consortium the lowest non-null member index"."""
    known = [m for m in members if m is not None]
    return min(known) if known else None


# --------------------------------------------------------------------------------------
# The reference against the spec's own sentences (verbatim examples)
# --------------------------------------------------------------------------------------


def test_reference_dates_of_model_section_2():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 2, 29), -36) == date(2025, 2, 28)
    assert add_months(date(2026, 6, 30), -36) == date(2023, 6, 30)


def test_reference_rounding_is_half_up():
    assert half_up_cents(Fraction(80005, 1000)) == Decimal("80.01")
    assert half_up_cents(Fraction(80004999, 1000000)) == Decimal("80.00")
    assert half_up_cents(Fraction(1265, 18)) == Decimal("70.28")


# --------------------------------------------------------------------------------------
# Worked examples the spec states (PERFORMANCE.md §3, §4)
# --------------------------------------------------------------------------------------

DEF = default_registry().active_of("performance")


def test_section_3_request_example():
    """§3's request: one SCHEDULE deduction of "6.00", the manager not on site:
    L = 100 − 6.00 = 94.00, excellent; approving it (periodic) creates no record and
    raises the PM-ABSENT warning ("project_manager_on_site false")."""
    body = [{"item": "SCHEDULE", "points": "6.00", "note": "主体结构滞后 21 天"}]
    assert deduction_problems(DEF, body) == []
    got = evaluation_score(DEF, [Deduction("SCHEDULE", Decimal("6.00"))])
    assert (f"{got.score:f}", got.rating) == ("94.00", "excellent")
    effects = approval_effects(DEF, "periodic", got.rating, False, ["SCHEDULE"])
    assert effects.record_code is None
    assert effects.warning is not None and effects.warning.code == "PM-ABSENT"
    assert set(effects.warning_triggers) == {MANAGER_ABSENT}


def test_section_3_points_need_two_decimals():
    """§3: "(`"6.00"`; `"6"` is 400)"."""
    assert deduction_problems(DEF, [{"item": "SCHEDULE", "points": "6.00"}]) == []
    assert [p.field for p in deduction_problems(DEF, [{"item": "SCHEDULE", "points": "6"}])] \
        == ["deductions.0.points"]


def test_section_4_document_no():
    """§4.1: `document_no` = `履约评价-{tender code}-{evaluation id}`."""
    assert DEF.document_no("KQ-2026-0031", 7) == "履约评价-KQ-2026-0031-7"


def test_section_4_warning_is_the_specified_one():
    """§4.2: severity medium, basis 建市规〔2019〕1号; 标后预警; confirmed only with
    SITE-PM-ABSENT or SITE-STAFF-MISMATCH."""
    effects = approval_effects(DEF, "final", "pass", True, ["PM-ABSENT"])
    w = effects.warning
    assert (w.code, w.severity, w.basis, w.stage) == ("PM-ABSENT", "medium", "建市规〔2019〕1号",
                                                      "标后预警")
    assert set(w.confirmation_codes) == {"SITE-PM-ABSENT", "SITE-STAFF-MISMATCH"}


# --------------------------------------------------------------------------------------
# Comparison with the domain on generated inputs
# --------------------------------------------------------------------------------------

PROFILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

ITEMS = list(INDICATORS)
CAP_CENTS = {i: int(m * 100) for i, m in INDICATORS.items()}
#: L values on and around every edge of §3: the band minima, one cent below, 0 and 100.
EDGE_SCORES = [Decimal(s) for s in ("100.00", "99.99", "90.00", "89.99", "90.01", "75.00",
                                    "74.99", "75.01", "60.00", "59.99", "60.01", "0.01",
                                    "0.00")]


def _cents(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)


@st.composite
def deductions_summing_to(draw, total_cents: int) -> list[tuple[str, Decimal]]:
    """Distinct items whose points add up to ``total_cents`` (≤ Σ maxima), in random order."""
    order = draw(st.permutations(ITEMS))
    out: list[tuple[str, Decimal]] = []
    remaining = total_cents
    for n, item in enumerate(order):
        rest_cap = sum(CAP_CENTS[i] for i in order[n + 1:])
        low = max(0, remaining - rest_cap)
        take = draw(st.integers(low, min(CAP_CENTS[item], remaining)))
        if take:
            out.append((item, _cents(take)))
        remaining -= take
    assert remaining == 0
    return out


@st.composite
def any_deductions(draw) -> list[tuple[str, Decimal]]:
    """Valid deductions: random ones, or built to hit an edge of §3 (or go below 0.00)."""
    how = draw(st.sampled_from(["random", "edge", "below-zero"]))
    if how == "edge":
        score = draw(st.sampled_from(EDGE_SCORES))
        return draw(deductions_summing_to(int((100 - score) * 100)))
    if how == "below-zero":
        return draw(deductions_summing_to(draw(st.integers(10001, sum(CAP_CENTS.values())))))
    items = draw(st.lists(st.sampled_from(ITEMS), unique=True, max_size=MAX_DEDUCTIONS))
    return [(i, _cents(draw(st.one_of(st.integers(1, CAP_CENTS[i]),
                                      st.sampled_from([1, CAP_CENTS[i]])))))
            for i in items]


@PROFILE
@given(deductions=any_deductions())
def test_evaluation_score_agrees_with_the_reference(deductions):
    """§3: L (two decimals, floor 0.00) and its rating, and the input is accepted."""
    body = [{"item": i, "points": f"{p:.2f}"} for i, p in deductions]
    assert deduction_problems(DEF, body) == []
    assert ref_deduction_refusals(body) == []
    want = ref_score([p for _, p in deductions])
    got = evaluation_score(DEF, [Deduction(i, p) for i, p in deductions])
    assert f"{got.score:f}" == f"{want:.2f}"
    assert got.rating == ref_rating(want)
    assert DEF.rating_for(want) == ref_rating(want)


@PROFILE
@given(cents=st.one_of(st.integers(0, 10000),
                       st.sampled_from([int(s * 100) for s in EDGE_SCORES])))
def test_bands_agree_with_the_reference(cents):
    """§3 bands on every two-decimal L in [0.00, 100.00]."""
    score = _cents(cents)
    assert DEF.rating_for(score) == ref_rating(score)


BAD_POINTS = ["6", "6.0", "6.000", "+6.00", " 6.00", "6.00 ", "６.00", "6,00", ".50", "",
              "-0.00", "1e1", "NaN", 6, 6.0, None, True]


@st.composite
def one_fault(draw) -> list[dict]:
    """Valid deductions with at most one fault: an unknown or repeated item, points out of
    range (0.00, negative, a cent over the maximum), not two decimals, or a ninth row."""
    base = [{"item": i, "points": f"{p:.2f}"} for i, p in draw(any_deductions())]
    fault = draw(st.sampled_from(["none", "unknown", "duplicate", "zero", "negative", "over",
                                  "format", "ninth"]))
    if fault == "none":
        return base
    if fault == "ninth":
        # only eight items exist: a ninth row necessarily repeats one
        return [{"item": i, "points": "1.00"} for i in ITEMS] + [
            {"item": draw(st.sampled_from(ITEMS)), "points": "1.00"}]
    if fault == "duplicate" and base:
        item = draw(st.sampled_from([d["item"] for d in base]))
        extra = {"item": item, "points": "1.00"}
    elif fault in ("zero", "negative", "over"):
        free = [i for i in ITEMS if i not in {d["item"] for d in base}]
        if not free:
            return base
        item = draw(st.sampled_from(free))
        points = {"zero": "0.00", "negative": "-1.00",
                  "over": f"{INDICATORS[item] + CENT:.2f}"}[fault]
        extra = {"item": item, "points": points}
    elif fault == "format":
        free = [i for i in ITEMS if i not in {d["item"] for d in base}]
        if not free:
            return base
        extra = {"item": draw(st.sampled_from(free)), "points": draw(st.sampled_from(BAD_POINTS))}
    else:
        extra = {"item": draw(st.sampled_from(["NOISE", "schedule", "PERF-FAIL", ""])),
                 "points": "1.00"}
    if len(base) >= MAX_DEDUCTIONS:
        base = base[:MAX_DEDUCTIONS - 1]
    at = draw(st.integers(0, len(base)))
    return base[:at] + [extra] + base[at:]


@PROFILE
@given(body=one_fault())
def test_deduction_rules_agree_with_the_reference(body):
    """§3: 0–8 rows, a known item at most once (`duplicate_item`), points exactly two
    decimals and 0 < points ≤ the item's maximum (`points_out_of_range`, naming it)."""
    want = ref_deduction_refusals(body)
    got = [(p.field, p.error, p.extra.get("maximum")) for p in deduction_problems(DEF, body)]
    if body and len(body) > MAX_DEDUCTIONS:
        # a ninth row also repeats an item: both faults are listed, in either order
        assert sorted(got) == sorted(want)
    else:
        assert got == want


@PROFILE
@given(kind=st.sampled_from(["periodic", "final"]),
       rating=st.sampled_from(["excellent", "pass", "basic", "fail"]),
       on_site=st.booleans(),
       items=st.lists(st.sampled_from(ITEMS), unique=True, max_size=MAX_DEDUCTIONS))
def test_approval_agrees_with_the_reference(kind, rating, on_site, items):
    """§4: the record code for every party, and whether (and why) the warning is raised."""
    code, triggers = ref_approval(kind, rating, on_site, items)
    effects = approval_effects(DEF, kind, rating, on_site, items)
    assert effects.record_code == code
    assert record_code_on_approval(DEF, kind, rating) == code
    assert set(effects.warning_triggers) == triggers
    assert len(effects.warning_triggers) == len(triggers)  # each reason once
    assert (effects.warning is not None) == bool(triggers)
    assert raises_pm_absent(DEF, on_site, items) == bool(triggers)


@PROFILE
@given(deductions=any_deductions(), kind=st.sampled_from(["periodic", "final"]),
       on_site=st.booleans())
def test_evaluation_then_approval_agrees_with_the_reference(deductions, kind, on_site):
    """§3 then §4 end to end: the rating the domain computes decides the record."""
    got = evaluation_score(DEF, [Deduction(i, p) for i, p in deductions])
    items = [i for i, _ in deductions]
    effects = approval_effects(DEF, kind, got.rating, on_site, items)
    code, triggers = ref_approval(kind, ref_rating(ref_score([p for _, p in deductions])),
                                  on_site, items)
    assert (effects.record_code, set(effects.warning_triggers)) == (code, triggers)


@PROFILE
@given(tender=st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc"),
                                    blacklist_characters="/?#%"), min_size=1, max_size=64)
       | st.sampled_from(["{evaluation}", "KQ-{tender}", "{}", "{0}", "KQ{", "}"]),
       evaluation=st.integers(1, 10**9))
def test_document_no_agrees_with_the_reference(tender, evaluation):
    """§4.1: `履约评价-{tender code}-{evaluation id}` for any tender code WARNINGS.md §2
    allows (1–64 characters without whitespace, `/`, `?`, `#` or `%`)."""
    assert DEF.document_no(tender, evaluation) == f"履约评价-{tender}-{evaluation}"


#: as_of dates on month ends, leap days, and where add_months(as_of, −36) clamps.
SPECIAL_AS_OF = [date(2028, 2, 29), date(2027, 2, 28), date(2027, 3, 1), date(2026, 6, 30),
                 date(2026, 5, 31), date(2026, 3, 31), date(2026, 12, 31), date(2029, 2, 28),
                 date(2027, 2, 27), date(2026, 8, 31), date(2032, 2, 29), date(2026, 1, 1)]
any_as_of = st.one_of(st.sampled_from(SPECIAL_AS_OF), st.dates(date(2025, 1, 1),
                                                               date(2032, 12, 31)))


@st.composite
def completed_near(draw, as_of: date) -> date:
    """A completion date on, or a day either side of, an edge of the window, or anywhere
    from 40 months before as_of to 2 months after."""
    start = add_months(as_of, -WINDOW_MONTHS)
    return draw(st.one_of(
        st.sampled_from([start - timedelta(days=1), start, start + timedelta(days=1),
                         as_of - timedelta(days=1), as_of, as_of + timedelta(days=1)]),
        st.dates(add_months(as_of, -40), add_months(as_of, 2))))


score_cents = st.one_of(st.integers(0, 10000), st.sampled_from([0, 5999, 6000, 9000, 10000]))
price_cents = st.one_of(st.integers(1, 10**6), st.integers(1, 10**13),
                        st.sampled_from([1, 100, 10**11 + 1]))


@st.composite
def contracts_for(draw, as_of: date) -> list[tuple[str, Decimal, Decimal, date]]:
    n = draw(st.integers(0, 7))
    rows = [(f"KQ-{k:03d}", _cents(draw(score_cents)), _cents(draw(price_cents)),
             draw(completed_near(as_of))) for k in range(n)]
    if draw(st.booleans()):
        # An exact half-cent tie inside the window: equal prices, L one cent apart, as the
        # only contracts in the window (the others are moved out of it).
        start = add_months(as_of, -WINDOW_MONTHS)
        rows = [(t, s, p, start) for t, s, p, _ in rows]
        low = draw(st.integers(0, 9999))
        price = _cents(draw(price_cents))
        days = (as_of - start).days
        for k, cents in enumerate((low, low + 1)):
            rows.append((f"KQ-T{k}", _cents(cents), price,
                         start + timedelta(days=draw(st.integers(1, days)))))
    return draw(st.permutations(rows))


def _rating(score: Decimal) -> str:
    return ref_rating(score)


@settings(PROFILE, max_examples=500)
@given(data=st.data(), as_of=any_as_of)
def test_performance_index_agrees_with_the_reference(data, as_of):
    """§6: window `add_months(as_of, −36) < completed_on ≤ as_of`, Σ(L·C)/ΣC exact,
    rounded half-up once to two decimals, null with none; count and list."""
    rows = data.draw(contracts_for(as_of))
    want, used = ref_index(rows, as_of)
    contracts = [CompletedContract(t, s, _rating(s), p, c) for t, s, p, c in rows]
    got = performance_index(DEF, contracts, as_of)
    assert got.index == want
    if want is not None:
        assert f"{got.index:f}" == f"{want:.2f}"
    assert sorted(c.tender for c in got.contracts) == sorted(used)
    assert got.count == len(used)
    assert got.window_after == ref_window(as_of)[0]
    body = got.as_json()
    assert body["index"] == (None if want is None else f"{want:.2f}")
    assert body["count"] == len(used)


@PROFILE
@given(members=st.lists(st.one_of(st.none(), score_cents.map(_cents)), min_size=1,
                        max_size=6))
def test_consortium_index_agrees_with_the_reference(members):
    """§6: "for a consortium the lowest non-null member index"."""
    got = consortium_index(members)
    want = ref_consortium_index(members)
    assert got == want
    if want is not None:
        assert f"{got:f}" == f"{want:.2f}"


@PROFILE
@given(due=any_as_of, offset=st.one_of(st.integers(-3, 40), st.integers(-400, 400)),
       completed=st.one_of(st.none(), any_as_of))
def test_contract_status_agrees_with_the_reference(due, offset, completed):
    """§2: end and status (the edge: today = completion_due + 30 is still in progress)."""
    today = due + timedelta(days=offset)
    end, status = ref_contract(due, completed, today)
    assert contract_end(due, completed) == end
    assert contract_status(DEF, due, completed is not None, today) == status
