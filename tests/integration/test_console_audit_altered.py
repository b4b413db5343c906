"""The console's audit page with an entry edited behind the service, on both backends.

The audit page is where an auditor runs the chain's verification (its two buttons) and
reads the newest entries. An entry whose stored text the service cannot have written (a
float, an escaped lone surrogate: ``parse_entry`` refuses it) made the whole page an
``integrity_failure`` — and, since the verify buttons post to the same page, an auditor
could not verify the chain from the console exactly when it had been altered. An entry
that still parses but whose payload was edited into another shape (a record that is a
text, say) is listed by its summary, which must not fail either.

Now the page lists such an entry as altered (its position, kind, actor and time from
its look-up columns, a link to its entry page, which shows the stored text and that it
no longer hashes) and the verify buttons report the edit.
"""

from __future__ import annotations

import json

import pytest

from credit.persistence.audit_log import LAST_AT_US
from credit.services.records import create_record
from credit.services.tokens import create_token
from tests.integration.helpers import HOUSING, entry, record_body, tamper

from .test_console_pages import SECRET_KEY, Browser, signed_in

pytestmark = pytest.mark.db

ALTERED = "已被改动"  # the page's mark for an entry listed by its look-up columns only


@pytest.fixture
def auditor_browser(ctx) -> Browser:
    from api import create_app
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    return signed_in(app, create_token(ctx, "op", role="auditor", name="柯桥区审计局")[1])


def _record_entry(ctx) -> int:
    """A record.created entry with entries after it (the auditor's token)."""
    create_record(ctx, HOUSING, record_body(document_no="绍柯建罚〔2026〕7号"))
    with ctx.uow(write=False) as uow:
        return uow.audit_queries.page(kind="record.created", limit=1)[0]["position"]


def _replace(ctx, position: int, old: str, new: str) -> None:
    assert tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = replace(text, :a, :b) "
                  "WHERE position = :p", {"a": old, "b": new, "p": position}) == 1


def _rewrite(ctx, position: int, edit) -> None:
    body = {k: v for k, v in entry(ctx, position).items() if k != "sha256"}
    edit(body["payload"])
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET text = :t WHERE position = :p",
           {"t": text, "p": position})


# Texts the service cannot have written: parse_entry refuses them.
UNREADABLE = {"float": ('"audit_position":', '"audit_position":1.5,"x":'),
              "surrogate": ('"document_no":"', '"document_no":"\\ud800')}


@pytest.mark.parametrize("edit", list(UNREADABLE.values()), ids=list(UNREADABLE))
@pytest.mark.parametrize("query", ["", "?kind=record.created", f"?uscc={record_body()['uscc']}"],
                         ids=["all", "kind", "uscc"])
def test_the_audit_page_lists_an_unreadable_entry_as_altered(ctx, auditor_browser, edit,
                                                             query):
    position = _record_entry(ctx)
    _replace(ctx, position, *edit)
    page = auditor_browser.get("/audit" + query)
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:500]
    if "uscc" not in query:  # its enterprise is in the text that no longer reads
        assert f'data-position="{position}"' in body and ALTERED in body
        assert f'href="/audit/entries/{position}"' in body


@pytest.mark.parametrize("edit", list(UNREADABLE.values()), ids=list(UNREADABLE))
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_the_verify_buttons_report_the_unreadable_entry(ctx, auditor_browser, edit, mode):
    position = _record_entry(ctx)
    _replace(ctx, position, *edit)
    page = auditor_browser.post("/audit/verify", {"mode": mode})
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:500]
    assert "发现异常" in body and f"条目 #{position}" in body


@pytest.mark.parametrize("edit", [
    lambda p: p.__setitem__("record", "x"),
    lambda p: p.__setitem__("record", {"id": [1]}),
    lambda p: p.__setitem__("record", None),
    lambda p: p.clear(),
], ids=["record-str", "record-id-list", "record-null", "payload-empty"])
def test_an_entry_edited_into_another_shape_still_lists(ctx, auditor_browser, edit):
    position = _record_entry(ctx)
    _rewrite(ctx, position, edit)
    for path in ("/audit", "/audit?kind=record.created"):
        page = auditor_browser.get(path)
        body = page.get_data(as_text=True)
        assert page.status_code == 200, (path, body[:500])
        assert f'data-position="{position}"' in body, path
    entry_page = auditor_browser.get(f"/audit/entries/{position}")
    assert entry_page.status_code == 200


def test_an_unreadable_served_score_lists_under_its_kind(ctx, auditor_browser):
    """Served scores are looked up through their own index (kind ``score.served``)."""
    _record_entry(ctx)
    secret = create_token(ctx, "op", role="evaluator", name="评标系统")[1]
    served = auditor_browser.app.test_client().get(
        f"/api/v1/subjects/{record_body()['uscc']}/score?sector=housing&as_of=2026-06-01",
        headers={"Authorization": f"Bearer {secret}"})
    assert served.status_code == 200, served.get_data(as_text=True)
    position = served.get_json()["trace_id"]
    _replace(ctx, position, '"as_of":"', '"as_of":"\\ud800')
    page = auditor_browser.get("/audit?kind=score.served")
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:500]
    assert f'data-position="{position}"' in body and ALTERED in body


