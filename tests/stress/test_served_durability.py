"""Issue 10 target: 16 concurrent clients for 60 s on PostgreSQL pulling scores from
``credit serve`` — 0 lost or duplicated acknowledged entries, the chain gap-free,
``audit verify`` ok — and the same with SIGKILLs of the whole server mid-run
(tests/served_durability.py). ``make stress`` only."""

from __future__ import annotations

import pytest

from tests import served_durability


def _postgresql(ctx) -> None:
    if ctx.uow.engine.dialect.name != "postgresql":
        pytest.skip("the 60 s target is on PostgreSQL")


@pytest.mark.slow
def test_sixteen_clients_sixty_seconds(ctx, database_url, tmp_path):
    _postgresql(ctx)
    out = served_durability.run(ctx, database_url, tmp_path / "srv", clients=16, seconds=60)
    print(f"16 clients, 60 s: {out}")


@pytest.mark.slow
def test_sixteen_clients_sixty_seconds_with_sigkills(ctx, database_url, tmp_path):
    _postgresql(ctx)
    out = served_durability.run(ctx, database_url, tmp_path / "srv", clients=16, seconds=60,
                                kills=3)
    print(f"16 clients, 60 s, 3 SIGKILLs: {out}")
