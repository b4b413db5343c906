"""Zip bombs for ``credit import`` (issue 9 item 7): generated small on disk, and the
peak memory of importing them.

``write_bomb(path, unpacked_mib)`` writes an .xlsx whose one sheet unpacks to about
``unpacked_mib`` MiB of rows (each row a real-looking decision, so nothing but the
size gives it away); ``write_rows(path, rows)`` a compact sheet with that many rows.
Run as a script, it imports each with ``credit import`` in a fresh process and prints
the process's peak RSS (figures in bench/README.md):

    .venv/bin/python bench/import_bomb.py            # all cases; --within: the last two
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_OOXML = "http://schemas.openxmlformats.org"
_PKG = f"{_OOXML}/package/2006"
_DOC = f"{_OOXML}/officeDocument/2006/relationships"
_SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PKG}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SPREADSHEET}.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    f'ContentType="{_SPREADSHEET}.worksheet+xml"/></Types>')
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_OOXML}/spreadsheetml/2006/main" xmlns:r="{_DOC}">'
    '<sheets><sheet name="不良行为记录" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
    '</Relationships>')
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = '</sheetData></worksheet>'
HEADER = ("统一社会信用代码", "企业名称", "行为代码", "决定日期", "决定文号", "决定机关")


def _row(values) -> str:
    """A row without cell references (allowed: cells follow one another), so that every
    row of a bomb is the same bytes and compresses to almost nothing."""
    return "<row>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values) \
        + "</row>"


def _write(path: Path, rows) -> Path:
    """An .xlsx of the minimal parts, its sheet streamed from ``rows`` (XML text)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD.encode())
            block: list[str] = []
            for text in rows:
                block.append(text)
                if len(block) >= 1000:
                    sheet.write("".join(block).encode())
                    block = []
            sheet.write(("".join(block) + _SHEET_TAIL).encode())
    return path


DECISION = ("91330603MA2D4F6E84", "绍兴柯桥建工集团有限公司", "BID-NOSIGN", "2026-01-10",
            "绍柯建罚〔2026〕1号", "柯桥区住房和城乡建设局")


def write_bomb(path: Path, unpacked_mib: float) -> Path:
    """The header, then the same decision again and again: a sheet of about
    ``unpacked_mib`` MiB that zips to about a thousandth of that."""
    rows = int(unpacked_mib * MIB) // len(_row(DECISION).encode())
    return _write(path, (_row(HEADER) if n == 0 else _row(DECISION) for n in range(rows)))


def write_shared_strings(path: Path, unpacked_mib: float) -> Path:
    """A small sheet whose workbook also carries a shared-strings part of about
    ``unpacked_mib`` MiB (long strings, so their text is what takes the room)."""
    write_rows(path, 3, data=1)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"</Relationships>", (
        f'<Relationship Id="rId2" Type="{_DOC}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>").encode())
    block = b"".join(b"<si><t>%s</t></si>" % (b"x" * 2000) for _ in range(100))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as sst:
            sst.write(f'<sst xmlns="{_OOXML}/spreadsheetml/2006/main">'.encode())
            for _ in range(int(unpacked_mib * MIB) // len(block)):
                sst.write(block)
            sst.write(b"</sst>")
    return path


def write_rejected(path: Path, rows: int) -> Path:
    """The header, then ``rows`` decisions that are all refused (a USCC of 17
    characters, an unknown code): every row goes to the rejects list."""
    bad = ("91330603MA2D4F6E8", "某公司", "NO-SUCH-CODE", "2026-13-01", "文号", "机关")
    return _write(path, (_row(HEADER) if n == 0 else _row(bad) for n in range(rows + 1)))


def write_rows(path: Path, rows: int, data: int = 0) -> Path:
    """A compact sheet of ``rows`` rows: the header, ``data`` decisions (document
    numbers 1, 2, …), then empty rows."""
    def row(n: int) -> str:
        if n == 0:
            return _row(HEADER)
        if n <= data:
            return _row(DECISION[:4] + (f"绍柯建罚〔2026〕{n}号",) + DECISION[5:])
        return "<row/>"
    return _write(path, (row(n) for n in range(rows)))


def peak_import(path: Path, *extra: str) -> dict:
    """``credit import`` in a fresh process on a scratch database: exit status, seconds,
    peak RSS (MiB) of that process and of its reading child, and the last line said."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CREDIT_DATABASE_URL=f"sqlite:///{tmp}/bench.db")
        credit = str(Path(sys.executable).with_name("credit"))
        subprocess.run([credit, "db", "upgrade"], env=env, check=True, capture_output=True)
        script = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); "
                  "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
                  "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
                  "print(json.dumps({'exit': r.returncode, 'seconds': time.perf_counter() - t, "
                  "'peak_mib': u.ru_maxrss / 1024, 'said': (r.stderr or r.stdout)"
                  ".strip().splitlines()[-1:]}))")
        run = subprocess.run([sys.executable, "-c", script, credit, "import", str(path),
                              "--sector", "housing", "--entered-by", "bench", *extra],
                             env=env, capture_output=True, text=True, check=True)
    import json
    return json.loads(run.stdout)


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="import-bomb-"))
    within = [
        ("100,000 copies of one decision (imported once, then already present)",
         write_bomb(out / "copies.xlsx", 100_000 * len(_row(DECISION).encode()) / MIB), ()),
        ("100,000 rows, every one rejected (rejects list)",
         write_rejected(out / "rejected.xlsx", 100_000), ()),
    ]
    cases = within if sys.argv[1:] == ["--within"] else [
        ("800 MiB sheet (default limits)", write_bomb(out / "bomb-800.xlsx", 800), ()),
        ("195 MiB sheet, limit raised to 250 MiB, --max-rows 10",
         write_bomb(out / "bomb-195.xlsx", 195), ("--max-uncompressed-mib", "250",
                                                  "--max-rows", "10")),
        ("1,000,001 rows (default limits)", write_rows(out / "rows.xlsx", 1_000_001), ()),
        *within,
    ]
    print(f"machine: {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for label, path, extra in cases:
        result = peak_import(path, *extra)
        print(f"| {label} | {path.stat().st_size / 1024:,.0f} KiB | exit {result['exit']} | "
              f"{result['seconds']:.1f} s | {result['peak_mib']:.0f} MiB | "
              f"{' '.join(result['said'])[:110]} |")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("peak RSS: the largest of the `credit import` process and its children "
          f"(ru_maxrss); this script's own: {own} MiB")


if __name__ == "__main__":
    main()