@pytest.mark.parametrize("edit", [
    lambda p: p.clear(),
    lambda p: p.__setitem__("record", {"id": 1, "sector": ["housing"]}),
], ids=["payload-empty", "sector-list"])
def test_an_entry_rehashed_after_its_edit_still_lists(ctx, auditor_browser, edit):
    """Its text edited and its hash column with it: the entry hashes, and only the chain
    (the next entry's link, the record row's hash) shows the edit. Its summary cannot be
    laid out from a payload of another shape; the page lists it as such instead of
    failing."""
    from credit.domain.canonical import sha256_hex
    position = _record_entry(ctx)
    _rewrite(ctx, position, edit)
    with ctx.uow(write=False) as uow:
        text = uow.audit_queries.row(position).text
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET sha256 = :h WHERE position = :p",
           {"h": sha256_hex(text), "p": position})
    page = auditor_browser.get("/audit")
    body = page.get_data(as_text=True)
    assert page.status_code == 200, body[:500]
    assert f'data-position="{position}"' in body and "内容不是服务写入的形式" in body
    chain = auditor_browser.post("/audit/verify", {"mode": "full"}).get_data(as_text=True)
    # the record's row no longer matches the hash its (edited) entry gives for it
    assert "发现异常" in chain and f"条目 #{position}" in chain


# ------------------------------------------------------------------------------------
# A second review: an altered entry's row was still laid out from its edited text (its
# time, kind, actor and position), so the page could fail on an edited ``at`` or
# ``kind``, listed a forged actor, and paged from a forged position. Every cell of an
# altered entry now comes from its look-up columns; a text that hashes but whose
# position, kind, actor or time differ from them was rewritten with its hash: altered.

def _row_of(body: str, position: int) -> str:
    row = body[body.index(f'data-position="{position}"'):]
    return row[:row.index("</tr>")]


@pytest.mark.parametrize("edit", [
    ('"at":"', '"at":5,"x":"'),
    ('"kind":"record.created"', '"kind":["record.created"]'),
    ('"actor":', '"actorx":'),
    (f'"actor":"{HOUSING.name}"', '"actor":"伪造的操作方"'),
], ids=["at-number", "kind-list", "actor-missing", "actor-forged"])
@pytest.mark.parametrize("rehashed", [False, True], ids=["edited", "rehashed"])
def test_an_altered_entrys_row_is_its_look_up_columns(ctx, auditor_browser, edit, rehashed):
    from credit.domain.canonical import sha256_hex
    position = _record_entry(ctx)
    _replace(ctx, position, *edit)
    if rehashed:
        with ctx.uow(write=False) as uow:
            text = uow.audit_queries.row(position).text
        tamper(ctx, "audit_entries", "UPDATE audit_entries SET sha256 = :h "
               "WHERE position = :p", {"h": sha256_hex(text), "p": position})
    for path in ("/audit", f"/audit?actor={HOUSING.name}", "/audit?kind=record.created"):
        page = auditor_browser.get(path)
        body = page.get_data(as_text=True)
        assert page.status_code == 200, (path, body[:500])
        row = _row_of(body, position)
        assert ALTERED in row and HOUSING.name in row and "伪造" not in row, (path, row)


def test_an_altered_entry_is_paged_by_its_position(ctx):
    from credit.services import console
    for n in range(3):
        create_record(ctx, HOUSING, record_body(document_no=f"绍柯建罚〔2026〕{n + 1}号"))
    with ctx.uow(write=False) as uow:
        head = uow.audit.head().position
    _replace(ctx, head, f'"position":{head},', '"position":1,')
    feed = console.audit_feed(ctx, limit=1, lenient=True)
    assert (feed["items"][0]["position"], feed["older"]) == (head, head)


def test_an_enterprise_filter_meets_an_event_edited_to_name_no_record(ctx, auditor_browser):
    from credit.domain.canonical import sha256_hex
    from credit.services.records import revoke_record
    record = create_record(ctx, HOUSING, record_body(document_no="绍柯建罚〔2026〕8号"))
    record_id = json.loads(record.body)["id"]
    revoke_record(ctx, HOUSING, record_id, {"document_no": "撤〔2026〕1号", "reason": "撤销原因"})
    with ctx.uow(write=False) as uow:
        position = uow.audit_queries.page(kind="record.revoked", limit=1)[0]["position"]
    _replace(ctx, position, f'"record_id":{record_id}', f'"record_id":[{record_id}]')
    with ctx.uow(write=False) as uow:
        text = uow.audit_queries.row(position).text
    tamper(ctx, "audit_entries", "UPDATE audit_entries SET sha256 = :h WHERE position = :p",
           {"h": sha256_hex(text), "p": position})
    page = auditor_browser.get(f"/audit?uscc={record_body()['uscc']}")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]


