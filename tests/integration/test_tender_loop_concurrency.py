"""Concurrent conflicting writes of the tender loop and the record lifecycle, on SQLite and
PostgreSQL (API.md §3, WARNINGS.md §2–§6, PERFORMANCE.md §3–§4, §7): N threads, each
with its own unit of work, released together by a barrier, send the same conflicting
write to the service. Exactly one succeeds; every other gets the documented 4xx (a
409 naming the state it found), never a 5xx, an IntegrityError or a deadlock; a refused
write leaves no row and no entry behind; the audit chain verifies. The same
Idempotency-Key sent concurrently makes one write, and the others replay its reply
byte for byte (or 409 ``idempotency_key_reused`` for another body).

The clock is the suites' fake one (today 2026-06-01 CST), so the tender, award, review
and repair dates stay valid whatever the real date; ``at`` still increases, by 1 µs
per entry, under the append lock."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import text

from credit.errors import CreditError
from credit.services import agencies, applications, performance, tenders, warnings
from credit.services.audit import verify_chain
from credit.services.context import Actor
from credit.services.idempotency import IdempotentRequest, Outcome
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, score
from credit.services.tender_import import import_tenders
from credit.services.tokens import create_token, revoke_token
from tests.tender_data import (
    BIDDER_1,
    BIDDER_2,
    TENDEREE,
    award_body,
    confirm_body,
    tender_body,
)

from .helpers import HOUSING as HOUSING_REGULATOR
from .helpers import S1, all_entries, record_body, repair_body, revocation_body
from .tender_helpers import EVALUATOR, PLATFORM, TRANSPORT, award, register
from .test_concurrency import run_threads

pytestmark = pytest.mark.db

THREADS = 6
OK = "ok"
CODE = "KQ-2026-0031"
TENDEREE_ACTOR = Actor("柯桥区某镇人民政府", "tenderee", token_id=31, uscc=TENDEREE)
OWNER = Actor("绍兴柯桥建工集团有限公司", "enterprise", token_id=41, uscc=S1)
RATING = {"rated_on": "2026-05-25", "items": {"documents": "27.00", "procedure": "30.00",
                                              "service": "16.50", "archive": "18.00"}}
PERIODIC = {"kind": "periodic", "period_end": "2026-05-31", "project_manager_on_site": True,
            "deductions": [{"item": "SCHEDULE", "points": "6.00", "note": "主体结构滞后 21 天"}]}
FINAL = {"kind": "final", "completed_on": "2026-05-30", "project_manager_on_site": True,
         "deductions": [{"item": "QUALITY", "points": "20.00", "note": "主体结构裂缝"},
                        {"item": "SCHEDULE", "points": "20.00", "note": "逾期 90 天"},
                        {"item": "SAFETY", "points": "5.00", "note": "临边防护缺失"}]}
APPROVE = {"action": "approve", "reason": "经现场核查属实", "reviewed_on": "2026-06-01"}
DISMISS = {"action": "dismiss", "reason": "经核实无关联"}
REFER = {"action": "refer", "reason": "移送公安机关侦查"}


# ------------------------------------------------------------------ helpers

def attempt(call):
    """``(OK, result)``, or ``(status, error)`` of a refusal a client can cause (4xx).
    Anything else — a 5xx CreditError, an IntegrityError, a deadlock — propagates and
    fails the test through ``run_threads``."""
    try:
        return OK, call()
    except CreditError as exc:
        if exc.status >= 500:
            raise
        return exc.status, exc.error


def race(call, n: int = THREADS) -> list:
    """``call(i)`` in ``n`` threads released together, each through :func:`attempt`."""
    return run_threads(n, lambda i: attempt(lambda: call(i)))


def one_winner(outcomes: list, *refusals: tuple[int, str]) -> object:
    """Exactly one success; every other outcome one of ``refusals``. Returns the
    winner's result."""
    won = [r for tag, r in outcomes if tag == OK]
    lost = [o for o in outcomes if o[0] != OK]
    assert len(won) == 1, f"{len(won)} of {len(outcomes)} concurrent writes succeeded: {lost}"
    assert set(lost) <= set(refusals), lost
    return won[0]


