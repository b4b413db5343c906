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
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Iterator

from credit.services.inputs import RecordInput

from .xlsx import MIB, ErrorValue, Limits

#: The limits of ``credit import`` unless its options say otherwise: 200 MiB unpacked,
#: 1,000,000 rows.
DEFAULT_LIMITS = Limits()

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


@dataclass(frozen=True)
class CellRefused:
    """A cell whose value cannot be taken as the text it shows (cell_text): its row is
    rejected with ``message``, naming the column."""

    message: str


#: Excel's error values, as a cell shows them and as a .csv saved by Excel holds them
#: (as text): a formula that failed, never a name, code or document number.
EXCEL_ERRORS = frozenset({"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!",
                          "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA", "#FIELD!",
                          "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})
#: Excel keeps 15 significant digits of a number: a whole number from 10^15 on may not
#: be what was typed (an 18-digit USCC typed into a cell formatted as a number).
EXACT_DIGITS = 15


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


def cell_text(value, field_name: str) -> str | CellRefused | None:
    """A cell as the text a client would send; None for an empty cell.

    Excel dates (midnight) become ``YYYY-MM-DD``; in date columns, text dates written
    year first (``2026/1/5``, ``2026.01.05``, ``2026年1月5日``) are zero-padded to the
    same form. Whole numbers lose Excel's ``.0``. Anything else is passed on unchanged
    for the API's validation to judge — but two cells show no value a client could
    have sent (:class:`CellRefused`): an Excel error value (an .xlsx's error cell, a
    .csv's error text, :func:`_csv_cells`; a failed ``VLOOKUP``'s ``#N/A`` would
    register a company under that name), and outside the date columns a
    number of more than :data:`EXACT_DIGITS` digits, which Excel has already rounded (an
    18-digit USCC typed as a number can come out as another valid code).
    """
    if value is None:
        return None
    refused = _refused(value, field_name)
    if refused is not None:
        return refused
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


def _shown(cell) -> str:
    """A header cell as the operator sees it in the sheet."""
    return (cell.code if isinstance(cell, ErrorValue) else str(cell)).strip()


def _refused(value, field_name: str) -> CellRefused | None:
    """:func:`cell_text`'s two cells that show no value a client could have sent."""
    column = f"The {_chinese(field_name)} ({field_name}) cell"
    if isinstance(value, ErrorValue):
        return CellRefused(f"{column} holds Excel's error value {value.code}, a formula "
                           "that failed, not a value.")
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and field_name not in DATE_FIELDS and abs(value) >= 10 ** EXACT_DIGITS):
        return CellRefused(f"{column} holds the number {value:.15G}, which Excel keeps to "
                           f"{EXACT_DIGITS} significant digits only, so it may not be what "
                           "was typed: format the column as text and enter it again.")
    return None


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
            ignored = [_shown(c) for i, c in enumerate(cells)
                       if i not in named and c is not None and _shown(c)]
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
    try:
        header_row, columns, ignored = _find_header([(n, c) for n, c, _ in head])
    except SheetProblem as exc:  # named like every other problem of the file
        raise SheetProblem(f"{path.name}: {exc}") from None
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


#: Columns a merged range fills with its first cell's value: far more than any import
#: template has, few enough that a merged range over a whole sheet stays cheap per row.
MAX_FILL_COLUMNS = 1024


class _Merges:
    """The merged ranges of a sheet, applied row by row as the rows stream past.

    A merged range shows its first cell's value over all of it: a value merged down a
    column belongs to every row it covers; a range merged across one whole row (with
    nothing else in that row) is a title or a note, not data. Memory grows with the
    number of ranges, never with their area.
    """

    def __init__(self, ranges: list[tuple[int, int, int, int]]):
        self.starting: dict[int, list[tuple[int, int, int, int]]] = {}
        for rng in ranges:
            self.starting.setdefault(rng[1], []).append(rng)
        self.active: list[tuple[int, int, int, object]] = []  # (hi_r, lo_c, hi_c, value)

    def apply(self, number: int, cells: list) -> bool:
        """Fill ``cells`` (row ``number``) from the ranges covering it; whether the row
        is a banner (one range merged across it and nothing else in it)."""
        self.active = [a for a in self.active if a[0] >= number]
        for lo_c, _, hi_c, hi_r in self.starting.pop(number, ()):
            value = cells[lo_c - 1] if lo_c <= len(cells) else None
            self.active.append((hi_r, lo_c, hi_c, value))
        if not self.active:
            return False
        if len(self.active) > MAX_FILL_COLUMNS:
            raise SheetProblem(f"row {number}: more than {MAX_FILL_COLUMNS:,} merged ranges "
                               "cover it; merged ranges must not overlap.")
        across = [(lo, hi) for _, lo, hi, _ in self.active if hi > lo]
        banner = len(across) == 1 and not any(
            cell_text(v, "") is not None for c, v in enumerate(cells, start=1)
            if not across[0][0] <= c <= across[0][1])
        for _, lo_c, hi_c, value in self.active:
            hi = min(hi_c, lo_c + MAX_FILL_COLUMNS - 1)
            if len(cells) < hi:
                cells.extend([None] * (hi - len(cells)))
            cells[lo_c - 1:hi] = [value] * (hi - lo_c + 1)
        return banner


def _read_xlsx(path: Path, limits: Limits) -> Sheet:
    """The first visible sheet, streamed within ``limits`` (:mod:`.xlsx`)."""
    from . import xlsx

    try:
        found = xlsx.read_sheet(path, limits)
    except xlsx.WorkbookRefused as exc:
        raise SheetProblem(f"{path.name}: {exc}") from None
    merges = _Merges(found.merged)

    def rows() -> Iterator[tuple[int, list, bool]]:
        try:
            for number, cells in found.rows:
                yield number, cells, merges.apply(number, cells)
        except xlsx.WorkbookRefused as exc:
            raise SheetProblem(f"{path.name}: {exc}") from None

    return _sheet(path, found.title, rows(), found.last_row)


def _encoding(path: Path) -> str:
    """UTF-8 (with or without a BOM) when the whole file decodes so, else GB 18030."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


#: The longest line of a .csv file read (characters), far beyond any decision's row.
MAX_CSV_LINE = 1 << 20


def _csv_records(path: Path, encoding: str) -> Iterator[list[str]]:
    """The file's records, read line by line (no line longer than MAX_CSV_LINE)."""
    def lines(fh):
        while line := fh.readline(MAX_CSV_LINE + 1):
            if len(line) > MAX_CSV_LINE:
                raise SheetProblem(f"{path.name}: a line is longer than "
                                   f"{MAX_CSV_LINE:,} characters.")
            yield line

    with open(path, encoding=encoding, errors="strict", newline="") as fh:
        try:
            yield from csv.reader(lines(fh))
        except csv.Error as exc:
            raise SheetProblem(f"{path.name} is not a readable .csv file ({exc}).") \
                from None
        except UnicodeDecodeError as exc:  # neither UTF-8 nor GB 18030 (_encoding)
            raise SheetProblem(f"{path.name} is neither UTF-8 nor GB 18030 text (byte "
                               f"{exc.start} of a line cannot be read).") from None


def _read_csv(path: Path, limits: Limits) -> Sheet:
    size = path.stat().st_size
    if size > limits.max_uncompressed:
        raise SheetProblem(f"{path.name} is {size / MIB:,.1f} MiB, over the limit of "
                           f"{limits.max_uncompressed / MIB:,.0f} MiB "
                           "(--max-uncompressed-mib).")
    encoding = _encoding(path)
    count = 0
    for _ in _csv_records(path, encoding):  # counted first: nothing is imported past it
        count += 1
        if count > limits.max_rows:
            raise SheetProblem(f"{path.name} has more than {limits.max_rows:,} rows, the "
                               "limit (--max-rows).")
    records = _csv_records(path, encoding)
    return _sheet(path, path.name, ((n, _csv_cells(cells), False)
                                    for n, cells in enumerate(records, start=1)), count)


def _csv_cells(cells: list[str]) -> list:
    """A .csv row's cells, Excel's error texts (:data:`EXCEL_ERRORS`, alone in a cell)
    taken as the error values Excel saved them from: a .csv keeps no other trace of a
    failed formula. An .xlsx keeps its error cells apart from text (``'#N/A`` typed as
    text is text there)."""
    return [ErrorValue(c.strip()) if c.strip() in EXCEL_ERRORS else c for c in cells]


READERS = {".xlsx": _read_xlsx, ".csv": _read_csv}


def read(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Sheet:
    """The header and the (lazily read) data rows of a ``.csv`` or ``.xlsx`` file;
    SheetProblem when the file as a whole cannot be imported (also when it is over
    ``limits``: its uncompressed size or its number of rows)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SheetProblem(f"{path.name}: only .csv and .xlsx files are imported.")
    if not path.is_file():
        raise SheetProblem(f"{path} does not exist.")
    return reader(path, limits)
