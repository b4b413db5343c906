"""Checks that must not silently do nothing (issue 9 items 12–14): in CI (``CI=true``)
a tool that ``make deps`` cannot install, a test that needs a missing browser, wrk or
the shared test data, and any lint finding are failures, never a green run with skips.

Each check runs the real thing (``make``, pytest, ruff) in a subprocess, on a small
copy of the project's files where it needs a broken environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 300):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _pytest(args: list[str], env: dict[str, str], cwd: Path = ROOT):
    return _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 *args], cwd, env)


# ------------------------------------------------------------------ make deps (13)

@pytest.fixture
def path_without_tools(tmp_path) -> str:
    """A PATH where chromium, chromedriver, wrk and pdftotext are absent and apt-get
    fails, as on a machine whose package mirror is unreachable."""
    fake = tmp_path / "bin"
    fake.mkdir()
    apt = fake / "apt-get"
    apt.write_text("#!/bin/sh\necho 'E: unable to fetch' >&2\nexit 100\n")
    apt.chmod(0o755)
    return str(fake)


@needs_make
def test_make_deps_fails_in_ci_when_tools_cannot_be_installed(path_without_tools):
    run = _run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "deps"], ROOT,
               _env(PATH=path_without_tools, CI="true"))
    assert run.returncode != 0, run.stdout + run.stderr
    for tool in ("chromium", "chromedriver", "wrk", "pdftotext"):
        assert tool in run.stderr


@needs_make
def test_make_deps_outside_ci_says_the_tests_will_skip(path_without_tools):
    run = _run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "deps"], ROOT,
               _env(PATH=path_without_tools))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "will skip" in run.stdout


@needs_make
def test_make_deps_asks_for_poppler_utils(path_without_tools, tmp_path):
    log = tmp_path / "apt.log"
    apt = Path(path_without_tools) / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = update ] || exit 100\n')
    _run([MAKE, "-s", "-f", str(ROOT / "Makefile"), "deps"], ROOT,
         _env(PATH=path_without_tools))
    assert "poppler-utils" in log.read_text()


# ------------------------------------------------------ browser and wrk tests (13)

def test_browser_tests_fail_in_ci_without_chromium():
    """Both browser modules (the journeys and issue 13's pages): every test fails under
    CI=true, before any server starts, and skips visibly elsewhere."""
    args = ["tests/e2e/test_console_browser.py", "tests/e2e/test_console_issue13.py"]
    missing = dict(CREDIT_TEST_CHROMIUM="/nonexistent/chromium")
    in_ci = _pytest(args, _env(CI="true", **missing))
    assert in_ci.returncode == 1, in_ci.stdout[-2000:]
    assert "CI=true but /nonexistent/chromium is not installed" in in_ci.stdout
    assert " passed" not in in_ci.stdout and " skipped" not in in_ci.stdout
    locally = _pytest(args, _env(**missing))
    assert locally.returncode == 0, locally.stdout[-2000:]
    assert "skipped" in locally.stdout
    assert "failed" not in locally.stdout and "error" not in locally.stdout


def test_load_tests_fail_in_ci_without_wrk(tmp_path):
    args = ["tests/stress/test_load.py", "-x"]
    in_ci = _pytest(args, _env(CI="true", PATH=str(tmp_path)))
    assert in_ci.returncode == 1, in_ci.stdout[-2000:]
    assert "CI=true but wrk is not installed" in in_ci.stdout
    locally = _pytest(args, _env(PATH=str(tmp_path)))
    assert locally.returncode == 0, locally.stdout[-2000:]
    assert "failed" not in locally.stdout


# ------------------------------------------------------- shared test data (12)

@pytest.fixture
def checkout(tmp_path) -> Path:
    """A checkout of the USCC tests alone, with no ``shared/`` folder beside it."""
    project = tmp_path / "clone"
    for rel in ("tests/__init__.py", "tests/conftest.py", "tests/unit/__init__.py",
                "tests/unit/test_uscc.py"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, project / rel)
    return project


def test_uscc_shared_codes_are_found_beside_the_project_and_required_in_ci(checkout):
    args = ["tests/unit/test_uscc.py", "-k", "shared_file", "-rs"]
    in_ci = _pytest(args, _env(CI="true", PYTHONPATH=str(checkout)), cwd=checkout)
    assert in_ci.returncode == 1, in_ci.stdout[-2000:]
    expected = checkout.parent / "shared" / "data" / "uscc-real.txt"
    assert str(expected) in in_ci.stdout

    locally = _pytest(args, _env(PYTHONPATH=str(checkout)), cwd=checkout)
    assert locally.returncode == 0 and "1 skipped" in locally.stdout, locally.stdout

    # with ../shared/data/uscc-real.txt beside the project, its codes are read: one the
    # built-in list lacks makes the test fail (it must be among those tested)
    expected.parent.mkdir(parents=True)
    expected.write_text("# real codes\n91330603MA2D4F6E84\n", encoding="utf-8")
    found = _pytest(args, _env(CI="true", PYTHONPATH=str(checkout)), cwd=checkout)
    assert found.returncode == 0 and "1 passed" in found.stdout, found.stdout[-2000:]


# ------------------------------------------------------------------ lint gate (14)

def test_the_repository_is_ruff_clean():
    run = _run([sys.executable, "-m", "ruff", "check", "."], ROOT, _env())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]


@needs_make
def test_make_lint_fails_on_a_finding(tmp_path):
    for name in ("Makefile", "ruff.toml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    stamp = tmp_path / "installed"
    stamp.write_text("")  # newer than its prerequisites: make installs nothing
    (tmp_path / "sloppy.py").write_text("import os\n")
    run = _run([MAKE, "-s", "lint", f"BIN={BIN}", f"STAMP={stamp}"], tmp_path, _env())
    assert run.returncode != 0, run.stdout + run.stderr
    assert "F401" in run.stdout
    (tmp_path / "sloppy.py").write_text("X = 1\n")
    run = _run([MAKE, "-s", "lint", f"BIN={BIN}", f"STAMP={stamp}"], tmp_path, _env())
    assert run.returncode == 0, run.stdout + run.stderr


def test_ci_runs_in_ci_mode_with_the_lint_gate_before_the_tests():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in script.splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    assert "set -euo pipefail" in lines
    assert "export CI=true" in lines
    lint = lines.index("make lint")
    test = next(i for i, ln in enumerate(lines) if ln.endswith("make test"))
    assert lines.index("export CI=true") < lines.index("make deps") < lint < test