def replays(outcomes: list) -> str:
    """Concurrent retries with one key: every one a success, the same text, exactly
    one written (the others replayed). Returns that text."""
    assert all(tag == OK for tag, _ in outcomes), outcomes
    assert len({o.body for _, o in outcomes}) == 1
    assert sorted(o.replayed for _, o in outcomes) == [False] + [True] * (len(outcomes) - 1)
    return outcomes[0][1].body


def rows(ctx, *tables: str) -> dict[str, int]:
    with ctx.uow(write=False) as uow:
        return {t: uow.session.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in tables}


def kinds(ctx) -> Counter:
    return Counter(e["kind"] for e in all_entries(ctx))


def verified(ctx) -> None:
    result = verify_chain(ctx)
    assert result["ok"] is True, result["first_bad"]


def idem(actor: Actor, path: str, key: str, body) -> IdempotentRequest:
    return IdempotentRequest(token_id=actor.token_id, method="POST", path=path, key=key,
                             body=body)


def awarded(ctx) -> dict:
    t = register(ctx, tender_body())
    award(ctx, t["code"], award_body())
    return t


# ------------------------------------------------------------------ tenders (§2, §3)

def test_one_tender_registered_concurrently_is_registered_once(tctx):
    outcomes = race(lambda i: tenders.register_tender(tctx, PLATFORM, tender_body()))
    won = json.loads(one_winner(outcomes, (409, "duplicate_tender")).body)
    k = kinds(tctx)
    assert (k["tender.registered"], k["warning.raised"]) == (1, len(won["warnings"]))
    assert rows(tctx, "tenders", "bids", "warnings") == {
        "tenders": 1, "bids": 4, "warnings": len(won["warnings"])}
    verified(tctx)


def test_one_key_registers_one_tender_and_replays_it(tctx):
    body = tender_body()
    key = idem(PLATFORM, "/api/v1/tenders", "reg-1", body)
    outcomes = race(lambda i: tenders.register_tender(tctx, PLATFORM, tender_body(), key))
    replays(outcomes)
    assert rows(tctx, "tenders", "idempotency_keys") == {"tenders": 1, "idempotency_keys": 1}
    assert kinds(tctx)["tender.registered"] == 1
    verified(tctx)


def test_one_key_with_different_bodies_writes_one_of_them(tctx):
    def call(i):
        body = tender_body(name=f"柯桥区某村道路硬化工程 第{i}稿")
        return tenders.register_tender(
            tctx, PLATFORM, body, idem(PLATFORM, "/api/v1/tenders", "reg-2", body))

    won = one_winner(race(call), (409, "idempotency_key_reused"))
    assert not won.replayed
    assert rows(tctx, "tenders", "idempotency_keys") == {"tenders": 1, "idempotency_keys": 1}
    verified(tctx)


def test_tenders_sharing_new_bidders_register_each_subject_once(tctx):
    """Different tenders at once, all with the same (new) parties: every registration
    succeeds and each party becomes a subject once (no duplicate key)."""
    outcomes = race(lambda i: tenders.register_tender(
        tctx, PLATFORM, tender_body(f"KQ-2026-1{i:03d}")))
    assert [tag for tag, _ in outcomes] == [OK] * THREADS, outcomes
    parties = {p for b in tender_body()["bids"]
               for p in [b["bidder"]] + [m["uscc"] for m in b.get("consortium", [])]}
    assert rows(tctx, "tenders", "subjects") == {"tenders": THREADS, "subjects": len(parties)}
    assert kinds(tctx)["tender.registered"] == THREADS
    verified(tctx)


def test_concurrent_imports_of_one_file_register_each_tender_once(tctx, tmp_path):
    path = tmp_path / "tenders.jsonl"
    codes = [f"KQ-2026-2{i:03d}" for i in range(3)]
    path.write_text("".join(json.dumps(tender_body(c), ensure_ascii=False) + "\n"
                            for c in codes), encoding="utf-8")
    outcomes = race(lambda i: import_tenders(tctx, f"operator-{i}", path), n=3)
    assert all(tag == OK for tag, _ in outcomes), outcomes
    summaries = [s for _, s in outcomes]
    assert sum(s.registered for s in summaries) == len(codes)
    assert sum(s.already_present for s in summaries) == len(codes) * 2
    assert [s.rejected for s in summaries] == [0, 0, 0], [s.errors for s in summaries]
    assert rows(tctx, "tenders")["tenders"] == len(codes)
    assert kinds(tctx)["tender.registered"] == len(codes)
    verified(tctx)


