"""The ``credit`` command (API.md §8): operators' tools and the server."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys

import click

from credit.batch.cli import compare_models_command, import_command, rate_all_command
from credit.errors import CreditError, IntegrityFailure, Unavailable
from credit.settings import ConfigurationError, Settings


def _context():
    from credit.services.bootstrap import build_context
    return build_context()


def _operator() -> str:
    """Who the CLI acts as (CREDIT_OPERATOR, else ``operator:$USER``): the actor of its
    audit entries, so a name a token could have (1–200 characters of UTF-8 text); a
    shell that hands over other bytes (GBK, say) is told which variable to fix."""
    from credit.services.tokens import actor_name_problem
    name = Settings.from_env().operator
    problem = actor_name_problem(name)
    if problem:
        raise ConfigurationError(f"the operator's name (CREDIT_OPERATOR, else USER) "
                                 f"{problem[0]} Set CREDIT_OPERATOR to the operator's name "
                                 "in UTF-8.")
    return name


def _reason(exc: BaseException) -> str:
    """The first line of what the driver said, when an Unavailable chains it (the
    service's own message is generic: it also reaches HTTP clients)."""
    cause = exc.__cause__
    detail = getattr(cause, "orig", None) or cause
    lines = str(detail).strip().splitlines() if detail is not None else []
    return f" ({lines[0]})" if lines else ""


def _fail(exc: CreditError, code: int = 1):
    """The refusal on one line (a single field's detail in brackets, unless the message
    already says it); several problems are listed, one a line, below it."""
    reason = _reason(exc) if isinstance(exc, Unavailable) else ""
    problems = [(field, m) for field, msgs in exc.errors.items() for m in msgs]
    if len(problems) == 1:
        field, m = problems[0]
        reason += "" if m in exc.message else f" ({field}: {m})"
        problems = []
    click.echo(f"error: {exc.message}{reason}", err=True)
    for field, m in problems:
        click.echo(f"  {field}: {m}", err=True)
    sys.exit(code)


class OperatorErrors(click.Group):
    """Every command's operator errors end in one line on stderr and exit 2, never a
    traceback: a setting the service cannot use (a bad CREDIT_DATABASE_URL or
    CREDIT_MODEL), a database that cannot be reached or read, a file that cannot be
    read or written (the batch exports stage their files before they log anything), a
    reader of stdout that went away (exit 1, quietly, as other Unix tools), and
    any refusal of a service that a command does not report itself."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except CreditError as exc:
            _fail(exc, 2)
        except BrokenPipeError:  # `credit token list | head -1`: the reader is gone
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:  # a file the operator named cannot be read or written
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(2)


@click.group(cls=OperatorErrors)
def main() -> None:
    """Credit evaluation and joint-punishment scoring service (两场联动)."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (safe to run again)."""
    from credit.persistence.database import described, normalise_url, upgrade
    upgrade()
    click.echo(f"database at head: {described(normalise_url(None))}")


@main.group()
def token() -> None:
    """API tokens."""


def _expiry(value: str | None):
    """``--expires``: an RFC 3339 instant with offset, or a lifetime from now such as
    ``90d``, ``12h`` or ``30m``; it must lie in the future."""
    import re
    from datetime import datetime, timedelta, timezone

    from credit.domain.dates import cst_date_in_range, parse_instant
    if value is None:
        return None
    now = datetime.now(timezone.utc)
    m = re.fullmatch(r"\s*([0-9]{1,6})\s*([dhm])\s*", value)
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m[2]]
        when = now + timedelta(**{unit: int(m[1])})
    else:
        try:
            when = parse_instant(value.strip())
        except ValueError:
            raise click.BadParameter("use an RFC 3339 instant with an offset (e.g. "
                                     "2027-01-01T00:00:00+08:00) or a lifetime such as "
                                     "90d, 12h, 30m.", param_hint="--expires") from None
    if when <= now:
        raise click.BadParameter("the expiry lies in the past.", param_hint="--expires")
    if not cst_date_in_range(when):  # 9999-12-31T23:59:59-14:00 overflowed on writing
        raise click.BadParameter("the expiry must lie before 2100-01-01 (China Standard "
                                 "Time), like every date the service accepts (API.md §1).",
                                 param_hint="--expires")
    return when


def _once(ctx, param, values):
    """A single-valued option given twice is refused, not decided by the last one (a
    second ``--role`` must not silently change what a token may do)."""
    if len(values) > 1:
        raise click.BadParameter(f"given {len(values)} times; give it once.")
    return values[0] if values else None


