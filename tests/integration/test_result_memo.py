"""Scores served from the per-process memo of trace payloads (services/result_memo.py),
on SQLite and PostgreSQL: a subject scored again before its history changes — a default
score, or a bidder of another evaluation — is not computed again, yet its trace names
its own knowledge and replays exactly; a new record, a revocation, another ``as_of`` or
another sector is computed afresh."""

from __future__ import annotations

import json
import random
import threading
from datetime import date

import pytest
from sqlalchemy import select

from credit import canonical_text
from credit.domain.dates import parse_instant
from credit.domain.records import Knowledge
from credit.domain.trace import trace_payload
from credit.errors import CreditError
from credit.persistence.audit_log import entry_text
from credit.persistence.history_rows import NO_HISTORY, NO_ROWS
from credit.persistence.repositories import RecordRepository
from credit.persistence.served_scores import ServedScoreStore
from credit.persistence.tables import AuditEntryRow, EvaluationRow, RecordEventRow, RecordRow
from credit.services.audit import verify_chain, verify_trace
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, create_evaluation, score, score_as_known

from .helpers import (
    EVALUATOR,
    EVALUATOR_2,
    HOUSING,
    S1,
    S2,
    S3,
    Computations,
    entry,
    head,
    make_uscc,
    record_body,
    repair_body,
    revocation_body,
)

AS_OF = date(2026, 6, 30)


def create(ctx, **overrides) -> dict:
    return json.loads(create_record(ctx, HOUSING, record_body(**overrides)).body)


