"""Edits made behind the service that verification must report — neither answer 500
nor pass as intact (API.md §6; both backends). A bid-protest review found each of them:

1. ``GET /traces/{id}/verify`` on a trace whose payload was edited into something the
   replay cannot read answered 500; it now reports ``hash_ok: false`` and names the
   field as the difference.
2. ``audit verify`` on an entry naming its row by a list answered 500; it now reports
   the entry.
3. An evaluation's owner (``created_by_token``, who may read it) and its link to its
   creating entry (``audit_position``) were not covered by the document's hash.
4. A token's ``created_at``, and an ``expires_at_us`` of 0 (an instant, 1970, not
   "never"), were not compared with its ``token.created`` entry.
"""

from __future__ import annotations

import json

import pytest

from credit.errors import Unauthenticated
from credit.services.audit import verify_chain
from credit.services.records import create_record
from credit.services.scoring import create_evaluation, get_evaluation
from credit.services.tokens import authenticate, create_token

from .helpers import EVALUATOR, EVALUATOR_2, HOUSING, S1, S2, entry, record_body, tamper

pytestmark = pytest.mark.db

TENDER = {"code": "KQ-2026-0012", "name": "柯桥区鉴湖路改造工程施工"}


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rewrite_entry(ctx, position: int, edit) -> None:
    """Edit one stored entry's text behind the service (its hash column left as it was)."""
    e = entry(ctx, position)
    body = {k: v for k, v in e.items() if k != "sha256"}
    edit(body)
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = :p",
           {"t": _canonical(body), "p": position})


@pytest.fixture
def http(ctx):
    """The real app with an auditor's and an evaluator's bearer token."""
    from api import create_app
    app = create_app({"CREDIT_CONTEXT": ctx, "TESTING": True})
    secrets = {"auditor": create_token(ctx, "op", role="auditor", name="柯桥区审计局")[1],
               "evaluator": create_token(ctx, "op", role="evaluator", name="评标系统")[1]}
    client = app.test_client()

    def call(method: str, path: str, who: str, body=None):
        kw = {"headers": {"Authorization": f"Bearer {secrets[who]}"}}
        if body is not None:
            kw["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kw["content_type"] = "application/json"
        return client.open(path, method=method, **kw)
    return call


def _evaluated(ctx, clock, http) -> dict:
    create_record(ctx, HOUSING, record_body(document_no="P-1"))
    clock.advance(minutes=5)
    r = http("POST", "/api/v1/evaluations", "evaluator", {
        "tender": TENDER, "sector": "housing", "as_of": "2026-06-01",
        "bidders": [{"uscc": S1}, {"uscc": S2}]})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


# ------------------------------------------------------------------------------------
# 1. GET /traces/{id}/verify answers 500 for a tampered trace instead of reporting it.
#    API.md §6: the route "recomputes the hash, checks the link to its predecessor, and
#    replays the score … {hash_ok, chain_ok, replay_ok, ok, differences}"; §1: "nothing a
#    client sends may produce a 500". The replay parses the (tampered) payload without
#    any guard (services/audit.py verify_trace: parse_date, p["knowledge_position"],
#    the engine's "unknown sector" ValueError), so the auditor checking a protested
#    bidder's trace gets "internal_error" while /audit/verify locates the same edit.

def _drop(key):
    return lambda body: body["payload"].pop(key)


def _set(key, value):
    return lambda body: body["payload"].__setitem__(key, value)


@pytest.mark.parametrize("edit", [
    _set("as_of", "2026-02-30"),            # no such date
    _set("sector", "railway"),              # a sector the model does not have
    _drop("knowledge_position"),
    _set("known_at", "2026-06-01"),         # not an instant
    _drop("model"),
], ids=["as_of", "sector", "knowledge_position", "known_at", "model"])
def test_verifying_a_tampered_member_trace_reports_it_instead_of_a_500(ctx, clock, http,
                                                                       edit, request):
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    _rewrite_entry(ctx, trace_id, edit)
    chain = http("GET", "/api/v1/audit/verify", "auditor").get_json()
    assert chain["first_bad"] == {"position": trace_id, "problem": "hash_mismatch"}
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200, v.get_data(as_text=True)
    body = v.get_json()
    assert body["hash_ok"] is False and body["ok"] is False
    field = request.node.callspec.id.split("-")[-1]
    assert body["differences"] == [field], body  # the field the replay could not read


@pytest.mark.parametrize("edit", [
    _set("knowledge_position", 2**63),      # past any position: beyond 64 bits
    _set("knowledge_position", 2**70),
    _set("knowledge_position", 1.5),        # no float is canonical JSON
    lambda body: body.__setitem__("payload", [1]),
    _set("evaluation", "x"),
    _set("as_of", ["2026-06-01"]),
    _drop("as_of"),
], ids=["kp-2^63", "kp-2^70", "kp-float", "payload-list", "evaluation-str", "as_of-list",
        "as_of-missing"])
def test_reading_a_trace_edited_past_what_the_service_writes_is_never_a_500(ctx, clock,
                                                                           http, edit):
    """The read routes refuse such an entry as ``integrity_failure`` (or serve it, when it
    still reads as an entry); its verification reports it (README: "Edits are reported,
    never a failure"); no route answers ``internal_error``."""
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    uscc = entry(ctx, trace_id)["payload"]["uscc"]
    _rewrite_entry(ctx, trace_id, edit)
    for path in (f"/api/v1/traces/{trace_id}", f"/api/v1/traces?uscc={uscc}",
                 f"/api/v1/audit/entries?after={trace_id - 1}&limit=1",
                 f"/api/v1/subjects/{uscc}/inquiries"):
        r = http("GET", path, "auditor")
        assert r.status_code == 200 or r.get_json()["error"] == "integrity_failure", \
            (path, r.status_code, r.get_data(as_text=True)[:300])
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200, v.get_data(as_text=True)[:300]
    assert v.get_json()["ok"] is False


@pytest.mark.parametrize("text", [
    "not json at all",
    None,  # the same entry with one space more: it parses to what was hashed
], ids=["unreadable", "respaced"])
def test_verifying_a_trace_whose_text_was_rewritten_reports_its_hash(ctx, clock, http, text):
    """The hash is of the stored bytes, as audit verify takes it: a text that no longer
    parses, or one re-spaced so that it parses to the very entry that was hashed, is an
    edit all the same."""
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    stored = _canonical({k: v for k, v in entry(ctx, trace_id).items() if k != "sha256"})
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = :p",
           {"t": text if text is not None else stored.replace(",", ", ", 1), "p": trace_id})
    chain = http("GET", "/api/v1/audit/verify", "auditor").get_json()
    assert chain["first_bad"] == {"position": trace_id, "problem": "hash_mismatch"}
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200, v.get_data(as_text=True)
    assert v.get_json()["hash_ok"] is False and v.get_json()["ok"] is False


