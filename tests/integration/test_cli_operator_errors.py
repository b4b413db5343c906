"""The operator's command line on bad input (README: "Operator errors on the command
line end in one line on stderr and exit 2 for every command, never a traceback"), and
what it prints and logs: no password repeated, CLI writes under the operator's name.
Found by a review of the CLI (each failed before its fix)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from credit.cli import main as cli

CREDIT = Path(sys.executable).parent / "credit"


def _cli(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=True)


def test_token_revoke_of_an_id_above_int4_is_one_line_exit_2(database_url):
    """README: `credit token revoke` takes ids 1 … 2^63−1 like the API. tokens.id is a
    32-bit INTEGER: PostgreSQL refused 2147483648 ('integer out of range', a
    traceback); both backends now say there is no such token."""
    r = _cli(["token", "revoke", "2147483648"], {"CREDIT_DATABASE_URL": database_url})
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert "There is no token 2147483648" in r.stderr


@pytest.mark.parametrize("var", ["CREDIT_OPERATOR", "USER"])
def test_an_operator_name_that_is_not_utf8_is_one_line_exit_2(database_url, var):
    """CREDIT_OPERATOR (or $USER) holding bytes that are not UTF-8 (a GBK shell typing
    张三) would be the audit entry's actor and fail its hash: refused before anything."""
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_OPERATOR": "" if var == "USER" else None}
    env[var] = "op\udcd5\udcc5"  # b"op\xd5\xc5" decoded with surrogateescape
    r = _cli(["token", "create", "--role", "admin", "--name", "x"], env)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, (r.exit_code, r.output)


def test_demo_data_logs_its_tokens_under_the_operator(database_url, tmp_path, monkeypatch):
    """README: CLI writes (tokens, demo data) are logged with the actor operator:$USER
    unless CREDIT_OPERATOR names the operator."""
    monkeypatch.chdir(tmp_path)
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_IDENTITY_KEY": "",
           "CREDIT_OPERATOR": "张三"}
    r = _cli(["demo-data"], env)
    assert r.exit_code == 0, r.output
    from credit.services.bootstrap import build_context
    ctx = build_context(database_url)
    with ctx.uow(write=False) as uow:
        actors = {e["actor"] for e in uow.audit_queries.page(after=0, limit=1000)
                  if e["kind"] == "token.created"}
    ctx.uow.engine.dispose()
    assert actors == {"张三"}, actors


def test_db_upgrade_does_not_print_a_password(database_url):
    """README: the URL, which may hold a password, is not repeated — nor a libpq-style
    ``?password=`` in its query."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a password is a PostgreSQL matter")
    url = database_url + "?password=S3cretPW"
    r = _cli(["db", "upgrade"], {"CREDIT_DATABASE_URL": url})
    assert r.exit_code == 0, r.output
    assert "S3cretPW" not in r.output, r.output


def test_serve_with_an_access_log_it_cannot_write_exits_2(tmp_path):
    """CREDIT_ACCESS_LOG naming a folder that does not exist: one line, exit 2 (it was
    gunicorn's own two-line error, exit 1)."""
    key = tmp_path / "idkey"
    key.write_bytes(b"k" * 48)
    env = {"PATH": "/usr/bin:/bin", "CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "CREDIT_SECRET_KEY": "s" * 40, "CREDIT_IDENTITY_KEY": str(key),
           "CREDIT_ACCESS_LOG": str(tmp_path / "no-such-dir" / "access.log")}
    out = subprocess.run([str(CREDIT), "serve", "--port", "18799",
                          "--workers", "1"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, (out.returncode, out.stderr)
