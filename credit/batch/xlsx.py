"""Streaming an .xlsx workbook's first visible sheet, within limits (zip bombs).

An .xlsx is a zip of XML parts; a small file can unpack to gigabytes. This reader never
holds a whole part in memory and refuses, before reading any row:

* a workbook whose parts unpack (as the zip declares, which :mod:`zipfile` enforces
  while reading) to more than ``max_uncompressed`` bytes;
* a sheet with more than ``max_rows`` rows (its last row number), counted in a first
  streaming pass that also collects the merged ranges (``<mergeCell ref>``);
* more than :data:`MAX_MERGED` merged ranges, a cell of more than Excel's own 32,767
  characters, a column past Excel's last (XFD).

Shared strings are kept as UTF-8 bytes with offsets, not as one Python string each, in
at most half the unpacked-size limit; a row may hold at most :data:`MAX_ROW_CHARS`
characters (a shared string repeated counts each time); the rows pass feeds the parser
8 KiB at a time, so few rows are ever held at once.
Cell values come out as openpyxl's reader gives them with ``data_only=True`` (numbers,
text, booleans, dates for date-formatted numbers), using openpyxl's number-format and
Excel-date helpers.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Callable, Iterator
from xml.parsers import expat

MAX_CELL_CHARS = 32_767   # Excel's limit for the text of one cell
MAX_COLUMNS = 16_384      # Excel's last column, XFD
MAX_MERGED = 100_000
#: Characters of one row, shared strings included: far beyond any decision's row, and
#: a bound on what one row can make of a string shared a thousand times.
MAX_ROW_CHARS = 1 << 20
CHUNK = 64 * 1024
#: The rows pass feeds less at a time: the rows one chunk completes are held together.
ROW_CHUNK = 8 * 1024
MIB = 1024 * 1024


class WorkbookRefused(ValueError):
    """The workbook cannot be read: over a limit, or not a workbook."""


@dataclass(frozen=True)
class ErrorValue:
    """A cell holding one of Excel's error values (``#N/A``, ``#REF!``, …): a formula
    that failed, not a value (sheets.cell_text refuses it)."""

    code: str


@dataclass(frozen=True)
class Limits:
    """``credit import --max-uncompressed-mib`` and ``--max-rows``."""

    max_uncompressed: int = 200 * MIB
    max_rows: int = 1_000_000


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _stream(zf: zipfile.ZipFile, part: str, size: int = CHUNK) -> Iterator[bytes]:
    """The unpacked bytes of ``part``, a chunk at a time (never more than the zip
    declares: :mod:`zipfile` cuts a member off at its declared size)."""
    try:
        with zf.open(part) as fh:
            while chunk := fh.read(size):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError,
            NotImplementedError) as exc:
        raise WorkbookRefused(f"its part {part} cannot be unpacked ({exc}).") from None


def _feed(zf: zipfile.ZipFile, part: str, start: Callable, end: Callable | None = None,
          text: Callable | None = None, size: int = CHUNK) -> Iterator[None]:
    """Stream ``part`` through expat with element handlers (local names, prefixes
    dropped), pausing after each chunk."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = lambda n, a: start(_local(n), a)
    if end:
        parser.EndElementHandler = lambda n: end(_local(n))
    if text:
        parser.CharacterDataHandler = text
    try:
        for chunk in _stream(zf, part, size):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise WorkbookRefused(f"{part} is not well-formed XML ({exc}).") from None
    yield


def _parse(zf: zipfile.ZipFile, part: str, start: Callable, end: Callable | None = None,
           text: Callable | None = None) -> None:
    for _ in _feed(zf, part, start, end, text):
        pass


