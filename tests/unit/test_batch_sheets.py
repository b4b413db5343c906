"""Reading regulators' spreadsheets: headers, cells and dates become exactly the text a
client would send to POST /records (the API's validation judges it afterwards)."""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pytest

from credit.batch import sheets
from credit.batch.sheets import SheetProblem, cell_text, header_field
from credit.batch.xlsx import ErrorValue


@pytest.mark.parametrize(("text", "field"), [
    ("统一社会信用代码", "uscc"), ("统一社会信用代码*", "uscc"), ("＊统一社会 信用代码", "uscc"),
    ("决定\n日期", "decided_on"), ("有效期至（仅BID-BAN填写）", "valid_until"),
    ("有效期至(选填)", "valid_until"), ("USCC", "uscc"), ("document_no", "document_no"),
    ("occurred_on", "occurred_on"), ("行业", "sector"), ("序号", None), ("", None), (None, None),
    ("id", None),
])
def test_header_field(text, field):
    assert header_field(text) == field


@pytest.mark.parametrize(("value", "field", "text"), [
    (datetime(2026, 1, 5), "decided_on", "2026-01-05"),
    (date(2026, 1, 5), "decided_on", "2026-01-05"),
    (datetime(2026, 1, 5, 9, 30), "decided_on", "2026-01-05 09:30:00"),  # refused later
    ("2026/1/5", "decided_on", "2026-01-05"),
    ("2026.01.05", "valid_until", "2026-01-05"),
    ("2026年1月5日", "decided_on", "2026-01-05"),
    (" 2026-1-5 ", "decided_on", "2026-01-05"),
    ("2026/1/5 0:00", "decided_on", "2026-01-05"),
    ("5/1/2026", "decided_on", "5/1/2026"),           # day first is ambiguous: refused later
    ("2026/1/5", "document_no", "2026/1/5"),          # only date columns are normalised
    (46027, "decided_on", "46027"),                   # a bare Excel serial is not a date
    (12.0, "document_no", "12"), (12.5, "note", "12.5"), (True, "note", "TRUE"),
    ("   ", "note", None), (None, "note", None), (" 原样 ", "note", " 原样 "),
])
def test_cell_text(value, field, text):
    assert cell_text(value, field) == text


def test_csv_in_gb18030_with_a_title_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(("柯桥区2026年不良行为记录\n\n"
                      "统一社会信用代码,企业名称,行为代码,决定日期,决定文号,决定机关,序号\n"
                      "91330603MA2D4F6E84,企业,BID-NOSIGN,2026/1/5,文1,住建局,1\n"
                      ",,,,,,2\n").encode("gb18030"))
    s = sheets.read(path)
    rows = list(s.rows)
    assert s.header_row == 3 and s.ignored_columns == ["序号"] and s.blank == 1
    assert rows == [(4, {"uscc": "91330603MA2D4F6E84", "subject_name": "企业",
                           "code": "BID-NOSIGN", "decided_on": "2026-01-05",
                           "document_no": "文1", "issued_by": "住建局"})]


def test_xlsx_merged_cells(tmp_path):
    path = tmp_path / "m.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["标题"])
    ws.merge_cells("A1:F1")
    ws.append(["uscc", "subject_name", "code", "decided_on", "document_no", "issued_by"])
    ws.append(["91330603MA2D4F6E84", "企业", "BID-NOSIGN", datetime(2026, 1, 5), "文1", "住建局"])
    ws.append(["91330603MA2D4F6E84", "企业", "SITE-QUALITY", datetime(2026, 1, 6), "文2", None])
    ws.merge_cells("F3:F4")
    ws.append(["合计：2条", None, None, None, None, None])
    ws.merge_cells("A5:C5")
    wb.save(path)
    s = sheets.read(path)
    assert s.header_row == 2
    assert [v["issued_by"] for _, v in s.rows] == ["住建局", "住建局"]
    assert s.skipped == [(5, "a cell merged across the row (title or note)")]


def test_problems(tmp_path):
    dup = tmp_path / "d.csv"
    dup.write_text("统一社会信用代码,uscc,企业名称,行为代码,决定日期,决定文号,决定机关\n",
                   encoding="utf-8")
    with pytest.raises(SheetProblem, match="two columns fill 'uscc'"):
        sheets.read(dup)
    junk = tmp_path / "j.xlsx"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SheetProblem, match="not a readable .xlsx"):
        sheets.read(junk)
    with pytest.raises(SheetProblem, match="does not exist"):
        sheets.read(tmp_path / "missing.csv")


def _hand_written_xlsx(path, sheet_data: str) -> None:
    """The smallest workbook the reader opens: one sheet, no shared strings or styles,
    ``sheet_data`` as its ``<sheetData>`` (cells as Excel writes them by hand)."""
    import zipfile
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml",
                    f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
                    '<sheet name="处罚" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels",
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    f'relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
                    'Target="worksheets/sheet1.xml"/></Relationships>')
        zf.writestr("xl/worksheets/sheet1.xml",
                    f'<worksheet xmlns="{main}"><sheetData>{sheet_data}</sheetData></worksheet>')


