"""Idempotency-Key on POST /records and POST /evaluations (API.md §3): the first 201 is
remembered forever as its exact body; the same key and JSON value replays it and writes
nothing; another value is 409; the check comes before validation and duplicates."""

from __future__ import annotations

import json

from credit.errors import Conflict, IntegrityFailure, InvalidInput
from credit.services.audit import verify_chain
from credit.services.idempotency import IdempotentRequest
from credit.services.records import create_record, revoke_record
from credit.services.scoring import create_evaluation

from .helpers import (
    EVALUATOR,
    HOUSING,
    HOUSING_2,
    S1,
    S2,
    counts,
    entry,
    expect,
    record_body,
    revocation_body,
    snapshot,
    tamper,
    wrong_check,
)

RECORDS = "/api/v1/records"
EVALUATIONS = "/api/v1/evaluations"


def idem(body, key="k-1", actor=HOUSING, path=RECORDS) -> IdempotentRequest:
    return IdempotentRequest(token_id=actor.token_id, method="POST", path=path, key=key,
                             body=body)


def evaluation_body(**overrides) -> dict:
    body = {"tender": {"code": "KQ-2026-0012", "name": "柯桥区某道路改造工程"},
            "sector": "housing", "as_of": "2026-06-01",
            "bidders": [{"uscc": S1}, {"consortium": [S2, "91110000710926094P"]}]}
    body.update(overrides)
    return body


def test_same_key_same_body_replays_exact_text_and_writes_nothing(ctx, clock):
    body = record_body()
    first = create_record(ctx, HOUSING, body, idem(body))
    assert (first.status, first.replayed) == (201, False)
    before = snapshot(ctx)
    clock.advance(days=400)  # counts_today would now be false: the replay is the old text
    # the same JSON value, keys in another order
    reordered = dict(reversed(list(body.items())))
    again = create_record(ctx, HOUSING, reordered, idem(reordered))
    assert again.replayed is True
    assert again.status == 201
    assert again.body == first.body
    assert snapshot(ctx) == before


def test_replay_after_revocation_still_returns_first_response(ctx):
    body = record_body()
    first = create_record(ctx, HOUSING, body, idem(body))
    revoke_record(ctx, HOUSING, json.loads(first.body)["id"], revocation_body())
    before = snapshot(ctx)
    again = create_record(ctx, HOUSING, body, idem(body))
    assert again.body == first.body and json.loads(again.body)["status"] == "active"
    assert snapshot(ctx) == before


def test_same_key_other_body_is_refused(ctx):
    body = record_body()
    create_record(ctx, HOUSING, body, idem(body))
    before = snapshot(ctx)
    other = record_body(document_no="另一个文号")
    with expect(Conflict, "idempotency_key_reused") as info:
        create_record(ctx, HOUSING, other, idem(other))
    assert info.value.status == 409
    assert snapshot(ctx) == before


def test_key_check_comes_before_validation_and_duplicates(ctx):
    body = record_body()
    first = create_record(ctx, HOUSING, body, idem(body))
    before = snapshot(ctx)
    invalid = record_body(uscc=wrong_check(S1), code="NOPE")
    with expect(Conflict, "idempotency_key_reused"):
        create_record(ctx, HOUSING, invalid, idem(invalid))
    with expect(Conflict, "idempotency_key_reused"):
        create_record(ctx, HOUSING, "not an object", idem("not an object"))
    # the very same body would be a duplicate_record without the key: it replays instead
    assert create_record(ctx, HOUSING, body, idem(body)).body == first.body
    assert snapshot(ctx) == before
    with expect(Conflict, "duplicate_record"):
        create_record(ctx, HOUSING, body, idem(body, key="k-2"))
    with expect(Conflict, "duplicate_record"):
        create_record(ctx, HOUSING, body)


def test_failed_request_is_not_remembered(ctx):
    bad = record_body(code="NOPE")
    with expect(InvalidInput, "unknown_code"):
        create_record(ctx, HOUSING, bad, idem(bad))
    assert counts(ctx)["idempotency"] == 0
    good = record_body()
    out = create_record(ctx, HOUSING, good, idem(good))
    assert (out.status, out.replayed) == (201, False)
    # a refused duplicate is not remembered either
    with expect(Conflict, "duplicate_record"):
        create_record(ctx, HOUSING, good, idem(good, key="k-dup"))
    other = record_body(document_no="D-2")
    assert create_record(ctx, HOUSING, other, idem(other, key="k-dup")).replayed is False


