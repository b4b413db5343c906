"""Issue 9 item 18, and the developers' guide: no function over ~50 lines or cyclomatic
complexity over 12 in the service's code: ``credit`` (every package, the batch package
and the CLI included), the scoring models' loaders and the API. Not the migrations: a
published migration is never edited, and its ``upgrade`` is a list of tables.

The complexity is McCabe's as ruff's C901 counts it (each ``if``/``elif``, loop, ``except``,
``case``, ``else`` of a ``try`` and nested function adds one; boolean operators and
comprehensions do not), so ``ruff check --select C901`` and this test agree. Lines are
those of the body after the docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("credit", "scoring_models", "api")
EXCLUDED = ("credit/persistence/migrations",)
MAX_LINES = 50
MAX_COMPLEXITY = 12


def complexity(stmts: list[ast.stmt]) -> int:
    """Decision points in ``stmts`` (ruff's ``get_complexity_number``)."""
    c = 0
    for s in stmts:
        if isinstance(s, (ast.If, ast.For, ast.AsyncFor, ast.While)):
            c += 1 + complexity(s.body) + complexity(s.orelse)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            c += complexity(s.body)
        elif isinstance(s, ast.Match):
            c += sum(1 + complexity(case.body) for case in s.cases)
        elif isinstance(s, ast.Try):
            c += complexity(s.body) + bool(s.orelse) + complexity(s.orelse) \
                + complexity(s.finalbody) + sum(1 + complexity(h.body) for h in s.handlers)
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            c += 1 + complexity(s.body)
        elif isinstance(s, ast.ClassDef):
            c += complexity(s.body)
    return c


def _body_lines(fn: ast.FunctionDef) -> int:
    body = fn.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) \
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return fn.end_lineno - body[0].lineno + 1


def _functions():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if str(path.relative_to(ROOT)).startswith(EXCLUDED):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node


def test_the_complexity_counts_like_ruff():
    tree = ast.parse("def f(x):\n"
                     "    if x and x > 1:\n        return 1\n"
                     "    elif x:\n        pass\n    else:\n        pass\n"
                     "    for i in [j for j in x if j]:\n        pass\n"
                     "    try:\n        pass\n    except ValueError:\n        pass\n"
                     "    else:\n        pass\n")
    assert complexity(tree.body[0].body) + 1 == 6


@pytest.mark.parametrize("limit, measure, what", [
    (MAX_LINES, _body_lines, "lines"),
    (MAX_COMPLEXITY, lambda fn: complexity(fn.body) + 1, "complexity"),
])
def test_no_function_is_too_long_or_too_complex(limit, measure, what):
    over = {name: measure(fn) for name, fn in _functions() if measure(fn) > limit}
    assert over == {}, f"{what} over {limit}: {over}"