def test_xlsx_rows_inline_text_phonetic_runs_and_skipped_rows(tmp_path):
    """Rows as the streaming reader yields them: a skipped row comes back empty, cells
    without a reference follow the previous one, an inline string's phonetic guide
    (``<rPh>``, furigana) is not part of its text, and numbers and booleans convert as
    openpyxl's reader does; an error value is marked as one (not the text it shows:
    sheets.cell_text refuses it)."""
    from credit.batch import xlsx
    path = tmp_path / "hand.xlsx"
    _hand_written_xlsx(path, (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>统一社会信用代码</t></is></c>'
        '<c t="inlineStr"><is><r><t>柯桥</t></r><r><t>建工</t></r>'
        '<rPh sb="0" eb="2"><t>KEQIAO</t></rPh></is></c></row>'
        '<row r="3"><c r="C3"><v>42</v></c><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c>'
        '<c t="str"><v>x</v></c></row>'
        '<row><c r="B4"><v>2.5</v></c></row>'))
    sheet = xlsx.read_sheet(path, xlsx.Limits())
    assert (sheet.title, sheet.last_row) == ("处罚", 4)
    assert list(sheet.rows) == [(1, ["统一社会信用代码", "柯桥建工"]), (2, []),
                                (3, [None, None, 42, True, xlsx.ErrorValue("#N/A"), "x"]),
                                (4, [None, 2.5])]


@pytest.mark.parametrize(("sheet_data", "refusal"), [
    ('<row r="1"><c r="XFE1"><v>1</v></c></row>', "past column XFD"),
    ('<row r="1"><c r="A1" t="inlineStr"><is><t>' + "字" * 32_768 + "</t></is></c></row>",
     "more than 32,767 characters"),
    ('<row r="1">' + "".join(f'<c t="inlineStr"><is><t>{"x" * 30_000}</t></is></c>'
                             for _ in range(36)) + "</row>", "row 1 holds more than"),
])
def test_xlsx_rows_refuse_what_excel_cannot_hold(tmp_path, sheet_data, refusal):
    from credit.batch import xlsx
    path = tmp_path / "hand.xlsx"
    _hand_written_xlsx(path, sheet_data)
    with pytest.raises(xlsx.WorkbookRefused, match=refusal):
        list(xlsx.read_sheet(path, xlsx.Limits()).rows)


def test_a_csv_neither_utf8_nor_gb18030_is_a_sheet_problem_not_a_crash(tmp_path):
    """`credit import` read such a file (here bytes no GB 18030 text holds) into a
    UnicodeDecodeError traceback; it is a file-level problem like any other."""
    path = tmp_path / "decisions.csv"
    path.write_bytes(b"\xff\xfe\x00uscc,code\n")
    with pytest.raises(SheetProblem, match="neither UTF-8 nor GB 18030"):
        list(sheets.read(path).rows)


@pytest.mark.parametrize(("value", "field", "refused"), [
    (ErrorValue("#N/A"), "subject_name", "#N/A"),
    ("#N/A", "note", None),                   # text typed in an .xlsx ('#N/A: 不适用)
    (9.13306217297624e17, "uscc", "9.13306217297624E+17"),  # Excel kept 15 digits
    (10 ** 15, "project_code", "1E+15"),
    ("#N/A 待补", "note", None),               # text that merely starts so
    (999_999_999_999_999, "project_code", None),  # 15 digits: exact
    (46027.0 * 10 ** 11, "decided_on", None),  # date columns: the API judges them
])
def test_cells_that_show_no_value_a_client_could_send(value, field, refused):
    """An Excel error value and a number Excel has rounded reject their row, naming the
    column and the value as the sheet shows it (sheets.CellRefused)."""
    got = cell_text(value, field)
    if refused is None:
        assert not isinstance(got, sheets.CellRefused)
    else:
        assert isinstance(got, sheets.CellRefused) and refused in got.message
        assert f"({field})" in got.message


def test_a_header_cell_holding_an_error_value_is_named_as_the_sheet_shows_it():
    rows = [(1, ["统一社会信用代码", "企业名称", "行为代码", "决定日期", "决定文号", "决定机关",
                 ErrorValue("#REF!")])]
    assert sheets._find_header(rows)[2] == ["#REF!"]


def test_a_csv_holds_excels_error_values_as_text_alone_in_a_cell():
    assert sheets._csv_cells(["#N/A", " #REF! ", "#N/A 待补", "x"]) == [
        ErrorValue("#N/A"), ErrorValue("#REF!"), "#N/A 待补", "x"]
