"""``credit import`` on every backend, with real .xlsx files written by openpyxl: Chinese
headers, titles and notes merged across rows, values merged down a column, blank lines,
repeated headers, dates as text and as Excel dates, invalid USCCs, unknown codes,
duplicates and future dates. Each row gets exactly the API's validation; valid rows are
committed with their audit entries; importing again adds nothing; a crash leaves whole
rows or nothing."""

from __future__ import annotations

import csv
import threading
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import credit.batch.importer as importer
from credit.batch.importer import import_file
from credit.batch.sheets import SheetProblem
from credit.errors import InvalidInput
from credit.persistence.tables import AuditEntryRow, RecordRow
from credit.services.audit import list_entries, verify_chain
from credit.services.records import RecordFilter, create_record, list_records
from credit.services.scoring import ScoreQuery, score

from .batch_helpers import EVALUATOR, REGULATORS, make_uscc

OPERATOR = "柯桥区住建局 张三"
A, B, C = make_uscc(101), make_uscc(102), make_uscc(103)
BAD_CHECK = A[:17] + ("0" if A[17] != "0" else "1")
HEADER = ["序号", "统一社会信用代码*", "企业名称", "行为代码", "决定\n日期", "决定文号", "决定机关",
          "项目编号", "项目名称", "有效期至（仅BID-BAN填写）", "备注"]


