"""API tokens (API.md §2): created by an operator, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from credit.domain.dates import format_instant, from_micros, to_micros
from credit.domain.model import SECTORS
from credit.domain.storable_text import unstorable
from credit.domain.token_expiry import expired_at
from credit.errors import Forbidden, InvalidInput, Unauthenticated
from credit.persistence.tables import TokenRow
from credit.uscc import InvalidUSCC, normalise_uscc

from .context import ROLES, USCC_ROLES, Actor, ServiceContext

TOKEN_PREFIX = "kqc_"
# Failed authentications are logged here with a reason and at most the first 8 hex
# digits of the presented secret's SHA-256 — never the secret itself.
auth_log = logging.getLogger("credit.auth")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


#: The longest name of an actor: a token's, or the operator an import is entered as.
NAME_MAX = 200


def actor_name_problem(name: str) -> tuple[str, str] | None:
    """What keeps ``name`` (already trimmed) from naming an actor — a token, the CLI's
    operator, an import's ``--entered-by``: it is every audit entry's ``actor`` they
    write, so 1–:data:`NAME_MAX` characters of text that can be stored. The sentence
    that follows the name's label, and the field error; None when it may."""
    if not name or len(name) > NAME_MAX:
        return f"must have 1–{NAME_MAX} characters.", "required"
    if unstorable(name):
        return (f"holds {unstorable(name)} (text that is not valid UTF-8 cannot be "
                "stored).", "not storable text")
    return None


def _checked(role: str, name: str, sectors, uscc: str | None):
    """A new token's name, sectors and USCC, normalised; InvalidInput saying what is
    wrong (API.md §8's rules for ``credit token create``)."""
    name = (name or "").strip()
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}.",
                           errors={"role": ["unknown role"]})
    problem = actor_name_problem(name)
    if problem:
        raise InvalidInput(f"name {problem[0]}", errors={"name": [problem[1]]})
    sectors = sorted(set(sectors))
    if role == "regulator":
        _check_regulator_name(name)
        if not sectors:
            raise InvalidInput("a regulator token needs at least one --sector.",
                               errors={"sector": ["required for regulator"]})
        bad = [s for s in sectors if s not in SECTORS]
        if bad:
            raise InvalidInput(f"unknown sector(s): {', '.join(bad)}.",
                               errors={"sector": [f"must be one of {', '.join(SECTORS)}"]})
    elif sectors:
        raise InvalidInput("--sector is only for regulator tokens.",
                           errors={"sector": ["only for regulator"]})
    if role in USCC_ROLES:
        if not uscc:
            raise InvalidInput(f"a{'n' if role[0] in 'aeiou' else ''} {role} token needs --uscc.",
                               errors={"uscc": ["required"]})
        try:
            uscc = normalise_uscc(uscc)
        except InvalidUSCC as exc:
            raise InvalidInput(str(exc), error="invalid_uscc", errors={"uscc": [str(exc)]}) \
                from None
    elif uscc:
        raise InvalidInput("--uscc is only for enterprise and tenderee tokens.",
                           errors={"uscc": ["only for enterprise or tenderee"]})
    return name, sectors, uscc


#: API.md §3's longest ``issued_by``: a regulator's name is the ``issued_by`` of every record
#: its confirmed warnings (WARNINGS.md §6) and approved evaluations (PERFORMANCE.md §4)
#: create, so it may be no longer.
REGULATOR_NAME_MAX = 100


def may_issue(name: str) -> bool:
    """Whether a regulator's ``name`` may be the ``issued_by`` of a record (API.md §3:
    at most :data:`REGULATOR_NAME_MAX` characters)."""
    return len(name) <= REGULATOR_NAME_MAX


def check_issuer(actor: Actor) -> None:
    """Whether the token's name may be the ``issued_by`` of the records its action
    creates (a confirmed warning's, WARNINGS.md §6; an approved performance
    evaluation's, PERFORMANCE.md §4). A regulator token named longer than API.md §3 lets
    an ``issued_by`` be (:data:`REGULATOR_NAME_MAX`), created before ``token create``
    refused such names, keeps every other right but cannot create records: 403, so that
    no record is ever written with an ``issued_by`` the API would refuse. Checked last,
    after every check of the action, so that it refuses only what would succeed."""
    if not may_issue(actor.name):
        raise Forbidden(
            f"This token's name has {len(actor.name)} characters, and it would be the "
            f"issued_by (1–{REGULATOR_NAME_MAX} characters, API.md §3) of the records "
            "this action creates: ask an administrator for a regulator token with a "
            "shorter name.")


