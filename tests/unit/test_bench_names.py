"""Every name a bench script takes from the project still exists.

The bench scripts are run by hand, seldom, and never by ``make test``; some reach into
private names to measure one part (``scoring._payload``) or to swap one out
(bench/free_compute.py replaces ``scoring._compute_at_head``). A rename in the service
(``_compute_in_snapshot``) left free_compute.py reading a name that no longer existed,
so it no longer started its free-computation server, and nobody saw it until the
nineteenth pass ran it again (bench/README.md). This test reads each script's syntax
tree — nothing is run — and checks that every ``from credit… import name`` resolves,
and that every ``module.attribute`` read or assigned on a project module imported that
way exists in that module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
PROJECT = ("credit", "api", "scoring_models")


def _project(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in PROJECT


def _submodule(module: str, name: str):
    """``module.name`` when it is a module of its own, else None."""
    try:
        return importlib.import_module(f"{module}.{name}")
    except ImportError:
        return None


def _names(tree: ast.AST) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``(module, name)`` pairs imported by ``from … import``, and the local names that
    are project modules (``from credit.services import scoring`` → ``scoring``)."""
    pairs, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _project(node.module):
            for alias in node.names:
                pairs.append((node.module, alias.name))
                if _submodule(node.module, alias.name) is not None:
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _project(alias.name) and alias.asname:
                    modules[alias.asname] = alias.name
    return pairs, modules


def _missing(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pairs, modules = _names(tree)
    out = [f"from {m} import {n}" for m, n in pairs
           if not hasattr(importlib.import_module(m), n)
           and _submodule(m, n) is None]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            module = importlib.import_module(modules[node.value.id])
            if not hasattr(module, node.attr):
                out.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return out


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_project_name_a_bench_script_uses_exists(script):
    assert _missing(script) == []


def test_a_renamed_private_name_is_caught(tmp_path):
    """The check itself can fail: free_compute.py's patch target before the rename."""
    script = tmp_path / "old_free_compute.py"
    script.write_text("from credit.services import scoring\n"
                      "scoring._compute_in_snapshot = lambda *a: None\n", encoding="utf-8")
    assert _missing(script) == ["scoring._compute_in_snapshot (line 2)"]
