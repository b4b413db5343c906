"""Reading regulators' spreadsheets (.xlsx, .csv) into rows of API field values.

A sheet as regulators keep it: a title merged across the top, a header row in Chinese
(or the API's field names), data rows, perhaps blank lines, repeated headers, a note
merged across the bottom, cells merged down a column for a value shared by several rows,
dates typed as text or stored as Excel dates. This module only turns cells into the
text a client would send to ``POST /records``; judging the values is left entirely to
the API's own validation (:func:`credit.services.records.validate_record`).
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Iterator

from credit.services.inputs import RecordInput

#: The Chinese headers of the import template and the API field each one fills.
CHINESE_HEADERS = {
    "统一社会信用代码": "uscc",
    "企业名称": "subject_name",
    "行为代码": "code",
    "决定日期": "decided_on",
    "决定文号": "document_no",
    "决定机关": "issued_by",
    "项目编号": "project_code",
    "项目名称": "project_name",
    "有效期至": "valid_until",
    "发生日期": "occurred_on",
    "备注": "note",
    "行业": "sector",
}
_SCHEMA_FIELDS = RecordInput().fields
API_FIELDS = tuple(_SCHEMA_FIELDS)
#: Columns a file must have (every required field but ``sector``, which the operator
#: gives once for the whole file).
REQUIRED = tuple(n for n, f in _SCHEMA_FIELDS.items() if f.required and n != "sector")
DATE_FIELDS = ("decided_on", "valid_until", "occurred_on")
HEADER_SEARCH_ROWS = 30

# ASCII digits and plain spaces only, matched against the whole text (a full-width
# digit or a line break makes it no date: the API's validation then refuses it).
_TEXT_DATE = re.compile(
    r" *([0-9]{4}) *[-/.年] *([0-9]{1,2}) *[-/.月] *([0-9]{1,2}) *日?(?: +0{1,2}:00(?::00)?)? *")


class SheetProblem(ValueError):
    """A file that cannot be imported at all (no header, missing columns, unreadable)."""


@dataclass
class Sheet:
    """One sheet's data rows, read as they are consumed: ``(row number as the operator
    sees it, {field: text})``. ``blank`` and ``skipped`` are complete once ``rows`` is
    exhausted; ``expected_rows`` is an estimate for a progress bar."""

    path: Path
    name: str
    header_row: int
    columns: dict[int, str]          # column index → API field
    ignored_columns: list[str]
    expected_rows: int = 0
    rows: Iterator[tuple[int, dict[str, str]]] = iter(())
    blank: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, why)


def header_field(text) -> str | None:
    """The API field a header cell names, or None. Tolerates inner spaces and line
    breaks, a required-marker ``*`` and a trailing hint in brackets
    (``有效期至（仅BID-BAN填写）``)."""
    if text is None:
        return None
    t = re.sub(r"\s+", "", str(text)).strip("*＊")
    t = re.sub(r"[（(][^（()）]*[)）]$", "", t).strip("*＊")
    if t in CHINESE_HEADERS:
        return CHINESE_HEADERS[t]
    return t.lower() if t.lower() in API_FIELDS else None


def cell_text(value, field_name: str) -> str | None:
    """A cell as the text a client would send; None for an empty cell.

    Excel dates (midnight) become ``YYYY-MM-DD``; in date columns, text dates written
    year first (``2026/1/5``, ``2026.01.05``, ``2026年1月5日``) are zero-padded to the
    same form. Whole numbers lose Excel's ``.0``. Anything else is passed on unchanged
    for the API's validation to judge.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.time() == time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if not isinstance(value, str):
        return str(value)
    if not value.strip():
        return None
    if field_name in DATE_FIELDS:
        m = _TEXT_DATE.fullmatch(value)
        if m:
            return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    return value


def _find_header(rows: list[tuple[int, list]]) -> tuple[int, dict[int, str], list[str]]:
    for number, cells in rows:
        fields = {i: header_field(c) for i, c in enumerate(cells)}
        named = {i: f for i, f in fields.items() if f}
        if "uscc" in named.values() and len(named) >= 3:
            seen: dict[str, int] = {}
            for i, f in named.items():
                if f in seen:
                    raise SheetProblem(f"row {number}: two columns fill {f!r} "
                                       f"({cells[seen[f]]!r} and {cells[i]!r}).")
                seen[f] = i
            missing = [f for f in REQUIRED if f not in seen]
            if missing:
                raise SheetProblem(
                    f"row {number}: the header lacks the column(s) "
                    + ", ".join(f"{_chinese(f)} ({f})" for f in missing) + ".")
            ignored = [str(c).strip() for i, c in enumerate(cells)
                       if i not in named and c is not None and str(c).strip()]
            return number, named, ignored
    raise SheetProblem(
        f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected "
        + "、".join(_chinese(f) for f in REQUIRED) + " (or the API field names "
        + ", ".join(REQUIRED) + ").")


def _chinese(field_name: str) -> str:
    return next((k for k, v in CHINESE_HEADERS.items() if v == field_name), field_name)