@token.command("create")
@click.option("--role", required=True, multiple=True, callback=_once,
              type=click.Choice(["regulator", "evaluator", "auditor", "admin", "enterprise",
                                 "platform", "tenderee"]))
@click.option("--sector", "sectors", multiple=True, help="repeat; regulators only")
@click.option("--uscc", multiple=True, callback=_once,
              help="enterprise and tenderee tokens only")
@click.option("--name", required=True, multiple=True, callback=_once,
              help="who holds it, e.g. 柯桥区交通运输局")
@click.option("--expires", multiple=True, callback=_once,
              help="RFC 3339 instant, or a lifetime such as 90d / 12h / 30m; default never")
def token_create(role, sectors, uscc, name, expires) -> None:
    """Create a token; the secret is printed once, alone on the last line."""
    from credit.domain.dates import format_instant
    from credit.services.tokens import create_token
    expires_at = _expiry(expires)
    try:
        token_id, secret = create_token(_context(), _operator(), role=role, name=name,
                                        sectors=list(sectors), uscc=uscc,
                                        expires_at=expires_at)
    except CreditError as exc:
        _fail(exc, 2)
    until = f", expires {format_instant(expires_at)}" if expires_at else ""
    click.echo(f"token {token_id} created for {name} ({role}{until}); it is shown only now:")
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """Every token, without secrets."""
    from credit.services.tokens import list_tokens
    for t in list_tokens(_context()):
        click.echo(json.dumps(t, ensure_ascii=False))


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**63 - 1))
def token_revoke(token_id) -> None:
    """Revoke the token TOKEN_ID (as `credit token list` shows it): refused from the
    next request on; its traces and entries stay. Revoking it again changes nothing."""
    from credit.services.tokens import revoke_token
    try:
        revoked = revoke_token(_context(), _operator(), token_id)
    except CreditError as exc:
        _fail(exc, 2)
    click.echo(f"token {token_id} revoked" if revoked
               else f"token {token_id} was already revoked; nothing changed")


@main.command("demo-data")
def demo_data() -> None:
    """Load a small realistic Keqiao data set and demo tokens, once."""
    from credit.services.demo import load_demo
    path = "var/demo-tokens.txt"
    try:
        summary = load_demo(_context(), token_file=path, operator=_operator())
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}; nothing was "
                   "loaded.", err=True)
        sys.exit(2)
    click.echo(summary)


@main.group()
def audit() -> None:
    """The audit log."""


def _unchecked_signature(doc: dict, key) -> str:
    """Why a checkpoint's signature could not be checked with ``key``."""
    if doc.get("key_id") is None or doc.get("signature") is None:
        return ("error: the checkpoint is not signed (no key_id or signature): a saved "
                "GET /api/v1/audit/checkpoint of a server with CREDIT_SIGNING_KEY is.")
    return (f"error: the checkpoint names key {doc.get('key_id')!r}, but the key given is "
            f"{key.key_id}: its signature cannot be checked with it.")


def _read_checkpoint(path: str):
    """The checkpoint file and its parsed document; exit 2 when unreadable."""
    from credit.services import checkpoints
    try:
        with open(path, encoding="utf-8") as f:
            return checkpoints.load_file(f.read())
    except OSError as exc:
        click.echo(f"error: cannot read the checkpoint file: {exc.strerror}", err=True)
        sys.exit(2)
    except UnicodeDecodeError:
        click.echo("error: the checkpoint file is not UTF-8 text (the JSON of GET "
                   "/api/v1/audit/checkpoint).", err=True)
        sys.exit(2)
    except CreditError as exc:
        _fail(exc, 2)


def _auditor_key(public_key_file: str | None):
    """The key a checkpoint's signature is checked with: the auditor's copy of the
    public key (``--public-key``), else the signing key file of the settings — never a
    key read from the database being verified. Exit 2 saying why when there is none."""
    from credit import signing
    try:
        if public_key_file is not None:
            try:
                with open(public_key_file, encoding="utf-8") as f:
                    return signing.load_public_document(f.read())
            except OSError as exc:
                raise signing.SigningKeyMissing(
                    f"The public key file cannot be read ({exc.strerror}).") from None
            except UnicodeDecodeError:
                raise signing.SigningKeyMissing("The public key file is not UTF-8 text.") \
                    from None
        return signing.load_key(signing.configured_path()).verify_key()
    except signing.SigningKeyMissing as exc:
        click.echo(f"error: the checkpoint's signature cannot be checked: {exc} Pass "
                   "--public-key FILE (the JSON of GET /api/v1/audit/public-key, kept by "
                   "the auditor) or set CREDIT_SIGNING_KEY to the signing key file. "
                   "Nothing was verified.", err=True)
        sys.exit(2)


