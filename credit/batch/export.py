"""The published ratings table (信用评价结果公示) and its three file formats.

Columns in a fixed order; English headers in ``.csv`` and ``.parquet``, Chinese in
``.xlsx``. Money is two-decimal text in ``.csv`` (exactly as the API writes it), a number
shown with two decimals in ``.xlsx`` and ``decimal(9,2)`` in ``.parquet``. Text cells of
``.csv`` and ``.xlsx`` are neutralised against formula injection (:mod:`.cells`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from credit.domain.dates import format_instant, parse_date, parse_instant

from . import cells
from .cells import money_numbers, neutral_frame, xlsx_row
from .vector import Ratings, money_text

#: (English header, Chinese header) in the order the file shows them.
COLUMNS = (
    ("uscc", "统一社会信用代码"),
    ("name", "企业名称"),
    ("sector", "行业"),
    ("as_of", "评价日期"),
    ("known_at", "数据截至"),
    ("model", "评价模型"),
    ("score", "信用分"),
    ("grade", "信用等级"),
    ("eligible_to_bid", "可否投标"),
    ("bid_points", "信用得分"),
    ("inspection_multiplier", "检查频次系数"),
    ("measures", "惩戒措施"),
    ("reasons", "主要扣分原因"),
)
MONEY = ("score", "bid_points", "inspection_multiplier")
TEXT = tuple(c for c, _ in COLUMNS if c not in MONEY)
FORMATS = (".csv", ".xlsx", ".parquet")
DECIMAL = pa.decimal128(9, 2)


def ratings_table(ratings: Ratings, known_at: datetime) -> pd.DataFrame:
    """One row per subject, sorted by USCC, money still in cents."""
    f = ratings.frame
    table = pd.DataFrame({
        "uscc": f["uscc"].to_numpy(dtype=object),
        "name": f["name"].to_numpy(dtype=object),
        "sector": ratings.sector,
        "as_of": ratings.as_of.isoformat(),
        "known_at": format_instant(known_at),
        "model": ratings.model.ref,
        "score": f["score"].to_numpy(),
        "grade": f["grade"].to_numpy(dtype=object),
        "eligible_to_bid": f["eligible_to_bid"].to_numpy(),
        "bid_points": f["bid_points"].to_numpy(),
        "inspection_multiplier": f["inspection_multiplier"].to_numpy(),
        "measures": f["measures"].to_numpy(dtype=object),
        "reasons": f["reasons"].to_numpy(dtype=object),
    })
    return table.sort_values("uscc", kind="stable", ignore_index=True)


def _as_cells(table: pd.DataFrame, yes: str, no: str, money=money_text) -> pd.DataFrame:
    """The table as cells: texts neutralised, money by ``money`` (text or numbers)."""
    out = neutral_frame(table, TEXT)
    for col in MONEY:
        out[col] = np.asarray(money(table[col]), dtype=object)
    out["eligible_to_bid"] = np.where(table["eligible_to_bid"].to_numpy(), yes, no)
    return out


def _decimal_array(cents) -> pa.Array:
    codes, uniques = pd.factorize(np.asarray(cents, dtype=np.int64))
    values = np.array([Decimal(int(u)).scaleb(-2) for u in uniques] + [None], dtype=object)
    return pa.array(values[codes] if len(codes) else [], type=DECIMAL)


def _constant(table: pd.DataFrame, column: str, parse, type_: pa.DataType) -> pa.Array:
    """A column every row shares (the run's date, its knowledge instant), typed."""
    value = parse(table[column].iat[0]) if len(table) else None
    return pa.repeat(pa.scalar(value, type_), len(table))


def write_csv(table: pd.DataFrame, path: Path) -> None:
    cells.write_csv(_as_cells(table, "true", "false"), path)


def write_xlsx(table: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    cells = _as_cells(table, "是", "否", money=money_numbers)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("信用评价结果")
    ws.freeze_panes = "A2"
    widths = (21, 36, 10, 12, 34, 16, 9, 9, 9, 9, 12, 48, 60)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append(xlsx_row(ws, [zh for _, zh in COLUMNS]))
    for row in cells.itertuples(index=False, name=None):
        ws.append(xlsx_row(ws, row))
    wb.save(path)


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    arrays = {
        "uscc": pa.array(table["uscc"], pa.string()),
        "name": pa.array(table["name"], pa.string()),
        "sector": pa.array(table["sector"], pa.string()),
        "as_of": _constant(table, "as_of", parse_date, pa.date32()),
        "known_at": _constant(table, "known_at", parse_instant, pa.timestamp("us", tz="+08:00")),
        "model": pa.array(table["model"], pa.string()),
        "score": _decimal_array(table["score"]),
        "grade": pa.array(table["grade"], pa.string()),
        "eligible_to_bid": pa.array(table["eligible_to_bid"], pa.bool_()),
        "bid_points": _decimal_array(table["bid_points"]),
        "inspection_multiplier": _decimal_array(table["inspection_multiplier"]),
        "measures": pa.array(table["measures"], pa.string()),
        "reasons": pa.array(table["reasons"], pa.string()),
    }
    pq.write_table(pa.table([arrays[c] for c, _ in COLUMNS], names=[c for c, _ in COLUMNS]),
                   path)


WRITERS = {".csv": write_csv, ".xlsx": write_xlsx, ".parquet": write_parquet}
