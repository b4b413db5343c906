"""The composition root: one database engine, the model registry and the clock, wired
into a :class:`ServiceContext`. Nothing happens at import time."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Callable

from credit.persistence.database import make_engine
from credit.persistence.uow import UnitOfWorkFactory, system_clock
from scoring_models import default_registry

from .context import ServiceContext


def build_context(database_url: str | None = None, model: str | None = None,
                  clock: Callable[[], datetime] | None = None,
                  extra_model_dirs=()) -> ServiceContext:
    """Context for the configured database (``CREDIT_DATABASE_URL``) and active model
    (``CREDIT_MODEL``)."""
    engine = make_engine(database_url)
    clock = clock or system_clock
    registry = default_registry(model or os.environ.get("CREDIT_MODEL") or "keqiao-2025@1",
                                extra_dirs=extra_model_dirs)
    return ServiceContext(uow=UnitOfWorkFactory(engine, clock), models=registry, clock=clock)