def default_issuer(actor: Actor) -> str:
    """What a new record's ``issued_by`` is filled in with on the console's form: the
    regulator's own name, or nothing when that name is longer than an ``issued_by`` may
    be (a token created before ``token create`` refused such names), so that the form
    never offers a value its own save would refuse (400 on the field); the clerk types
    the deciding authority's name instead."""
    return actor.name if may_issue(actor.name) else ""


def _check_regulator_name(name: str) -> None:
    if not may_issue(name):
        raise InvalidInput(
            f"a regulator's name must have 1–{REGULATOR_NAME_MAX} characters: it is the "
            "issued_by of the records its disposals and reviews create (API.md §3).",
            errors={"name": [f"at most {REGULATOR_NAME_MAX} characters for a regulator"]})


def create_token(ctx: ServiceContext, operator: str, *, role: str, name: str,
                 sectors: list[str] = (), uscc: str | None = None,
                 expires_at: datetime | None = None) -> tuple[int, str]:
    """Create a token and return ``(id, secret)``; the secret is never stored."""
    name, sectors, uscc = _checked(role, name, sectors, uscc)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow(write=True) as uow:
        at = uow.audit.next_at()
        token_id = uow.tokens.next_id()
        uow.tokens.add(TokenRow(
            id=token_id, name=name, role=role, sectors=",".join(sectors), uscc=uscc,
            secret_sha256=_hash(secret), created_at=format_instant(at),
            expires_at_us=to_micros(expires_at) if expires_at else None,
            audit_position=uow.audit.next_position()))
        uow.audit.append("token.created", operator,
                         {"token_id": token_id, "name": name, "role": role,
                          "sectors": sectors, "uscc": uscc,
                          "expires_at": format_instant(expires_at) if expires_at else None,
                          # A digest of the stored hash (never the hash itself, which
                          # authenticates nothing but need not be published): audit
                          # verify catches a token row whose secret was swapped.
                          "secret_digest": _hash(_hash(secret))},
                         at=at)
        uow.commit()
    return token_id, secret


def revoke_token(ctx: ServiceContext, operator: str, token_id: int) -> bool:
    """Revoke a token for good: True when this call revoked it, False when it already
    was (nothing is logged twice, and the operator is told so)."""
    with ctx.uow(write=True) as uow:
        row = uow.tokens.get(token_id)
        if row is None:
            raise InvalidInput(f"There is no token {token_id}.", errors={"id": ["unknown"]})
        if uow.tokens.is_revoked(token_id):
            return False
        uow.tokens.revoke(token_id, uow.audit.next_position())
        uow.audit.append("token.revoked", operator, {"token_id": token_id, "name": row.name})
        uow.commit()
    return True


def list_tokens(ctx: ServiceContext) -> list[dict]:
    """Every token without its secret."""
    with ctx.uow(write=False) as uow:
        revoked = uow.tokens.revoked_ids()
        now = to_micros(ctx.clock())
        return [{"id": t.id, "name": t.name, "role": t.role,
                 "sectors": [s for s in t.sectors.split(",") if s], "uscc": t.uscc,
                 "created_at": t.created_at, "revoked": t.id in revoked,
                 "expires_at": (format_instant(from_micros(t.expires_at_us))
                                if t.expires_at_us is not None else None),
                 "expired": expired_at(t.expires_at_us, now)}
                for t in uow.tokens.all()]


#: Verified tokens kept per process (the facts of a token row never change; only a
#: revocation, a row of its own, or the clock can end a token, and both are checked on
#: every request). Bounded so that a flood of distinct valid tokens cannot grow it.
TOKEN_CACHE_SIZE = 10_000


def authenticate(ctx: ServiceContext, secret: str | None, *,
                 defer_revocation: bool = False) -> Actor:
    """The actor behind a bearer secret, or Unauthenticated. Looks the token up by the
    hash of the secret and compares hashes in constant time.

    A token verified once is remembered (its immutable facts, by secret hash); expiry is
    checked against the clock and revocation against the database on every request, so
    a revocation takes effect at the next request. With ``defer_revocation`` a
    remembered token's revocation is left to the use case's own transaction
    (:func:`confirm_token`), saving a transaction per request; the actor then has
    ``confirmed=False``."""
    if not secret:
        auth_log.info("authentication failed: no bearer token")
        raise Unauthenticated("A bearer token is required (Authorization: Bearer <token>).")
    digest = _hash(secret)
    row = ctx.token_cache.get(digest)
    confirmed = not (row is not None and defer_revocation)
    if not confirmed:
        reason = _expired(ctx, row)
    elif row is not None:
        with ctx.uow(write=False) as uow:
            reason = _expired(ctx, row) or _revoked(uow, row)
    else:
        with ctx.uow(write=False) as uow:
            row = uow.tokens.by_secret_hash(digest)
            if row is None or not hmac.compare_digest(row.secret_sha256, digest):
                reason = "unknown token"
            else:
                reason = _revoked(uow, row) or _expired(ctx, row)
        if reason is None and len(ctx.token_cache) < TOKEN_CACHE_SIZE:
            ctx.token_cache[digest] = _facts(row)
    if reason is not None:
        auth_log.warning("authentication failed: %s (sha256 prefix %s)", reason, digest[:8])
        raise Unauthenticated("The bearer token is unknown, revoked or expired.")
    return actor_of(row, confirmed=confirmed)