def _sheet(path: Path, name: str, rows: Iterator[tuple[int, list, bool]],
           total_rows: int) -> Sheet:
    """Find the header among the first rows, then yield the data rows as they come.
    ``rows``: (row number, cells, whether the row is one cell merged across)."""
    head = list(islice(rows, HEADER_SEARCH_ROWS))
    header_row, columns, ignored = _find_header([(n, c) for n, c, _ in head])
    sheet = Sheet(path, name, header_row, columns, ignored,
                  expected_rows=max(total_rows - header_row, 0))

    def data() -> Iterator[tuple[int, dict[str, str]]]:
        for number, cells, banner in chain(head, rows):
            if number <= header_row:
                continue
            values = {}
            for i, f in columns.items():
                text = cell_text(cells[i] if i < len(cells) else None, f)
                if text is not None:
                    values[f] = text
            if not values:  # nothing in any known column (a bare 序号 counts as blank)
                sheet.blank += 1
            elif banner:
                sheet.skipped.append((number, "a cell merged across the row (title or note)"))
            elif all(header_field(values.get(f)) == f for f in columns.values()):
                sheet.skipped.append((number, "the header repeated"))
            else:
                yield number, values

    sheet.rows = data()
    return sheet


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _merged_ranges(path: Path, ws) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range of a sheet opened
    read-only (openpyxl then streams rows but does not report merges): the
    ``<mergeCells>`` element follows the sheet's data in its XML part."""
    from openpyxl.utils.cell import range_boundaries

    part = getattr(ws, "_worksheet_path", None)
    if part is None:  # pragma: no cover - an openpyxl without it: read it in full
        import openpyxl
        full = openpyxl.load_workbook(path)[ws.title]
        return [(r.min_col, r.min_row, r.max_col, r.max_row) for r in full.merged_cells.ranges]
    with zipfile.ZipFile(path) as z:
        xml = z.read(part.lstrip("/"))
    at = xml.rfind(b"sheetData")  # the merges follow the end of the cell data
    return [range_boundaries(ref.decode()) for ref in _MERGE.findall(xml, max(at, 0))]


def _read_xlsx(path: Path) -> Sheet:
    import openpyxl  # the only reader of .xlsx; imported when needed

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = next((w for w in wb.worksheets if w.sheet_state == "visible"), wb.worksheets[0])
        merged = _merged_ranges(path, ws)
    except Exception as exc:  # noqa: BLE001 - any reader failure: not a workbook
        raise SheetProblem(f"{path.name} is not a readable .xlsx workbook ({exc}).") from None
    # A merged range shows its first cell's value over all of it: a value merged down
    # a column belongs to every row it covers; a range merged across one whole row
    # (with nothing else in that row) is a title or a note, not data.
    starts: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    across: dict[int, list[tuple[int, int]]] = {}
    for lo_c, lo_r, hi_c, hi_r in merged:
        starts[(lo_r, lo_c)] = (lo_c, lo_r, hi_c, hi_r)
        if hi_c > lo_c:
            for r in range(lo_r, hi_r + 1):
                across.setdefault(r, []).append((lo_c, hi_c))

    widest = max((hi_c for _, _, hi_c, _ in merged), default=0)

    def rows() -> Iterator[tuple[int, list, bool]]:
        fill: dict[tuple[int, int], object] = {}
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = list(values)
                if fill and len(cells) < widest:  # a merged cell past the row's last value
                    cells += [None] * (widest - len(cells))
                banner = False
                if number in across:
                    covered = {c for lo, hi in across[number] for c in range(lo, hi + 1)}
                    outside = [v for c, v in enumerate(cells, start=1)
                               if c not in covered and cell_text(v, "") is not None]
                    banner = len(across[number]) == 1 and not outside
                for c in range(1, len(cells) + 1):
                    rng = starts.get((number, c))
                    if rng is not None:  # the first cell of a range: remember its value
                        lo_c, lo_r, hi_c, hi_r = rng
                        for r in range(lo_r, hi_r + 1):
                            for cc in range(lo_c, hi_c + 1):
                                fill[(r, cc)] = cells[c - 1]
                    if fill:
                        value = fill.pop((number, c), _ABSENT)
                        if value is not _ABSENT:
                            cells[c - 1] = value
                yield number, cells, banner
        finally:
            wb.close()

    return _sheet(path, ws.title, rows(), ws.max_row or 0)


_ABSENT = object()


def _read_csv(path: Path) -> Sheet:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise SheetProblem(f"{path.name} is neither UTF-8 nor GB 18030 text.")
    records = list(csv.reader(content.splitlines(keepends=True)))
    return _sheet(path, path.name,
                  ((n, cells, False) for n, cells in enumerate(records, start=1)),
                  len(records))


READERS = {".xlsx": _read_xlsx, ".csv": _read_csv}


def read(path: str | Path) -> Sheet:
    """The header and the (lazily read) data rows of a ``.csv`` or ``.xlsx`` file;
    SheetProblem when the file as a whole cannot be imported."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SheetProblem(f"{path.name}: only .csv and .xlsx files are imported.")
    if not path.is_file():
        raise SheetProblem(f"{path} does not exist.")
    return reader(path)
