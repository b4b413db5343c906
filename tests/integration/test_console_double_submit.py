"""A double submit of the console's revocation or repair form, or of its decision on a
repair application or objection, on both backends.

A regulator who clicks "确认撤销" (or "确认修复") twice, or resends the page after a
timeout, sends the same rendering of the form twice: the change is applied once and the
second submit gets the same answer as the first (the redirect to the record, with the
same notice), not a 409 that reads as if the action had failed. The form's key (one per
rendering of the form, carried through the review step) is what makes the two submits
the same; a genuinely new submission — another rendering, after the record was already
revoked or repaired — is still refused with the Chinese 409 message. Two submits racing
in two threads apply once too: the second waits on the append lock, then replays. The
decision form (/applications/{id}) behaves alike; its tests are at the end.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from credit.persistence.tables import ApplicationDecisionRow
from credit.services import applications
from credit.services.audit import verify_chain
from credit.services.tokens import authenticate, create_token
from credit.services.verification import idempotency_key
from tests.integration.helpers import all_entries, counts, tamper

from .test_console_pages import S1, SECRET_KEY, Browser, add_record, last_form, signed_in, text

pytestmark = pytest.mark.db

TYPED = {
    "revocation": {"document_no": "绍柯建撤〔2026〕1号", "reason": "行政复议撤销"},
    "repair": {"repaired_on": "2026-05-01", "document_no": "绍柯建修〔2026〕1号",
               "reason": "已整改"},
}
DONE = {"revocation": "已撤销该记录。", "repair": "已完成信用修复。"}
# what the 409 page says where the form was (console/change.html, from the record's state)
REFUSED = {"revocation": "该记录已被撤销", "repair": "该记录已完成信用修复"}
# what every keyed console form says of its key sent again with another body (forms._CODES)
KEY_REUSED = "此表单已用不同内容提交过"


@pytest.fixture
def app(ctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def housing(ctx):
    return create_token(ctx, "test", role="regulator", name="柯桥区住房和城乡建设局",
                        sectors=["housing"])[1]


def confirm_form(b: Browser, path: str, which: str) -> dict:
    """Open the form (one rendering), fill it in, review it: the confirm page's form,
    whose button a regulator then clicks (``step=confirm``)."""
    opened = b.get(path)
    assert opened.status_code == 200
    review = b.post(path, {**last_form(opened.get_data(as_text=True)),
                           **TYPED[which], "step": "review"})
    assert review.status_code == 200, text(review)[:2000]
    return {**last_form(review.get_data(as_text=True)), "step": "confirm"}


def reviewed(ctx, app, housing, which: str) -> tuple[str, Browser, dict]:
    """A fresh record's revocation or repair form, opened and reviewed by the housing
    regulator: the form's path, the regulator's browser and the confirm page's form."""
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    b = signed_in(app, housing)
    return path, b, confirm_form(b, path, which)


def twin(app, b: Browser) -> Browser:
    """A second client holding ``b``'s session cookie as it is now: the second of two
    submits a browser sends before the first one's answer (and its cookie) came back."""
    other = Browser(app)
    cookie = app.config["SESSION_COOKIE_NAME"]
    other.client.set_cookie(cookie, b.client.get_cookie(cookie).value)
    return other


