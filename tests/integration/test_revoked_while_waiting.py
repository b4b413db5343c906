"""h51 review: a revocation that holds the append lock while a request of its token
waits for it (the race the change is about, made deterministic)."""

from __future__ import annotations

import pytest

from credit.errors import Unauthenticated
from credit.services.audit import verify_chain
from credit.services.records import create_record
from credit.services.scoring import ScoreQuery, score

from .helpers import S1, all_entries, head, record_body
from .test_served_scores import (
    AS_OF,
    ONE_CALL,
    WAIT,
    create,
    in_thread,
    postgresql_only,
    token_actor,
    until,
    waiting_for_the_append_lock,
)


def _revoke_in(uow, token_id: int) -> None:
    """revoke_token's writes, in a unit of work the test commits itself."""
    row = uow.tokens.get(token_id)
    uow.tokens.revoke(token_id, uow.audit.next_position())
    uow.audit.append("token.revoked", "安全管理员", {"token_id": token_id, "name": row.name})


def test_postgresql_a_call_waiting_for_the_lock_the_revocation_holds(ctx):
    """The one call (served_scores.py) starts before the revocation commits and waits
    for the lock it holds; once the revocation commits, the call looks the token up
    under the lock and writes nothing: the score is refused (module docstring of
    served_scores.py, "A token revoked in flight")."""
    postgresql_only(ctx)
    create(ctx)
    actor = token_actor(ctx)
    with ctx.uow(write=True) as revoker:
        _revoke_in(revoker, actor.token_id)
        t, out = in_thread(score, ctx, actor, ScoreQuery(S1, "housing", AS_OF))
        until(lambda: waiting_for_the_append_lock(ctx, ONE_CALL))
        revoker.commit()
    t.join(timeout=WAIT)
    assert isinstance(out.get("error"), Unauthenticated), out
    assert all_entries(ctx)[-1]["kind"] == "token.revoked"
    assert verify_chain(ctx)["ok"] is True


@pytest.mark.parametrize("use_case", ["create_record", "score_known_at_now"])
def test_a_write_waiting_for_the_lock_the_revocation_holds_is_refused(ctx, use_case):
    """A write use case of a token waits in write_as for the append lock while the
    token's revocation holds it: once the revocation commits, it answers 401 and writes
    nothing (on SQLite the append queue, on PostgreSQL the advisory lock)."""
    from datetime import timedelta
    create(ctx)
    actor = token_actor(ctx, "住建局乙")
    from dataclasses import replace
    if use_case == "create_record":
        actor = replace(actor, role="regulator", sectors=frozenset(["housing"]))
        call = (create_record, ctx, actor, record_body(document_no="甲〔2026〕9号"))
    else:  # a known_at of now: computed under the lock (scoring.serve_under_lock)
        known = ctx.clock() + timedelta(milliseconds=900)
        call = (score, ctx, actor, ScoreQuery(S1, "housing", AS_OF, known_at=known))
    with ctx.uow(write=True) as revoker:
        _revoke_in(revoker, actor.token_id)
        t, out = in_thread(*call)
        t.join(timeout=0.5)
        assert t.is_alive() and not out
        revoker.commit()
    t.join(timeout=WAIT)
    assert isinstance(out.get("error"), Unauthenticated), out
    assert all_entries(ctx)[-1]["kind"] == "token.revoked"
    assert verify_chain(ctx)["ok"] is True


def test_a_batch_of_refused_entries_and_entries_without_a_token(ctx):
    """Several entries of one revoked token (all refused: no INSERT, head unchanged), and
    one without a token among them (written, linked to the head)."""
    from credit.persistence.served_scores import PendingEntry
    from credit.services.tokens import revoke_token
    create(ctx)
    gone = token_actor(ctx, "评标系统戊")
    revoke_token(ctx, "安全管理员", gone.token_id)
    store, before = ctx.uow.served_scores, head(ctx)[0]
    refused = [PendingEntry("test.batch", "x", f'{{"n":{i}}}', None, gone.token_id)
               for i in range(3)]
    assert store.append(refused) == [None, None, None] and head(ctx)[0] == before
    mixed = [refused[0], PendingEntry("test.batch", "op", '{"n":9}', None, None), refused[1]]
    results = store.append(mixed)
    assert [r and r[0] for r in results] == [None, before + 1, None]
    assert all_entries(ctx)[-1]["payload"] == {"n": 9}
    assert verify_chain(ctx)["ok"] is True
