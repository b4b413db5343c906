"""The composition root: one database engine, the model registry and the clock, wired
into a :class:`ServiceContext`. Nothing happens at import time."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from credit.persistence.database import make_engine, normalise_url, parse_url
from credit.persistence.uow import UnitOfWorkFactory, system_clock
from credit.settings import ConfigurationError, Settings
from scoring_models import ModelError, default_registry

from .context import ServiceContext


def build_context(database_url: str | None = None, model: str | None = None,
                  clock: Callable[[], datetime] | None = None,
                  extra_model_dirs=(), settings: Settings | None = None) -> ServiceContext:
    """Context for the configured database and active model (``settings``, by default
    read from the environment); ``database_url`` and ``model`` override them."""
    settings = (settings or Settings.from_env()).with_(database_url=database_url, model=model)
    registry = _registry(settings, extra_model_dirs)
    engine = make_engine(settings.database_url)
    clock = clock or system_clock
    return ServiceContext(uow=UnitOfWorkFactory(engine, clock), models=registry, clock=clock,
                          settings=settings)


def _registry(settings: Settings, extra_model_dirs=()):
    try:
        return default_registry(settings.model, extra_dirs=extra_model_dirs)
    except ModelError as exc:
        raise ConfigurationError(f"the scoring model cannot be used (CREDIT_MODEL="
                                 f"{settings.model!r}): {exc}") from None


def check_settings(settings: Settings) -> None:
    """ConfigurationError when the database URL or the active model cannot be used,
    without connecting: ``credit serve`` checks this before it starts workers, each of
    which would otherwise fail to boot with a traceback."""
    _registry(settings)
    parse_url(normalise_url(settings.database_url))
