"""The composition root: one database engine, the model registry and the clock, wired
into a :class:`ServiceContext`. Nothing happens at import time."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from credit.persistence.database import make_engine
from credit.persistence.uow import UnitOfWorkFactory, system_clock
from credit.settings import Settings
from scoring_models import default_registry

from .context import ServiceContext


def build_context(database_url: str | None = None, model: str | None = None,
                  clock: Callable[[], datetime] | None = None,
                  extra_model_dirs=(), settings: Settings | None = None) -> ServiceContext:
    """Context for the configured database and active model (``settings``, by default
    read from the environment); ``database_url`` and ``model`` override them."""
    settings = (settings or Settings.from_env()).with_(database_url=database_url, model=model)
    engine = make_engine(settings.database_url)
    clock = clock or system_clock
    registry = default_registry(settings.model, extra_dirs=extra_model_dirs)
    return ServiceContext(uow=UnitOfWorkFactory(engine, clock), models=registry, clock=clock,
                          settings=settings)
