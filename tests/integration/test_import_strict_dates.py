"""``credit import`` refuses lax dates like the API (issue 9 item 8): a full-width digit
or a line break in a date cell is a rejected row, never a normalised date."""

from __future__ import annotations

import csv

import pytest

from credit.batch.importer import import_file

from .batch_helpers import make_uscc

pytestmark = pytest.mark.db
HEADER = ["统一社会信用代码", "企业名称", "行为代码", "决定日期", "决定文号", "决定机关"]


def test_lax_dates_in_an_import_are_rejected(ctx, tmp_path):
    uscc = make_uscc(201)
    dates = ["２０２６-01-10", "2026-01-10\n", "２０２６年1月10日", "2026/1/1０", "2026-01-10"]
    path = tmp_path / "decisions.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, d in enumerate(dates):
            w.writerow([uscc, "柯桥测试建设有限公司", "BID-NOSIGN", d, f"文{i}", "柯桥区住建局"])
    summary = import_file(ctx, path, sector="housing", entered_by="柯桥区住建局 张三")
    assert summary.imported == 1, summary.text()
    assert summary.rejected_rows == 4
    with open(f"{path}.rejects.csv", newline="", encoding="utf-8-sig") as fh:
        rejects = list(csv.DictReader(fh))
    assert sorted(int(r["row"]) for r in rejects) == [2, 3, 4, 5]
    assert {r["field"] for r in rejects} == {"decided_on"}