def test_a_trace_whose_text_is_not_utf8_is_reported_not_an_unreachable_database(
        ctx, clock, http):
    """SQLite keeps any bytes as TEXT and its driver cannot decode them: both
    verifications report the edit, where they answered 503 "cannot be reached"."""
    if ctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = CAST(X'7B22FF' AS TEXT) "
           "WHERE position = :p", {"p": trace_id})
    chain = http("GET", "/api/v1/audit/verify", "auditor")
    assert chain.status_code == 200, chain.get_data(as_text=True)[:300]
    assert chain.get_json()["first_bad"] == {"position": trace_id, "problem": "hash_mismatch"}
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200, v.get_data(as_text=True)[:300]
    assert v.get_json()["hash_ok"] is False and v.get_json()["ok"] is False
    uscc = doc["results"][0]["members"][0]["uscc"]
    for path in (f"/api/v1/traces/{trace_id}", f"/api/v1/traces?uscc={uscc}",
                 f"/api/v1/audit/entries?after={trace_id - 1}&limit=1"):
        r = http("GET", path, "auditor")
        assert r.get_json()["error"] == "integrity_failure", (path, r.status_code)
        assert "audit verify" in r.get_json()["message"]


# ------------------------------------------------------------------------------------
# 2. GET /audit/verify answers 500 for an entry whose payload names its row by a value
#    that is not hashable (services/verification.py RowVerifier.see keys a dict by it):
#    the walk that must "re-hash every entry" and report first_bad crashes instead.

def test_audit_verify_of_an_entry_with_a_list_as_row_id_reports_it_instead_of_a_500(
        ctx, clock, http):
    doc = _evaluated(ctx, clock, http)
    del doc
    position = 3  # the record.created entry of P-1 (after the two token.created)
    assert entry(ctx, position)["kind"] == "record.created"
    _rewrite_entry(ctx, position,
                   lambda body: body["payload"]["record"].__setitem__("id", [1.5]))
    r = http("GET", "/api/v1/audit/verify", "auditor")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["first_bad"]["position"] == position


