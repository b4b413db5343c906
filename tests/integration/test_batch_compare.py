"""``compare-models``: shadow scoring of the whole population under the shipped model and
the test-only second version keqiao-test@1 (bands A ≥ 110 / B ≥ 95 / C ≥ 80; other-sector
factor general 0.50, serious 1.00; bonus cap 8.00), on every backend."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest
from click.testing import CliRunner

from credit.batch.ratings import compare_models
from credit.services.audit import list_entries
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

from .batch_helpers import (
    EVALUATOR,
    OPERATOR,
    REGULATORS,
    build_population,
    make_uscc,
    single_subject_rows,
)

AS_OF = date(2026, 5, 1)
SHIPPED, SECOND = "keqiao-2025@1", "keqiao-test@1"
MOVER, CAPPED, STEADY, BANNED = make_uscc(11), make_uscc(12), make_uscc(13), make_uscc(14)


def enter(ctx, uscc, sector, code, decided, doc, **extra):
    create_record(ctx, REGULATORS[sector], {
        "uscc": uscc, "subject_name": f"企业{uscc[-3:]}", "sector": sector, "code": code,
        "decided_on": decided, "document_no": doc, "issued_by": "监管局", **extra})


@pytest.fixture
def crafted(ctx, clock):
    """Hand-computed subjects (housing, as of 2026-05-01):
    MOVER: −2 −3 = 95.00 → C under keqiao-2025 (≥ 85), B under keqiao-test (≥ 95).
    CAPPED: three national awards = +15 → 115.00 A; capped at +8 → 108.00 B (A needs 110).
    STEADY: BID-NOSIGN in transport: 100.00 B; −8 × 0.50 = 96.00, still B.
    BANNED: BID-BAN: not eligible under both, 100.00 → B under both.
    """
    enter(ctx, MOVER, "housing", "SITE-STAFF-MISMATCH", "2026-02-01", "m1")
    enter(ctx, MOVER, "housing", "ADMIN-CRITICISM", "2026-03-01", "m2")
    for i in range(3):
        enter(ctx, CAPPED, "housing", "AWARD-NATIONAL", "2025-06-01", f"c{i}",
              project_code=f"P{i}")
    enter(ctx, STEADY, "transport", "BID-NOSIGN", "2026-01-10", "s1")
    enter(ctx, BANNED, "housing", "BID-BAN", "2026-01-10", "b1", valid_until="2026-12-31")
    clock.advance(seconds=1)


def test_crafted_migration(ctx, crafted, tmp_path):
    c = compare_models(ctx, OPERATOR, before=SHIPPED, after=SECOND, sector="housing",
                       as_of=AS_OF, out=tmp_path / "cmp.xlsx", plot=tmp_path / "cmp.png")
    rows = {r.uscc: r for r in c.subjects.itertuples()}
    assert (rows[MOVER].score_from, rows[MOVER].score_to) == (9500, 9500)
    assert (rows[MOVER].grade_from, rows[MOVER].grade_to) == ("C", "B")
    assert (rows[CAPPED].score_from, rows[CAPPED].score_to, rows[CAPPED].delta) == \
        (11500, 10800, -700)
    assert (rows[CAPPED].grade_from, rows[CAPPED].grade_to) == ("A", "B")
    assert (rows[STEADY].score_from, rows[STEADY].score_to) == (10000, 9600)
    assert rows[STEADY].grade_from == rows[STEADY].grade_to == "B"
    assert not rows[BANNED].eligible_from and not rows[BANNED].eligible_to
    assert list(c.changed["uscc"]) == sorted([MOVER, CAPPED])
    m = c.migration
    assert m.loc["C", "B"] == 1 and m.loc["A", "B"] == 1 and m.loc["B", "B"] == 2
    assert m.loc["total", "total"] == 4
    assert dict(zip(c.distribution.index, c.distribution["subjects"], strict=True)) == \
        {-700: 1, -400: 1, 0: 2}
    s = c.stats()
    assert (s["increased"], s["unchanged"], s["decreased"]) == (0, 2, 2)
    assert (s["min"], s["max"], s["mean"]) == ("-7.00", "0.00", "-2.75")

    text = c.text()
    assert "Grade migration" in text and MOVER in text and "2 enterprises change" in text

    wb = openpyxl.load_workbook(tmp_path / "cmp.xlsx")
    assert wb.sheetnames == ["概要", "等级迁移", "分数变化分布", "等级或资格变化企业"]
    changed = list(wb["等级或资格变化企业"].iter_rows(values_only=True))
    assert changed[0][:7] == ("统一社会信用代码", "企业名称", "原信用分", "新信用分", "分数变化",
                             "原信用等级", "新信用等级")
    assert [r[0] for r in changed[1:]] == sorted([MOVER, CAPPED])
    capped = next(r for r in changed[1:] if r[0] == CAPPED)
    assert capped[2:7] == (115, 108, -7, "A", "B")  # money as numbers (issue 9 item 1)
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    entry = list_entries(ctx, kind="ratings.exported")["items"][-1]
    assert entry["payload"]["command"] == "compare-models"
    assert entry["payload"]["compared_with"]["id"] == "keqiao-test"
    assert entry["payload"]["changed"] == 2 and entry["payload"]["rows"] == 4


def test_random_population_both_sides_agree_with_the_engine(ctx, clock, tmp_path):
    usccs = build_population(ctx, clock, seed=11, subjects=25, records=120)
    c = compare_models(ctx, OPERATOR, before=SHIPPED, after=SECOND, sector="transport",
                       as_of=AS_OF)
    k = c.knowledge.known_at
    for ref, side in ((SHIPPED, "from"), (SECOND, "to")):
        for r in c.subjects.itertuples():
            body = score(ctx, EVALUATOR, ScoreQuery(r.uscc, "transport", AS_OF, known_at=k,
                                                    model=ref))
            assert f"{getattr(r, 'score_' + side) / 100:.2f}" == body["score"]
            assert getattr(r, "grade_" + side) == body["grade"]
            assert bool(getattr(r, "eligible_" + side)) == body["eligible_to_bid"]
    assert list(c.subjects["uscc"]) == usccs
    want = single_subject_rows(ctx, usccs, "transport", AS_OF, k)
    assert [want[u]["grade"] for u in usccs] == list(c.subjects["grade_from"])


def test_cli_compare_models(ctx, crafted, tmp_path, monkeypatch):
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    out = tmp_path / "影响分析.xlsx"
    res = CliRunner().invoke(cli.main, [
        "compare-models", "--from", SHIPPED, "--to", SECOND, "--sector", "housing",
        "--as-of", "2026-05-01", "--out", str(out), "--plot", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    assert "Grade migration (rows: keqiao-2025@1, columns: keqiao-test@1)" in res.output
    assert CAPPED in res.output and out.exists()
    res = CliRunner().invoke(cli.main, [
        "compare-models", "--from", SHIPPED, "--to", "nope@1", "--sector", "housing",
        "--as-of", "2026-05-01", "--out", str(out)])
    assert res.exit_code == 2 and "nope@1" in res.output
    res = CliRunner().invoke(cli.main, [
        "compare-models", "--from", SHIPPED, "--to", SECOND, "--sector", "housing",
        "--as-of", "2026-05-01", "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and ".xlsx" in res.output