def notice(b: Browser, resp) -> str:
    """The page a redirect leads to, as the regulator sees it."""
    assert resp.status_code == 302, text(resp)[:2000]
    return text(b.get(resp.headers["Location"]))


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_a_double_submit_applies_once_and_answers_both_alike(ctx, app, housing, which):
    path, b, form = reviewed(ctx, app, housing, which)
    clicked_again = twin(app, b)
    before = counts(ctx)

    first = b.post(path, form)
    again = clicked_again.post(path, form)  # the double click, or "resend" after a timeout

    assert first.status_code == again.status_code == 302, text(again)[:2000]
    assert again.headers["Location"] == first.headers["Location"] == path.removesuffix(f"/{which}")
    assert DONE[which] in notice(b, first)
    assert DONE[which] in notice(clicked_again, again)  # the same notice, not a 409
    # a resend once the first answer (and its notice) had arrived: the same again
    assert DONE[which] in notice(b, b.post(path, form))
    after = counts(ctx)
    assert after["events"] == before["events"] + 1  # one revocation (repair) event
    assert after["audit"] == before["audit"] + 1  # and one entry
    assert verify_chain(ctx)["ok"] is True  # the remembered answer is covered by its entry


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_another_rendering_after_the_change_is_refused_in_chinese(ctx, app, housing, which):
    path, b, form = reviewed(ctx, app, housing, which)
    done = b.post(path, form)
    assert done.status_code == 302
    before = counts(ctx)

    # the page opened again shows why there is no form to submit ...
    assert REFUSED[which] in text(b.get(path))
    # ... and a submission of another rendering (another key) is refused at either step
    fresh = {**TYPED[which], "form_key": "another-rendering-0123456789"}
    for step in ("review", "confirm"):
        resp = b.post(path, {**fresh, "step": step})
        assert resp.status_code == 409 and REFUSED[which] in text(resp), text(resp)[:2000]
        # said once, by the page's notice: the refusal does not repeat it
        assert text(resp).count(REFUSED[which]) == 1 and "未保存" not in text(resp)
    # a confirm page kept open in another tab, with a different document number
    other = b.post(path, {**fresh, "form_key": "a-third-rendering-012345678",
                          "document_no": "另一文号", "step": "confirm"})
    assert other.status_code == 409 and REFUSED[which] in text(other)
    assert counts(ctx) == before


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(ctx, app, housing,
                                                                       which):
    """The key names one rendering, not one record: after the first confirm succeeded,
    "返回修改", another document number and the same key again is not the same
    submission. It is refused 409 ``idempotency_key_reused`` — the key is looked up
    before the record's state (API.md §1, step 7 before 11) — and the page says so in
    the words every keyed console form uses, above its notice that the record is
    already revoked (repaired), which says why there is no form to submit again."""
    path, b, form = reviewed(ctx, app, housing, which)
    assert b.post(path, form).status_code == 302
    before = counts(ctx)
    changed = b.post(path, {**form, "document_no": "绍柯建〔2026〕99号"})
    page = text(changed)
    assert changed.status_code == 409 and KEY_REUSED in page, page[:2000]
    assert REFUSED[which] in page and page.index(KEY_REUSED) < page.index(REFUSED[which])
    assert counts(ctx) == before