# ------------------------------------------------------------------------------------
# 3. An evaluation row whose owner (created_by_token) is changed behind the service is
#    not caught by audit verify, full or incremental. API.md §6: audit verify "re-hashes
#    … every stored row (records, events, evaluations, …) against the hash its creating
#    entry carries"; the evaluations verifier hashes only the document
#    (VERIFIED_TABLES: digest=sha256(ev.document)), so the column that decides who may
#    read the frozen evaluation (API.md §2: "its creator, auditor, admin") can be moved
#    to another evaluator and every verification still says ok. audit_position, the
#    row's link to its creating entry, is not checked by a full run either.

def _evaluation(ctx, clock) -> dict:
    clock.advance(minutes=5)
    out = create_evaluation(ctx, EVALUATOR, {"tender": TENDER, "sector": "housing",
                                             "as_of": "2026-06-01",
                                             "bidders": [{"uscc": S1}]})
    return json.loads(out.body)


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_audit_verify_catches_an_evaluation_handed_to_another_evaluator(ctx, clock,
                                                                         incremental):
    create_record(ctx, HOUSING, record_body(document_no="P-1"))
    assert verify_chain(ctx)["ok"]  # stored at position 1: where an incremental run starts
    doc = _evaluation(ctx, clock)
    assert tamper(ctx, "evaluations",
                  "UPDATE evaluations SET created_by_token = :other WHERE id = :id",
                  {"other": EVALUATOR_2.token_id, "id": doc["id"]}) == 1
    # the other evaluation system now reads the frozen document, its creator cannot
    assert json.loads(get_evaluation(ctx, EVALUATOR_2, doc["id"]))["id"] == doc["id"]
    result = verify_chain(ctx, incremental=incremental, store=False)
    assert result["ok"] is False, result
    assert result["first_bad"]["table"] == "evaluations"


def test_full_audit_verify_catches_an_evaluation_moved_to_another_position(ctx, clock):
    create_record(ctx, HOUSING, record_body(document_no="P-1"))
    doc = _evaluation(ctx, clock)
    assert tamper(ctx, "evaluations",
                  "UPDATE evaluations SET audit_position = audit_position + 1000 "
                  "WHERE id = :id", {"id": doc["id"]}) == 1
    result = verify_chain(ctx, store=False)
    assert result["ok"] is False, result
    assert result["first_bad"]["table"] == "evaluations"


# ------------------------------------------------------------------------------------
# 4. Token rows: two edits the token verifier misses. created_at is not compared with
#    its token.created entry's ``at`` (API.md §6 re-hash "every stored row"); an
#    expires_at_us of 0 on a token created without expiry passes (TokenVerifier tests
#    ``if t.expires_at_us``, so 0 reads as "never"), yet token_expiry.expired_at treats
#    it as expired in 1970 — the evaluation system's token stops working and verify
#    says the tokens are as created.

@pytest.mark.parametrize("sql", [
    "UPDATE tokens SET created_at = '2020-01-01T00:00:00.000000+08:00' WHERE id = :id",
    "UPDATE tokens SET expires_at_us = 0 WHERE id = :id",
], ids=["created_at", "expires_at_us_zero"])
def test_audit_verify_catches_an_edited_token_row(ctx, sql):
    token_id, secret = create_token(ctx, "op", role="evaluator", name="评标系统")
    assert verify_chain(ctx, store=False)["ok"]
    assert tamper(ctx, "tokens", sql, {"id": token_id}) == 1
    if "expires_at_us" in sql:  # after a restart (empty token cache) the token is dead
        ctx.token_cache.clear()
        with pytest.raises(Unauthenticated):
            authenticate(ctx, secret)
    result = verify_chain(ctx, store=False)
    assert result["ok"] is False, result
    assert result["first_bad"] == {"position": 1, "problem": "row_mismatch",
                                   "table": "tokens", "id": token_id}


# ------------------------------------------------------------------------------------
# 5. The console reads an edited entry as text: the trace page lays out a score only
#    while its stored bytes hash to its stored hash, and an entry's page says when they
#    do not. A text that is no JSON at all is not served as an entry: 500
#    ``integrity_failure``, as for any stored data that no longer matches its hash.

@pytest.fixture
def auditor_browser(ctx):
    from api import create_app

    from .test_console_pages import SECRET_KEY, signed_in
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    return signed_in(app, create_token(ctx, "op", role="auditor", name="柯桥区审计局")[1])