def actor_of(row, *, confirmed: bool = True) -> Actor:
    """The actor a token row (or its remembered facts) stands for: the one place that
    turns a token into an Actor, so every field (its expiry too) reaches every caller."""
    return Actor(name=row.name, role=row.role, token_id=row.id,
                 sectors=frozenset(s for s in row.sectors.split(",") if s), uscc=row.uscc,
                 confirmed=confirmed, expires_at_us=row.expires_at_us)


class _Facts:
    __slots__ = ("id", "name", "role", "sectors", "uscc", "expires_at_us")

    def __init__(self, row):
        for f in self.__slots__:
            setattr(self, f, getattr(row, f))


def _facts(row) -> _Facts:
    return _Facts(row)


def _expired(ctx: ServiceContext, row) -> str | None:
    if expired_at(row.expires_at_us, to_micros(ctx.clock())):
        return f"token {row.id} expired"
    return None


def _revoked(uow, row) -> str | None:
    return f"token {row.id} is revoked" if uow.tokens.is_revoked(row.id) else None


def confirm_token(uow, actor: Actor) -> None:
    """Inside a use case's transaction: refuse an actor whose token's revocation was
    left to it (``confirmed=False``) and is revoked."""
    if not actor.confirmed and uow.tokens.is_revoked(actor.token_id):
        refuse_revoked(actor)


def confirm_under_lock(uow, actor: Actor) -> None:
    """Inside a write use case, with the append lock held: refuse (401) an actor whose
    token was revoked after its request authenticated — a request in flight when the
    revocation committed — so that no entry a token causes ever follows its
    ``token.revoked`` in the log; and one whose token has expired by the ``at`` the
    entry would get, so that none is stamped at or after its expiry. An operator at the
    command line has no token (id 0)."""
    if not actor.token_id:
        return
    if uow.tokens.is_revoked(actor.token_id):
        refuse_revoked(actor)
    confirm_alive_at(actor, uow.audit.next_at())


def confirm_alive_at(actor: Actor, at: datetime) -> None:
    """Refuse (401) an actor whose token will have expired by ``at``, the instant its
    entry is stamped: no entry a token causes is stamped at or after its expiry."""
    if expired_at(actor.expires_at_us, to_micros(at)):
        refuse_ended(actor)


@contextmanager
def write_as(ctx: ServiceContext, actor: Actor) -> Iterator:
    """The write unit of work of a use case acting for ``actor``: the append lock, then
    the actor's token confirmed under it (:func:`confirm_under_lock`), and every entry
    the use case appends refused (401, nothing written) if the token will have expired
    by its ``at``."""
    with ctx.uow(write=True) as uow:
        confirm_under_lock(uow, actor)
        if actor.token_id and actor.expires_at_us is not None:
            uow.audit.stamp_before(actor.expires_at_us, lambda: refuse_ended(actor))
        yield uow


def refuse_ended(actor: Actor) -> None:
    """401 for an actor whose token expired (or was revoked) while its request was in
    flight, before its entry could be appended."""
    auth_log.warning("authentication failed: token %s ended before its entry was appended",
                     actor.token_id)
    raise Unauthenticated("The bearer token is unknown, revoked or expired.")


def refuse_revoked(actor: Actor) -> None:
    """401 for an actor whose token turned out revoked inside the use case."""
    auth_log.warning("authentication failed: token %s is revoked", actor.token_id)
    raise Unauthenticated("The bearer token is unknown, revoked or expired.")


def actor_by_id(ctx: ServiceContext, token_id: int) -> Actor:
    """The actor behind a token id — what a console session stores instead of the
    secret — or Unauthenticated when the token is unknown, revoked or expired, so a
    revocation ends every session signed in with it at the next request."""
    with ctx.uow(write=False) as uow:
        return actor_in(ctx, uow, token_id)


def actor_in(ctx: ServiceContext, uow, token_id: int) -> Actor:
    """:func:`actor_by_id` inside an open unit of work."""
    row = uow.tokens.get(token_id) if isinstance(token_id, int) else None
    valid = (row is not None and not uow.tokens.is_revoked(row.id)
             and not expired_at(row.expires_at_us, to_micros(ctx.clock())))
    if not valid:
        raise Unauthenticated("The signed-in token is unknown, revoked or expired.")
    return actor_of(row)
