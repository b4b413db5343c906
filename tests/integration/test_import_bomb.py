"""Zip bombs and oversized files in ``credit import`` (issue 9 item 7), on every
backend: an .xlsx of about a megabyte whose sheet unpacks to 250 MiB, and a sheet of
more than a million rows, are refused with exit 2 and a message naming the limit, before
any row is imported; both limits are options. The bombs are generated here (small on
disk) by bench/import_bomb.py, which also measures the peak memory (bench/README.md)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from credit.batch import sheets
from credit.batch.xlsx import MIB, Limits
from credit.cli import main as cli
from credit.persistence.tables import AuditEntryRow

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("import_bomb", ROOT / "bench" / "import_bomb.py")
bomb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bomb)


def _import(database_url: str, path: Path, *extra: str):
    return CliRunner().invoke(cli, ["import", str(path), "--sector", "housing",
                                    "--entered-by", "柯桥区住建局 张三", *extra],
                              env={"CREDIT_DATABASE_URL": database_url})


def _entries(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.execute(select(func.count()).select_from(AuditEntryRow)).scalar()


def test_a_zip_bomb_is_refused_before_reading(ctx, database_url, tmp_path):
    path = bomb.write_bomb(tmp_path / "bomb.xlsx", 250)
    assert path.stat().st_size < 3 * MIB
    r = _import(database_url, path)
    assert r.exit_code == 2, r.output
    assert "250.0 MiB" in r.output and "200 MiB" in r.output
    assert "--max-uncompressed-mib" in r.output and "Nothing was imported" in r.output
    assert _entries(ctx) == 0 and not Path(f"{path}.rejects.csv").exists()


def test_the_size_limit_is_an_option(ctx, database_url, tmp_path):
    path = bomb.write_rows(tmp_path / "small.xlsx", 20, data=3)  # a few KiB unpacked
    r = _import(database_url, path, "--max-uncompressed-mib", "1")
    assert r.exit_code == 0, r.output
    big = bomb.write_bomb(tmp_path / "two.xlsx", 2)
    r = _import(database_url, big, "--max-uncompressed-mib", "1")
    assert r.exit_code == 2 and "over the limit of 1 MiB" in r.output, r.output


def test_more_than_a_million_rows_is_refused_before_any_row(ctx, database_url, tmp_path):
    path = bomb.write_rows(tmp_path / "rows.xlsx", 1_000_001, data=5)
    r = _import(database_url, path)
    assert r.exit_code == 2, r.output
    assert "more than 1,000,000 rows" in r.output and "--max-rows" in r.output
    assert _entries(ctx) == 0  # the five decisions at the top were not imported either


def test_the_row_limit_is_an_option_for_xlsx_and_csv(ctx, database_url, tmp_path):
    path = bomb.write_rows(tmp_path / "ten.xlsx", 11, data=10)
    r = _import(database_url, path, "--max-rows", "10")
    assert r.exit_code == 2 and "more than 10 rows" in r.output, r.output
    csv_path = tmp_path / "ten.csv"
    csv_path.write_text("\n".join([",".join(bomb.HEADER)]
                                  + [",".join(bomb.DECISION[:4] + (f"文{i}",) + bomb.DECISION[5:])
                                     for i in range(10)]) + "\n", encoding="utf-8")
    r = _import(database_url, csv_path, "--max-rows", "10")
    assert r.exit_code == 2 and "more than 10 rows" in r.output, r.output
    assert _entries(ctx) == 0
    r = _import(database_url, csv_path, "--max-rows", "11")
    assert r.exit_code == 0, r.output
    assert _entries(ctx) == 10


def test_a_csv_over_the_size_limit_is_refused(ctx, database_url, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * (MIB + 1))
    r = _import(database_url, path, "--max-uncompressed-mib", "1")
    assert r.exit_code == 2 and "over the limit of 1 MiB" in r.output, r.output


def test_shared_strings_are_held_within_half_the_size_limit(tmp_path):
    path = bomb.write_shared_strings(tmp_path / "strings.xlsx", 3)
    with pytest.raises(sheets.SheetProblem, match="shared strings take more than 2 MiB"):
        sheets.read(path, Limits(max_uncompressed=4 * MIB))
    assert [n for n, _ in sheets.read(path, Limits(max_uncompressed=8 * MIB)).rows] == [2]


def test_a_row_of_one_long_string_repeated_is_refused(tmp_path):
    """A 20-byte cell can name a 32,767-character shared string: a row's characters
    are counted after the strings are looked up."""
    path = bomb.write_shared_strings(tmp_path / "strings.xlsx", 1)
    import zipfile
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"</sheetData>", b"<row>"
                                        + b'<c t="s"><v>0</v></c>' * 600 + b"</row></sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with pytest.raises(sheets.SheetProblem, match="holds more than 1,048,576 characters"):
        list(sheets.read(path, Limits()).rows)


def test_a_merged_range_over_the_whole_sheet_is_applied_row_by_row(tmp_path):
    """Each column merged from row 2 down to Excel's last row once meant a dictionary
    entry per covered cell (six million here); now the ranges are applied as the rows
    stream past."""
    path = bomb.write_rows(tmp_path / "merged.xlsx", 5, data=1)
    import zipfile
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>", b'</sheetData><mergeCells count="6">'
        + b"".join(b'<mergeCell ref="%s2:%s1048576"/>' % (c, c) for c in (b"A", b"B", b"C",
                                                                         b"D", b"E", b"F"))
        + b"</mergeCells>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    sheet = sheets.read(path, Limits())
    rows = list(sheet.rows)
    # the first data row's values are merged down over every row after it
    assert [n for n, _ in rows] == [2, 3, 4, 5]
    assert all(values["document_no"] == bomb.DECISION[4] for _, values in rows)


def _cells(values, numeric=(), errors=()) -> str:
    """One row; the cells at ``numeric`` stored as numbers, at ``errors`` as Excel's
    error values, the others as inline text."""
    def cell(i, v):
        if i in numeric:
            return f"<c><v>{v}</v></c>"
        if i in errors:
            return f'<c t="e"><v>{v}</v></c>'
        return f'<c t="inlineStr"><is><t>{v}</t></is></c>'
    return "<row>" + "".join(cell(i, v) for i, v in enumerate(values)) + "</row>"


def _decision(n: int, uscc: str = "91330603MA2D4F6E84", name: str = "某建设公司") -> tuple:
    return (uscc, name, "BID-NOSIGN", "2026-01-10", f"绍柯建罚〔2026〕{n}号",
            "柯桥区住房和城乡建设局")


def _records(ctx) -> list[tuple]:
    from credit.persistence.tables import RecordRow, SubjectRow
    with ctx.uow(write=False) as uow:
        return [tuple(r) for r in uow.session.execute(
            select(RecordRow.uscc, SubjectRow.name).join(
                SubjectRow, SubjectRow.uscc == RecordRow.uscc).order_by(RecordRow.id))]


def test_a_uscc_excel_rounded_is_rejected_not_filed_under_another(ctx, database_url,
                                                                   tmp_path):
    """An 18-digit USCC typed into a number cell: Excel keeps 9.13306217297624E+17, whose
    digits (913306217297624064) pass GB 32100's check as another enterprise's code."""
    path = bomb._write(tmp_path / "numeric.xlsx", [
        bomb._row(bomb.HEADER),
        _cells(_decision(1, uscc="9.13306217297624E+17"), numeric={0}),
        _cells(_decision(2))])
    r = _import(database_url, path)
    assert r.exit_code == 1, r.output
    assert _records(ctx) == [("91330603MA2D4F6E84", "某建设公司")]
    reject, = sheets_rejects(path)
    assert (reject["row"], reject["field"]) == ("2", "uscc")
    assert "9.13306217297624E+17" in reject["message"] and "format the column as text" in \
        reject["message"]


def test_an_excel_error_value_is_rejected_not_taken_as_a_name(ctx, database_url, tmp_path):
    """A failed VLOOKUP's #N/A in the name column would register the company as "#N/A"
    for good (the first name registers a subject)."""
    path = bomb._write(tmp_path / "errors.xlsx", [
        bomb._row(bomb.HEADER), _cells(_decision(1, name="#N/A"), errors={1})])
    r = _import(database_url, path)
    assert r.exit_code == 1, r.output
    assert _records(ctx) == []
    reject, = sheets_rejects(path)
    assert reject["field"] == "subject_name" and "#N/A" in reject["message"]


@pytest.mark.parametrize("bad", [
    _cells((bomb.HEADER[0], "x" * 40_000)),            # past Excel's 32,767 characters
    '<row><c t="inlineStr"><is><t>oops</is></c></row>',  # broken XML
], ids=["long-cell", "broken-xml"])
def test_a_problem_of_the_file_after_a_committed_batch_says_what_is_on_file(
        ctx, database_url, tmp_path, bad):
    """A streamed sheet's problem found only after rows were committed: exit 3, the rows
    committed stay and are named (not "Nothing was imported", exit 2); importing the
    mended file again completes it."""
    # Well past the first 30 rows, which are read to find the header, and past the
    # sheet's first chunks of XML, which are parsed ahead of the rows taken.
    good = [_cells(_decision(n)) for n in range(1, 202)]
    path = bomb._write(tmp_path / "broken.xlsx", [bomb._row(bomb.HEADER), *good[:200], bad])
    r = _import(database_url, path, "--batch-size", "10")
    assert r.exit_code == 3, r.output
    assert "Nothing was imported" not in r.output
    through = int(re.search(r"Rows up to row (\d+) were committed", r.output)[1])
    on_file = len(_records(ctx))
    assert on_file == through - 1 and on_file % 10 == 0 and 30 <= on_file <= 200
    mended = bomb._write(tmp_path / "mended.xlsx", [bomb._row(bomb.HEADER), *good])
    r = _import(database_url, mended)
    assert r.exit_code == 0, r.output
    assert len(_records(ctx)) == 201
    assert re.search(rf"already present +{on_file}\b", r.output), r.output


def sheets_rejects(path: Path) -> list[dict]:
    import csv
    with open(f"{path}.rejects.csv", newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))
