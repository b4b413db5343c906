"""What every use case receives: how to open a unit of work, the models, the clock,
and who is acting."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Protocol

from credit.domain.dates import cst_date
from credit.errors import Forbidden, NotFound
from credit.settings import Settings

from .result_memo import ResultMemo

ROLES = ("regulator", "evaluator", "auditor", "admin", "enterprise", "platform", "tenderee")
# Roles bound to exactly one USCC: an enterprise sees its own file; a tenderee (招标人,
# PERFORMANCE.md §1) acts only on the tenders it tendered.
USCC_ROLES = ("enterprise", "tenderee")


class UnitOfWorkFactory(Protocol):  # pragma: no cover - structural type
    #: A served score's snapshot read and group append (persistence/served_scores.py).
    served_scores: object

    def __call__(self, *, write: bool): ...


@dataclass(frozen=True)
class Actor:
    """The caller: a token's name and role; a regulator's sectors; an enterprise's USCC.
    Operators using the CLI act under their own name with ``role='operator'``."""

    name: str
    role: str
    token_id: int = 0
    sectors: frozenset[str] = field(default_factory=frozenset)
    uscc: str | None = None
    #: False when the token's revocation is still to be checked inside the use case's
    #: own transaction (tokens.confirm_token; the score route, issue 10).
    confirmed: bool = True
    #: When the token expires (µs since the epoch; None: never), so that a request in
    #: flight when it expires appends nothing at or after that instant.
    expires_at_us: int | None = None


def require_own_subject(actor: Actor, uscc: str) -> None:
    """An enterprise token sees and acts on its own enterprise only: 403 ``forbidden``
    at check 10 of API.md §1 (after field validation and unknown ids)."""
    if actor.role == "enterprise" and actor.uscc != uscc:
        raise Forbidden("An enterprise token sees only its own enterprise.")


@dataclass
class ServiceContext:
    uow: UnitOfWorkFactory
    models: object  # scoring_models.ModelRegistry
    clock: Callable[[], datetime]
    settings: Settings = field(default_factory=lambda: Settings.from_env())
    _appender: object = field(default=None, init=False, repr=False, compare=False)
    #: Verified tokens' immutable facts by secret hash (services/tokens.py).
    token_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _appender_mutex: object = field(default_factory=threading.Lock, init=False,
                                    repr=False, compare=False)
    #: Served scores' trace payloads by their exact inputs — default scores and
    #: evaluations' bidders (services/result_memo.py).
    results: ResultMemo = field(default_factory=ResultMemo, init=False, repr=False,
                                compare=False)

    def appender(self):
        """The process's group appender of served-score traces (services/group_commit.py),
        created on first use — after gunicorn's fork, like the engine."""
        if self._appender is None:
            from .group_commit import GroupAppender
            with self._appender_mutex:
                if self._appender is None:
                    self._appender = GroupAppender(self.uow.served_scores.append)
        return self._appender

    def today(self) -> date:
        """Today in China Standard Time (the regulators' calendar)."""
        return cst_date(self.clock())

    def model(self, ref: str | None):
        """The named model (``id@version``) or the active one; NotFound when unknown."""
        if ref is None:
            return self.models.active
        try:
            return self.models.get(ref)
        except KeyError:
            raise NotFound(f"There is no model {ref}.") from None
