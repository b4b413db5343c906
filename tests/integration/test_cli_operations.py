"""The command line as an operator breaks it (API.md §8): a setting the service cannot
use, a database that cannot be reached or read, and options out of range end in one
line on stderr and a non-zero exit, never a Python traceback (README, "Choices where
the specs are silent": exit 2 for every command)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from credit.cli import _host
from credit.cli import main as cli

UNREACHABLE = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test"
COMMANDS = [["db", "upgrade"], ["token", "list"], ["token", "create", "--role", "admin",
            "--name", "x"], ["demo-data"], ["audit", "verify"],
            ["audit", "verify", "--incremental"], ["screens", "replay", "--tender", "X"]]


def _cli(args, env):
    """The command, in-process; an exception it does not handle fails the test."""
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def _one_line_error(result, *words):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "s3cret-pw" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("url", ["garbage", "foo://x/y", "mysql://u:s3cret-pw@h/d",
                                 "postgresql+psycopg2://postgres@127.0.0.1/test",
                                 "postgres://u:s3cret-pw@127.0.0.1:abc/test",
                                 # an option libpq does not know (a newcomer review: a
                                 # driver's traceback, exit 1, and 500s when served)
                                 "postgresql://u:s3cret-pw@127.0.0.1/test?sslmod=require"])
@pytest.mark.parametrize("args", COMMANDS[:3])
def test_a_database_url_the_service_cannot_use_is_one_line_and_exit_2(url, args, tmp_path):
    r = _cli(args, {"CREDIT_DATABASE_URL": url})
    assert r.exit_code == 2
    _one_line_error(r, "CREDIT_DATABASE_URL")


@pytest.mark.parametrize("args", COMMANDS)
def test_an_unreachable_database_is_one_line_and_exit_2(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _cli(args, {"CREDIT_DATABASE_URL": UNREACHABLE})
    assert r.exit_code == 2
    _one_line_error(r, "cannot be reached", "Connection refused")


@pytest.mark.parametrize("args", COMMANDS)
def test_a_connection_option_value_the_client_refuses_is_one_line_and_exit_2(
        args, tmp_path, monkeypatch):
    """Refused by psycopg before any server answers (a ProgrammingError): a database
    that cannot be reached as configured, not a traceback (newcomer review)."""
    monkeypatch.chdir(tmp_path)
    r = _cli(args, {"CREDIT_DATABASE_URL":
                    "postgresql://postgres@127.0.0.1:5432/test?connect_timeout=x"})
    assert r.exit_code == 2
    _one_line_error(r, "cannot be reached", "connect_timeout")


@pytest.mark.parametrize("args", COMMANDS[1:])
def test_a_database_never_migrated_says_so_in_one_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = _cli(args, {"CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"})
    assert r.exit_code == 2
    _one_line_error(r, "no such table")


def test_a_file_that_is_not_a_database_cannot_be_upgraded(tmp_path):
    (tmp_path / "x.db").write_text("not a database")
    r = _cli(["db", "upgrade"], {"CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert r.exit_code == 2
    _one_line_error(r, "file is not a database")


@pytest.mark.parametrize("model", ["nope@1", "keqiao-2025", "keqiao-2025@99", "@"])
def test_an_unknown_model_is_one_line_and_exit_2(model, tmp_path):
    r = _cli(["token", "list"], {"CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                                 "CREDIT_MODEL": model})
    assert r.exit_code == 2
    _one_line_error(r, "CREDIT_MODEL", "keqiao-2025@2")


@pytest.mark.parametrize("option", [["--workers", "0"], ["--workers", "-1"],
                                    ["--port", "0"], ["--port", "-1"], ["--port", "70000"]])
def test_serve_refuses_workers_and_ports_out_of_range(option):
    r = _cli(["serve", *option], {"CREDIT_SECRET_KEY": ""})
    assert r.exit_code == 2 and option[0] in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("host", ["::::", "127.0.0.1:80", "a b", "-x.example", "", "[::1",
                                  "x" * 64])
def test_serve_refuses_a_host_it_cannot_bind_before_gunicorn_starts(host):
    r = _cli(["serve", "--host", host], {"CREDIT_SECRET_KEY": ""})
    assert r.exit_code == 2 and "--host" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("host, bind", [("::1", "[::1]"), ("[::]", "[::]"),
                                        ("0.0.0.0", "0.0.0.0"), ("localhost", "localhost"),
                                        ("credit.example.gov.cn", "credit.example.gov.cn")])
def test_serve_passes_gunicorn_a_host_it_can_bind(host, bind):
    assert _host(None, None, host) == bind


def _serve(tmp_path, port: int = 1, **env):
    key = tmp_path / "identity-key"
    key.write_bytes(os.urandom(32))
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    base.update(CREDIT_SECRET_KEY="s" * 40, CREDIT_IDENTITY_KEY=str(key),
                CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    base.update(env)
    proc = subprocess.Popen([sys.executable, "-c", "from credit.cli import main; main()",
                             "serve", "--port", str(port), "--workers", "1"], env=base,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # a server started: stop it and its workers
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("env", [{"CREDIT_DATABASE_URL": "garbage"},
                                 {"CREDIT_MODEL": "nope@1"}])
def test_serve_checks_the_settings_before_it_starts_workers(env, tmp_path):
    out = _serve(tmp_path, **env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().startswith("error: ") and "Traceback" not in out.stderr
    assert next(iter(env)) in out.stderr and "gunicorn" not in out.stderr.lower()


@pytest.mark.parametrize("host", ["::1", "[::1]", "127.0.0.1", "localhost", "0.0.0.0"])
def test_the_bind_check_passes_what_gunicorn_binds(host):
    """An IPv6 literal comes bracketed from ``--host`` (gunicorn's form): the check
    takes it as gunicorn does (a review of this check: ``--host ::1`` was refused as a
    name that cannot be resolved)."""
    from api.server import _check_bind
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as free:
        free.bind((host.strip("[]").replace("localhost", "127.0.0.1"), 0))
        port = free.getsockname()[1]
    _check_bind(_host(None, None, host), port)


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    """gunicorn would retry for five seconds, print a dozen lines and exit 1 — after
    ``make run`` had printed tokens for a server that never started (newcomer review)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = _serve(tmp_path, port=taken.getsockname()[1])
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot listen on 127.0.0.1:"), \
        out.stderr
    assert "--port" in lines[0]


def _tokens(env) -> str:
    r = _cli(["token", "list"], env)
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.db
@pytest.mark.parametrize("args", [
    ["--role", "admin", "--name", "a\udcff"],                 # argv that is not UTF-8
    ["--role", "admin", "--name", "a\x00b"],
    ["--role", "auditor", "--role", "admin", "--name", "x"],  # which role was meant?
    ["--role", "admin", "--name", "x", "--name", "y"],
    ["--role", "enterprise", "--uscc", "91330603MA2D4F6E84", "--uscc",
     "91330603MA2D4F6E84", "--name", "x"],
    ["--role", "admin", "--name", "x", "--expires", "1d", "--expires", "2d"]])
def test_token_create_refuses_what_it_cannot_store_or_cannot_tell_apart(args,
                                                                         database_url):
    env = {"CREDIT_DATABASE_URL": database_url}
    r = _cli(["token", "create", *args], env)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "kqc_" not in r.stdout and _tokens(env) == ""


@pytest.mark.db
def test_a_regulator_name_of_100_characters_and_other_names_of_200_are_accepted(
        database_url):
    env = {"CREDIT_DATABASE_URL": database_url}
    for args in (["--role", "regulator", "--sector", "housing", "--name", "局" * 100],
                 ["--role", "auditor", "--name", "审" * 200]):
        r = _cli(["token", "create", *args], env)
        assert r.exit_code == 0, r.output
    assert "局" * 100 in _tokens(env) and "审" * 200 in _tokens(env)


@pytest.mark.db
@pytest.mark.parametrize("token_id", ["0", "9223372036854775808", "99999999999999999999"])
def test_token_revoke_of_an_id_no_token_can_have_is_a_usage_error(token_id, database_url):
    r = _cli(["token", "revoke", token_id], {"CREDIT_DATABASE_URL": database_url})
    assert r.exit_code == 2 and "TOKEN_ID" in r.output and "Traceback" not in r.output


@pytest.mark.db
def test_demo_data_that_cannot_write_its_token_file_creates_nothing(database_url, tmp_path,
                                                                   monkeypatch):
    """A token file that cannot be written (here a directory in its place) is one line
    and exit 2 before any token exists; once it can, the demo data loads, then a second
    run changes nothing and keeps the file's tokens (mode 0600)."""
    monkeypatch.chdir(tmp_path)
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_IDENTITY_KEY": ""}
    (tmp_path / "var" / "demo-tokens.txt").mkdir(parents=True)
    r = _cli(["demo-data"], env)
    assert r.exit_code == 2
    _one_line_error(r, "var/demo-tokens.txt")
    assert _tokens(env) == ""
    (tmp_path / "var" / "demo-tokens.txt").rmdir()
    assert _cli(["demo-data"], env).exit_code == 0
    path = tmp_path / "var" / "demo-tokens.txt"
    first, listed = path.read_text(encoding="utf-8"), _tokens(env)
    assert _cli(["demo-data"], env).exit_code == 0
    assert path.read_text(encoding="utf-8") == first and _tokens(env) == listed
    assert path.stat().st_mode & 0o777 == 0o600
    # a file opened up since (copied, chmod) holds live secrets: set back to 0600
    path.chmod(0o644)
    r = _cli(["demo-data"], env)
    assert r.exit_code == 0 and "644" in r.stdout, r.stdout
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text(encoding="utf-8") == first


@pytest.mark.parametrize("content", [b"\x93\xff not utf-8", b"[" * 100_000])
@pytest.mark.parametrize("which", ["checkpoint", "public-key"])
def test_an_unreadable_checkpoint_or_public_key_file_is_exit_2_not_a_crash(content, which,
                                                                           tmp_path):
    """Exit 1 means "not intact": a file that is not UTF-8, or JSON nested beyond
    Python's recursion limit, is an unreadable file (exit 2), said in one line."""
    genesis = tmp_path / "genesis.json"
    genesis.write_text('{"position": 0, "sha256": "' + "0" * 64 + '"}', encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    args = (["--checkpoint", str(bad)] if which == "checkpoint"
            else ["--checkpoint", str(genesis), "--public-key", str(bad)])
    r = _cli(["audit", "verify", *args], {"CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert r.exit_code == 2
    _one_line_error(r)


def test_keys_create_on_a_path_it_cannot_write_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "a-file").write_text("x")
    path = tmp_path / "a-file" / "signing.pem"  # a file where a folder must be
    r = _cli(["keys", "create", "--path", str(path)], {"CREDIT_SIGNING_KEY": ""})
    assert r.exit_code == 2
    _one_line_error(r, "cannot write the signing key")


@pytest.mark.parametrize("env", [{"CREDIT_RATE_LIMIT_PUBLIC": "garbage"},
                                 {"CREDIT_RATE_LIMIT_SIGNIN": "5 per fortnight"},
                                 {"CREDIT_RATE_LIMIT_STORAGE": "bogus://:s3cret-pw@x"}])
def test_a_rate_limit_setting_that_cannot_be_used_stops_serve_and_the_app(env, tmp_path,
                                                                         monkeypatch):
    """Flask-Limiter logs a limit it cannot parse and then serves the route with no
    limit at all; an unknown storage failed every worker's boot. Both are now refused
    before gunicorn starts (and by create_app), naming the variable."""
    from api import create_app
    from credit.settings import ConfigurationError
    out = _serve(tmp_path, **env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().startswith("error: ") and "Traceback" not in out.stderr
    assert next(iter(env)) in out.stderr and "s3cret-pw" not in out.stderr
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=next(iter(env))):
        create_app({"CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


@pytest.mark.parametrize("env, word", [
    ({"CREDIT_SECRET_KEY": ""}, "CREDIT_SECRET_KEY"),
    ({"CREDIT_SECRET_KEY": "   "}, "CREDIT_SECRET_KEY"),
    ({"CREDIT_SECRET_KEY": "secret"}, "at least 32"),        # forgeable sessions
    ({"CREDIT_LOG_LEVEL": "verbose"}, "CREDIT_LOG_LEVEL"),     # gunicorn: silently info
    ({"CREDIT_SECURE_COOKIES": "yes"}, "CREDIT_SECURE_COOKIES"),  # was read as off
    ({"CREDIT_IDENTITY_KEY": ""}, "CREDIT_IDENTITY_KEY")])
def test_serve_refuses_settings_it_cannot_serve_safely_with_exit_2(env, word, tmp_path):
    out = _serve(tmp_path, **env)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0]


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("TRUE", True),
                                       ("0", False), ("false", False), ("", False)])
def test_secure_cookies_reads_only_its_documented_words(value, on):
    from credit.settings import Settings
    assert Settings.from_env({"CREDIT_SECURE_COOKIES": value}).secure_cookies is on


@pytest.mark.parametrize("value", ["yes", "on", "2", "ture"])
def test_secure_cookies_refuses_a_word_it_would_have_read_as_off(value, tmp_path):
    r = _cli(["token", "list"], {"CREDIT_SECURE_COOKIES": value,
                                 "CREDIT_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert r.exit_code == 2
    _one_line_error(r, "CREDIT_SECURE_COOKIES", repr(value))


def _head(env) -> int:
    r = _cli(["audit", "verify"], env)
    assert r.exit_code == 0, r.output
    return int(r.stdout.split('"entries_checked": ')[1].split(",")[0])


@pytest.mark.db
@pytest.mark.parametrize("args", [
    ["rate-all", "--out", "{tmp}/missing/r.csv"],
    ["rate-all", "--out", "{tmp}/r.csv", "--plot", "{tmp}/missing/p.png"],
    ["rate-all", "--out", "/proc/r.xlsx"],                      # a folder that takes no file
    ["compare-models", "--from", "keqiao-2025@1", "--to", "keqiao-2025@2",
     "--out", "/proc/x.xlsx"],
    ["compare-models", "--from", "keqiao-2025@1", "--to", "keqiao-2025@2",
     "--out", "{tmp}/missing/x.xlsx"]])
def test_a_batch_output_that_cannot_be_written_is_one_line_and_logs_nothing(
        args, database_url, tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("matplotlib")
    env = {"CREDIT_DATABASE_URL": database_url}
    before = _head(env)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = _cli([*args, "--sector", "housing", "--as-of", "2026-06-30"], env)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and "Traceback" not in r.output
    assert "Exception ignored" not in r.stderr
    # the operator is told the name they gave, never the staging file's
    out = args[args.index("--plot" if "--plot" in args else "--out") + 1]
    assert out in r.stderr and ".partial" not in r.stderr, r.stderr
    assert _head(env) == before and not list(tmp_path.glob("**/*.partial*"))


@pytest.mark.db
@pytest.mark.parametrize("args, words", [
    (["--role", "regulator", "--name", "r"], ["--sector"]),
    (["--role", "regulator", "--sector", "bogus", "--name", "r"], ["bogus", "housing"]),
    (["--role", "regulator", "--sector", "transport,housing", "--name", "r"], ["unknown"]),
    (["--role", "evaluator", "--sector", "transport", "--name", "e"], ["regulator"]),
    (["--role", "enterprise", "--name", "e"], ["--uscc"]),
    (["--role", "enterprise", "--uscc", "123", "--name", "e"], ["18"]),
    (["--role", "enterprise", "--uscc", "91330603MA2D4F6E85", "--name", "e"], ["check"]),
    (["--role", "auditor", "--uscc", "91330603MA2D4F6E84", "--name", "a"], ["enterprise"]),
    (["--role", "admin", "--name", "   "], ["name"]),
    # a regulator's name is the issued_by (1–100, API.md §3) of the records its
    # disposals and reviews create (found by a WARNINGS.md review)
    (["--role", "regulator", "--sector", "housing", "--name", "局" * 101],
     ["100", "issued_by"])])
def test_token_create_refusals_of_api_md_8_are_one_line_exit_2_and_create_nothing(
        args, words, database_url):
    env = {"CREDIT_DATABASE_URL": database_url}
    r = _cli(["token", "create", *args], env)
    assert r.exit_code == 2 and r.stdout == ""
    _one_line_error(r, *words)
    assert _tokens(env) == ""


@pytest.mark.db
def test_a_reader_that_goes_away_ends_the_command_quietly(database_url, tmp_path):
    """`credit token list | head -1`: no traceback, no "error", exit 1."""
    env = {"CREDIT_DATABASE_URL": database_url}
    for i in range(3):
        assert _cli(["token", "create", "--role", "admin", "--name", f"a{i}"],
                    env).exit_code == 0
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    proc = subprocess.Popen([sys.executable, "-c", "from credit.cli import main; main()",
                             "token", "list"], env={**base, **env}, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1 and err == ""


@pytest.mark.db
def test_db_upgrade_from_any_folder_twice_with_a_plain_postgresql_url(
        unmigrated_database_url, tmp_path, monkeypatch):
    """API.md §8: the migrations are found from the package, a second run changes
    nothing, and ``postgresql://`` is read as psycopg 3."""
    url = unmigrated_database_url.replace("postgresql+psycopg://", "postgresql://")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    env = {"CREDIT_DATABASE_URL": url}
    for _ in range(2):
        r = _cli(["db", "upgrade"], env)
        assert r.exit_code == 0 and "database at head" in r.stdout, r.output
    r = _cli(["token", "create", "--role", "admin", "--name", "a"], env)
    assert r.exit_code == 0 and r.stdout.splitlines()[-1].startswith("kqc_")


@pytest.mark.db
@pytest.mark.parametrize("expires", ["9999-12-31T23:59:59-14:00", "999999d",
                                     "2100-01-01T00:00:00+08:00"])
def test_token_expiry_beyond_the_services_dates_is_refused(expires, database_url):
    """9999-12-31T23:59:59-14:00 overflowed while the token was written (a traceback);
    every date the service accepts lies in 2000 … 2099 (API.md §1)."""
    env = {"CREDIT_DATABASE_URL": database_url}
    r = _cli(["token", "create", "--role", "admin", "--name", "a", "--expires", expires],
             env)
    assert r.exit_code == 2 and "2100-01-01" in r.output and _tokens(env) == ""


# ---- found by a review of the CLI ----------------------------------------------------

@pytest.mark.db
@pytest.mark.parametrize("args", [
    ["rate-all", "--out", "{tmp}/r.csv", "--plot", "{tmp}/r.csv"],
    ["rate-all", "--out", "{tmp}/r.csv", "--plot", "{tmp}/./r.csv"],
    ["compare-models", "--from", "keqiao-2025@1", "--to", "keqiao-2025@2",
     "--out", "{tmp}/c.xlsx", "--plot", "{tmp}/c.xlsx"]])
def test_a_plot_over_the_data_file_is_refused_before_anything_is_logged(args, database_url,
                                                                       tmp_path):
    """It was logged, then exit 2, and the data file's name held the plot."""
    pytest.importorskip("matplotlib")
    env = {"CREDIT_DATABASE_URL": database_url}
    before = _head(env)
    out = tmp_path / "out"
    out.mkdir()
    args = [a.replace("{tmp}", str(out)) for a in args]
    r = _cli([*args, "--sector", "housing", "--as-of", "2026-06-30"], env)
    assert r.exit_code == 2 and "--plot" in r.stderr and "--out" in r.stderr, r.output
    assert _head(env) == before and not list(out.iterdir())


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "10.0.0.256"])
def test_serve_refuses_a_dotted_number_that_is_no_address(host):
    r = _cli(["serve", "--host", host], {"CREDIT_SECRET_KEY": ""})
    assert r.exit_code == 2 and "--host" in r.output and "Traceback" not in r.output


def test_keys_create_on_a_folder_or_an_existing_key_is_exit_2(tmp_path):
    r = _cli(["keys", "create", "--path", str(tmp_path)], {"CREDIT_SIGNING_KEY": ""})
    assert r.exit_code == 2
    _one_line_error(r, "is a folder")
    key = tmp_path / "k.pem"
    assert _cli(["keys", "create", "--path", str(key)], {"CREDIT_SIGNING_KEY": ""}).exit_code == 0
    r = _cli(["keys", "create", "--path", str(key)], {"CREDIT_SIGNING_KEY": ""})
    assert r.exit_code == 2
    _one_line_error(r, "already exists")


@pytest.mark.db
@pytest.mark.parametrize("content", [b"12345", "/nonexistent/key"])
def test_demo_data_says_why_an_identity_key_is_unusable(content, database_url, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    key = str(content)
    if isinstance(content, bytes):
        (tmp_path / "short.key").write_bytes(content)
        key = str(tmp_path / "short.key")
    r = _cli(["demo-data"], {"CREDIT_DATABASE_URL": database_url, "CREDIT_IDENTITY_KEY": key})
    assert r.exit_code == 0, r.output
    assert "is not set" not in r.stdout and key in r.stdout, r.stdout


@pytest.mark.db
def test_demo_data_loaded_in_part_says_so_instead_of_already_loaded(database_url, tmp_path,
                                                                   monkeypatch):
    """Interrupted after its records (each step is a transaction of its own): a second
    run said "already loaded" and left the set without its evaluation for good."""
    from credit.services import demo
    monkeypatch.chdir(tmp_path)
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_IDENTITY_KEY": ""}

    def interrupted(*args):  # as Ctrl-C would, between two steps
        raise RuntimeError("interrupted")
    with monkeypatch.context() as m:
        m.setattr(demo, "_demo_changes", interrupted)
        with pytest.raises(RuntimeError):
            _cli(["demo-data"], env)
    r = _cli(["demo-data"], env)
    assert r.exit_code == 2
    _one_line_error(r, "only in part")
