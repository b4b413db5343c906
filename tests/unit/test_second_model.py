"""A second model is data, not code: the engine scores the test-only model keqiao-test@1
(tests/models/) with no change, and its different numbers give different results.

keqiao-test@1 is keqiao-2025@1 with
  grade bands  A ≥ 110, B ≥ 95, C ≥ 80, D ≥ 0     (keqiao-2025: 105 / 100 / 85 / 0),
  other-sector factor general 0.50, serious 1.00  (keqiao-2025: 0.00, 0.50),
  bonus cap 8.00                                  (keqiao-2025: 15.00).
Every expected number below is computed by hand in the comments.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest

from credit.domain.dates import CST, default_valid_until
from credit.domain.engine import evaluate
from credit.domain.records import Knowledge, Record
from scoring_models import default_registry, load_file
from scoring_models.loader import DEFINITIONS

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
TEST_MODEL_PATH = MODELS_DIR / "keqiao-test@1.toml"
SUBJECT = "91330603MA2D4F6E84"
AS_OF = date(2026, 6, 30)
KNOWLEDGE = Knowledge(position=10_000, known_at=datetime(2026, 7, 1, 9, 0, tzinfo=CST))

ACTIVE = load_file(DEFINITIONS / "keqiao-2025@1.toml")

D = Decimal


@pytest.fixture(scope="module")
def registry():
    return default_registry(extra_dirs=[MODELS_DIR])


@pytest.fixture(scope="module")
def shipped(registry):
    return registry.get("keqiao-2025@1")


@pytest.fixture(scope="module")
def second(registry):
    return registry.get("keqiao-test@1")


_ids = count(1)


def record(code: str, sector: str, decided_on: date, project_code: str | None = None) -> Record:
    """A record as a regulator enters it under the active model: default validity."""
    rid = next(_ids)
    return Record(
        id=rid, uscc=SUBJECT, sector=sector, code=code, decided_on=decided_on,
        valid_until=default_valid_until(decided_on, ACTIVE.entry(code).validity_months),
        document_no=f"柯建罚〔2026〕{rid}号", audit_position=rid,
        recorded_at=datetime(2026, 6, 1, tzinfo=CST), project_code=project_code)


def score(model, records, sector="housing"):
    return evaluate(model, SUBJECT, records, [], sector, AS_OF, KNOWLEDGE)


def measures(result) -> list[tuple[str, tuple[int, ...]]]:
    return [(m.measure, m.basis) for m in result.measures]


# ---- loading ---------------------------------------------------------------------------


def test_second_model_loads_beside_the_shipped_one(registry, shipped, second):
    assert registry.active is shipped  # the test model never becomes active
    assert [m.ref for m in registry.of_kind("scoring")] == ["keqiao-2025@1", "keqiao-test@1"]
    assert second.sha256 == hashlib.sha256(TEST_MODEL_PATH.read_bytes()).hexdigest()
    assert second.sha256 != shipped.sha256


def test_second_model_differs_only_in_its_numbers(shipped, second):
    assert second.catalogue == shipped.catalogue
    assert [(b.grade, b.min_score) for b in second.bands] == [
        ("A", D("110")), ("B", D("95")), ("C", D("80")), ("D", D("0"))]
    assert second.sector_factors["general"] == (D("1"), D("0.5"))
    assert second.sector_factors["serious"] == (D("1"), D("1"))
    assert second.sector_factors["minor"] == shipped.sector_factors["minor"]
    assert second.sector_factors["good"] == shipped.sector_factors["good"]
    assert second.bonus_cap == D("8.00")
    assert (second.multipliers, second.bid_full, second.pair_window_days) == (
        shipped.multipliers, shipped.bid_full, shipped.pair_window_days)


# ---- the same records under both models -------------------------------------------------


def test_worked_example_of_model_md(shipped, second):
    """MODEL.md §10 under both models.

    keqiao-2025: −8 (BID-NOSIGN) −10×0.5 (serious, transport) +0 (minor, transport) +3
    (AWARD-PROVINCIAL; AWARD-CITY superseded) = 90.00, C, 10×30/45 = 6.67, ×1.50.
    keqiao-test: serious counts fully in another sector: −8 −10 +0 +3 = 85.00, C (≥ 80),
    10×25/45 = 5.555… → 5.56, ×1.50.
    """
    records = [
        record("BID-NOSIGN", "housing", date(2026, 1, 10)),
        record("SAFE-ACC-GENERAL", "transport", date(2025, 9, 1)),
        record("SITE-PM-ABSENT", "transport", date(2026, 5, 1)),
        record("AWARD-PROVINCIAL", "housing", date(2024, 12, 1), project_code="P1"),
        record("AWARD-CITY", "housing", date(2025, 2, 1), project_code="P1"),
    ]
    a, b = score(shipped, records), score(second, records)

    assert a.score == D("90.00")
    assert dict(a.components) == {"market": D("-8.00"), "site": D("-5.00"), "good": D("3.00")}
    assert (a.grade, a.bid_points, a.inspection_multiplier) == ("C", D("6.67"), D("1.50"))
    assert a.measures == ()

    assert b.score == D("85.00")
    assert dict(b.components) == {"market": D("-8.00"), "site": D("-10.00"), "good": D("3.00")}
    assert (b.grade, b.bid_points, b.inspection_multiplier) == ("C", D("5.56"), D("1.50"))
    assert b.measures == ()

    by_code = {st.record.code: st for st in b.records}
    assert by_code["SAFE-ACC-GENERAL"].factor == D("1.00")
    assert by_code["SAFE-ACC-GENERAL"].contribution == D("-10.00")
    assert by_code["SITE-PM-ABSENT"].contribution == D("0.00")
    assert by_code["AWARD-CITY"].status == "superseded"


def test_lower_bonus_cap_lowers_score_and_grade(shipped, second):
    """Good conduct worth 5+3+2+3+5 = 18 (nothing superseded: different projects or
    families; COMMEND-EMERGENCY has no project), plus an award in transport (factor 0).

    keqiao-2025: bonus min(18, 15) = 15 → 115.00, A, bid points 10.00 (clamped), ×0.50.
    keqiao-test: bonus min(18, 8) = 8 → 108.00, B (< 110), bid points 10.00, ×1.00.
    """
    records = [
        record("AWARD-NATIONAL", "housing", date(2025, 3, 1), project_code="P1"),
        record("SITE-STANDARD-PROVINCIAL", "housing", date(2025, 4, 1), project_code="P1"),
        record("AWARD-PROVINCIAL", "housing", date(2025, 5, 1), project_code="P2"),
        record("AWARD-NATIONAL", "housing", date(2025, 6, 1), project_code="P3"),
        record("COMMEND-EMERGENCY", "housing", date(2025, 7, 1)),
        record("AWARD-NATIONAL", "transport", date(2025, 8, 1), project_code="T1"),
    ]
    a, b = score(shipped, records), score(second, records)

    assert (a.score, a.components["good"], a.grade) == (D("115.00"), D("15.00"), "A")
    assert (a.bid_points, a.inspection_multiplier) == (D("10.00"), D("0.50"))
    assert (b.score, b.components["good"], b.grade) == (D("108.00"), D("8.00"), "B")
    assert (b.bid_points, b.inspection_multiplier) == (D("10.00"), D("1.00"))

    cap_a = next(s for s in a.steps if s["rule"] == "bonus_cap")
    cap_b = next(s for s in b.steps if s["rule"] == "bonus_cap")
    assert cap_a["inputs"] == cap_b["inputs"] == {"positive_total": "18.00"}
    assert (cap_a["parameters"], cap_b["parameters"]) == ({"bonus_cap": "15.00"},
                                                          {"bonus_cap": "8.00"})


def test_same_score_different_grade(shipped, second):
    """One BID-COMPLAINT (−5, general, same sector): 95.00 under both models, bid points
    10×35/45 = 7.777… → 7.78; keqiao-2025 grades it C (×1.50), keqiao-test B (×1.00)."""
    records = [record("BID-COMPLAINT", "housing", date(2026, 2, 1))]
    a, b = score(shipped, records), score(second, records)
    assert a.score == b.score == D("95.00")
    assert a.bid_points == b.bid_points == D("7.78")
    assert (a.grade, a.inspection_multiplier) == ("C", D("1.50"))
    assert (b.grade, b.inspection_multiplier) == ("B", D("1.00"))
    grade_step = next(s for s in b.steps if s["rule"] == "grade")
    assert grade_step["parameters"]["bands"][0] == {"grade": "A", "min_score": "110.00"}


def test_grade_band_decides_key_supervision(shipped, second):
    """BID-FRAUD (−15, serious) and SITE-QUALITY (−5) in housing: 80.00 under both, bid
    points 10×20/45 = 4.444… → 4.44. keqiao-2025: D, so key supervision (basis empty: a
    single serious record is no reason) and ×2.00. keqiao-test: C (≥ 80), no measure,
    ×1.50."""
    records = [record("BID-FRAUD", "housing", date(2025, 10, 1)),
               record("SITE-QUALITY", "housing", date(2026, 3, 1))]
    a, b = score(shipped, records), score(second, records)
    assert a.score == b.score == D("80.00")
    assert a.bid_points == b.bid_points == D("4.44")
    assert a.eligible_to_bid and b.eligible_to_bid
    assert (a.grade, measures(a), a.inspection_multiplier) == (
        "D", [("key_supervision", ())], D("2.00"))
    assert (b.grade, measures(b), b.inspection_multiplier) == ("C", [], D("1.50"))


def test_other_sector_factors_change_deductions_and_reasons(shipped, second):
    """Scored for housing: WAGE-ARREARS in water (−10, general) and SAFE-CONCEAL in
    transport (−10, serious).

    keqiao-2025: −10×0 −10×0.5 = −5 → 95.00, C; one harmful record.
    keqiao-test: −10×0.5 −10×1 = −15 → 85.00, C; two harmful records, worst first.
    """
    wage = record("WAGE-ARREARS", "water", date(2026, 1, 5))
    conceal = record("SAFE-CONCEAL", "transport", date(2025, 11, 20))
    a, b = score(shipped, [wage, conceal]), score(second, [wage, conceal])

    assert (a.score, a.components["site"], a.grade) == (D("95.00"), D("-5.00"), "C")
    assert (b.score, b.components["site"], b.grade) == (D("85.00"), D("-15.00"), "C")
    assert [(r["code"], r["contribution"]) for r in a.reasons] == [("SAFE-CONCEAL", "-5.00")]
    assert [(r["code"], r["contribution"]) for r in b.reasons] == [
        ("SAFE-CONCEAL", "-10.00"), ("WAGE-ARREARS", "-5.00")]

    # In the records' own sectors the factor is 1 in both models.
    for model in (shipped, second):
        assert score(model, [wage, conceal], sector="water").score == D(
            "85.00" if model is shipped else "80.00")


def test_listing_does_not_depend_on_bands(shipped, second):
    """SUB-TRANSFER in transport (blacklist flag), scored for housing: listed (E), barred
    from bidding, under key supervision in both; only the deduction differs: −20×0.5 →
    90.00 against −20×1 → 80.00."""
    transfer = record("SUB-TRANSFER", "transport", date(2025, 12, 1))
    a, b = score(shipped, [transfer]), score(second, [transfer])
    assert (a.score, b.score) == (D("90.00"), D("80.00"))
    for result in (a, b):
        assert result.grade == "E"
        assert not result.eligible_to_bid
        assert result.bid_points == D("0.00")
        assert result.inspection_multiplier == D("3.00")
        assert [m.measure for m in result.measures] == ["blacklist", "bid_ban",
                                                        "key_supervision"]
        assert result.measures[0].until == date(2028, 11, 30)


def test_result_names_the_model_that_scored_it(shipped, second):
    records = [record("BID-COMPLAINT", "housing", date(2026, 2, 1))]
    assert score(second, records).model.ref == "keqiao-test@1"
    assert score(shipped, records).model.ref == "keqiao-2025@1"