def test_one_tender_awarded_concurrently_is_awarded_once(tctx):
    register(tctx, tender_body())
    winners = [BIDDER_1, BIDDER_2] * (THREADS // 2)  # two valid bids compete as well
    outcomes = race(lambda i: tenders.award_tender(tctx, PLATFORM, CODE,
                                                   award_body(winners[i])))
    won = json.loads(one_winner(outcomes, (409, "already_awarded")).body)
    assert rows(tctx, "awards")["awards"] == 1
    assert kinds(tctx)["tender.awarded"] == 1
    assert won["award"]["winner"] in (BIDDER_1, BIDDER_2)
    verified(tctx)


def test_one_key_awards_once_and_replays_the_award(tctx):
    register(tctx, tender_body())
    path = f"/api/v1/tenders/{CODE}/award"
    outcomes = race(lambda i: tenders.award_tender(
        tctx, PLATFORM, CODE, award_body(), idem(PLATFORM, path, "award-1", award_body())))
    replays(outcomes)
    assert rows(tctx, "awards", "idempotency_keys") == {"awards": 1, "idempotency_keys": 1}
    verified(tctx)


# ------------------------------------------------------------------ warnings (§6)

@pytest.mark.parametrize("bodies, refusal", [
    ([confirm_body([1, 2])], "already_disposed"),
    ([DISMISS], "already_disposed"),
    ([confirm_body([1, 2]), DISMISS], "already_disposed"),  # final actions compete
    ([REFER], "already_referred"),
], ids=["confirm", "dismiss", "confirm-or-dismiss", "refer"])
def test_one_warning_disposed_concurrently_is_disposed_once(tctx, bodies, refusal):
    warning = register(tctx, tender_body())["warnings"][0]  # SAME-PREPARER: bids 1, 2
    records_before = rows(tctx, "records")["records"]
    outcomes = race(lambda i: warnings.dispose(tctx, TRANSPORT, warning,
                                               bodies[i % len(bodies)]))
    won = json.loads(one_winner(outcomes, (409, refusal)).body)
    assert len(won["disposals"]) == 1
    created = won["disposals"][0]["records"]
    # a confirmation creates a record for every party of bids 1 and 2, once
    assert len(created) == (3 if won["status"] == "confirmed" else 0)
    assert rows(tctx, "warning_disposals", "records") == {
        "warning_disposals": 1, "records": records_before + len(created)}
    k = kinds(tctx)
    assert (k["warning.disposed"], k["record.created"]) == (1, len(created))
    verified(tctx)


def test_a_confirmation_racing_the_same_record_by_hand_creates_it_once(tctx):
    """The confirmation would create BID-COLLUDE 柯交执〔2026〕31号 for BIDDER_1; a
    regulator enters that very record at the same moment. One of them holds it; the
    other is 409 ``duplicate_record`` — a refused confirmation disposes of nothing."""
    warning = register(tctx, tender_body())["warnings"][0]
    body = confirm_body([1, 2])
    by_hand = record_body(uscc=BIDDER_1, sector="transport", code=body["code"],
                          decided_on=body["decided_on"], document_no=body["document_no"],
                          issued_by=TRANSPORT.name)

    def call(i):
        if i % 2:
            return "disposal", warnings.dispose(tctx, TRANSPORT, warning, body)
        return "record", create_record(tctx, TRANSPORT, dict(by_hand))

    outcomes = race(call)
    won, _ = one_winner(outcomes, (409, "duplicate_record"), (409, "already_disposed"))
    k = kinds(tctx)
    if won == "disposal":
        assert (k["warning.disposed"], k["record.created"]) == (1, 3)
    else:
        assert (k["warning.disposed"], k["record.created"]) == (0, 1)
        assert rows(tctx, "warning_disposals")["warning_disposals"] == 0
    with tctx.uow(write=False) as uow:
        assert uow.session.execute(text(
            "SELECT count(*) FROM records WHERE uscc = :u AND code = :c AND document_no = :d"
        ), {"u": BIDDER_1, "c": body["code"], "d": body["document_no"]}).scalar() == 1
    verified(tctx)


def test_scores_served_during_a_confirmation_see_it_exactly_when_they_know_it(tctx):
    """Scores of BIDDER_1 served (through the group appender) while the confirmation
    that creates its BID-COLLUDE record commits: each counts the record exactly when its
    ``knowledge_position`` is at or after the record's entry (API.md §4), and the
    disposal's entries and the traces share one gap-free chain."""
    warning = register(tctx, tender_body())["warnings"][0]

    def call(i):
        if i == 0:
            return warnings.dispose(tctx, TRANSPORT, warning, confirm_body([1, 2]))
        return [score(tctx, EVALUATOR, ScoreQuery(BIDDER_1, "transport"))
                for _ in range(4)]

    outcomes = race(call)
    assert all(tag == OK for tag, _ in outcomes), outcomes
    entries = all_entries(tctx)
    assert [e["position"] for e in entries] == list(range(1, len(entries) + 1))
    record_at = next(e["position"] for e in entries if e["kind"] == "record.created"
                     and e["payload"]["record"]["uscc"] == BIDDER_1)
    by_position = {e["position"]: e for e in entries}
    served = [s for _, scores in outcomes[1:] for s in scores]
    for s in served:
        trace = by_position[s["trace_id"]]
        assert trace["kind"] == "score.served" and trace["sha256"] == s["trace_sha256"]
        known = trace["payload"]["knowledge_position"]
        assert s["score"] == ("80.00" if known >= record_at else "100.00"), (s, record_at)
    verified(tctx)


def test_one_key_disposes_once_and_replays_the_disposal(tctx):
    warning = register(tctx, tender_body())["warnings"][0]
    body = confirm_body([1, 2])
    path = f"/api/v1/warnings/{warning}/disposal"
    outcomes = race(lambda i: warnings.dispose(
        tctx, TRANSPORT, warning, dict(body), idem(TRANSPORT, path, "dispose-1", body)))
    replays(outcomes)
    assert rows(tctx, "warning_disposals", "idempotency_keys") == {
        "warning_disposals": 1, "idempotency_keys": 1}
    assert kinds(tctx)["record.created"] == 3
    verified(tctx)


# ------------------------------------------------------------------ performance (§3, §4)

def test_one_evaluation_at_a_time_under_concurrent_submissions(tctx):
    awarded(tctx)
    outcomes = race(lambda i: performance.submit_evaluation(
        tctx, TENDEREE_ACTOR, CODE, PERIODIC if i % 2 else FINAL))
    one_winner(outcomes, (409, "review_pending"))
    assert rows(tctx, "performance_evaluations")["performance_evaluations"] == 1
    assert kinds(tctx)["performance.submitted"] == 1
    verified(tctx)


def test_one_key_submits_once_and_replays_the_evaluation(tctx):
    awarded(tctx)
    path = f"/api/v1/tenders/{CODE}/performance"
    outcomes = race(lambda i: performance.submit_evaluation(
        tctx, TENDEREE_ACTOR, CODE, dict(PERIODIC),
        idem(TENDEREE_ACTOR, path, "perf-1", PERIODIC)))
    replays(outcomes)
    assert rows(tctx, "performance_evaluations", "idempotency_keys") == {
        "performance_evaluations": 1, "idempotency_keys": 1}
    verified(tctx)


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "one-key"])
def test_one_evaluation_reviewed_concurrently_is_reviewed_once(tctx, keyed):
    """An approved final rated fail creates PERF-FAIL for both parties of the winning
    bid: a second approval would create them twice."""
    awarded(tctx)
    e = json.loads(performance.submit_evaluation(tctx, TENDEREE_ACTOR, CODE, FINAL).body)
    path = f"/api/v1/performance/{e['id']}/review"
    outcomes = race(lambda i: performance.review_evaluation(
        tctx, TRANSPORT, e["id"], dict(APPROVE),
        idem(TRANSPORT, path, "review-1", APPROVE) if keyed else None))
    if keyed:
        won = json.loads(replays(outcomes))
    else:
        won = json.loads(one_winner(outcomes, (409, "already_reviewed")).body)
    assert won["status"] == "approved" and len(won["review"]["records"]) == 2
    assert rows(tctx, "performance_reviews", "records") == {
        "performance_reviews": 1, "records": 2}
    k = kinds(tctx)
    assert (k["performance.reviewed"], k["record.created"]) == (1, 2)
    verified(tctx)