def test_a_subject_scored_again_is_not_computed_again_and_replays(ctx, clock, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    first = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    clock.advance(minutes=1)
    second = score(ctx, EVALUATOR_2, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 1, "the second score came from the memo"

    trace = entry(ctx, second["trace_id"])["payload"]
    assert trace["knowledge_position"] == first["trace_id"], "the head the second read"
    assert trace["known_at"] == second["known_at"] == entry(ctx, first["trace_id"])["at"]
    assert trace["token_id"] == EVALUATOR_2.token_id
    assert second["known_at"] != first["known_at"]
    assert {k: v for k, v in second.items() if k not in ("known_at", "trace_id",
                                                        "trace_sha256")} == \
        {k: v for k, v in first.items() if k not in ("known_at", "trace_id", "trace_sha256")}
    # the replay recomputes at the trace's own knowledge: byte for byte the same payload
    assert verify_trace(ctx, first["trace_id"])["ok"] is True
    assert verify_trace(ctx, second["trace_id"])["ok"] is True
    assert verify_chain(ctx)["ok"] is True


def test_a_new_record_or_a_revocation_is_computed_afresh(ctx, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    before = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    rec = create(ctx, code="SAFE-ACC-LARGER", document_no="绍柯建罚〔2026〕77号")
    after = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 2 and after["score"] != before["score"]
    revoke_record(ctx, HOUSING, rec["id"], {"document_no": "撤〔2026〕1号",
                                            "reason": "复议撤销"})
    revoked = score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 3 and revoked["score"] == before["score"]
    for body in (before, after, revoked):
        assert verify_trace(ctx, body["trace_id"])["ok"] is True


def test_another_as_of_or_sector_is_computed_afresh(ctx, monkeypatch):
    create(ctx)
    computed = Computations(monkeypatch)
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", date(2027, 6, 30)))
    score(ctx, EVALUATOR, ScoreQuery(S1, "transport", AS_OF))
    assert computed.done == 3
    score(ctx, EVALUATOR, ScoreQuery(S1, "transport", AS_OF))
    assert computed.done == 3
    assert head(ctx)[0] >= 5 and verify_chain(ctx)["ok"] is True


def evaluate_tender(ctx, code: str, bidders: list[dict]) -> dict:
    return json.loads(create_evaluation(ctx, EVALUATOR, {
        "tender": {"code": code, "name": "标段"}, "sector": "housing",
        "as_of": "2026-06-30", "bidders": bidders}).body)


def test_a_bidder_scored_before_either_way_is_not_computed_again(ctx, clock, monkeypatch):
    """A bidder's score is remembered by its inputs whoever asked: a default score
    before the opening spares the evaluation its computation, an evaluation spares the
    next evaluation and a later default score theirs."""
    s2, s3 = make_uscc(2), make_uscc(3)
    create(ctx)
    create(ctx, uscc=s2, code="SAFE-ACC-LARGER", document_no="绍柯建罚〔2026〕21号")
    computed = Computations(monkeypatch)
    score(ctx, EVALUATOR, ScoreQuery(s2, "housing", AS_OF))  # a bidder checks its score
    assert computed.done == 1
    clock.advance(minutes=1)
    first = evaluate_tender(ctx, "KQ-1", [{"uscc": S1}, {"consortium": [s2, s3]}])
    assert computed.done == 3, "S1 and s3 computed, s2 remembered"
    clock.advance(minutes=1)
    later = score(ctx, EVALUATOR_2, ScoreQuery(S1, "housing", AS_OF))
    assert computed.done == 3, "S1 remembered from the evaluation"
    create(ctx, uscc=s3, document_no="绍柯建罚〔2026〕31号")  # s3's history changes
    clock.advance(minutes=1)
    second = evaluate_tender(ctx, "KQ-2", [{"consortium": [s3, s2]}, {"uscc": S1}])
    assert computed.done == 4, "only s3 computed again"
    trace = entry(ctx, later["trace_id"])["payload"]  # (a replay computes: checked last)
    assert "evaluation" not in trace and trace["token_id"] == EVALUATOR_2.token_id
    assert verify_trace(ctx, later["trace_id"])["ok"] is True

    def by_bidder(doc):
        return {json.dumps(r["bidder"], sort_keys=True): r for r in doc["results"]}
    a, b = by_bidder(first), by_bidder(second)
    assert a['{"uscc": "%s"}' % S1]["score"] == b['{"uscc": "%s"}' % S1]["score"]
    assert second["known_at"] != first["known_at"]
    for doc in (first, second):
        for result in doc["results"]:
            for member in result["members"]:
                trace = entry(ctx, member["trace_id"])["payload"]
                assert trace["known_at"] == doc["known_at"] == member["known_at"]
                assert trace["evaluation"]["id"] == doc["id"]
                assert verify_trace(ctx, member["trace_id"])["ok"] is True
    assert_fresh(ctx, served_rows(ctx))
    assert verify_chain(ctx)["ok"] is True


def test_only_what_the_memo_does_not_hold_has_its_rows_read(ctx, clock, monkeypatch):
    """The memo keys on the rows' hashes; the rows themselves are read only for a score
    it does not hold: once per default score that misses, and once per evaluation for
    every bidder it misses, none for one it answers whole."""
    s2, s3 = make_uscc(2), make_uscc(3)
    create(ctx)
    create(ctx, uscc=s2, code="SAFE-ACC-LARGER", document_no="绍柯建罚〔2026〕21号")
    reads: list[tuple[str, ...]] = []
    at_head, many = ServedScoreStore.history_at, RecordRepository.histories
    monkeypatch.setattr(ServedScoreStore, "history_at", lambda self, uscc, position: (
        reads.append((uscc,)), at_head(self, uscc, position))[1])
    monkeypatch.setattr(RecordRepository, "histories", lambda self, usccs, position: (
        reads.append(tuple(usccs)), many(self, usccs, position))[1])
    score(ctx, EVALUATOR, ScoreQuery(s2, "housing", AS_OF))
    score(ctx, EVALUATOR, ScoreQuery(s2, "housing", AS_OF))
    assert reads == [(s2,)], "read for the miss only"
    clock.advance(minutes=1)
    evaluate_tender(ctx, "KQ-1", [{"uscc": S1}, {"consortium": [s2, s3]}])
    assert reads[1:] == [(S1, s3)], "one statement for the two it did not hold"
    clock.advance(minutes=1)
    evaluate_tender(ctx, "KQ-2", [{"consortium": [s3, s2]}, {"uscc": S1}])
    score(ctx, EVALUATOR, ScoreQuery(S1, "housing", AS_OF))
    assert len(reads) == 2, "every one held: no rows read"
    assert_fresh(ctx, served_rows(ctx))


# ------------------------------------------------ byte for byte (a second review's tests)
# Replay compares parsed values (1 and true would pass); these compare the stored text.
CODES = ["BID-NOSIGN", "SAFE-ACC-LARGER", "SAFE-ACC-MAJOR", "AWARD-CITY",
         "AWARD-PROVINCIAL", "SITE-PM-ABSENT", "WAGE-ARREARS", "BID-FRAUD"]
AS_OFS = [date(2026, 6, 1), date(2026, 6, 30), date(2027, 3, 1)]
SECTORS = ["housing", "transport"]


def served_rows(ctx) -> list[AuditEntryRow]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.kind == "score.served").order_by(AuditEntryRow.position)).all()
        uow.session.expunge_all()
    return rows


#: The token each actor's served entries must name (the stored ``token_id`` is checked,
#: not copied).
TOKEN_IDS = {actor.name: actor.token_id for actor in (EVALUATOR, EVALUATOR_2)}


def evaluation_members(ctx) -> dict[int, dict]:
    """The ``evaluation`` member each evaluation's traces must carry, by trace position,
    from the stored evaluation documents (not from the traces themselves: a default
    score that carried one would otherwise compare equal)."""
    with ctx.uow(write=False) as uow:
        documents = [json.loads(d) for d in uow.session.scalars(select(EvaluationRow.document))]
    return {member["trace_id"]: {"id": doc["id"], "tender_code": doc["tender"]["code"]}
            for doc in documents for result in doc["results"] for member in result["members"]}


def assert_fresh(ctx, rows: list[AuditEntryRow]) -> None:
    """Every served entry is, byte for byte, what a fresh computation writes."""
    members = evaluation_members(ctx)
    for row in rows:
        assert row.text == fresh_entry_text(ctx, row, members.get(row.position)), \
            f"entry {row.position}"


def fresh_entry_text(ctx, row: AuditEntryRow, evaluation: dict | None) -> str:
    """The entry a fresh computation (no memo) writes at ``row``'s own knowledge, for
    its token (the actor's, by name: never the stored ``token_id``) and its evaluation
    (None: a default score)."""
    stored = json.loads(row.text)
    p = stored["payload"]
    with ctx.uow(write=False) as uow:
        model = ctx.models.get(f"{p['model']['id']}@{p['model']['version']}")
        knowledge = Knowledge(p["knowledge_position"], parse_instant(p["known_at"]))
        payload = trace_payload(*score_as_known(uow, model, p["uscc"], p["sector"],
                                                date.fromisoformat(p["as_of"]), knowledge))
    payload["token_id"] = TOKEN_IDS[row.actor]
    if evaluation is not None:
        payload["evaluation"] = evaluation
    return entry_text(row.position, row.kind, stored["at"], row.actor,
                      canonical_text.dumps(payload), stored["prev_sha256"])


def random_step(ctx, rnd: random.Random, seed: int, step: int, records: list[int]) -> int:
    """One random write or read; how many scores it served."""
    op = rnd.random()
    if op < 0.2:
        code = rnd.choice(CODES)
        extra = {"project_code": rnd.choice(["P1", "P2"])} if "AWARD" in code else {}
        body = json.loads(create_record(ctx, HOUSING, record_body(
            uscc=rnd.choice([S1, S2, S3]), code=code,
            decided_on=f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            document_no=f"绍柯建罚〔2025〕{seed}-{step}号", **extra)).body)
        records.append(body["id"])
    elif op < 0.27 and records:
        revoke_record(ctx, HOUSING, rnd.choice(records), revocation_body(document_no=f"撤{step}"))
    elif op < 0.34 and records:
        repair_record(ctx, HOUSING, rnd.choice(records),
                      repair_body("2026-05-20", document_no=f"修{step}"))
    elif op < 0.85:
        score(ctx, rnd.choice([EVALUATOR, EVALUATOR_2]),
              ScoreQuery(rnd.choice([S1, S2, S3]), rnd.choice(SECTORS), rnd.choice(AS_OFS)))
        return 1
    else:
        bidders = [{"uscc": S1}, {"consortium": [S2, S3]}]
        rnd.shuffle(bidders)
        create_evaluation(ctx, EVALUATOR, {
            "tender": {"code": f"KQ-{seed}-{step}", "name": "标段"},
            "sector": rnd.choice(SECTORS), "as_of": rnd.choice(AS_OFS).isoformat(),
            "bidders": bidders})
        return 3
    return 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_served_entry_is_the_fresh_one_byte_for_byte(ctx, clock, monkeypatch, seed):
    rnd = random.Random(seed)
    computed = Computations(monkeypatch)
    records: list[int] = []
    served = 0
    for step in range(40):
        clock.advance(seconds=rnd.randint(1, 90))
        try:
            served += random_step(ctx, rnd, seed, step, records)
        except CreditError:
            pass  # a refused repair or revocation changes nothing
    assert computed.done < served, "some scores came from the memo"
    rows = served_rows(ctx)
    assert len(rows) == served
    assert_fresh(ctx, rows)


def test_concurrent_scores_and_writes_are_each_the_fresh_entry(ctx):
    create_record(ctx, HOUSING, record_body())
    errors: list[BaseException] = []

    def reader(i):
        rnd = random.Random(i)
        try:
            for _ in range(12):
                score(ctx, rnd.choice([EVALUATOR, EVALUATOR_2]),
                      ScoreQuery(rnd.choice([S1, S2]), "housing", AS_OFS[0]))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def writer():
        try:
            for k in range(4):
                create_record(ctx, HOUSING, record_body(
                    uscc=S2, code="SITE-PM-ABSENT", document_no=f"并发{k}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    rows = served_rows(ctx)
    assert len(rows) == 72
    assert_fresh(ctx, rows)


def stored_against_their_ids(ctx) -> list[int]:
    """Two more records of S1 stored after the first in the reverse order of their ids
    (rows placed directly, at positions of entries appended for them), and one event of
    each, likewise: the order a plan meets them in is then not their ids' order."""
    first = create(ctx)
    with ctx.uow(write=True) as uow:
        for n in range(4):
            uow.audit.append("test.slot", "test", {"n": n})
        slots = [uow.audit.next_position() - 4 + n for n in range(4)]
        row = uow.records.get(first["id"])
        columns = {c.name: getattr(row, c.name) for c in RecordRow.__table__.columns}
        ids = [first["id"] + 11, first["id"] + 10]  # stored in this order
        for n, record_id in enumerate(ids):
            uow.records.add(RecordRow(**{**columns, "id": record_id,
                                         "document_no": f"绍柯建罚〔2026〕{record_id}号",
                                         "audit_position": slots[n],
                                         "sha256": f"{record_id:064x}"}))
        for n, event_id in enumerate((21, 20)):
            uow.records.add_event(RecordEventRow(
                id=event_id, record_id=ids[n], uscc=S1, kind="revocation",
                document_no=f"撤〔2026〕{event_id}号", reason="test", repaired_on=None,
                entered_by="test", recorded_at=row.recorded_at,
                audit_position=slots[2 + n], sha256=f"{event_id:064x}"))
        uow.commit()
    return [first["id"], first["id"] + 10, first["id"] + 11]


def test_a_history_is_read_in_the_order_of_its_ids_whatever_order_it_is_stored_in(ctx):
    """Both reads the memo keys on (a default score's, an evaluation's) name a subject's
    rows by their hashes in the order of their ids, so that two reads of the same rows
    are equal keys, and both reads of the rows themselves (a miss's) give them in that
    order too (on PostgreSQL a plan meets them in the order stored)."""
    record_ids = stored_against_their_ids(ctx)
    position = head(ctx)[0]
    at_head = ctx.uow.served_scores.read_at_head(None, S1).history
    with ctx.uow(write=False) as uow:
        many = uow.records.history_digests([S1, S2], position)[S1]
        rows = uow.records.histories([S1, S2], position)[S1]
        first = uow.records.get(record_ids[0]).sha256
    assert at_head == many
    assert many.records.split(",") == [first, f"{record_ids[1]:064x}",
                                       f"{record_ids[2]:064x}"]
    assert many.events.split(",") == [f"{20:064x}", f"{21:064x}"]
    for history in (rows, ctx.uow.served_scores.history_at(S1, position)):
        assert [r.id for r in history.records()] == record_ids
        assert [e.record_id for e in history.events()] == record_ids[1:]


def test_an_evaluations_histories_are_the_ones_a_default_score_reads(ctx):
    """The digests an evaluation keys its bidders by (``history_digests``) are those a
    default score reads at the same head (so that either finds the other's score in the
    memo): each row's stored hash, in the order of their ids; the rows a miss reads
    (``histories``, ``history_at``) are the same texts both ways, and hold exactly the
    records and events of the per-subject read; a subject without rows (S3) or without
    events (S2) reads alike every way."""
    first = create(ctx)
    create(ctx, document_no="绍柯建罚〔2026〕99号", code="SITE-PM-ABSENT")
    create(ctx, uscc=S2)
    revoke_record(ctx, HOUSING, first["id"], revocation_body())
    with ctx.uow(write=False) as uow:
        limit = head(ctx)[0]
        digests = uow.records.history_digests([S1, S2, S3, S1], limit)
        many = uow.records.histories([S1, S2, S3, S1], limit)
        assert sorted(digests) == sorted(many) == sorted([S1, S2, S3])
        for uscc in (S1, S2, S3):
            assert digests[uscc] == ctx.uow.served_scores.read_at_head(None, uscc).history
            assert many[uscc] == ctx.uow.served_scores.history_at(uscc, limit)
            records, events = uow.records.history(uscc, limit)
            assert (many[uscc].records(), many[uscc].events()) == (
                sorted(records, key=lambda r: r.id),
                sorted(events, key=lambda e: e.audit_position))  # ids follow positions
            assert digests[uscc].records == (",".join(
                r.sha256 for r in many[uscc].records()) or None)
        assert digests[S1].events == uow.records.events_of(first["id"])[0].sha256
    assert [len(many[S1].records()), len(many[S1].events())] == [2, 1]
    assert many[S2].events_text is None and many[S3] == NO_HISTORY
    assert digests[S2].events is None and digests[S3] == NO_ROWS