def test_key_scope_is_token_method_path(ctx):
    body = record_body()
    create_record(ctx, HOUSING, body, idem(body))
    # Another token may use the same key for another request.
    other = record_body(uscc=S2)
    out = create_record(ctx, HOUSING_2, other, idem(other, actor=HOUSING_2))
    assert out.replayed is False
    assert json.loads(out.body)["uscc"] == S2
    assert counts(ctx)["records"] == 2


def test_a_retry_to_the_route_with_a_trailing_slash_is_the_same_request(ctx):
    """Every route answers with and without a trailing slash: the key's path is the
    route's (IdempotentRequest.route), so the retry replays, and the row remembers the
    route without the slash."""
    body = record_body()
    first = create_record(ctx, HOUSING, body, idem(body, path=RECORDS + "/"))
    before = snapshot(ctx)
    for path in (RECORDS, RECORDS + "/"):
        again = create_record(ctx, HOUSING, body, idem(body, path=path))
        assert again.replayed is True and again.body == first.body, path
    assert snapshot(ctx) == before
    assert entry(ctx, 1)["payload"]["idempotency"]["path"] == RECORDS


def test_a_key_remembered_under_a_trailing_slash_before_still_replays(ctx, monkeypatch):
    """Until keys were scoped to the route, a row was remembered under the path as sent,
    slash and all. Remembered forever (API.md §3): a retry sent either way still finds
    it, and the chain that covers it still verifies."""
    body = record_body()
    with monkeypatch.context() as m:  # the earlier code: the path as sent
        m.setattr(IdempotentRequest, "route", property(lambda self: self.path))
        first = create_record(ctx, HOUSING, body, idem(body, path=RECORDS + "/"))
    assert entry(ctx, 1)["payload"]["idempotency"]["path"] == RECORDS + "/"
    before = snapshot(ctx)
    for path in (RECORDS, RECORDS + "/"):
        again = create_record(ctx, HOUSING, body, idem(body, path=path))
        assert again.replayed is True and again.body == first.body, path
    assert snapshot(ctx) == before
    assert verify_chain(ctx)["ok"] is True


def test_evaluation_replay(ctx, clock):
    body = evaluation_body()
    first = create_evaluation(ctx, EVALUATOR, body, idem(body, actor=EVALUATOR, path=EVALUATIONS))
    assert (first.status, first.replayed) == (201, False)
    before = snapshot(ctx)
    clock.advance(hours=3)
    again = create_evaluation(ctx, EVALUATOR, body, idem(body, actor=EVALUATOR, path=EVALUATIONS))
    assert again.replayed is True and again.body == first.body
    assert snapshot(ctx) == before  # no new traces, no new evaluation
    other = evaluation_body(as_of="2026-05-01")
    with expect(Conflict, "idempotency_key_reused"):
        create_evaluation(ctx, EVALUATOR, other, idem(other, actor=EVALUATOR, path=EVALUATIONS))
    bad = evaluation_body(bidders=[{"uscc": wrong_check(S1)}])
    with expect(Conflict, "idempotency_key_reused"):
        create_evaluation(ctx, EVALUATOR, bad, idem(bad, actor=EVALUATOR, path=EVALUATIONS))
    assert snapshot(ctx) == before


# ---- issue 9 item 6: the remembered body is covered by audit verify -----------------

def _key_id(actor=HOUSING, path=RECORDS, key="k-1") -> str:
    return f"{actor.token_id} POST {path} {key}"


def _forge_body(ctx, path=RECORDS) -> str:
    """Rewrite the remembered body behind the service (triggers removed first)."""
    forged = None
    with ctx.uow(write=False) as uow:
        row = next(r for r in uow.idempotency.iter_all() if r.path == path)
        forged = row.body.replace('"status":"active"', '"status":"revoked"') \
            if path == RECORDS else row.body.replace('"grade":"', '"grade":"A', 1)
    assert forged != row.body
    assert tamper(ctx, "idempotency_keys", "UPDATE idempotency_keys SET body = :b "
                  "WHERE path = :p", {"b": forged, "p": path}) == 1
    return forged


