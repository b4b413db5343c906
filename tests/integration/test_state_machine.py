"""A Hypothesis state machine of the registry against an in-memory model.

Rules: create a record (penalties, awards, an explicit-validity bid ban, deliberate
duplicates), revoke (own and foreign sector), repair (too early, too late, not
repairable, already repaired or revoked), score (now, in the past with an explicit
``known_at``, projected), evaluate, let time pass, verify.

Properties checked on every trace of every run:

* the registry agrees with the model: ids, statuses, refusals and their error codes;
* every served score's trace replays (``verify_trace``) — also after later writes — and
  asking again with the same ``as_of`` and ``known_at`` gives the same result;
* evaluations never change: ``get_evaluation`` returns the creation bytes forever;
* the chain always verifies;
* a bad-conduct record never raises a score, in any sector, today or projected.

SQLite runs more examples (a fresh file per example, copied from the migrated
template); PostgreSQL a few (a fresh database per example).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from credit.domain.dates import earliest_repair_on, latest_explicit_valid_until
from credit.errors import Conflict, Forbidden, RuleViolation
from credit.services.audit import verify_chain, verify_trace
from credit.services.bootstrap import build_context
from credit.services.context import Actor
from credit.services.records import create_record, get_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, get_evaluation, score
from tests.conftest import FakeClock
from tests.live_server import make_uscc, record_body

SECTORS = ("housing", "transport", "water")
USCCS = tuple(make_uscc(n) for n in (101, 102, 103))
BAD_CODES = ("BID-NOSIGN", "SITE-PM-ABSENT", "SAFE-ACC-LARGER", "QUAL-LEND",
             "WAGE-BLACKLIST", "SUB-ILLEGAL", "BID-FRAUD")
GOOD_CODES = ("AWARD-NATIONAL", "AWARD-CITY", "COMMEND-EMERGENCY", "SITE-STANDARD-CITY")
EXPLICIT = "BID-BAN"
DOCS = ("绍柯罚〔2026〕1号", "绍柯罚〔2026〕2号", "绍柯奖〔2026〕3号")
RESULT_FIELDS = ("score", "components", "grade", "eligible_to_bid", "bid_points",
                 "inspection_multiplier", "measures", "reasons", "name", "known_at")
EVALUATOR = Actor("柯桥区评标系统", "evaluator", token_id=50)
AUDITOR = Actor("审计", "auditor", token_id=51)


def regulator(sector: str) -> Actor:
    return Actor(f"{sector} 监管", "regulator", token_id=60 + SECTORS.index(sector),
                 sectors=frozenset([sector]))


@dataclass
class ModelRecord:
    id: int
    uscc: str
    sector: str
    code: str
    document_no: str
    decided_on: date
    original_valid_until: date
    status: str = "active"


class RegistryMachine(RuleBasedStateMachine):
    """Subclassed per backend with ``new_database`` / ``drop_database``."""

    records = Bundle("records")
    traces = Bundle("traces")

    def __init__(self):
        super().__init__()
        self.clock = FakeClock(datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc))
        self.url = self.new_database()
        self.ctx = build_context(self.url, clock=self.clock)
        self.model_records: dict[int, ModelRecord] = {}
        self.next_id = 1
        self.evaluations: dict[int, str] = {}
        self.trace_ids: list[int] = []
        self.catalogue = self.ctx.models.active.catalogue

    def teardown(self):
        try:
            self.check_everything()
        finally:
            self.ctx.uow.engine.dispose()
            self.drop_database(self.url)

    # ------------------------------------------------------------ helpers

    def today(self) -> date:
        return self.ctx.today()

    def scores(self, uscc: str, as_of: date) -> dict[str, Decimal]:
        out = {}
        for sector in SECTORS:
            body = score(self.ctx, EVALUATOR, ScoreQuery(uscc, sector, as_of))
            self.trace_ids.append(body["trace_id"])
            out[sector] = Decimal(body["score"])
        return out

    def live_duplicate(self, uscc, code, doc) -> ModelRecord | None:
        return next((r for r in self.model_records.values()
                     if (r.uscc, r.code, r.document_no) == (uscc, code, doc)
                     and r.status != "revoked"), None)

    def check_everything(self):
        result = verify_chain(self.ctx)
        assert result["ok"], result
        for trace_id in self.trace_ids[-40:]:
            v = verify_trace(self.ctx, trace_id)
            assert v["ok"], (trace_id, v)
        for evaluation_id, body in self.evaluations.items():
            assert get_evaluation(self.ctx, AUDITOR, evaluation_id) == body
        for r in self.model_records.values():
            got = get_record(self.ctx, AUDITOR, r.id)
            assert (got["status"], got["uscc"], got["code"]) == (r.status, r.uscc, r.code)

    # ------------------------------------------------------------ rules

    @rule(target=records, uscc=st.sampled_from(USCCS), sector=st.sampled_from(SECTORS),
          code=st.sampled_from(BAD_CODES + GOOD_CODES + (EXPLICIT,)),
          doc=st.sampled_from(DOCS), days_ago=st.integers(0, 800),
          validity_days=st.integers(0, 1200))
    def create(self, uscc, sector, code, doc, days_ago, validity_days):
        decided = self.today() - timedelta(days=days_ago)
        body = record_body(uscc, doc, sector=sector, code=code,
                           decided_on=decided.isoformat())
        entry = self.catalogue[code]
        if entry.explicit:
            latest = latest_explicit_valid_until(decided, entry.explicit_max_months)
            body["valid_until"] = min(decided + timedelta(days=validity_days),
                                      latest).isoformat()
        bad = entry.category != "good"
        horizons = (self.today(), self.today() + timedelta(days=200))
        before = {h: self.scores(uscc, h) for h in horizons} if bad else None
        dup = self.live_duplicate(uscc, code, doc)
        try:
            created = json.loads(create_record(self.ctx, regulator(sector), body).body)
        except Conflict as exc:
            assert dup is not None, exc.message
            assert exc.error == "duplicate_record"
            return multiple()
        assert dup is None, f"duplicate of record {dup.id} accepted"
        assert created["id"] == self.next_id
        assert created["status"] == "active"
        self.next_id += 1
        r = ModelRecord(created["id"], uscc, sector, code, doc, decided,
                        date.fromisoformat(created["original_valid_until"]))
        self.model_records[r.id] = r
        if bad:
            for h in horizons:
                after = self.scores(uscc, h)
                for s in SECTORS:
                    assert after[s] <= before[h][s], (
                        f"{code} in {sector} raised the {s} score on {h}: "
                        f"{before[h][s]} → {after[s]}")
        return r.id

    @rule(record_id=records, foreign=st.booleans())
    def revoke(self, record_id, foreign):
        r = self.model_records[record_id]
        sector = r.sector if not foreign else SECTORS[(SECTORS.index(r.sector) + 1) % 3]
        body = {"document_no": "绍柯撤〔2026〕1号", "reason": "行政复议撤销"}
        try:
            got = revoke_record(self.ctx, regulator(sector), record_id, body)
        except Forbidden as exc:
            assert foreign and exc.error == "sector_forbidden"
            return
        except Conflict as exc:
            assert not foreign and r.status == "revoked" and exc.error == "already_revoked"
            return
        assert not foreign and r.status != "revoked"
        assert got["status"] == "revoked"
        r.status = "revoked"

    @rule(record_id=records, days_ago=st.integers(0, 700))
    def repair(self, record_id, days_ago):
        r = self.model_records[record_id]
        entry = self.catalogue[r.code]
        repaired_on = self.today() - timedelta(days=days_ago)
        if r.status == "revoked":
            expected = "already_revoked"
        elif r.status == "repaired":
            expected = "already_repaired"
        elif not entry.repairable:
            expected = "not_repairable"
        elif repaired_on < earliest_repair_on(r.decided_on, entry.repair_min_months):
            expected = "repair_too_early"
        elif repaired_on > r.original_valid_until:
            expected = "repair_after_expiry"
        else:
            expected = None
        body = {"repaired_on": repaired_on.isoformat(), "document_no": "绍柯修〔2026〕1号",
                "reason": "已完成整改"}
        try:
            got = repair_record(self.ctx, regulator(r.sector), record_id, body)
        except (Conflict, RuleViolation) as exc:
            assert exc.error == expected, (exc.error, expected, exc.message)
            return
        assert expected is None, f"expected {expected}"
        assert got["status"] == "repaired"
        assert got["repaired_on"] == repaired_on.isoformat()
        r.status = "repaired"

    @rule(target=traces, uscc=st.sampled_from(USCCS), sector=st.sampled_from(SECTORS),
          offset=st.integers(-500, 400))
    def serve_score(self, uscc, sector, offset):
        as_of = self.today() + timedelta(days=offset)
        body = score(self.ctx, EVALUATOR, ScoreQuery(uscc, sector, as_of))
        self.trace_ids.append(body["trace_id"])
        v = verify_trace(self.ctx, body["trace_id"])
        assert v["ok"], v
        return body

    @rule(earlier=traces)
    def ask_again_as_known_then(self, earlier):
        """The same question with the same known_at has the same answer, whatever was
        recorded since (bitemporal reproducibility), and the old trace still replays."""
        q = ScoreQuery(earlier["uscc"], earlier["sector"],
                       date.fromisoformat(earlier["as_of"]),
                       known_at=datetime.fromisoformat(earlier["known_at"]))
        again = score(self.ctx, EVALUATOR, q)
        self.trace_ids.append(again["trace_id"])
        for f in RESULT_FIELDS:
            assert again[f] == earlier[f], (f, earlier[f], again[f])
        assert verify_trace(self.ctx, earlier["trace_id"])["ok"]

    @rule(bidders=st.lists(st.sampled_from(USCCS), min_size=1, max_size=3, unique=True),
          consortium=st.booleans(), sector=st.sampled_from(SECTORS),
          offset=st.integers(-30, 30))
    def evaluate(self, bidders, consortium, sector, offset):
        items = ([{"consortium": bidders}] if consortium and len(bidders) >= 2
                 else [{"uscc": u} for u in bidders])
        outcome = create_evaluation(self.ctx, EVALUATOR, {
            "tender": {"code": f"KQ-{len(self.evaluations) + 1:04d}", "name": "测试工程"},
            "sector": sector, "as_of": (self.today() + timedelta(days=offset)).isoformat(),
            "bidders": items})
        doc = json.loads(outcome.body)
        self.evaluations[doc["id"]] = outcome.body
        for result in doc["results"]:
            for member in result["members"]:
                self.trace_ids.append(member["trace_id"])
        assert get_evaluation(self.ctx, EVALUATOR, doc["id"]) == outcome.body

    @rule(days=st.integers(1, 120))
    def time_passes(self, days):
        self.clock.advance(days=days)

    @rule()
    def verify(self):
        self.check_everything()

    @invariant()
    def evaluations_never_change(self):
        for evaluation_id, body in list(self.evaluations.items())[-3:]:
            assert get_evaluation(self.ctx, AUDITOR, evaluation_id) == body


SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck),
                stateful_step_count=25)


def test_registry_state_machine_sqlite(_sqlite_template, tmp_path):
    class SqliteMachine(RegistryMachine):
        def new_database(self):
            path = tmp_path / f"sm-{uuid.uuid4().hex[:10]}.db"
            shutil.copyfile(_sqlite_template, path)
            return f"sqlite:///{path}"

        def drop_database(self, url):
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.remove(path + suffix)
                except FileNotFoundError:
                    pass

    run_state_machine_as_test(SqliteMachine, settings=settings(max_examples=25, **SETTINGS))


def test_registry_state_machine_postgresql(_pg_template):
    from tests.conftest import _pg_admin_engine, _pg_url
    admin = _pg_admin_engine()

    class PgMachine(RegistryMachine):
        def new_database(self):
            name = f"credit_sm_{uuid.uuid4().hex[:12]}"
            with admin.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
            return _pg_url(name)

        def drop_database(self, url):
            name = url.rsplit("/", 1)[1]
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        run_state_machine_as_test(PgMachine, settings=settings(max_examples=5, **SETTINGS))
    finally:
        admin.dispose()


def test_machine_notices_a_broken_invariant(_sqlite_template, tmp_path):
    """The checks are not vacuous: a registry that disagrees with the model is caught."""

    class Probe(RegistryMachine):
        def new_database(self):
            path = tmp_path / f"probe-{uuid.uuid4().hex[:10]}.db"
            shutil.copyfile(_sqlite_template, path)
            return f"sqlite:///{path}"

        def drop_database(self, url):
            pass

    m = Probe()
    try:
        rid = m.create(USCCS[0], "housing", "BID-NOSIGN", DOCS[0], 10, 0)
        m.check_everything()
        m.model_records[rid].status = "revoked"  # the model believes it; the registry not
        with pytest.raises(AssertionError):
            m.check_everything()
    finally:
        m.ctx.uow.engine.dispose()