@pytest.mark.parametrize("edit", [
    _drop("model"),                         # the page once read p.model.id: a 500
    _set("records", "x"),
    _set("as_of", "2026-02-30"),
], ids=["model", "records", "as_of"])
def test_the_console_shows_an_edited_trace_as_its_stored_text(ctx, clock, http,
                                                              auditor_browser, edit):
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    _rewrite_entry(ctx, trace_id, edit)
    shown = auditor_browser.get(f"/traces/{trace_id}")
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200, page[:2000]
    assert 'id="edited"' in page and 'id="trace-records"' not in page
    from .test_console_no_raw_codes import leaks_of, vocabulary
    assert leaks_of("console.trace", page, vocabulary(ctx)) == []  # the walk's own check
    with ctx.uow(write=False) as uow:
        stored = uow.audit_queries.row(trace_id).text
    tamper_text = stored.replace("&", "&amp;").replace('"', "&#34;").replace("<", "&lt;")
    assert tamper_text in page  # the bytes as stored, not a text rebuilt from them
    verified = auditor_browser.post(f"/traces/{trace_id}/verify", {})
    assert verified.status_code == 200 and 'id="v-hash">哈希：不一致' in \
        verified.get_data(as_text=True)


def test_an_intact_trace_is_still_laid_out_as_its_score(ctx, clock, http, auditor_browser):
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    page = auditor_browser.get(f"/traces/{trace_id}").get_data(as_text=True)
    assert 'id="edited"' not in page and 'id="trace-records"' in page


def test_an_edited_entry_says_so_and_an_unreadable_one_is_refused(ctx, clock, http,
                                                                  auditor_browser):
    _evaluated(ctx, clock, http)
    position = _of_kind(ctx, "record.created")[0]["position"]  # the entry of P-1
    assert 'id="edited"' not in auditor_browser.get(f"/audit/entries/{position}").get_data(
        as_text=True)
    _rewrite_entry(ctx, position, lambda body: body["payload"]["record"].__setitem__(
        "code", "AWARD-PROVINCIAL"))
    page = auditor_browser.get(f"/audit/entries/{position}").get_data(as_text=True)
    assert 'id="edited"' in page and "AWARD-PROVINCIAL" in page
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = 'x' WHERE position = :p",
           {"p": position})
    refused = http("GET", f"/api/v1/audit/entries?after={position - 1}&limit=1", "auditor")
    assert refused.status_code == 500, refused.get_data(as_text=True)
    assert refused.get_json()["error"] == "integrity_failure"
    assert f"Audit entry {position}" in refused.get_json()["message"]


@pytest.mark.parametrize("page", ["trace", "entry"])
def test_an_edited_position_does_not_move_the_page(ctx, clock, http, auditor_browser, page):
    """The pages of an edited entry take nothing from its text: an entry edited to claim
    another position is shown at the position asked for, and its verify button
    verifies that one."""
    doc = _evaluated(ctx, clock, http)
    if page == "trace":
        position = doc["results"][0]["members"][0]["trace_id"]
        url = f"/traces/{position}"
    else:
        position = _of_kind(ctx, "record.created")[0]["position"]
        url = f"/audit/entries/{position}"
    _rewrite_entry(ctx, position, lambda body: body.__setitem__("position", 1))
    shown = auditor_browser.get(url).get_data(as_text=True)
    assert 'id="edited"' in shown and f"#{position}" in shown
    if page == "trace":
        assert f'action="/traces/{position}/verify#verification"' in shown
        verified = auditor_browser.post(f"/traces/{position}/verify", {})
        assert verified.status_code == 200
        assert 'id="v-hash">哈希：不一致' in verified.get_data(as_text=True)


def test_an_unreadable_trace_is_shown_to_auditors_and_verified(ctx, clock, http,
                                                               auditor_browser):
    """A trace whose text is no JSON at all: the console shows its bytes and verifies it
    (the API's GET /traces/{id} refuses it: integrity_failure); its evaluator, whose
    token id the text no longer proves, may not read it."""
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = 'x' WHERE position = :p",
           {"p": trace_id})
    assert 'id="edited"' in auditor_browser.get(f"/traces/{trace_id}").get_data(as_text=True)
    verified = auditor_browser.post(f"/traces/{trace_id}/verify", {})
    assert verified.status_code == 200, verified.get_data(as_text=True)[:2000]
    assert http("GET", f"/api/v1/traces/{trace_id}", "auditor").get_json()["error"] == \
        "integrity_failure"
    assert http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor").get_json()[
        "hash_ok"] is False