def _attr(attrs: dict, name: str) -> str | None:
    for key, value in attrs.items():
        if _local(key) == name:
            return value
    return None


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id → part name of the relationships of ``part``."""
    p = PurePosixPath(part)
    rels_part = str(p.parent / "_rels" / f"{p.name}.rels")
    out: dict[str, str] = {}
    if rels_part not in zf.NameToInfo:
        return out

    def start(name, attrs):
        if name == "Relationship" and len(out) < 10_000:
            target = attrs.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") \
                else str(PurePosixPath(p.parent, target))
            out[attrs.get("Id", "")] = _normal(resolved)

    _parse(zf, rels_part, start)
    return out


def _normal(path: str) -> str:
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


@dataclass
class _Workbook:
    sheets: list[tuple[str, str, str]] = field(default_factory=list)  # name, state, part
    date1904: bool = False


def _workbook(zf: zipfile.ZipFile) -> tuple[str, _Workbook]:
    root_rels: dict[str, str] = {}
    if "_rels/.rels" in zf.NameToInfo:
        def start_root(name, attrs):
            if name == "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
                root_rels["main"] = _normal(attrs.get("Target", "").lstrip("/"))
        _parse(zf, "_rels/.rels", start_root)
    main = root_rels.get("main", "xl/workbook.xml")
    if main not in zf.NameToInfo:
        raise WorkbookRefused("it has no workbook part.")
    rels = _rels(zf, main)
    wb = _Workbook()

    def start(name, attrs):
        if name == "sheet" and len(wb.sheets) < 10_000:
            wb.sheets.append((attrs.get("name", ""), attrs.get("state", "visible"),
                              rels.get(_attr(attrs, "id") or "", "")))
        elif name == "workbookPr":
            wb.date1904 = attrs.get("date1904", "0").lower() in ("1", "true")

    _parse(zf, main, start)
    return main, wb


#: Built-in number formats a workbook names by id alone, whose code depends on the
#: locale (ECMA-376 Part 1 §18.8.30: ids 27–36 and 50–58 in zh-CN, zh-TW, ja-JP and
#: ko-KR), and every one of them a date or a time — 31 is ``yyyy"年"m"月"d"日"`` in
#: zh-CN. Excel in those locales does not write their codes out, and openpyxl's table
#: of built-in formats stops at id 49 without them: a date cell shown as 2026年1月10日
#: was read as the number 46032 and its row refused.
IMPLIED_DATE_FORMATS = frozenset(range(27, 37)) | frozenset(range(50, 59))


def _date_styles(zf: zipfile.ZipFile, main: str) -> set[int]:
    """Indexes of the cell formats (``cellXfs``) that show dates or times."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    styles = next((t for t in _rels(zf, main).values() if t.endswith("styles.xml")), None)
    if styles is None or styles not in zf.NameToInfo:
        return set()
    custom: dict[int, str] = {}
    xfs: list[int] = []
    depth = {"cellXfs": False}

    def start(name, attrs):
        if name == "numFmt" and len(custom) < 100_000:
            try:
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
            except ValueError:
                pass
        elif name == "cellXfs":
            depth["cellXfs"] = True
        elif name == "xf" and depth["cellXfs"] and len(xfs) < 100_000:
            try:
                xfs.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                xfs.append(0)

    def end(name):
        if name == "cellXfs":
            depth["cellXfs"] = False

    _parse(zf, styles, start, end)
    return {i for i, fid in enumerate(xfs)
            if is_date_format(custom.get(fid) or BUILTIN_FORMATS.get(fid) or "")
            or (fid not in custom and fid in IMPLIED_DATE_FORMATS)}


class SharedStrings:
    """The workbook's shared strings, compact: UTF-8 bytes and their offsets, at most
    ``budget`` bytes in all (half the unpacked-size limit: 100 MiB by default)."""

    def __init__(self, budget: int) -> None:
        self._data = bytearray()
        self._ends = array("Q")
        self.budget = budget

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, text: str) -> None:
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))
        if len(self._data) + 8 * len(self._ends) > self.budget:
            raise WorkbookRefused(
                f"its shared strings take more than {self.budget / MIB:,.0f} MiB, half the "
                "limit on the unpacked size (--max-uncompressed-mib).")

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < len(self._ends):
            raise WorkbookRefused(f"a cell names shared string {i}, which does not exist.")
        start = self._ends[i - 1] if i else 0
        return self._data[start:self._ends[i]].decode("utf-8", "surrogatepass")


