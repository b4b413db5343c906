"""Formula injection in the batch exports (issue 9 item 1): an enterprise name starting
with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed reaches the
.csv and .xlsx files of ``rate-all`` and ``compare-models`` (and the import's rejects
list) with a leading ``'`` (OWASP); no .xlsx cell is a formula; money stays ``-7.00`` in
.csv and is a number in .xlsx."""

from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pytest

from credit.batch import export
from credit.batch.importer import write_rejects
from credit.batch.population import from_domain
from credit.batch.ratings import compare_models, rate_all
from credit.batch.vector import rate
from credit.domain.records import Record
from credit.services.records import create_record

from .batch_helpers import OPERATOR, REGULATORS, make_uscc

AS_OF = date(2026, 5, 1)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
HYPERLINK = '=HYPERLINK("http://evil.example","x")'
#: One name per leading character (the API trims whitespace, so the tab, CR and LF
#: names reach the writers through a population built directly).
NAMES = [HYPERLINK, "+1+1 建设有限公司", "-2+3 建设有限公司", "@SUM(A1) 建设有限公司",
         "\t=1+1 建设", "\r=1+1 建设", "\n=1+1 建设"]
ENTERED = NAMES[:4]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_no_formula(path: Path) -> list:
    """Every cell of every sheet, after asserting that none is a formula."""
    cells = []
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(TRIGGERS), (ws.title, cell.coordinate)
                cells.append(cell)
    return cells


def test_each_leading_character_is_neutralised_in_csv_and_xlsx(tmp_path):
    from scoring_models import default_registry

    model = default_registry().active
    usccs = [make_uscc(500 + i) for i in range(len(NAMES))]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records = [Record(id=i + 1, uscc=u, sector="housing", code="BID-NOSIGN",
                      decided_on=date(2026, 1, 10), valid_until=date(2027, 1, 9),
                      document_no=f"D{i}", audit_position=i + 1, recorded_at=at)
               for i, u in enumerate(usccs)]
    population = from_domain(records, names=dict(zip(usccs, NAMES, strict=True)))
    table = export.ratings_table(rate(model, population, "housing", AS_OF, 99), at)

    export.write_csv(table, tmp_path / "r.csv")
    rows = {r["uscc"]: r for r in read_csv(tmp_path / "r.csv")}
    for uscc, name in zip(usccs, NAMES, strict=True):
        assert rows[uscc]["name"] == "'" + name
        assert rows[uscc]["score"] == "92.00"  # money unchanged
        assert rows[uscc]["reasons"] == "BID-NOSIGN -8.00"

    export.write_xlsx(table, tmp_path / "r.xlsx")
    cells = assert_no_formula(tmp_path / "r.xlsx")
    names = [c.value for c in cells if c.column == 2 and c.row > 1]
    # (XML reads a carriage return in text as a line feed)
    assert sorted(names) == sorted("'" + name.replace("\r", "\n") for name in NAMES)
    scores = [c for c in cells if c.column == 7 and c.row > 1]
    assert all(c.value == 92 and c.number_format == "0.00" for c in scores)


@pytest.fixture
def named(ctx, clock):
    """Each entered name on a subject with three national awards: 115.00 (A) under the
    shipped model, capped to 108.00 (B) under keqiao-test@1 — a change of −7.00."""
    usccs = []
    for i, name in enumerate(ENTERED):
        uscc = make_uscc(600 + i)
        usccs.append(uscc)
        for j in range(3):
            create_record(ctx, REGULATORS["housing"], {
                "uscc": uscc, "subject_name": name, "sector": "housing",
                "code": "AWARD-NATIONAL", "decided_on": "2025-06-01",
                "document_no": f"{name}-{j}", "issued_by": "@监管局", "project_code": f"P{j}"})
    clock.advance(seconds=1)
    return usccs


@pytest.mark.db
def test_rate_all_csv_and_xlsx_through_the_service(ctx, named, tmp_path):
    rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.csv")
    rows = {r["uscc"]: r for r in read_csv(tmp_path / "r.csv")}
    for uscc, name in zip(named, ENTERED, strict=True):
        assert rows[uscc]["name"] == "'" + name
        assert rows[uscc]["score"] == "115.00"
    rate_all(ctx, OPERATOR, sector="housing", as_of=AS_OF, out=tmp_path / "r.xlsx")
    values = [c.value for c in assert_no_formula(tmp_path / "r.xlsx")]
    assert all("'" + name in values for name in ENTERED)
    assert values.count(115) == len(ENTERED)


@pytest.mark.db
def test_compare_models_xlsx_through_the_service(ctx, named, tmp_path):
    compare_models(ctx, OPERATOR, before="keqiao-2025@1", after="keqiao-test@1",
                   sector="housing", as_of=AS_OF, out=tmp_path / "cmp.xlsx")
    cells = assert_no_formula(tmp_path / "cmp.xlsx")
    values = [c.value for c in cells]
    assert all("'" + name in values for name in ENTERED)
    changed = list(openpyxl.load_workbook(tmp_path / "cmp.xlsx")["等级或资格变化企业"]
                   .iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in changed) == sorted(named)
    assert {r[2:5] for r in changed} == {(115, 108, -7)}  # numbers, not "-7.00" text
    deltas = [c for c in cells if c.value == -7]
    assert deltas and all(c.number_format == "0.00" for c in deltas)


def test_the_rejects_list_is_neutralised(tmp_path):
    path = tmp_path / "x.csv.rejects.csv"
    write_rejects(path, [(2, "-field", "@error", "\tmessage"),
                         (3, "subject_name", "validation_error", HYPERLINK)])
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[1:] == [["2", "'-field", "'@error", "'\tmessage"],
                        ["3", "subject_name", "validation_error", "'" + HYPERLINK]]
