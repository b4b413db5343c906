"""PostgreSQL's ``audit_append_served`` (migration 0010) writes exactly the entry
Python's append would write: the same ``position``, ``at`` (its text and microseconds),
text and hash, for actors and payloads that need escaping and for instants on every
boundary of the ``at``'s text, and for the first entry of an empty chain (linked to the
genesis hash); it refuses a revoked or expired token's entry, the expiry held to the
``at`` it would write, and a clock behind the head gives the head's ``at`` + 1 µs
(audit_log.next_instant)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from credit.domain import canonical
from credit.domain.dates import format_instant, from_micros, to_micros
from credit.domain.token_expiry import expired_at
from credit.persistence.audit_log import GENESIS, entry_text
from credit.persistence.served_scores import PendingEntry, ServedScoreStore
from credit.services.audit import verify_chain
from credit.services.tokens import revoke_token

from .helpers import all_entries
from .test_served_scores import create, postgresql_only, token_actor

UTC = timezone.utc

# Instants whose text has a boundary in it: a day, a month, a year and a leap day
# changing in China Standard Time (UTC+8) but not in UTC, the microseconds at 0 and at
# 999,999, and an instant far ahead.
INSTANTS = [
    datetime(2026, 6, 1, 2, 0, 0, 123456, UTC),
    datetime(2026, 6, 30, 15, 59, 59, 999999, UTC),
    datetime(2026, 6, 30, 16, 0, 0, 0, UTC),
    datetime(2026, 12, 31, 16, 0, 0, 1, UTC),
    datetime(2028, 2, 28, 16, 0, 0, 500000, UTC),
    datetime(2099, 12, 31, 23, 59, 59, 999999, UTC),
]
ACTORS = ["评标系统", 'a "quoted"\\ actor\n', "\u2028行分隔符", "token:1"]
PAYLOADS = [{"n": 1}, {"名称": "绍兴柯桥\u2028建工\"集团\"\\", "v": [None, True, -15, "0.50"]}]


class _Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _expected(before, e: PendingEntry, at: datetime) -> tuple[str, str]:
    text = entry_text(before[0] + 1, e.kind, format_instant(at), e.actor, e.payload_text,
                      before[2])
    return text, canonical.sha256_hex(text)


@pytest.fixture
def store(ctx):
    postgresql_only(ctx)
    create(ctx)
    return ServedScoreStore(ctx.uow.engine, _Clock(INSTANTS[0]))


def head(ctx) -> tuple[int, int, str]:
    """The newest entry's (position, at_us, sha256)."""
    from sqlalchemy import text
    with ctx.uow.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT position, at_us, sha256 FROM audit_entries "
            "ORDER BY position DESC LIMIT 1")).one())


def _stored(ctx, position: int) -> tuple[str, str, int]:
    from sqlalchemy import text
    with ctx.uow.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT text, sha256, at_us FROM audit_entries WHERE position = :p"),
            {"p": position}).one())


@pytest.mark.parametrize("at", INSTANTS)
@pytest.mark.parametrize("actor", ACTORS)
def test_the_function_writes_python_s_entry(ctx, store, at, actor):
    payload = canonical.dumps(PAYLOADS[len(actor) % 2])
    e = PendingEntry("test.served", actor, payload, None)
    before = head(ctx)
    store.clock.now = max(at, from_micros(before[1]) + timedelta(microseconds=1))
    [result] = store.append([e])
    text, sha = _expected(before, e, store.clock.now)
    assert result == (before[0] + 1, format_instant(store.clock.now), sha)
    assert _stored(ctx, before[0] + 1) == (text, sha, to_micros(store.clock.now))
    assert verify_chain(ctx)["ok"] is True


def test_a_clock_behind_the_head_gives_the_head_s_at_plus_one_microsecond(ctx, store):
    before = head(ctx)
    store.clock.now = from_micros(before[1]) - timedelta(hours=1)
    e = PendingEntry("test.clock", "op", '{"n":1}', None)
    [result] = store.append([e])
    at = from_micros(before[1] + 1)
    assert result == (before[0] + 1, format_instant(at), _expected(before, e, at)[1])
    assert all_entries(ctx)[-1]["at"] == format_instant(at)