class _Text:
    """Character data of the current ``<t>``/``<v>``, refused past MAX_CELL_CHARS."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.on = False

    def start(self) -> None:
        self.on = True

    def add(self, data: str) -> None:
        if self.on:
            self.size += len(data)
            if self.size > MAX_CELL_CHARS:
                raise WorkbookRefused(f"a cell holds more than {MAX_CELL_CHARS:,} "
                                      "characters, Excel's own limit.")
            self.parts.append(data)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts, self.size, self.on = [], 0, False
        return text


def _shared_strings(zf: zipfile.ZipFile, main: str, limits: Limits) -> SharedStrings:
    strings = SharedStrings(limits.max_uncompressed // 2)
    part = next((t for t in _rels(zf, main).values() if t.endswith("sharedStrings.xml")),
                None)
    if part is None or part not in zf.NameToInfo:
        return strings
    text = _Text()
    state = {"phonetic": False, "parts": []}

    def start(name, attrs):
        if name == "rPh":
            state["phonetic"] = True
        elif name == "t" and not state["phonetic"]:
            text.start()

    def end(name):
        if name == "rPh":
            state["phonetic"] = False
        elif name == "t" and not state["phonetic"]:
            state["parts"].append(text.take())
            if sum(map(len, state["parts"])) > MAX_CELL_CHARS:
                raise WorkbookRefused(f"a shared string holds more than "
                                      f"{MAX_CELL_CHARS:,} characters, Excel's own limit.")
        elif name == "si":
            strings.append("".join(state["parts"]).replace("x005F_", ""))
            state["parts"] = []

    _parse(zf, part, start, end, text.add)
    return strings


_ROW_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\b([^>]*)>')
_ROW_NUMBER = re.compile(rb'\br\s*=\s*["\']([0-9]+)["\']')
_MERGE_TAG = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b([^>]*)>')
_REF = re.compile(rb'\bref\s*=\s*["\']([A-Za-z]{1,3}[0-9]+(?::[A-Za-z]{1,3}[0-9]+)?)["\']')
_OVERLAP = 4096  # bytes searched again with the next chunk: no tag is cut in two


def survey(zf: zipfile.ZipFile, part: str, limits: Limits
           ) -> tuple[int, list[tuple[int, int, int, int]]]:
    """First pass over a sheet, streamed: its last row number (refused past
    ``max_rows``) and its merged ranges ``(min_col, min_row, max_col, max_row)``. The
    tags are found in the raw XML (a ``<`` in text is always escaped as ``&lt;``)."""
    from openpyxl.utils.cell import range_boundaries

    seen = {"rows": 0, "last": 0}
    merges: list[tuple[int, int, int, int]] = []

    def scan(data: bytes, upto: int) -> None:
        for m in _ROW_TAG.finditer(data):
            if m.start() >= upto:
                break
            n = _ROW_NUMBER.search(m[1])
            seen["rows"] += 1
            seen["last"] = int(n[1]) if n else seen["last"] + 1
            if max(seen["last"], seen["rows"]) > limits.max_rows:
                raise WorkbookRefused(f"the sheet has more than {limits.max_rows:,} rows, "
                                      "the limit (--max-rows).")
        for m in _MERGE_TAG.finditer(data):
            if m.start() >= upto:
                break
            ref = _REF.search(m[1])
            if ref:
                merges.append(range_boundaries(ref[1].decode("ascii").upper()))
                if len(merges) > MAX_MERGED:
                    raise WorkbookRefused(f"the sheet has more than {MAX_MERGED:,} "
                                          "merged ranges.")

    tail = b""
    for chunk in _stream(zf, part):
        data = tail + chunk
        # tags starting before `cut` are complete in `data` (none is _OVERLAP long)
        cut = data.rfind(b"<", 0, max(len(data) - _OVERLAP, 0))
        if cut <= 0:
            tail = data if len(data) <= 4 * _OVERLAP else data[-_OVERLAP:]
            continue
        scan(data, cut)
        tail = data[cut:]
    scan(tail, len(tail))
    return seen["last"], merges


def _column(ref: str) -> int:
    """1-based column of a cell reference such as ``AB12``."""
    n = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            n = n * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            n = n * 26 + ord(ch) - 96
        else:
            break
    return n


def _number(raw: str):
    try:
        return float(raw) if any(ch in raw for ch in ".eE") else int(raw)
    except ValueError:
        return raw


@dataclass
class _Cells:
    """Converts the cells of one sheet as openpyxl's reader does with ``data_only``."""

    strings: SharedStrings
    dates: set[int]
    epoch: datetime

    def value(self, kind: str, raw: str | None, style: int, inline: str | None):
        from openpyxl.utils.datetime import from_excel

        if kind == "inlineStr":
            return inline
        if raw is None or raw == "":
            return None
        if kind == "s":
            try:
                return self.strings[int(raw)]
            except ValueError:
                raise WorkbookRefused(f"a shared string index {raw!r} is not a number.") \
                    from None
        if kind == "str":
            return raw
        if kind == "e":
            return ErrorValue(raw)
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "d":
            try:
                return datetime.fromisoformat(raw)
            except ValueError:
                return raw
        value = _number(raw)
        if style in self.dates and isinstance(value, (int, float)):
            try:
                return from_excel(value, self.epoch)
            except (OverflowError, ValueError):
                return value
        return value