def test_the_creating_entry_carries_the_hash_of_the_remembered_reply(ctx):
    body = record_body()
    first = json.loads(create_record(ctx, HOUSING, body, idem(body)).body)
    payload = entry(ctx, first["audit_position"])["payload"]
    assert set(payload) == {"record", "sha256", "idempotency"}
    stamp = payload["idempotency"]
    assert {k: stamp[k] for k in ("token_id", "method", "path", "key")} == {
        "token_id": HOUSING.token_id, "method": "POST", "path": RECORDS, "key": "k-1"}
    # without a key the entry keeps its old shape
    plain = json.loads(create_record(ctx, HOUSING, record_body(document_no="D-2")).body)
    assert set(entry(ctx, plain["audit_position"])["payload"]) == {"record", "sha256"}
    assert verify_chain(ctx)["ok"] is True


def test_an_edited_remembered_body_is_located_and_never_replayed(ctx):
    body = record_body()
    first = create_record(ctx, HOUSING, body, idem(body))
    position = json.loads(first.body)["audit_position"]
    forged = _forge_body(ctx)
    assert verify_chain(ctx)["first_bad"] == {
        "position": position, "problem": "row_mismatch", "table": "idempotency_keys",
        "id": _key_id()}
    before = snapshot(ctx)
    with expect(IntegrityFailure, "integrity_failure") as info:
        create_record(ctx, HOUSING, body, idem(body))
    assert info.value.status == 500 and forged not in info.value.message
    assert snapshot(ctx) == before


def test_an_edited_remembered_evaluation_is_located_and_never_replayed(ctx):
    body = evaluation_body()
    key = idem(body, actor=EVALUATOR, path=EVALUATIONS)
    first = json.loads(create_evaluation(ctx, EVALUATOR, body, key).body)
    _forge_body(ctx, EVALUATIONS)
    bad = verify_chain(ctx)["first_bad"]
    assert (bad["problem"], bad["table"], bad["id"]) == (
        "row_mismatch", "idempotency_keys", _key_id(EVALUATOR, EVALUATIONS))
    assert entry(ctx, bad["position"])["payload"]["evaluation_id"] == first["id"]
    with expect(IntegrityFailure, "integrity_failure"):
        create_evaluation(ctx, EVALUATOR, body, key)


def test_a_deleted_or_forged_remembered_reply_is_located(ctx):
    body = record_body()
    position = json.loads(create_record(ctx, HOUSING, body, idem(body)).body)[
        "audit_position"]
    tamper(ctx, "idempotency_keys", "DELETE FROM idempotency_keys")
    assert verify_chain(ctx)["first_bad"] == {
        "position": position, "problem": "row_missing", "table": "idempotency_keys",
        "id": _key_id()}
    tamper(ctx, "idempotency_keys",
           "INSERT INTO idempotency_keys (token_id, method, path, key, request_sha256, "
           "status, body, audit_position) VALUES (1, 'POST', :p, 'k-1', :r, 201, '{}', :pos)",
           {"p": RECORDS, "r": idem(body).request_sha256, "pos": position + 7})
    problems = verify_chain(ctx)
    assert problems["first_bad"]["problem"] == "row_mismatch"  # the entry's stamp differs
    with expect(IntegrityFailure, "integrity_failure"):
        create_record(ctx, HOUSING, body, idem(body))


def test_a_remembered_reply_with_no_creating_entry_is_unreferenced(ctx):
    tamper(ctx, "idempotency_keys",
           "INSERT INTO idempotency_keys (token_id, method, path, key, request_sha256, "
           "status, body) VALUES (1, 'POST', :p, 'old', 'x', 201, '{}')", {"p": RECORDS})
    assert verify_chain(ctx)["first_bad"] == {
        "position": None, "problem": "row_unreferenced", "table": "idempotency_keys",
        "id": _key_id(key="old")}
    old = record_body()
    with expect(IntegrityFailure, "integrity_failure"):
        create_record(ctx, HOUSING, old, idem(old, key="old"))
