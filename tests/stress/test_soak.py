"""Longer runs of the e2e reliability checks for ``make stress``: ten SIGKILLs under
write load per backend, and Schemathesis' own runner (examples, coverage, fuzzing and
stateful phases) with many more examples, once per role and without a token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from credit import signing
from credit.services.demo import load_demo
from tests.e2e.test_crash import run_crash_cycles
from tests.live_server import LiveServer, make_tokens

ST = Path(sys.executable).with_name("st")


@pytest.mark.slow
def test_ten_sigkills_under_write_load(ctx, database_url, tmp_path):
    stats = run_crash_cycles(ctx, database_url, tmp_path, 10)
    assert stats["writes"] >= 100


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_schemathesis_runner_every_role(ctx, database_url, tmp_path):
    if not ST.exists():
        pytest.skip("schemathesis is not installed")
    load_demo(ctx, token_file=tmp_path / "demo-tokens.txt")
    tokens = make_tokens(ctx)
    key = tmp_path / "signing.pem"
    signing.create_key(key)
    failures = []
    with LiveServer(database_url, tmp_path / "srv", workers=2,
                    env={"CREDIT_SIGNING_KEY": str(key)}) as server:
        for role in (None, "regulator", "evaluator", "auditor", "admin", "enterprise"):
            header = ["-H", f"Authorization: Bearer {tokens[role]}"] if role else []
            run = subprocess.run(
                [str(ST), "run", server.url("/api/v1/openapi.json"), "-c",
                 "not_a_server_error", "-n", "100", "--no-color", "--seed", "20261126",
                 *header], capture_output=True, text=True, timeout=1800)
            if run.returncode != 0:
                failures.append((role, run.stdout[-6000:]))
    assert failures == [], "\n\n".join(f"--- {r}\n{out}" for r, out in failures)
