"""The batch commands without the ``batch`` extra (issue 9 item 15): pyarrow or
matplotlib missing — simulated by making their import fail — is a clear message naming
the extra and exit 2, before any database is opened."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from credit.cli import main

EXTRA = "pip install 'credit-keqiao[batch]'"
RATE_ALL = ["rate-all", "--sector", "housing", "--as-of", "2026-06-30", "--out", "r.csv"]
COMPARE = ["compare-models", "--from", "keqiao-2025@1", "--to", "keqiao-2025@1",
           "--sector", "housing", "--as-of", "2026-06-30", "--out", "c.xlsx"]


@pytest.fixture
def no_database(monkeypatch, tmp_path):
    """A database URL nothing can open: reaching it would be another failure."""
    monkeypatch.setenv("CREDIT_DATABASE_URL", f"sqlite:///{tmp_path}/absent/dir/x.db")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("missing, args", [
    ("pyarrow", RATE_ALL),
    ("pyarrow", COMPARE),
    ("matplotlib", RATE_ALL + ["--plot", "g.png"]),
    ("matplotlib", COMPARE + ["--plot", "g.png"]),
])
def test_a_missing_batch_dependency_names_the_extra(monkeypatch, no_database, missing, args):
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` raises ImportError
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert EXTRA in result.output and missing in result.output
    assert "Traceback" not in result.output


def test_without_plot_matplotlib_is_not_needed(monkeypatch):
    from credit.batch.cli import require_batch_extra
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    require_batch_extra("pyarrow")  # does not exit