def test_a_submission_racing_the_approval_of_the_final_never_succeeds(tctx):
    """While the final awaits its review a submission is ``review_pending``; once it is
    approved, ``contract_completed``: in no order does a second evaluation get in."""
    awarded(tctx)
    e = json.loads(performance.submit_evaluation(tctx, TENDEREE_ACTOR, CODE, FINAL).body)

    def call(i):
        if i == 0:
            return performance.review_evaluation(tctx, TRANSPORT, e["id"], APPROVE)
        return performance.submit_evaluation(tctx, TENDEREE_ACTOR, CODE, PERIODIC)

    outcomes = race(call)
    assert outcomes[0][0] == OK
    assert set(outcomes[1:]) <= {(409, "review_pending"), (409, "contract_completed")}
    assert rows(tctx, "performance_evaluations")["performance_evaluations"] == 1
    verified(tctx)


# ------------------------------------------------------------------ agencies (§7)

def test_one_agency_rated_concurrently_is_rated_once(tctx):
    awarded(tctx)
    outcomes = race(lambda i: agencies.rate_agency(tctx, TENDEREE_ACTOR, CODE, RATING))
    one_winner(outcomes, (409, "already_rated"))
    assert rows(tctx, "agency_ratings")["agency_ratings"] == 1
    assert kinds(tctx)["agency.rated"] == 1
    verified(tctx)