def test_an_evaluators_list_meets_an_evaluation_entry_without_its_actor(ctx):
    from api import create_app
    from credit.services.scoring import create_evaluation
    from credit.services.tokens import authenticate
    secret = create_token(ctx, "op", role="evaluator", name="评标系统")[1]
    create_evaluation(ctx, authenticate(ctx, secret), {
        "tender": {"code": "KQ-1", "name": "标段一"}, "sector": "housing",
        "as_of": "2026-06-01", "bidders": [{"uscc": record_body()["uscc"]}]})
    with ctx.uow(write=False) as uow:
        position = uow.audit_queries.page(kind="evaluation.created", limit=1)[0]["position"]
    _replace(ctx, position, '"actor":', '"actorx":')
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})
    for path in ("/", "/evaluations"):
        page = signed_in(app, secret).get(path)
        assert page.status_code == 200, (path, page.get_data(as_text=True)[:500])


@pytest.mark.parametrize("document", ["not json", "{}", "edited"])
def test_an_edited_evaluation_page_says_it_was_altered(ctx, auditor_browser, document):
    """The console's evaluation page refuses an evaluation document edited behind the
    service as the API does (``integrity_failure``, in Chinese), instead of a generic
    error or the forged document laid out as the committee's (audit review)."""
    from credit.services.context import Actor
    from credit.services.scoring import create_evaluation
    from tests.integration.helpers import S1
    create_record(ctx, HOUSING, record_body(document_no="绍柯建罚〔2026〕8号"))
    evaluator = Actor("评标系统", "evaluator", token_id=2)
    created = json.loads(create_evaluation(ctx, evaluator, {
        "tender": {"code": "KQ-2026-0012", "name": "鉴湖路提升改造工程"},
        "sector": "housing", "as_of": "2026-06-01", "bidders": [{"uscc": S1}]}).body)
    forged = json.dumps({**created, "results": []}) if document == "edited" else document
    assert tamper(ctx, "evaluations", "UPDATE evaluations SET document = :d WHERE id = :i",
                  {"d": forged, "i": created["id"]}) == 1
    page = auditor_browser.get(f"/evaluations/{created['id']}")
    assert page.status_code == 500
    assert "与其哈希不符" in page.get_data(as_text=True)


def test_an_entry_whose_time_column_is_no_instant_is_listed_not_a_500(ctx, auditor_browser):
    """An ``at_us`` edited past any instant (2^62 µs) made the audit page — and its
    verify buttons — an error page (audit review); the row shows the number stored."""
    position = _record_entry(ctx)
    create_record(ctx, HOUSING, record_body(document_no="绍柯建罚〔2026〕9号"))
    assert tamper(ctx, "audit_entries", "UPDATE audit_entries SET at_us = :v "
                  "WHERE position = :p", {"v": 2**62, "p": position}) == 1
    page = auditor_browser.get("/audit")
    assert page.status_code == 200
    assert f"at_us={2**62}" in page.get_data(as_text=True)
    assert auditor_browser.post("/audit/verify", {"mode": "full"}).status_code == 200


@pytest.mark.parametrize("at_us", [2**62, LAST_AT_US])
def test_a_head_whose_time_column_is_no_instant_is_integrity_failure(ctx, tmp_path,
                                                                    auditor_browser, at_us):
    """Every append and checkpoint starts from the head's ``at``: one edited past any
    instant is the stored data's fault, said as such (500 ``integrity_failure``), not
    an overflow inside the service (audit review)."""
    from credit.errors import IntegrityFailure
    from credit.services import checkpoints
    from credit.signing import create_key
    key = create_key(tmp_path / "signing.pem")
    _record_entry(ctx)
    with ctx.uow(write=False) as uow:
        head = uow.audit.head().position
    assert tamper(ctx, "audit_entries", "UPDATE audit_entries SET at_us = :v "
                  "WHERE position = :p", {"v": at_us, "p": head}) == 1
    with pytest.raises(IntegrityFailure):
        checkpoints.issue(ctx, key)
    with pytest.raises(IntegrityFailure):
        create_record(ctx, HOUSING, record_body(document_no="绍柯建罚〔2026〕9号"))
    from credit.services.context import Actor
    from credit.services.scoring import ScoreQuery, score
    from tests.integration.helpers import S1
    with pytest.raises(IntegrityFailure):  # the served score's knowledge is the head's
        score(ctx, Actor("评标系统", "evaluator", token_id=2), ScoreQuery(S1, "housing"))
    assert auditor_browser.get("/audit").status_code == 200  # where the auditor looks
