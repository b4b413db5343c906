"""The dependency rules of the project, enforced: api → credit.services → credit.domain;
credit.persistence and scoring_models depend on credit.domain, never the reverse; the
domain imports only the standard library; one package owns pandas; SQLAlchemy lives only
in credit.persistence; USCC checking (python-stdnum) lives outside the domain."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                pkg = path.relative_to(ROOT).with_suffix("").parts[:-node.level]
                base = ".".join(pkg)
                out.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                out.add(node.module)
    return out


def _modules(package: str) -> list[Path]:
    """The modules of a package (``credit.batch``), or one module (``credit/cli.py``)."""
    if package.endswith(".py"):
        return [ROOT / package]
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


def _violations(package: str, allowed) -> list[str]:
    bad = []
    for path in _modules(package):
        for name in _imports(path):
            if not allowed(name):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_domain_imports_only_the_standard_library_and_itself():
    stdlib = sys.stdlib_module_names
    assert _violations("credit.domain", lambda n: _top(n) in stdlib
                       or n.startswith("credit.domain")) == []


def test_sqlalchemy_only_in_persistence():
    for package in ("credit.domain", "credit.services", "api", "scoring_models",
                    "credit.batch", "credit/cli.py"):
        assert _violations(package, lambda n: _top(n) not in ("sqlalchemy", "alembic")) == []


_SQL = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM)\b.*\b(FROM|VALUES|SET|WHERE)\b",
                  re.S)


@pytest.mark.parametrize("package", ["credit.batch", "credit/cli.py"])
def test_no_sql_and_no_session_outside_persistence(package):
    """SQL only in credit/persistence: no SQL text (f-strings included) and no session,
    connection or cursor of the database outside it — repositories do the reading."""
    bad = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _SQL.search(node.value):
                bad.append(f"{where} SQL text {node.value[:40]!r}")
            elif isinstance(node, ast.Attribute) and node.attr in (
                    "session", "dbapi_connection", "exec_driver_sql", "cursor"):
                bad.append(f"{where} .{node.attr}")
    assert bad == []


def test_domain_and_persistence_never_depend_on_services_or_api():
    for package in ("credit.domain", "credit.persistence", "scoring_models"):
        assert _violations(package, lambda n: not (n.startswith("credit.services")
                                                   or _top(n) == "api")) == []


def test_services_never_depend_on_api():
    assert _violations("credit.services", lambda n: _top(n) != "api") == []


def test_domain_does_not_import_models_loader_or_stdnum():
    assert _violations("credit.domain", lambda n: _top(n) not in ("scoring_models", "stdnum")
                       ) == []


def test_one_package_owns_pandas():
    owners = set()
    for path in ROOT.joinpath("credit").rglob("*.py"):
        if any(_top(n) == "pandas" for n in _imports(path)):
            owners.add(path.relative_to(ROOT / "credit").parts[0])
    for path in list(ROOT.joinpath("api").rglob("*.py")) + list(
            ROOT.joinpath("scoring_models").rglob("*.py")):
        assert not any(_top(n) == "pandas" for n in _imports(path)), path
    assert len(owners) <= 1, f"pandas is imported from several packages: {sorted(owners)}"


_DB_SESSION = re.compile(r"\bSession\(|sessionmaker|\.session\.(execute|scalars|get|add)\b"
                         r"|uow\.session\b")


def test_views_never_see_a_session():
    """No database session in the HTTP layer: no SQLAlchemy import (above), no Session
    built, no unit of work's session reached into. Flask's signed-cookie session
    (``flask.session``, its SessionInterface) is HTTP, not the database."""
    for path in _modules("api"):
        text = path.read_text(encoding="utf-8")
        assert not _DB_SESSION.search(text), path


@pytest.mark.parametrize("name", ["utils.py", "helpers.py", "misc.py"])
def test_no_grab_bag_modules(name):
    for package in ("credit", "api", "scoring_models"):
        assert not list((ROOT / package).rglob(name)), f"{package} has a {name}"


#: Where a write unit of work is opened without an actor to re-check: the operator's
#: own commands (tokens, imports, ratings, which have no token) and the verification
#: record kept outside the chain; ``write_as`` itself.
OPERATOR_WRITES = {"credit/services/tokens.py", "credit/services/verification.py",
                   "credit/batch/importer.py", "credit/batch/ratings.py"}


def test_a_use_case_acting_for_a_token_writes_through_write_as():
    """Every other write unit of work is opened by ``tokens.write_as`` (or
    ``idempotency.idempotent_write``, which uses it), so the token is checked again
    under the append lock (tests/e2e/test_revoked_in_flight.py)."""
    bare = []
    for path in _modules("credit.services") + _modules("credit.batch") + _modules("api"):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "uow"
                    and any(k.arg == "write" and not (isinstance(k.value, ast.Constant)
                                                      and k.value.value is False)
                            for k in node.keywords)
                    and rel not in OPERATOR_WRITES):
                bare.append(f"{rel}:{node.lineno}")
    assert bare == []