def test_traces_that_name_no_token_leave_the_evaluation_owner_unchecked(ctx, clock,
                                                                        monkeypatch):
    """Traces served before they carried their token's id name no owner: a legitimate
    evaluation of that time passes (its owner cannot be checked), not a mismatch."""
    from credit.services import scoring
    create_record(ctx, HOUSING, record_body(document_no="P-1"))
    with monkeypatch.context() as m:  # the trace payload as it was before token_id
        m.setattr(scoring, "_stamped", lambda payload, actor: payload)
        _evaluation(ctx, clock)
    assert all("token_id" not in e["payload"] for e in _of_kind(ctx, "score.served"))
    assert verify_chain(ctx, store=False)["ok"] is True


def _of_kind(ctx, kind: str) -> list[dict]:
    """The log's entries of one kind, oldest first (the first hundred)."""
    with ctx.uow(write=False) as uow:
        return uow.audit_queries.page(kind=kind, limit=100)


@pytest.mark.parametrize("edit", [
    _set("evaluation", "x"), _set("as_of", ["2026-06-01"]), _drop("as_of"),
], ids=["evaluation-str", "as_of-list", "as_of-missing"])
def test_the_consoles_inquiry_pages_refuse_an_edited_trace_as_the_api_does(ctx, clock, http,
                                                                          edit):
    from credit.errors import IntegrityFailure
    from credit.services import console
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    uscc = entry(ctx, trace_id)["payload"]["uscc"]
    _rewrite_entry(ctx, trace_id, edit)
    auditor = authenticate(ctx, create_token(ctx, "op", role="auditor", name="审计")[1])
    for read in (console.inquiry_page, console.inquiry_summary):
        with pytest.raises(IntegrityFailure, match=f"Audit entry {trace_id}"):
            read(ctx, auditor, uscc)


@pytest.mark.parametrize("edit", [_drop("tender"), _set("evaluation_id", "1"),
                                  _set("bidders", None)])
def test_the_consoles_evaluation_list_shows_an_edited_entry_as_altered(ctx, clock, http,
                                                                       edit):
    """Listed to auditors as an altered entry (its page, `credit audit verify`), left out
    for evaluators (its owner is not known); the home page that lists it still opens."""
    from api import create_app
    from credit.services import console
    from tests.integration.test_console_pages import SECRET_KEY, signed_in
    _evaluated(ctx, clock, http)
    position = _of_kind(ctx, "evaluation.created")[0]["position"]
    auditor = authenticate(ctx, create_token(ctx, "op", role="auditor", name="审计")[1])
    assert len(console.evaluation_index(ctx, auditor)) == 1
    _rewrite_entry(ctx, position, edit)
    assert console.evaluation_index(ctx, auditor) == [{"altered": position}]
    assert console.evaluation_index(ctx, EVALUATOR) == []
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    browser = signed_in(app, create_token(ctx, "op", role="auditor", name="审计2")[1])
    for path in ("/", "/evaluations"):
        page = browser.get(path)
        assert page.status_code == 200, path
        assert f'href="/audit/entries/{position}"' in page.get_data(as_text=True)


@pytest.mark.parametrize("value", [[1], {"id": 1}, "1"])
def test_an_inquiry_trace_whose_token_id_was_edited_is_refused(ctx, clock, http, value):
    from credit.errors import IntegrityFailure
    from credit.services import console
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    uscc = entry(ctx, trace_id)["payload"]["uscc"]
    _rewrite_entry(ctx, trace_id, _set("token_id", value))
    auditor = authenticate(ctx, create_token(ctx, "op", role="auditor", name="审计")[1])
    with pytest.raises(IntegrityFailure, match=f"Audit entry {trace_id}"):
        console.inquiry_page(ctx, auditor, uscc)
    r = http("GET", f"/api/v1/subjects/{uscc}/inquiries", "auditor")
    assert r.get_json()["error"] == "integrity_failure"


def test_an_escaped_lone_surrogate_is_refused_not_an_internal_error(ctx, clock, http):
    """It parses, but no response can carry it; the service never writes one."""
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, "
           "'\"actor\":\"评标系统\"', '\"actor\":\"\\ud800\"') WHERE position = :p",
           {"p": trace_id})
    assert "\\ud800" in _text(ctx, trace_id)
    for path in (f"/api/v1/traces/{trace_id}",
                 f"/api/v1/audit/entries?after={trace_id - 1}&limit=1"):
        r = http("GET", path, "auditor")
        assert r.get_json()["error"] == "integrity_failure", r.get_data(as_text=True)[:300]
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200 and v.get_json()["hash_ok"] is False


