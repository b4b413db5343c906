"""Every import is a declared dependency (setup.cfg): the service's own code needs only
``install_requires`` (the batch commands also the ``batch`` extra), tests and benches
also the ``test`` extra. A dependency that is merely present in the virtualenv (pulled
in by another one, or installed by hand) does not count: a fresh install would lack it.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"credit", "api", "scoring_models", "tests", "bench"}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (PEP 503)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)[1]
    return re.sub(r"[-_.]+", "-", name).lower()


def _setup() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _lines(value: str) -> list[str]:
    return [ln.strip() for ln in value.splitlines() if ln.strip()
            and not ln.strip().startswith("#")]


def _requirements() -> dict[str, list[str]]:
    cfg = _setup()
    out = {"install": _lines(cfg["options"]["install_requires"])}
    for extra, value in cfg["options.extras_require"].items():
        out[extra] = _lines(value)
    return out


def _declared(*groups: str) -> set[str]:
    reqs = _requirements()
    return {_name(r) for g in groups for r in reqs.get(g, [])}


def _third_party_imports(folder: str) -> dict[str, set[str]]:
    """Top-level module → files importing it, for every absolute import under
    ``folder`` that is neither the standard library nor the project itself."""
    base = ROOT / folder
    local = LOCAL | {p.stem for p in base.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for path in base.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _distributions(module: str) -> set[str]:
    dists = importlib.metadata.packages_distributions().get(module, [])
    return {re.sub(r"[-_.]+", "-", d).lower() for d in dists}


def _undeclared(folders: tuple[str, ...], groups: tuple[str, ...]) -> list[str]:
    declared = _declared(*groups)
    bad = []
    for folder in folders:
        for module, files in sorted(_third_party_imports(folder).items()):
            dists = _distributions(module)
            if not dists & declared:
                bad.append(f"{module} ({', '.join(sorted(dists)) or 'not installed'}), "
                           f"imported by {sorted(files)[0]}")
    return bad


def test_the_service_imports_only_declared_dependencies():
    assert _undeclared(("api", "scoring_models"), ("install",)) == []
    assert _undeclared(("credit",), ("install", "batch")) == []


def test_tests_and_benches_import_only_declared_dependencies():
    assert _undeclared(("tests", "bench"), ("install", "batch", "test")) == []


def test_the_batch_extra_holds_pyarrow_and_matplotlib_only_batch_imports_them():
    assert {"pyarrow", "matplotlib"} <= _declared("batch")
    assert not {"pyarrow", "matplotlib"} & _declared("install")
    for folder in ("api", "scoring_models", "credit"):
        for module in ("pyarrow", "matplotlib"):
            files = _third_party_imports(folder).get(module, set())
            assert all(f.startswith("credit/batch/") for f in files), files


def test_make_run_and_make_test_install_the_batch_and_test_extras():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install [^\n]*-e '\.\[([a-z,]+)\]'", makefile)
    assert installs and all({"test", "batch"} <= set(x.split(",")) for x in installs)


def test_marshmallow_is_pinned_to_the_major_version_under_test():
    (line,) = [r for r in _requirements()["install"] if _name(r) == "marshmallow"]
    major = int(importlib.metadata.version("marshmallow").split(".")[0])
    assert f">={major}" in line.replace(" ", ""), line
    assert f"<{major + 1}" in line.replace(" ", ""), line


def test_the_openapi_validator_and_ruff_are_in_the_test_extra():
    assert {"openapi-spec-validator", "ruff", "pytest"} <= _declared("test")
    import openapi_spec_validator  # noqa: F401 - the test extra is installed