def test_one_key_rates_once_and_replays_the_rating(tctx):
    awarded(tctx)
    path = f"/api/v1/tenders/{CODE}/agency-rating"
    outcomes = race(lambda i: agencies.rate_agency(
        tctx, TENDEREE_ACTOR, CODE, json.loads(json.dumps(RATING)),
        idem(TENDEREE_ACTOR, path, "rate-1", RATING)))
    replays(outcomes)
    assert rows(tctx, "agency_ratings", "idempotency_keys") == {
        "agency_ratings": 1, "idempotency_keys": 1}
    verified(tctx)


# ------------------------------------------------------------------ applications (issue 13)

def _record(ctx) -> int:
    return json.loads(create_record(ctx, HOUSING_REGULATOR, record_body()).body)["id"]


REPAIR_APPLICATION = {"kind": "repair", "requested_repair_on": "2026-05-01",
                      "reason": "已完成整改并提交信用承诺书"}
OBJECTION = {"kind": "objection", "reason": "处罚决定所依据的事实有误"}
ACCEPT = {"action": "accept", "reason": "经审核符合信用修复条件",
          "document_no": "绍柯建修〔2026〕9号"}
REJECT = {"action": "reject", "reason": "材料不全，不予修复"}


def test_one_pending_application_per_record_under_concurrent_submissions(tctx):
    record = _record(tctx)
    outcomes = race(lambda i: applications.submit(
        tctx, OWNER, record, dict(REPAIR_APPLICATION if i % 2 else OBJECTION)))
    one_winner(outcomes, (409, "application_pending"))
    assert rows(tctx, "applications")["applications"] == 1
    assert kinds(tctx)["application.submitted"] == 1
    verified(tctx)


def test_one_application_decided_concurrently_is_decided_once(tctx):
    record = _record(tctx)
    app = applications.submit(tctx, OWNER, record, dict(REPAIR_APPLICATION))
    outcomes = race(lambda i: applications.decide(
        tctx, HOUSING_REGULATOR, app["id"], dict(ACCEPT if i % 2 else REJECT)))
    won = one_winner(outcomes, (409, "already_decided"))
    repaired = 1 if won["status"] == "accepted" else 0
    assert rows(tctx, "application_decisions", "record_events") == {
        "application_decisions": 1, "record_events": repaired}
    k = kinds(tctx)
    assert (k["application.decided"], k["record.repaired"]) == (1, repaired)
    verified(tctx)


def test_an_accepted_repair_application_racing_a_repair_by_hand_repairs_once(tctx):
    """The regulator repairs the record directly while another window accepts the
    enterprise's application for the same repair: one repair; a losing acceptance is
    409 ``already_repaired`` and leaves the application pending (no decision row)."""
    record = _record(tctx)
    app = applications.submit(tctx, OWNER, record, dict(REPAIR_APPLICATION))

    def call(i):
        if i % 2:
            return applications.decide(tctx, HOUSING_REGULATOR, app["id"], dict(ACCEPT))
        return repair_record(tctx, HOUSING_REGULATOR, record, repair_body("2026-05-01"))

    outcomes = race(call)
    won = one_winner(outcomes, (409, "already_repaired"), (409, "already_decided"))
    decided = 1 if won.get("status") == "accepted" else 0
    assert rows(tctx, "record_events", "application_decisions") == {
        "record_events": 1, "application_decisions": decided}
    assert kinds(tctx)["record.repaired"] == 1
    verified(tctx)


