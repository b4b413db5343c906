"""The batch engine reads as named stages (issue 9 item 18, batch part): no function of
credit/batch/vector.py is longer than the house limit of about 50 lines, and ``rate``
is the pipeline of MODEL.md's sections, one stage each."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VECTOR = ROOT / "credit" / "batch" / "vector.py"
MAX_LINES = 50


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_no_function_of_the_batch_engine_is_over_50_lines():
    long = {name: f.end_lineno - f.lineno + 1 for name, f in _functions(VECTOR).items()
            if f.end_lineno - f.lineno + 1 > MAX_LINES}
    assert long == {}


def test_rate_calls_one_stage_per_section():
    functions = _functions(VECTOR)
    called = {n.func.id for n in ast.walk(functions["rate"])
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    stages = {"_known_records", "_events_known", "_validity", "_superseded",
              "_contributions", "_measures", "_grading", "_bid_points", "_record_reasons"}
    assert stages <= called
    assert all(ast.get_docstring(functions[s]) for s in stages)
