"""Cells of the files the batch commands write (.csv, .xlsx), safe to open in a
spreadsheet program.

A text cell — an enterprise's name, a document number, anything a regulator or an
enterprise typed — that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return
or a line feed can be read as a formula (``=HYPERLINK("http://evil.example","x")``) by
Excel, WPS or LibreOffice. Following OWASP's guidance on CSV injection, such a text is
written with a leading ``'``, which makes it plain text. In ``.xlsx`` every text cell is
moreover written as a string (an inline string, ``t="inlineStr"``), never as a formula,
and money is a number with two decimals shown — a number, not text to neutralise, so
``-8.00`` stays ``-8.00``. ``.parquet`` is typed and needs none of this.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from credit.spreadsheet_cells import FORMULA_TRIGGERS, neutral  # noqa: F401 - re-exported

#: How money shows in .xlsx: two decimals, as the API writes it.
MONEY_FORMAT = "0.00"


def neutral_column(values) -> np.ndarray:
    """:func:`neutral` over a column of texts (None and NaN stay missing), vectorised."""
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    texts = s.map(lambda v: isinstance(v, str))
    risky = texts & s.where(texts, "").str[:1].isin(FORMULA_TRIGGERS)
    s[risky] = "'" + s[risky]
    return s.to_numpy(dtype=object)


def neutral_frame(frame: pd.DataFrame, text_columns: Iterable[str]) -> pd.DataFrame:
    """A copy of ``frame`` whose ``text_columns`` are neutralised."""
    out = frame.copy()
    for col in text_columns:
        out[col] = neutral_column(frame[col].to_numpy(dtype=object))
    return out


def _csv_column(values) -> list[str]:
    """Texts as csv fields: quoted (quotes doubled) when they hold a comma, a quote, a
    line feed or a carriage return. Python's csv writer with ``lineterminator="\\n"``
    leaves a bare CR unquoted, which a reader takes for the end of the row."""
    s = pd.Series(np.asarray(values, dtype=object), dtype=object)
    s = s.where(s.notna(), "").astype(str)
    special = s.str.contains(r'[,"\r\n]', regex=True)
    s[special] = '"' + s[special].str.replace('"', '""', regex=False) + '"'
    return s.tolist()


def write_csv(frame: pd.DataFrame, path) -> None:
    """``frame`` (every column already text) as UTF-8 csv with ``\\n`` line ends and a
    header of its column names: quoting as Python's csv module does (minimal), and
    also around a carriage return."""
    columns = [_csv_column(frame[c].to_numpy(dtype=object)) for c in frame.columns]
    header = ",".join(_csv_column(list(frame.columns)))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        for row in zip(*columns, strict=True):
            fh.write(",".join(row) + "\n")


def money_numbers(cents) -> np.ndarray:
    """Whole cents as exact two-decimal numbers (``Decimal('-8.00')``), one object per
    distinct value."""
    codes, uniques = pd.factorize(np.asarray(cents, dtype=np.int64))
    values = np.array([Decimal(int(u)).scaleb(-2) for u in uniques], dtype=object)
    return values[codes] if len(codes) else np.array([], dtype=object)


def xlsx_row(ws, values: Sequence) -> list:
    """One row for a write-only openpyxl sheet: texts neutralised and typed as strings
    (openpyxl would otherwise store a text starting with ``=`` as a formula), decimals
    as numbers shown with two decimals, other values (integers, None) as they are."""
    from openpyxl.cell import WriteOnlyCell

    row = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=neutral(value))
            cell.data_type = "s"
            row.append(cell)
        elif isinstance(value, Decimal):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = MONEY_FORMAT
            row.append(cell)
        elif isinstance(value, np.generic):
            row.append(value.item())
        else:
            row.append(value)
    return row