def test_a_revoked_or_expired_token_s_entry_is_not_written(ctx, store):
    actor = token_actor(ctx, "评标系统丙")
    before = head(ctx)
    at_us = max(to_micros(INSTANTS[0]), before[1] + 1)
    store.clock.now = from_micros(at_us)
    expired = PendingEntry("test.t", "x", "{}", None, actor.token_id, expires_at_us=at_us)
    assert store.append([expired]) == [None] and head(ctx) == before
    alive = PendingEntry("test.t", "x", "{}", None, actor.token_id, at_us + 1)
    assert store.append([alive])[0][0] == before[0] + 1
    revoke_token(ctx, "安全管理员", actor.token_id)
    after = head(ctx)
    store.clock.now = from_micros(after[1] + 1)
    no_expiry = PendingEntry("test.t", "x", "{}", None, actor.token_id)
    assert store.append([no_expiry]) == [None] and head(ctx) == after
    assert verify_chain(ctx)["ok"] is True


@pytest.mark.parametrize("at", [
    INSTANTS[0],
    datetime(1969, 12, 31, 23, 59, 59, 999999, UTC),  # −1 µs: the fraction's sign
    datetime(1969, 12, 31, 23, 59, 58, 500000, UTC),  # −1.5 s
], ids=["2026", "epoch-1us", "epoch-1.5s"])
def test_the_first_entry_of_an_empty_chain_follows_the_genesis(ctx, at):
    """No head (PL/pgSQL's SELECT INTO found no row): position 1, ``at`` = now, linked
    to the genesis hash, byte for byte Python's."""
    postgresql_only(ctx)
    store = ServedScoreStore(ctx.uow.engine, _Clock(at))
    e = PendingEntry("test.genesis", "评标系统", '{"n":1}', None)
    [result] = store.append([e])
    text = entry_text(1, e.kind, format_instant(at), e.actor, e.payload_text, GENESIS)
    assert result == (1, format_instant(at), canonical.sha256_hex(text))
    assert _stored(ctx, 1) == (text, canonical.sha256_hex(text), to_micros(at))


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_the_append_s_expiry_rule_is_the_domain_s(ctx, store, offset):
    """The one-call function's SQL states the expiry comparison again; it refuses an
    entry exactly when ``token_expiry.expired_at`` says its token has ended by the
    ``at`` the entry would get (a microsecond before, at and after that instant)."""
    actor = token_actor(ctx, "评标系统戊")
    before = head(ctx)
    store.clock.now = from_micros(before[1]) - timedelta(hours=1)  # ``at`` = head + 1 µs
    at_us = before[1] + 1
    entry = PendingEntry("test.t", "x", "{}", None, actor.token_id,
                         expires_at_us=at_us + offset)
    [result] = store.append([entry])
    assert (result is None) == expired_at(at_us + offset, at_us)
    assert head(ctx)[0] == before[0] + (result is not None)


def test_the_expiry_is_held_to_the_at_written_not_to_the_clock(ctx, store):
    """A clock behind the head: the entry would be stamped at the head's ``at`` + 1 µs,
    later than now. A token expiring at that instant writes nothing, though it has not
    expired by the clock; one expiring a microsecond later is written."""
    actor = token_actor(ctx, "评标系统丁")
    before = head(ctx)
    store.clock.now = from_micros(before[1]) - timedelta(hours=1)
    at_us = before[1] + 1
    ending = PendingEntry("test.t", "x", "{}", None, actor.token_id, expires_at_us=at_us)
    assert store.append([ending]) == [None] and head(ctx) == before
    later = PendingEntry("test.t", "x", "{}", None, actor.token_id, at_us + 1)
    [result] = store.append([later])
    assert result[:2] == (before[0] + 1, format_instant(from_micros(at_us)))
    assert head(ctx)[:2] == (before[0] + 1, at_us)
    assert verify_chain(ctx)["ok"] is True
