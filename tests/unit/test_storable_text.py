"""credit/domain/storable_text.py: one rule for the text the service can store, and no
other place in the code that spells it out again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from credit.domain.storable_text import unstorable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value, problem", [
    ("", None),
    ("ZJ-2026-001", None),
    ("杭州市 建设工程 — ½ ✓ 𝄞", None),          # any Unicode scalar value, astral ones too
    ("a\x00b", "U+0000"),
    ("\x00", "U+0000"),
    ("工程\ud800", "an unpaired surrogate"),       # a lone high surrogate (JSON "\ud800")
    ("\udfff", "an unpaired surrogate"),
    ("\ud800\x00", "U+0000"),                       # both: U+0000 is named first
])
def test_which_text_can_be_stored(value, problem):
    assert unstorable(value) == problem


def _nul_literals(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value == "\x00"]


def test_the_rule_is_written_once():
    """A check for U+0000 written anywhere else in the service would be a second rule that
    can drift from this one (a body refused while the same text in a query is a 500)."""
    found = {str(p.relative_to(ROOT)): lines
             for package in ("api", "credit")
             for p in sorted((ROOT / package).rglob("*.py"))
             if (lines := _nul_literals(p))}
    assert list(found) == ["credit/domain/storable_text.py"]