def _verified(cp, incremental: bool = False) -> dict:
    """verify_chain; exit 2 when the database cannot be reached."""
    from credit.services.audit import verify_chain

    def unstored(exc: CreditError) -> None:  # read-only access, or an altered head
        why = ("the log's newest entry was altered, so the service can write nothing"
               if isinstance(exc, IntegrityFailure) else str(exc))
        click.echo(f"warning: this run was not stored ({why}); the verdict stands, but "
                   "neither the console nor a later --incremental run will know of it.",
                   err=True)
    try:
        return verify_chain(_context(), cp, incremental=incremental, unstored=unstored)
    except Unavailable as exc:
        _fail(exc, 2)
    except Exception as exc:  # an unreachable server surfaces as a driver error
        if "OperationalError" in type(exc).__name__ or "connect" in str(exc).lower():
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(f"error: the database cannot be reached: {first}", err=True)
            sys.exit(2)
        raise


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False),
              default=None, help="a saved checkpoint (the JSON of GET /audit/checkpoint)")
@click.option("--public-key", "public_key_file", type=click.Path(dir_okay=False),
              default=None, help="with --checkpoint: the public key that checks its "
              "signature (the JSON of GET /audit/public-key); default: the signing key "
              "file (CREDIT_SIGNING_KEY)")
@click.option("--incremental", is_flag=True, default=False,
              help="verify only what was appended since the newest stored intact "
              "verification (fast; edits before it are caught by a full run, the default)")
def audit_verify(checkpoint_file, public_key_file, incremental) -> None:
    """Re-hash the chain and every stored row; with --checkpoint also check that the log
    still extends the saved checkpoint (catches truncation and rewrites) and that its
    signature holds under a key the auditor holds; with --incremental only the entries
    after the newest stored intact verification and the rows they created. Every run is
    stored (outside the chain; signed with CREDIT_SIGNING_KEY when it is set, and then
    only signed runs are starting points). Exit 0 intact, 1 not, 2 unreachable, an unreadable
    checkpoint file, or no key to check its signature with."""
    from credit.services import checkpoints
    if public_key_file is not None and checkpoint_file is None:
        raise click.UsageError("--public-key checks a checkpoint: give --checkpoint too.")
    if incremental and checkpoint_file is not None:
        raise click.UsageError("--checkpoint needs a full run: drop --incremental.")
    cp = doc = key = None
    if checkpoint_file is not None:
        cp, doc = _read_checkpoint(checkpoint_file)
        key = _auditor_key(public_key_file)  # before reading the database
    result = _verified(cp, incremental)
    if doc is not None:
        result["checkpoint_signature_ok"] = checkpoints.signature_ok(doc, key)
    click.echo(json.dumps(result, ensure_ascii=False))
    intact = (result["ok"] and result.get("checkpoint_ok", True)
              and result.get("checkpoint_signature_ok") is not False)
    if intact and doc is not None and result["checkpoint_signature_ok"] is None:
        click.echo(_unchecked_signature(doc, key), err=True)
        sys.exit(2)
    sys.exit(0 if intact else 1)


@main.group()
def keys() -> None:
    """The Ed25519 key that signs audit checkpoints."""


@keys.command("create")
@click.option("--path", default=None, help="default: $CREDIT_SIGNING_KEY")
def keys_create(path) -> None:
    """Create the signing key (PEM, mode 0600); an existing file is never overwritten."""
    from credit import signing
    path = path or signing.configured_path()
    if not path:
        click.echo("error: set CREDIT_SIGNING_KEY to the path of the key file (or pass "
                   "--path).", err=True)
        sys.exit(2)
    try:
        key = signing.create_key(path)
    except signing.SigningKeyExists as exc:  # an operator error, as every other: exit 2
        message = (f"{path} is a folder: name the key file to create in it." if
                   os.path.isdir(path) else str(exc))
        click.echo(f"error: {message}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: cannot write the signing key to {path}: "
                   f"{exc.strerror or exc}.", err=True)
        sys.exit(2)
    click.echo(f"signing key written to {path} (mode 0600)")
    click.echo(f"key_id {key.key_id}")
    click.echo(f"public key (Ed25519, base64 of the raw 32 bytes): {key.public_key_b64()}")


