"""The ``credit`` command (API.md §8): operators' tools and the server."""

from __future__ import annotations

import json
import os
import sys

import click

from credit.errors import CreditError, Unavailable


def _context():
    from credit.services.bootstrap import build_context
    return build_context()


def _operator() -> str:
    return os.environ.get("CREDIT_OPERATOR") or f"operator:{os.environ.get('USER', 'cli')}"


def _fail(exc: CreditError, code: int = 1):
    click.echo(f"error: {exc.message}", err=True)
    for field, msgs in exc.errors.items():
        for m in msgs:
            click.echo(f"  {field}: {m}", err=True)
    sys.exit(code)


@click.group()
def main() -> None:
    """Credit evaluation and joint-punishment scoring service (两场联动)."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (safe to run again)."""
    from credit.persistence.database import normalise_url, upgrade
    upgrade()
    url = normalise_url(None)
    click.echo(f"database at head: {url.split('@')[-1]}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", required=True,
              type=click.Choice(["regulator", "evaluator", "auditor", "admin", "enterprise"]))
@click.option("--sector", "sectors", multiple=True, help="repeat; regulators only")
@click.option("--uscc", default=None, help="enterprise tokens only")
@click.option("--name", required=True, help="who holds it, e.g. 柯桥区交通运输局")
def token_create(role, sectors, uscc, name) -> None:
    """Create a token; the secret is printed once, alone on the last line."""
    from credit.services.tokens import create_token
    try:
        token_id, secret = create_token(_context(), _operator(), role=role, name=name,
                                        sectors=list(sectors), uscc=uscc)
    except CreditError as exc:
        _fail(exc, 2)
    click.echo(f"token {token_id} created for {name} ({role}); it is shown only now:")
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """Every token, without secrets."""
    from credit.services.tokens import list_tokens
    for t in list_tokens(_context()):
        click.echo(json.dumps(t, ensure_ascii=False))


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id) -> None:
    from credit.services.tokens import revoke_token
    try:
        revoke_token(_context(), _operator(), token_id)
    except CreditError as exc:
        _fail(exc, 2)
    click.echo(f"token {token_id} revoked")


@main.command("demo-data")
def demo_data() -> None:
    """Load a small realistic Keqiao data set and demo tokens, once."""
    from credit.services.demo import load_demo
    summary = load_demo(_context(), token_file="var/demo-tokens.txt")
    click.echo(summary)


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Re-hash the chain and every stored row; exit 0 intact, 1 not, 2 unreachable."""
    from credit.services.audit import verify_chain
    try:
        result = verify_chain(_context())
    except Unavailable as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    except Exception as exc:  # an unreachable server surfaces as a driver error
        if "OperationalError" in type(exc).__name__ or "connect" in str(exc).lower():
            click.echo(f"error: the database cannot be reached: {exc}", err=True)
            sys.exit(2)
        raise
    click.echo(json.dumps(result, ensure_ascii=False))
    sys.exit(0 if result["ok"] else 1)


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", default=2, type=int)
def serve(host, port, workers) -> None:
    """Serve the API with gunicorn (sync workers; engines are created after fork)."""
    from api.server import run
    run(host=host, port=port, workers=workers)


if __name__ == "__main__":  # pragma: no cover
    main()