def racing(path: str, form: dict, *browsers: Browser) -> list:
    """Each browser posts ``form`` to ``path`` at once (a barrier releases them
    together): their answers, in order."""
    barrier = threading.Barrier(len(browsers))
    answers: list = [None] * len(browsers)

    def submit(i: int, b: Browser) -> None:
        barrier.wait(timeout=30)
        answers[i] = b.post(path, form)

    threads = [threading.Thread(target=submit, args=(i, b)) for i, b in enumerate(browsers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_two_submits_racing_in_two_threads_apply_once(ctx, app, housing, which):
    path, first, form = reviewed(ctx, app, housing, which)
    second = twin(app, first)  # a second click while the first is in flight
    before = counts(ctx)

    answers = racing(path, form, first, second)
    assert [a.status_code for a in answers] == [302, 302], [text(a)[:500] for a in answers]
    assert {a.headers["Location"] for a in answers} == {path.removesuffix(f"/{which}")}
    after = counts(ctx)
    assert (after["events"], after["audit"]) == (before["events"] + 1, before["audit"] + 1)
    assert verify_chain(ctx)["ok"] is True


def stamped_then_tampered(ctx, b: Browser, path: str, form: dict, entry: dict) -> None:
    """``entry`` carries the form's stamp and the chain verifies; once the remembered
    reply is edited, audit verify names its row and a resend is refused (500), never
    replayed."""
    stamp = entry["payload"]["idempotency"]
    assert (stamp["method"], stamp["path"], stamp["key"]) == ("POST", path, form["form_key"])
    assert verify_chain(ctx)["ok"] is True
    assert tamper(ctx, "idempotency_keys", "UPDATE idempotency_keys SET body = :b "
                  "WHERE path = :p", {"b": '{"forged": true}', "p": path}) == 1
    bad = verify_chain(ctx)["first_bad"]
    assert (bad["problem"], bad["table"], bad["id"]) == (
        "row_mismatch", "idempotency_keys",
        idempotency_key(stamp["token_id"], "POST", path, form["form_key"]))
    before = counts(ctx)
    assert b.post(path, form).status_code == 500  # integrity_failure: not replayed
    assert counts(ctx) == before


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_the_remembered_answer_is_checked_against_its_entry(ctx, app, housing, which):
    """The form's key is kept like an API key: its row is hashed in the change's own
    entry, ``audit verify`` finds an edited row, and an edited row is never replayed."""
    path, b, form = reviewed(ctx, app, housing, which)
    assert b.post(path, form).status_code == 302
    entry = all_entries(ctx)[-1]
    assert entry["kind"] == f"record.{'revoked' if which == 'revocation' else 'repaired'}"
    stamped_then_tampered(ctx, b, path, form, entry)


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_the_api_still_ignores_an_idempotency_key_here(ctx, app, housing, which):
    """API.md §3 honours Idempotency-Key on POST /records and /evaluations only: a
    revocation or repair sent twice with one key is refused the second time, as
    before, and nothing is remembered for it."""
    record = add_record(ctx, housing)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {housing}", "Idempotency-Key": "api-key-1"}
    path = f"/api/v1/records/{record['id']}/{which}"
    first = client.post(path, json=TYPED[which], headers=headers)
    again = client.post(path, json=TYPED[which], headers=headers)
    assert first.status_code == 200
    assert again.status_code == 409
    assert again.get_json()["error"] == ("already_revoked" if which == "revocation"
                                         else "already_repaired")
    assert counts(ctx)["idempotency"] == 0


# ------------------------------------------------------------------ an application's decision
# The regulator's decision on a repair application or an objection (/applications/{id})
# is keyed the same way: its key is rendered with the decision form and carried through
# the review page, so a double click on "确认同意" / "确认不予同意" decides once and both
# submits see "已同意申请 #n" (or "已不予同意申请 #n"), not the 409 "该申请已经处理".

DECISIONS = {  # (kind applied for, what the regulator types)
    "accepted objection": ("objection", {"action": "accept", "document_no": "绍柯建复〔2026〕2号",
                                         "reason": "复议决定撤销原处罚"}),
    "accepted repair": ("repair", {"action": "accept", "document_no": "绍柯建修〔2026〕3号",
                                   "reason": "整改到位，同意修复"}),
    "rejection": ("repair", {"action": "reject", "reason": "整改材料不完整，不予修复"}),
}
DECIDED = {"accept": "已同意申请", "reject": "已不予同意申请"}
ALREADY_DECIDED = "该申请已经处理，不能再次处理。"


@pytest.fixture
def enterprise(ctx):
    return create_token(ctx, "test", role="enterprise", name="浙江柯桥建工集团有限公司",
                        uscc=S1)[1]


def applied(ctx, housing, enterprise, kind: str, document_no: str | None = None) -> int:
    """An application of ``kind`` by the record's enterprise, pending: its id (a record
    of its own when ``document_no`` is given)."""
    record = add_record(ctx, housing, **({"document_no": document_no} if document_no else {}))
    body = {"kind": kind, "reason": "原处罚所依据的事实有误"}
    if kind == "repair":
        body["requested_repair_on"] = "2026-05-01"
    return applications.submit(ctx, authenticate(ctx, enterprise), record["id"], body)["id"]


def decision_form(b: Browser, path: str, typed: dict) -> dict:
    """Open the application (one rendering of its decision form), fill it in, review
    it: the confirm page's form, whose button the regulator then clicks."""
    opened = b.get(path)
    assert opened.status_code == 200 and 'id="decision-form"' in text(opened)
    review = b.post(path, {**last_form(opened.get_data(as_text=True)), **typed,
                           "step": "review"})
    assert review.status_code == 200, text(review)[:2000]
    return {**last_form(review.get_data(as_text=True)), "step": "confirm"}


def decisions(ctx) -> int:
    """How many decisions were ever taken (a decision is one row, never updated)."""
    with ctx.uow(write=False) as uow:
        return uow.session.execute(
            select(func.count()).select_from(ApplicationDecisionRow)).scalar()


@pytest.mark.parametrize("case", list(DECISIONS))
def test_a_double_submit_of_a_decision_decides_once_and_answers_both_alike(
        ctx, app, housing, enterprise, case):
    kind, typed = DECISIONS[case]
    aid = applied(ctx, housing, enterprise, kind)
    path = f"/applications/{aid}"
    b = signed_in(app, housing)
    form = decision_form(b, path, typed)
    assert form["form_key"]  # the rendering's key came through the review page
    clicked_again = twin(app, b)
    before = counts(ctx)

    first = b.post(path, form)
    again = clicked_again.post(path, form)  # the double click, or "resend" after a timeout

    assert first.status_code == again.status_code == 302, text(again)[:2000]
    assert again.headers["Location"] == first.headers["Location"] == path
    said = f"{DECIDED[typed['action']]} #{aid}"
    assert said in notice(b, first)
    assert said in notice(clicked_again, again)  # the same notice, not a 409
    assert said in notice(b, b.post(path, form))  # a resend after the first answer came
    after = counts(ctx)
    accepted = typed["action"] == "accept"
    assert decisions(ctx) == 1
    assert after["events"] == before["events"] + accepted  # one repair or revocation
    assert after["audit"] == before["audit"] + 1 + accepted  # and application.decided
    assert after["idempotency"] == before["idempotency"] + 1
    assert verify_chain(ctx)["ok"] is True  # the remembered answer is covered by its entry


@pytest.mark.parametrize("case", list(DECISIONS))
def test_the_decision_is_named_in_chinese_on_its_pages(ctx, app, housing, enterprise, case):
    """The review page's button and the decided application name the decision in
    Chinese. (The tender pages' disposal table once took the same filter name and these
    pages read "确认accept".)"""
    kind, typed = DECISIONS[case]
    aid = applied(ctx, housing, enterprise, kind)
    path = f"/applications/{aid}"
    b = signed_in(app, housing)
    opened = b.get(path)
    review = text(b.post(path, {**last_form(opened.get_data(as_text=True)), **typed,
                                "step": "review"}))
    label = {"accept": "同意", "reject": "不予同意"}[typed["action"]]
    assert f">确认{label}</button>" in review and "确认accept" not in review
    assert f"<dt>处理决定</dt><dd>{label}</dd>" in review
    assert b.post(path, decision_form(b, path, typed)).status_code == 302
    assert f"<dt>处理结果</dt><dd>{label}" in text(b.get(path))


def test_another_rendering_after_the_decision_is_refused_in_chinese(ctx, app, housing,
                                                                      enterprise):
    aid = applied(ctx, housing, enterprise, "objection")
    path = f"/applications/{aid}"
    b = signed_in(app, housing)
    _, typed = DECISIONS["accepted objection"]
    assert b.post(path, decision_form(b, path, typed)).status_code == 302
    before = counts(ctx)

    assert 'id="decision-form"' not in text(b.get(path))  # decided: no form to submit
    # a decision page kept open in another tab (another key), at either step
    for step in ("review", "confirm"):
        resp = b.post(path, {**typed, "form_key": "another-rendering-0123456789",
                             "step": step})
        assert resp.status_code == 409 and ALREADY_DECIDED in text(resp), text(resp)[:2000]
        assert KEY_REUSED not in text(resp)
    assert counts(ctx) == before and decisions(ctx) == 1


def test_the_same_decision_key_with_another_decision_is_refused_and_writes_nothing(
        ctx, app, housing, enterprise):
    """The key names one rendering: after the first confirm was taken, "返回修改", the
    other choice and the same key again is not the same submission — 409
    ``idempotency_key_reused``, shown with the words every keyed console form uses."""
    aid = applied(ctx, housing, enterprise, "repair")
    path = f"/applications/{aid}"
    b = signed_in(app, housing)
    form = decision_form(b, path, DECISIONS["accepted repair"][1])
    assert b.post(path, form).status_code == 302
    before = counts(ctx)
    changed = b.post(path, {**form, **DECISIONS["rejection"][1]})
    assert changed.status_code == 409 and KEY_REUSED in text(changed), text(changed)[:2000]
    assert counts(ctx) == before and decisions(ctx) == 1
    assert "已同意" in text(b.get(path))  # the first decision stands


def test_two_decision_submits_racing_in_two_threads_decide_once(ctx, app, housing,
                                                                enterprise):
    aid = applied(ctx, housing, enterprise, "repair")
    path = f"/applications/{aid}"
    first = signed_in(app, housing)
    form = decision_form(first, path, DECISIONS["accepted repair"][1])
    second = twin(app, first)  # a second click while the first is in flight
    before = counts(ctx)

    answers = racing(path, form, first, second)
    assert [a.status_code for a in answers] == [302, 302], [text(a)[:500] for a in answers]
    assert {a.headers["Location"] for a in answers} == {path}
    after = counts(ctx)
    assert (after["events"], after["audit"]) == (before["events"] + 1, before["audit"] + 2)
    assert decisions(ctx) == 1
    assert verify_chain(ctx)["ok"] is True


def test_the_remembered_decision_is_checked_against_its_entry(ctx, app, housing, enterprise):
    """The decision form's key is kept like an API key: its row is hashed in the
    ``application.decided`` entry (not the repair's), ``audit verify`` finds an edited
    row, and an edited row is never replayed."""
    aid = applied(ctx, housing, enterprise, "repair")
    path = f"/applications/{aid}"
    b = signed_in(app, housing)
    form = decision_form(b, path, DECISIONS["accepted repair"][1])
    assert b.post(path, form).status_code == 302
    repaired, decided = all_entries(ctx)[-2:]
    assert (repaired["kind"], decided["kind"]) == ("record.repaired", "application.decided")
    assert "idempotency" not in repaired["payload"]
    stamped_then_tampered(ctx, b, path, form, decided)


def test_the_api_still_ignores_an_idempotency_key_on_a_decision(ctx, app, housing,
                                                                 enterprise):
    """API.md §3 honours Idempotency-Key on POST /records and /evaluations only: a
    decision sent twice with one key is refused ``already_decided`` the second time, as
    before, and nothing is remembered for it."""
    aid = applied(ctx, housing, enterprise, "repair")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {housing}", "Idempotency-Key": "api-key-1"}
    path = f"/api/v1/applications/{aid}/decision"
    typed = DECISIONS["rejection"][1]
    first = client.post(path, json=typed, headers=headers)
    again = client.post(path, json=typed, headers=headers)
    assert first.status_code == 200 and first.get_json()["status"] == "rejected"
    assert again.status_code == 409 and again.get_json()["error"] == "already_decided"
    assert counts(ctx)["idempotency"] == 0
    assert "idempotency" not in all_entries(ctx)[-1]["payload"]


def test_a_decision_key_is_scoped_to_its_application_and_its_token(ctx, app, housing,
                                                                   enterprise):
    """The key is remembered for one token and one application's path: the same form
    posted to another application decides that one (no reply of the first is replayed
    there), and another regulator of the sector posting it meets the decision already
    taken (409), not the first regulator's remembered reply."""
    first_id = applied(ctx, housing, enterprise, "objection")
    other_id = applied(ctx, housing, enterprise, "objection", "绍柯建罚〔2026〕77号")
    b = signed_in(app, housing)
    _, typed = DECISIONS["accepted objection"]
    form = decision_form(b, f"/applications/{first_id}", typed)
    assert b.post(f"/applications/{first_id}", form).status_code == 302

    moved = b.post(f"/applications/{other_id}", form)
    assert moved.status_code == 302 and moved.headers["Location"] == f"/applications/{other_id}"
    assert f"{DECIDED['accept']} #{other_id}" in notice(b, moved)
    assert decisions(ctx) == 2

    colleague = create_token(ctx, "test", role="regulator", name="柯桥区住房和城乡建设局二",
                             sectors=["housing"])[1]
    theirs = signed_in(app, colleague).post(f"/applications/{first_id}", form)
    assert theirs.status_code == 409 and ALREADY_DECIDED in text(theirs)
    assert decisions(ctx) == 2


NEW_RECORD = {"uscc": S1, "subject_name": "浙江柯桥建工集团有限公司", "sector": "housing",
              "code": "BID-NOSIGN", "decided_on": "2026-04-01",
              "document_no": "绍柯建罚〔2026〕61号", "issued_by": "柯桥区住房和城乡建设局"}


def test_after_a_key_reused_the_form_comes_back_with_a_fresh_key(ctx, app, housing):
    """The refusal of a key sent again with other content says the earlier content was
    saved and invites the clerk to send this one again if it is meant as another
    decision. The form it shows keeps what was typed under a fresh key, so doing so is
    a new write — not the same refusal again, as it was while the spent key came back."""
    b = signed_in(app, housing)
    opened = last_form(text(b.get("/records/new")))
    review = b.post("/records/new", {**opened, **NEW_RECORD, "step": "review"})
    confirm = {**last_form(text(review)), "step": "confirm"}
    assert b.post("/records/new", confirm).status_code == 302
    changed = b.post("/records/new", {**confirm, "document_no": "绍柯建罚〔2026〕62号"})
    assert changed.status_code == 409 and KEY_REUSED in text(changed), text(changed)[:2000]
    again = last_form(text(changed))
    assert again["form_key"] != confirm["form_key"]  # that key is spent on the first
    assert 'value="绍柯建罚〔2026〕62号"' in text(changed)  # what was typed is kept
    before = counts(ctx)
    review = b.post("/records/new", {**again, **NEW_RECORD, "document_no": "绍柯建罚〔2026〕62号",
                                     "step": "review"})
    done = b.post("/records/new", {**last_form(text(review)), "step": "confirm"})
    assert done.status_code == 302, text(done)[:2000]
    assert counts(ctx)["records"] == before["records"] + 1