@main.group("tenders")
def tenders_group() -> None:
    """Tenders registered from the trading platform (WARNINGS.md)."""


@tenders_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--screens", "screens_ref", default=None,
              help="the screen definition id@version, e.g. keqiao-screens-2025@1; "
                   "default the active one")
def tenders_import(file, screens_ref) -> None:
    """Register tenders from a JSON Lines file (one tender object of WARNINGS.md §2 per
    line), each exactly as POST /tenders does; rejected lines go to FILE.rejects.csv.
    Exit 0 all registered or already present, 1 some rejected, 2 not imported, 3
    stopped partway by a failure (the lines before are done; the summary says whether
    importing the file again finishes it). A pipe's rejects go to the working
    directory."""
    from credit.services.rejects_lists import RejectsNotWritable
    from credit.services.tender_import import TenderImportStopped, import_tenders
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="registering", file=sys.stderr,
                                    show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        summary = import_tenders(_context(), _operator(), file, screens_ref, progress)
    except TenderImportStopped as exc:
        click.echo(exc.summary.text())
        click.echo(f"error: {exc} Stopped at line {exc.summary.stopped_at}.", err=True)
        sys.exit(3)
    except CreditError as exc:
        _fail(exc, 2)
    except RejectsNotWritable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {file}: {exc}", err=True)
        sys.exit(2)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(summary.text())
    sys.exit(1 if summary.rejected else 0)


@main.group("screens")
def screens_group() -> None:
    """The collusion screens (标中预警)."""


@screens_group.command("replay")
@click.option("--tender", "code", required=True, help="the tender's code")
def screens_replay(code) -> None:
    """Recompute a tender's warnings from its registration entry alone (normalised
    input, screen definition, snapshot at knowledge_position) and say whether they
    equal the stored ones. Exit 0 equal, 1 not, 2 unknown tender or unreachable."""
    from credit.services.screen_replay import replay_screens
    try:
        result = replay_screens(_context(), code)
    except CreditError as exc:
        _fail(exc, 2)
    click.echo(json.dumps(result, ensure_ascii=False))
    click.echo(f"{code}: {result['recomputed']} warning(s) recomputed, {result['stored']} "
               f"stored — " + ("equal" if result["equal"] else "NOT equal"), err=True)
    sys.exit(0 if result["equal"] else 1)


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _host(ctx, param, value: str) -> str:
    """``--host``: an IPv4 or IPv6 address (``::1`` or ``[::1]``) or a host name (RFC
    1123), as gunicorn's bind needs it; anything else is a usage error (exit 2) before
    gunicorn starts, not gunicorn's own message."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        labels = bare.rstrip(".").split(".")
        # RFC 1123 §2.1: a name's last label is never all digits (999.1.1.1 is an
        # address that does not exist, not a name to look up)
        if len(bare) <= 253 and all(_HOST_LABEL.fullmatch(x) for x in labels) \
                and not labels[-1].isdigit():
            return bare
        raise click.BadParameter(
            f"{value!r} is neither an IP address nor a host name.") from None
    return f"[{address}]" if address.version == 6 else str(address)


@main.command("serve")
@click.option("--host", default="127.0.0.1", callback=_host, show_default=True,
              help="address or host name to listen on (IPv6 as ::1 or [::1])")
@click.option("--port", default=8000, type=click.IntRange(1, 65535), show_default=True)
@click.option("--workers", default=2, type=click.IntRange(1, 64), show_default=True,
              help="worker processes")
@click.option("--threads", default=None, type=click.IntRange(1, 64),
              help="threads per worker (more than 1: gthread workers, whose concurrent "
                   "requests share commits); default 1, sync workers")
def serve(host, port, workers, threads) -> None:
    """Serve the API with gunicorn (sync workers; engines are created after fork)."""
    from api.server import THREADS, run
    run(host=host, port=port, workers=workers, threads=threads or THREADS)


# Batch commands (pandas is imported only when one of them runs).
main.add_command(rate_all_command)
main.add_command(import_command)
main.add_command(compare_models_command)


if __name__ == "__main__":  # pragma: no cover
    main()