def write_xlsx(path: Path, rows: list[list], merges=(), title=True, footer=True) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "不良行为记录"
    if title:
        ws.append(["2026年柯桥区建设工程信用记录导入表"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
        ws.append([])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    if footer:
        ws.append([])
        ws.append(["填表说明：日期格式为YYYY-MM-DD"])
        n = ws.max_row
        ws.merge_cells(start_row=n, start_column=1, end_row=n, end_column=len(HEADER))
    wb.save(path)
    return path


def row(n, uscc, code, decided, doc, issued="柯桥区住房和城乡建设局", project=None,
        pname=None, valid_until=None, note=None, name="绍兴柯桥建工集团有限公司"):
    return [n, uscc, name, code, decided, doc, issued, project, pname, valid_until, note]


def rejects_of(path: Path) -> list[dict]:
    with open(f"{path}.rejects.csv", newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def record_count(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.execute(select(func.count()).select_from(RecordRow)).scalar()


def audit_head(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.execute(select(func.max(AuditEntryRow.position))).scalar() or 0


@pytest.fixture
def messy(tmp_path) -> Path:
    """A sheet as a regulator keeps it. Rows 4–… (title on row 1, header on row 3)."""
    rows = [  # the sheet row each lands on, after the title, a blank row and the header
        row(1, A, "BID-NOSIGN", datetime(2026, 1, 10), "绍柯建罚〔2026〕1号"),  # r4 Excel date
        row(2, f"  {B.lower()} ", "SITE-QUALITY", "2026/2/3", "绍柯建罚〔2026〕2号",  # r5
            issued=None, note="决定机关合并单元格"),
        row(3, C, "AWARD-PROVINCIAL", "2025年12月1日", "绍柯建表〔2025〕9号",  # r6
            issued=None, project=" KQ-2025-01 ", pname="柯桥中学新建工程"),
        [None] * 11,  # r7 blank
        row(4, BAD_CHECK, "BID-NOSIGN", "2026-01-11", "绍柯建罚〔2026〕3号"),  # r8
        row(5, A, "BID-SLEEP", "2026-01-12", "绍柯建罚〔2026〕4号"),  # r9
        row(6, A, "BID-ABANDON", "2026-06-02", "绍柯建罚〔2026〕5号"),  # r10 future
        row(7, A, "BID-NOSIGN", "2026-01-10", "绍柯建罚〔2026〕1号"),  # r11 same as r4
        row(8, A, "BID-NOSIGN", "2026-01-09", "绍柯建罚〔2026〕1号"),  # r12 r4 but differs
        row(9, B, "BID-BAN", "2026.03.01", "绍柯建罚〔2026〕6号"),  # r13 no 有效期至
        row(10, B, "BID-BAN", datetime(2026, 3, 2), "绍柯建罚〔2026〕7号",  # r14
            valid_until=datetime(2026, 12, 31)),
        row(11, C, "SITE-PM-ABSENT", "2026-03-03", "绍柯建罚〔2026〕8号",  # r15
            valid_until="2026-09-02"),
        HEADER,  # r16 the header again
        row(12, C, "ADMIN-PENALTY", datetime(2026, 3, 4, 15, 30),  # r17 a time of day
            "绍柯建罚〔2026〕9号"),
        row(13, C, "ADMIN-PENALTY", 46085, "绍柯建罚〔2026〕10号"),  # r18 a bare serial
        row(14, "", "", None, "", issued=None, name=None),  # r19 only 序号
        row(15, BAD_CHECK, "NOPE", "2026-13-01", "绍柯建罚〔2026〕11号"),  # r20 three faults
    ]
    # 决定机关 of row 4 merged down over rows 5 and 6.
    return write_xlsx(tmp_path / "2026年第一季度.xlsx", rows, merges=["G4:G6"])


REJECTED = {
    8: {("uscc", "invalid_uscc")},
    9: {("code", "unknown_code")},
    10: {("decided_on", "decided_in_future")},
    12: {("document_no", "duplicate_record")},
    13: {("valid_until", "valid_until_required")},
    15: {("valid_until", "valid_until_forbidden")},
    17: {("decided_on", "validation_error")},
    18: {("decided_on", "validation_error")},
    20: {("uscc", "invalid_uscc"), ("code", "unknown_code"), ("decided_on", "validation_error")},
}


def test_messy_sheet(ctx, messy):
    summary = import_file(ctx, messy, sector="housing", entered_by=OPERATOR)
    assert summary.header_row == 3 and summary.sheet == "不良行为记录"
    assert summary.imported == 4          # rows 4, 5, 6, 14
    assert summary.already_present == 1   # row 11 repeats row 4 exactly
    assert summary.rejected_rows == len(REJECTED)
    assert summary.blank == 3             # rows 7, 19 and the empty row before the note
    assert [why for _, why in summary.skipped] == [
        "the header repeated", "a cell merged across the row (title or note)"]
    assert summary.ignored_columns == ["序号"]
    assert summary.rows == 4 + 1 + len(REJECTED)

    got: dict[int, set] = {}
    for r in rejects_of(messy):
        got.setdefault(int(r["row"]), set()).add((r["field"], r["error"]))
        assert r["message"]
    assert got == REJECTED

    records = {(r["uscc"], r["code"]): r for r in
               list_records(ctx, EVALUATOR, RecordFilter(limit=100))["items"]}
    assert len(records) == 4
    nosign = records[(A, "BID-NOSIGN")]
    assert nosign["decided_on"] == "2026-01-10" and nosign["sector"] == "housing"
    assert nosign["entered_by"] == OPERATOR and nosign["issued_by"] == "柯桥区住房和城乡建设局"
    quality = records[(B, "SITE-QUALITY")]  # lower case and spaces normalised
    assert quality["decided_on"] == "2026-02-03"
    assert quality["issued_by"] == "柯桥区住房和城乡建设局"  # from the merged cell
    award = records[(C, "AWARD-PROVINCIAL")]
    assert award["decided_on"] == "2025-12-01" and award["project_code"] == "KQ-2025-01"
    ban = records[(B, "BID-BAN")]
    assert ban["valid_until"] == "2026-12-31" and ban["decided_on"] == "2026-03-02"

    created = list_entries(ctx, kind="record.created", limit=100)["items"]
    assert len(created) == 4 and {e["actor"] for e in created} == {OPERATOR}
    assert verify_chain(ctx)["ok"] is True
    assert "reasons:" in summary.text() and "rejects.csv" in summary.text()


def test_importing_again_adds_nothing_and_says_so(ctx, messy):
    first = import_file(ctx, messy, sector="housing", entered_by=OPERATOR)
    head, count = audit_head(ctx), record_count(ctx)
    again = import_file(ctx, messy, sector="housing", entered_by="另一位操作员")
    assert again.imported == 0
    assert again.already_present == first.imported + first.already_present
    assert again.rejected_rows == first.rejected_rows
    assert (audit_head(ctx), record_count(ctx)) == (head, count)
    assert "Nothing new" in again.text()


def test_rejections_are_exactly_the_apis(ctx, messy, tmp_path):
    """The rejects file says what POST /records would say about each row."""
    import_file(ctx, messy, sector="housing", entered_by=OPERATOR)
    from credit.batch import sheets
    rows = dict(sheets.read(messy).rows)
    by_row: dict[int, dict[str, list[str]]] = {}
    for r in rejects_of(messy):
        by_row.setdefault(int(r["row"]), {}).setdefault(r["field"], []).append(r["message"])
    for number, fields in by_row.items():
        if "document_no" in fields:
            continue  # a duplicate: the API refuses it too (409), checked below
        body = dict(rows[number], sector="housing")
        with pytest.raises(InvalidInput) as exc:
            create_record(ctx, REGULATORS["housing"], body)
        assert exc.value.errors == fields
    dup = dict(rows[12], sector="housing")
    with pytest.raises(Exception) as exc:
        create_record(ctx, REGULATORS["housing"], dup)
    assert exc.value.error == "duplicate_record"


def test_api_field_names_and_gb18030_csv(ctx, tmp_path):
    api = tmp_path / "api.csv"
    with open(api, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["uscc", "subject_name", "code", "decided_on", "document_no", "issued_by",
                    "valid_until", "occurred_on", "note"])
        w.writerow([A, "企业甲", "BID-BAN", "2026-01-01", "交罚1", "柯桥区交通运输局",
                    "2026-12-31", "2025-12-20", "多行\n备注"])
        w.writerow([])
        w.writerow([B, "企业乙", "SUB-TRANSFER", "2026-01-02", "交罚2", "柯桥区交通运输局",
                    "", "", ""])
    s = import_file(ctx, api, sector="transport", entered_by=OPERATOR)
    assert (s.imported, s.rejected_rows, s.blank) == (2, 0, 1)
    assert not Path(f"{api}.rejects.csv").exists()

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("统一社会信用代码,企业名称,行为代码,决定日期,决定文号,决定机关,行业\n"
                    f"{C},企业丙,WAGE-ARREARS,2026/3/9,水罚1,柯桥区水利局,水利\n"
                    f"{C},企业丙,WAGE-ARREARS,2026/3/9,水罚2,柯桥区水利局,housing\n"
                    .encode("gb18030"))
    s = import_file(ctx, gbk, sector="water", entered_by=OPERATOR)
    assert (s.imported, s.rejected_rows) == (1, 1)
    assert [(r["row"], r["field"]) for r in rejects_of(gbk)] == [("3", "sector")]
    body = score(ctx, EVALUATOR, ScoreQuery(C, "water", date(2026, 4, 1)))
    assert body["score"] == "90.00" and body["name"] == "企业丙"


def test_file_level_problems_import_nothing(ctx, tmp_path):
    no_header = tmp_path / "x.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["随便", "什么"])
    wb.save(no_header)
    with pytest.raises(SheetProblem, match="^x.xlsx: no header row"):
        import_file(ctx, no_header, sector="housing", entered_by=OPERATOR)
    missing = tmp_path / "y.csv"
    missing.write_text("统一社会信用代码,企业名称,行为代码,决定日期\n", encoding="utf-8")
    with pytest.raises(SheetProblem, match="^y.csv: row 1: the header lacks .*决定文号"):
        import_file(ctx, missing, sector="housing", entered_by=OPERATOR)
    with pytest.raises(SheetProblem, match="only .csv and .xlsx"):
        import_file(ctx, tmp_path / "z.xls", sector="housing", entered_by=OPERATOR)
    assert audit_head(ctx) == 0


def test_a_crash_mid_import_leaves_whole_batches(ctx, tmp_path, monkeypatch):
    rows = [row(i, make_uscc(200 + i % 5), "SITE-PM-ABSENT", "2026-05-01", f"罚{i}")
            for i in range(1, 13)]
    path = write_xlsx(tmp_path / "crash.xlsx", rows, title=False, footer=False)
    real = importer.insert_record
    calls = {"n": 0}

    def dying(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kw)

    monkeypatch.setattr(importer, "insert_record", dying)
    with pytest.raises(KeyboardInterrupt):
        import_file(ctx, path, sector="housing", entered_by=OPERATOR, batch_size=4)
    assert record_count(ctx) == 4  # the first batch; the second rolled back whole
    assert len(list_entries(ctx, kind="record.created")["items"]) == 4
    assert verify_chain(ctx)["ok"] is True
    monkeypatch.setattr(importer, "insert_record", real)
    s = import_file(ctx, path, sector="housing", entered_by=OPERATOR, batch_size=4)
    assert (s.already_present, s.imported) == (4, 8)
    assert record_count(ctx) == 12 and verify_chain(ctx)["ok"] is True


def test_scores_are_served_while_a_large_import_runs(ctx, tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["uscc", "subject_name", "code", "decided_on", "document_no", "issued_by"])
        for i in range(1500):
            w.writerow([make_uscc(1000 + i % 300), "企业", "ADMIN-CRITICISM", "2026-05-01",
                        f"批评{i}", "住建局"])
    done = threading.Event()
    result = {}

    def run():
        try:
            result["summary"] = import_file(ctx, path, sector="housing", entered_by=OPERATOR,
                                            batch_size=100)
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    served = 0
    while not done.is_set():
        score(ctx, EVALUATOR, ScoreQuery(A, "housing", date(2026, 5, 2)))
        served += 1
    t.join()
    assert result["summary"].imported == 1500
    kinds = [e["kind"] for e in list_entries(ctx, limit=5000)["items"]]
    first, last = kinds.index("record.created"), len(kinds) - 1 - kinds[::-1].index(
        "record.created")
    assert "score.served" in kinds[first:last], "no score got the lock during the import"
    assert verify_chain(ctx)["ok"] is True


def test_cli_import(ctx, messy, monkeypatch):
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    res = CliRunner().invoke(cli.main, ["import", str(messy), "--sector", "housing",
                                        "--entered-by", OPERATOR])
    assert res.exit_code == 1, res.output  # some rows rejected
    assert "new records              4" in res.output and "rejects.csv" in res.output
    res = CliRunner().invoke(cli.main, ["import", str(messy), "--sector", "housing",
                                        "--entered-by", OPERATOR])
    assert "Nothing new" in res.output
    bad = messy.with_name("bad.csv")
    bad.write_text("a,b\n", encoding="utf-8")
    res = CliRunner().invoke(cli.main, ["import", str(bad), "--sector", "housing",
                                        "--entered-by", OPERATOR])
    assert res.exit_code == 2 and "Nothing was imported" in res.output
    res = CliRunner().invoke(cli.main, ["import", str(messy), "--sector", "housing",
                                        "--entered-by", "  "])
    assert res.exit_code == 2


@pytest.mark.parametrize("name", ["\udcff\udcfe操作员", "操" * 201])
def test_cli_import_refuses_an_operator_name_no_token_could_have(ctx, messy, monkeypatch,
                                                                  name):
    """Bytes that are not UTF-8 (argv decoded with surrogateescape) or over 200
    characters: one line, exit 2, nothing imported — not a traceback and exit 1 (some
    rows rejected) after the first batch had failed."""
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    res = CliRunner().invoke(cli.main, ["import", str(messy), "--sector", "housing",
                                        "--entered-by", name])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "--entered-by" in res.output and "Traceback" not in res.output
    with ctx.uow(write=False) as uow:
        assert uow.audit.head().position == 0



def test_reading_in_a_second_process_gives_the_same_outcome(ctx, messy, tmp_path):
    """Large files are read and validated in a forked process while this one inserts."""
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(messy.read_bytes())
    one = import_file(ctx, messy, sector="housing", entered_by=OPERATOR, parallel=False)
    two = import_file(ctx, copy, sector="housing", entered_by=OPERATOR, parallel=True,
                      batch_size=3)
    assert (two.rows, two.already_present, two.rejected_rows, two.blank, two.skipped) == \
        (one.rows, one.imported + one.already_present, one.rejected_rows, one.blank,
         one.skipped)
    assert rejects_of(copy) == rejects_of(messy)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK not really")
    with pytest.raises(SheetProblem):
        import_file(ctx, bad, sector="housing", entered_by=OPERATOR, parallel=True)


def test_importing_again_does_not_bring_back_a_revoked_decision(ctx, tmp_path):
    """docs/batch.md, "Again": a file imported a second time (after a crash, or sent
    twice) adds nothing — also when one of its decisions was revoked meanwhile (an
    overturned penalty must not come back). A corrected decision under the same document
    number, different in content from the revoked one, is entered."""
    from credit.services.records import revoke_record
    from tests.integration.helpers import HOUSING, revocation_body
    head = "统一社会信用代码,企业名称,行为代码,决定日期,决定文号,决定机关\n"
    line = ("91330603MA2D4F6E84,绍兴柯桥建工集团有限公司,SUB-TRANSFER,{},"
            "绍柯建罚〔2026〕1号,柯桥区住房和城乡建设局\n")
    path = tmp_path / "q1.csv"
    path.write_text(head + line.format("2026-01-10"), encoding="utf-8")
    first = import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    assert first.imported == 1
    revoke_record(ctx, HOUSING, first.first_id, revocation_body())
    entries = audit_head(ctx)
    again = import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    assert (again.imported, again.already_revoked, again.rejected_rows) == (0, 1, 0)
    assert audit_head(ctx) == entries and record_count(ctx) == 1
    assert "revoked on file" in again.text() and "Nothing new" in again.text()
    path.write_text(head + line.format("2026-01-12"), encoding="utf-8")  # corrected
    corrected = import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    assert (corrected.imported, corrected.already_revoked) == (1, 0)
    assert record_count(ctx) == 2


def test_importing_again_asks_the_store_once_per_row(ctx, tmp_path, monkeypatch):
    """Re-running an import (after a crash, after exit 3) holds the append lock per
    batch: each row already on file costs one duplicate look-up, not one per rule."""
    from credit.persistence.repositories import RecordRepository
    head = "统一社会信用代码,企业名称,行为代码,决定日期,决定文号,决定机关\n"
    lines = "".join(f"{make_uscc(n)},某建设公司,BID-NOSIGN,2026-01-10,绍柯建罚〔2026〕{n}号,"
                    "柯桥区住房和城乡建设局\n" for n in range(1, 21))
    path = tmp_path / "again.csv"
    path.write_text(head + lines, encoding="utf-8")
    import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    asked = []
    real = RecordRepository.live_duplicate
    monkeypatch.setattr(RecordRepository, "live_duplicate",
                        lambda self, *key: asked.append(key) or real(self, *key))
    again = import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    assert again.already_present == 20 and len(asked) == 20


def test_an_error_value_saved_into_a_csv_is_rejected(ctx, tmp_path):
    """Excel saves a failed VLOOKUP into a .csv as the text #N/A."""
    path = tmp_path / "lookup.csv"
    path.write_text("统一社会信用代码,企业名称,行为代码,决定日期,决定文号,决定机关\n"
                    "91330603MA2D4F6E84,#N/A,BID-NOSIGN,2026-01-10,文1,住建局\n",
                    encoding="utf-8")
    summary = import_file(ctx, path, sector="housing", entered_by=OPERATOR)
    assert (summary.imported, summary.rejected_rows) == (0, 1)
    (reject,) = rejects_of(path)
    assert reject["field"] == "subject_name" and "#N/A" in reject["message"]
    assert record_count(ctx) == 0


# ---- found by a review of the CLI: its rejects list in the way ---------------------------

def _records(ctx) -> int:
    from credit.persistence.tables import RecordRow
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(RecordRow))


def test_a_rejects_list_that_cannot_be_written_is_found_before_any_row(ctx, messy,
                                                                      monkeypatch):
    """A directory where ``<file>.rejects.csv`` goes committed every valid row, then
    ended in exit 2 "could not be imported" with no summary."""
    import credit.cli as cli
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    Path(f"{messy}.rejects.csv").mkdir()
    before = _records(ctx)
    res = CliRunner().invoke(cli.main, ["import", str(messy), "--sector", "housing",
                                        "--entered-by", OPERATOR])
    assert res.exit_code == 2, res.output
    assert "rejects list" in res.stderr and "nothing was imported" in res.stderr, res.stderr
    assert _records(ctx) == before


def test_a_rejects_list_that_fails_after_rows_were_committed_is_said_in_the_summary(
        ctx, messy, monkeypatch):
    def fail(self, path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(importer._Rejects, "save_beside", fail)
    summary = importer.import_file(ctx, messy, sector="housing", entered_by=OPERATOR)
    assert summary.imported == 4 and summary.rejects_error is not None
    assert "could not be written" in summary.text() and "Permission denied" in summary.text()


@pytest.mark.parametrize("format_id", [31, 57, 14])
def test_a_date_in_an_implied_east_asian_format_is_a_date(ctx, tmp_path, format_id):
    """zh-CN Excel saves a cell shown as 2026年1月10日 with the built-in format 31 and no
    code for it (ECMA-376 §18.8.30, ids 27–36 and 50–58): the importer read the number
    46032 and refused the row (a review of the batch import)."""
    import re
    import zipfile
    plain = write_xlsx(tmp_path / "plain.xlsx",
                       [row(1, A, "BID-NOSIGN", datetime(2026, 1, 10), "罚Z1号")],
                       title=False, footer=False)
    wb = openpyxl.load_workbook(plain)
    wb.active["E2"].number_format = 'yyyy"年"m"月"d"日"'
    wb.save(plain)
    zh = tmp_path / "zh.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(zh, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/styles.xml":  # as zh-CN Excel writes it
                data = re.sub(rb"<numFmts[^>]*>.*?</numFmts>", b"", data, flags=re.S)
                data = re.sub(rb'numFmtId="1[6-9][0-9]"', f'numFmtId="{format_id}"'.encode(),
                              data)
            zout.writestr(info, data)
    s = import_file(ctx, zh, sector="housing", entered_by=OPERATOR)
    assert (s.imported, s.rejected_rows) == (1, 0), s.text()
    (item,) = list_records(ctx, EVALUATOR, RecordFilter(uscc=A))["items"]
    assert item["decided_on"] == "2026-01-10"


def _import_failing_at(ctx, monkeypatch, path, call: int):
    """``credit import`` of ``path`` in batches of 4, the database failing at the
    ``call``-th record insert (inside its batch's transaction, rows inserted before)."""
    import credit.cli as cli
    from credit.errors import Unavailable
    real, calls = importer.insert_record, {"n": 0}

    def failing(*args, **kw):
        calls["n"] += 1
        if calls["n"] == call:
            raise Unavailable("The database cannot be reached or is busy.")
        return real(*args, **kw)

    monkeypatch.setattr(importer, "insert_record", failing)
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    return CliRunner().invoke(cli.main, ["import", str(path), "--sector", "housing",
                                         "--entered-by", OPERATOR, "--batch-size", "4"])


@pytest.mark.parametrize("failing_call", [7, 10], ids=["mid-file", "last-batch"])
def test_a_database_failure_after_a_committed_batch_stops_the_import_and_says_so(
        ctx, tmp_path, monkeypatch, failing_call):
    """Exit 3 and the summary of what is on file, as for a problem of the file found
    late; the failed batch rolled back whole and is not counted (a review: exit 2,
    "nothing imported", with four records on file; and the last batch's failure went
    unreported the same way)."""
    rows = [row(i, make_uscc(300 + i), "SITE-PM-ABSENT", "2026-05-01", f"罚{i}")
            for i in range(1, 11)]
    path = write_xlsx(tmp_path / "dbfail.xlsx", rows, title=False, footer=False)
    res = _import_failing_at(ctx, monkeypatch, path, failing_call)
    committed = 4 if failing_call == 7 else 8
    assert res.exit_code == 3, res.output
    assert record_count(ctx) == committed
    assert f"new records      {committed:>9,}" in res.output
    assert "cannot be reached" in res.output
    assert f"Rows up to row {committed + 1} were imported before it" in res.output
    assert verify_chain(ctx)["ok"] is True


def test_a_failed_batch_lists_no_rejection_of_its_own(ctx, tmp_path, monkeypatch):
    """A row the rolled-back batch found to differ from another of its rows is not said
    to differ from a record on file: none of the batch is on file (a review of the
    fix above: the summary counted it rejected, the list named a record rolled back)."""
    rows = [row(i, make_uscc(300 + i), "SITE-PM-ABSENT", "2026-05-01", f"罚{i}")
            for i in range(1, 5)]
    rows += [row(5, make_uscc(305), "SITE-PM-ABSENT", "2026-05-01", "罚5"),
             row(6, make_uscc(305), "SITE-PM-ABSENT", "2026-05-02", "罚5"),  # differs
             row(7, make_uscc(307), "SITE-PM-ABSENT", "2026-05-01", "罚7"),
             row(8, make_uscc(308), "SITE-PM-ABSENT", "2026-05-01", "罚8")]
    path = write_xlsx(tmp_path / "dbfail.xlsx", rows, title=False, footer=False)
    # row 8 fails, after row 6 was refused in the same batch
    res = _import_failing_at(ctx, monkeypatch, path, 8)
    assert res.exit_code == 3 and record_count(ctx) == 4
    assert f"rejected         {0:>9,}" in res.output and "duplicate_record" not in res.output
    assert not (tmp_path / "dbfail.xlsx.rejects.csv").exists()
    assert "Import the file again" in res.output
