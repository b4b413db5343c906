"""Zip bombs and oversized files in ``credit import`` (issue 9 item 7), on every
backend: an .xlsx of about a megabyte whose sheet unpacks to 250 MiB, and a sheet of
more than a million rows, are refused with exit 2 and a message naming the limit, before
any row is imported; both limits are options. The bombs are generated here (small on
disk) by bench/import_bomb.py, which also measures the peak memory (bench/README.md)."""

from __future__ import annotations

import importlib.util
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
