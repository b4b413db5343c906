"""Issue 9 item 19: the repair rule "effective validity after a repair" (MODEL.md §2:
``repaired_on − 1 day``, never past the original ``valid_until``) has one statement,
``credit.domain.engine.effective_valid_until``, which the engine, the record resource
and the console's timeline all use (golden cases: tests/golden/functions.toml)."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

from credit.domain.engine import effective_valid_until

ROOT = Path(__file__).resolve().parents[2]
HOME = ("credit/domain/engine.py", "effective_valid_until")


def test_without_a_repair_the_original_validity_stands():
    assert effective_valid_until(date(2027, 1, 9), None) == date(2027, 1, 9)


def _subtracts_a_day_from_a_repair(node: ast.AST) -> bool:
    """``<something repaired_on> - ONE_DAY`` (or ``timedelta(days=1)``)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)):
        return False
    left, right = ast.unparse(node.left), ast.unparse(node.right)
    return "repair" in left and ("ONE_DAY" in right or "days=1" in right)


def test_the_rule_is_written_once():
    places = []
    for package in ("credit", "api", "scoring_models"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if any(_subtracts_a_day_from_a_repair(n) for n in ast.walk(fn)):
                    places.append((str(path.relative_to(ROOT)), fn.name))
    assert places == [HOME]


def test_engine_and_record_resource_use_the_domain_rule():
    for module in ("credit/domain/engine.py", "credit/services/records.py",
                   "credit/services/console.py"):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert "effective_valid_until" in calls, module
