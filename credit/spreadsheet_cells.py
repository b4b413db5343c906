"""Text cells a spreadsheet program must show, never run (OWASP, CSV injection).

A text — an enterprise's name, a tender code, a field name a client sent — that starts
with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed can be read as a
formula (``=HYPERLINK("http://evil.example","x")``) by Excel, WPS or LibreOffice. Every
csv and xlsx the service writes for an operator gives such a text a leading ``'``. No
pandas here: ``credit tenders import`` writes its rejects list with this rule too, and
``credit.batch.cells`` applies it to whole columns.
"""

from __future__ import annotations

#: First characters that make a spreadsheet read a text as a formula (OWASP: = + - @,
#: tab, carriage return; a line feed is treated the same way).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutral(value):
    """``value`` as a cell: a text starting with a formula trigger gets a leading
    ``'``; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