class _SheetRows:
    """expat's handlers for a worksheet's ``<sheetData>``: each finished row, as
    ``(row number, values from column A)``, goes to :attr:`done`; rows the sheet skips
    come as empty ones. Cells are converted by :class:`_Cells`; the row and cell limits
    are enforced as the text arrives."""

    def __init__(self, cells: _Cells, limits: Limits):
        self.cells, self.limits = cells, limits
        self.done: list[tuple[int, list]] = []
        self.n = 0  # the current row's number
        self.values: list = []
        self.col = 0  # the last cell's column
        self.chars = 0  # characters in the current row so far
        self.cell: dict = {}  # the open ``<c>``, empty outside one
        self.text = _Text()

    def start(self, name: str, attrs: dict) -> None:
        cell = self.cell
        if name == "row":
            self._start_row(attrs.get("r"))
        elif name == "c":
            self._start_cell(attrs)
        elif name == "v" or (name == "t" and cell and not cell["phonetic"]):
            self.text.start()
        elif name == "rPh" and cell:
            cell["phonetic"] = True

    def end(self, name: str) -> None:
        cell = self.cell
        if name == "v" and cell:
            cell["raw"] = self.text.take()
        elif name == "t" and cell and not cell["phonetic"]:
            cell["inline"].append(self.text.take())
        elif name == "rPh" and cell:
            cell["phonetic"] = False
        elif name == "c" and cell:
            self._end_cell()
        elif name == "row":
            self.done.append((self.n, self.values))

    def _start_row(self, r: str | None) -> None:
        number = int(r) if r and r.isdigit() else self.n + 1
        if number > self.limits.max_rows:
            raise WorkbookRefused(f"the sheet has more than {self.limits.max_rows:,} rows, "
                                  "the limit (--max-rows).")
        for gap in range(self.n + 1, number):
            self.done.append((gap, []))
        self.n, self.values, self.col, self.chars = max(number, self.n), [], 0, 0

    def _start_cell(self, attrs: dict) -> None:
        ref = attrs.get("r")
        col = _column(ref) if ref else self.col + 1
        if not 0 < col <= MAX_COLUMNS:
            raise WorkbookRefused(f"a cell lies past column XFD ({ref!r}).")
        style = attrs.get("s", "0")
        self.cell.clear()
        self.cell.update(col=col, kind=attrs.get("t", "n"), raw=None, inline=[],
                         style=int(style) if style.isdigit() else 0, phonetic=False)

    def _end_cell(self) -> None:
        cell, values, col = self.cell, self.values, self.cell["col"]
        inline = "".join(cell["inline"])
        if len(inline) > MAX_CELL_CHARS:
            raise WorkbookRefused(f"a cell holds more than {MAX_CELL_CHARS:,} "
                                  "characters, Excel's own limit.")
        if len(values) < col:
            values.extend([None] * (col - len(values)))
        value = self.cells.value(cell["kind"], cell["raw"], cell["style"], inline)
        self.chars += len(value) if isinstance(value, str) else 1
        if self.chars > MAX_ROW_CHARS:
            raise WorkbookRefused(f"row {self.n} holds more than {MAX_ROW_CHARS:,} "
                                  "characters.")
        values[col - 1] = value
        self.col = col
        cell.clear()


def _rows(zf: zipfile.ZipFile, part: str, cells: _Cells, limits: Limits
          ) -> Iterator[tuple[int, list]]:
    """``(row number, values from column A)`` of every row, missing rows as empty."""
    sheet = _SheetRows(cells, limits)
    for _ in _feed(zf, part, sheet.start, sheet.end, sheet.text.add, ROW_CHUNK):
        yield from sheet.done
        sheet.done.clear()


@dataclass
class XlsxSheet:
    """The first visible worksheet: its title, last row number, merged ranges
    ``(min_col, min_row, max_col, max_row)`` and its rows, read as they are consumed."""

    title: str
    last_row: int
    merged: list[tuple[int, int, int, int]]
    rows: Iterator[tuple[int, list]]


def read_sheet(path, limits: Limits) -> XlsxSheet:
    """Open the workbook at ``path`` within ``limits``; WorkbookRefused saying why."""
    from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookRefused(f"it is not a readable .xlsx workbook ({exc}).") from None
    total = sum(info.file_size for info in zf.infolist())
    if total > limits.max_uncompressed:
        raise WorkbookRefused(
            f"it unpacks to {total / MIB:,.1f} MiB, over the limit of "
            f"{limits.max_uncompressed / MIB:,.0f} MiB (--max-uncompressed-mib).")
    main, wb = _workbook(zf)
    worksheets = [s for s in wb.sheets if "worksheets/" in s[2] and s[2] in zf.NameToInfo]
    if not worksheets:
        raise WorkbookRefused("it has no worksheet.")
    title, _, part = next((s for s in worksheets if s[1] == "visible"), worksheets[0])
    last_row, merged = survey(zf, part, limits)
    cells = _Cells(_shared_strings(zf, main, limits), _date_styles(zf, main),
                   MAC_EPOCH if wb.date1904 else WINDOWS_EPOCH)
    return XlsxSheet(title, last_row, merged, _rows(zf, part, cells, limits))
