"""Issue 10, short: 8 clients pulling scores from a real ``credit serve`` for a few
seconds, one SIGKILL of the whole server in the middle: no acknowledged trace lost or
duplicated, positions gap-free, the chain verifies (tests/served_durability.py).
``make stress`` runs 16 clients for 60 s on PostgreSQL, with and without kills."""

from __future__ import annotations

from tests import served_durability


def test_no_acknowledged_trace_is_lost_across_a_sigkill(ctx, database_url, tmp_path):
    out = served_durability.run(ctx, database_url, tmp_path / "srv", clients=8, seconds=4,
                                kills=1)
    assert out["acknowledged"] >= 10, out
    print(f"served durability[{ctx.uow.engine.dialect.name}]: {out}")
