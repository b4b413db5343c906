"""Console sessions (api/console/access.py): who a session is, and ending one so that
its cookie is refused from then on, whoever replays it.

A session is named by a random id the console chose at sign-in; only its SHA-256 is
stored. Signing out appends the hash to ``ended_sessions`` (append-only, created by a
``session.ended`` audit entry carrying the row's hash, so ``audit verify`` notices a row
deleted to revive a session). Each console request asks :func:`session_actor`: one read
unit of work with the token look-up it always did plus one primary-key look-up.
"""

from __future__ import annotations

import hashlib

from credit.domain import canonical
from credit.errors import Unauthenticated
from credit.persistence.repositories import ended_session_facts
from credit.persistence.tables import EndedSessionRow

from .context import Actor, ServiceContext
from .tokens import actor_in, write_as


def session_sha256(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def session_actor(ctx: ServiceContext, token_id: int, session_id: str | None) -> Actor:
    """The actor of a live session; Unauthenticated when the session was signed out or
    its token is unknown, revoked or expired."""
    if not isinstance(session_id, str) or not session_id:
        raise Unauthenticated("The session has no id.")
    with ctx.uow(write=False) as uow:
        if uow.sessions.is_ended(session_sha256(session_id)):
            raise Unauthenticated("This console session was signed out.")
        return actor_in(ctx, uow, token_id)


def end_session(ctx: ServiceContext, actor: Actor, session_id: str) -> None:
    """Sign a session out for good (again is a no-op)."""
    digest = session_sha256(session_id)
    with write_as(ctx, actor) as uow:
        if uow.sessions.is_ended(digest):
            return
        row = uow.sessions.add(EndedSessionRow(session_sha256=digest,
                                               token_id=actor.token_id,
                                               audit_position=uow.audit.next_position()))
        uow.audit.append("session.ended", actor.name, {
            "token_id": actor.token_id, "session_sha256": digest,
            "sha256": canonical.digest(ended_session_facts(row))})
        uow.commit()