def test_a_lone_surrogate_in_a_traces_payload_is_its_verifications_difference(ctx, clock,
                                                                             http):
    """Not replayed (no query can carry it): named in ``differences``."""
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, :a, :b) "
           "WHERE position = :p", {"a": '"uscc":"', "b": '"uscc":"\\ud800', "p": trace_id})
    v = http("GET", f"/api/v1/traces/{trace_id}/verify", "auditor")
    assert v.status_code == 200, v.get_data(as_text=True)[:300]
    assert v.get_json()["ok"] is False and v.get_json()["differences"] == ["result", "uscc"]
    assert http("GET", "/api/v1/audit/verify", "auditor").get_json()["ok"] is False


def _text(ctx, position: int) -> str:
    from credit.persistence.tables import AuditEntryRow
    with ctx.uow(write=False) as uow:
        return uow.session.get(AuditEntryRow, position).text


@pytest.mark.parametrize("edit", [('"bidders":2', '"bidders":2.0'),
                                  ('"as_of":"', '"as_of":"\\ud800')], ids=["float", "surrogate"])
def test_an_evaluation_entry_that_no_longer_parses_is_listed_as_altered(ctx, clock, http,
                                                                        edit):
    """A text the service cannot have written (parse_entry refuses it): the home page of
    every role that lists evaluations still opens; auditors see the entry as altered."""
    from api import create_app
    from credit.services import console
    from tests.integration.test_console_pages import SECRET_KEY, signed_in
    _evaluated(ctx, clock, http)
    position = _of_kind(ctx, "evaluation.created")[0]["position"]
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, :a, :b) "
           "WHERE position = :p", {"a": edit[0], "b": edit[1], "p": position})
    auditor = authenticate(ctx, create_token(ctx, "op", role="auditor", name="审计")[1])
    assert console.evaluation_index(ctx, auditor) == [{"altered": position}]
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    for role in ("evaluator", "auditor", "admin"):
        browser = signed_in(app, create_token(ctx, "op", role=role, name=f"看-{role}")[1])
        assert browser.get("/").status_code == 200, role


def test_an_actor_forged_into_an_inquiry_trace_is_refused_not_listed(ctx, clock, http):
    """The inquiry log states who pulled an enterprise's score: a trace whose text no
    longer hashes — another actor written into it — is refused on the API and the
    console, not listed as that actor's look-up (audit review)."""
    from credit.errors import IntegrityFailure
    from credit.services import console
    doc = _evaluated(ctx, clock, http)
    trace_id = doc["results"][0]["members"][0]["trace_id"]
    uscc = entry(ctx, trace_id)["payload"]["uscc"]
    assert tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, "
                  "'\"actor\":\"评标系统\"', '\"actor\":\"柯桥区审计局\"') "
                  "WHERE position = :p", {"p": trace_id}) == 1
    r = http("GET", f"/api/v1/subjects/{uscc}/inquiries", "auditor")
    assert r.status_code == 500 and r.get_json()["error"] == "integrity_failure"
    auditor = authenticate(ctx, create_token(ctx, "op", role="auditor", name="审计")[1])
    with pytest.raises(IntegrityFailure, match=f"Audit entry {trace_id}"):
        console.inquiry_page(ctx, auditor, uscc)


def test_a_trace_moved_to_another_enterprise_by_its_column_is_refused(ctx, clock, http):
    """The inquiry log is selected by the ``uscc`` look-up column: a trace moved to
    another enterprise by that column alone still hashes, and was listed as a pull of
    the other's score (a second review of the inquiry fix)."""
    doc = _evaluated(ctx, clock, http)
    members = [m for r in doc["results"] for m in r["members"]]
    trace_id, other = members[0]["trace_id"], members[1]["uscc"]
    assert entry(ctx, trace_id)["payload"]["uscc"] != other
    assert tamper(ctx, "audit_entries", "UPDATE audit_entries SET uscc = :u "
                  "WHERE position = :p", {"u": other, "p": trace_id}) == 1
    r = http("GET", f"/api/v1/subjects/{other}/inquiries", "auditor")
    assert r.status_code == 500 and r.get_json()["error"] == "integrity_failure"
