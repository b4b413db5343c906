"""Long runs (``make stress``: ``CREDIT_STRESS=1 pytest -m slow``). Tests here marked
``slow`` are skipped, visibly, unless CREDIT_STRESS=1, so ``make test`` stays fast; the
unmarked short versions run in ``make test``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CREDIT_STRESS") == "1":
        return
    skip = pytest.mark.skip(reason="long run: `make stress` (CREDIT_STRESS=1)")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)