# ------------------------------------------------------------------ records (API.md §3)

def test_one_record_revoked_concurrently_is_revoked_once(tctx):
    record = _record(tctx)
    outcomes = race(lambda i: revoke_record(tctx, HOUSING_REGULATOR, record,
                                            revocation_body()))
    won = one_winner(outcomes, (409, "already_revoked"))
    assert won["status"] == "revoked"
    assert rows(tctx, "record_events")["record_events"] == 1
    assert kinds(tctx)["record.revoked"] == 1
    verified(tctx)


def test_one_record_repaired_concurrently_is_repaired_once(tctx):
    record = _record(tctx)
    dates = ["2026-05-01", "2026-05-02", "2026-05-03"]
    outcomes = race(lambda i: repair_record(tctx, HOUSING_REGULATOR, record,
                                            repair_body(dates[i % 3])))
    won = one_winner(outcomes, (409, "already_repaired"))
    assert won["status"] == "repaired"
    assert rows(tctx, "record_events")["record_events"] == 1
    assert kinds(tctx)["record.repaired"] == 1
    verified(tctx)


def test_a_repair_racing_a_revocation_never_follows_it(tctx):
    """A repaired record may still be revoked, a revoked one not repaired: the
    revocation always succeeds, the repair only when it came first."""
    record = _record(tctx)

    def call(i):
        if i == 0:
            return revoke_record(tctx, HOUSING_REGULATOR, record, revocation_body())
        return repair_record(tctx, HOUSING_REGULATOR, record, repair_body("2026-05-01"))

    outcomes = race(call)
    assert outcomes[0][0] == OK
    repairs = [o for o in outcomes[1:] if o[0] == OK]
    assert len(repairs) <= 1, repairs
    assert {o for o in outcomes[1:] if o[0] != OK} <= {
        (409, "already_revoked"), (409, "already_repaired")}
    k = kinds(tctx)
    assert (k["record.revoked"], k["record.repaired"]) == (1, len(repairs))
    events = [e for e in all_entries(tctx) if e["kind"] in ("record.revoked",
                                                            "record.repaired")]
    assert events[-1]["kind"] == "record.revoked"  # nothing ever follows a revocation
    verified(tctx)


# ------------------------------------------------------------------ tokens

def test_one_token_revoked_concurrently_is_revoked_once(tctx):
    token_id, _ = create_token(tctx, "op", role="tenderee", name="柯桥区某镇人民政府",
                               uscc=TENDEREE)
    outcomes = race(lambda i: revoke_token(tctx, f"op-{i}", token_id))
    assert all(tag == OK for tag, _ in outcomes), outcomes
    assert sorted(r for _, r in outcomes) == [False] * (THREADS - 1) + [True]
    assert rows(tctx, "token_revocations")["token_revocations"] == 1
    assert kinds(tctx)["token.revoked"] == 1
    verified(tctx)


# ------------------------------------------------------------------ the checks themselves

def test_the_checks_catch_two_successes_and_two_writes():
    """What every test above relies on: a second success, an undocumented refusal or a
    second write under one key fails the check (as they did with the append lock or a
    state check moved before it)."""
    with pytest.raises(AssertionError, match="2 of 3"):
        one_winner([(OK, 1), (OK, 2), (409, "already_rated")], (409, "already_rated"))
    with pytest.raises(AssertionError):
        one_winner([(OK, 1), (409, "duplicate_record")], (409, "already_disposed"))
    with pytest.raises(AssertionError):
        replays([(OK, Outcome(201, "a")), (OK, Outcome(201, "a"))])
    with pytest.raises(AssertionError):
        replays([(OK, Outcome(201, "a")), (OK, Outcome(201, "b", replayed=True))])
    assert one_winner([(409, "x"), (OK, 7)], (409, "x")) == 7
    assert replays([(OK, Outcome(201, "a", replayed=True)), (OK, Outcome(201, "a"))]) == "a"
