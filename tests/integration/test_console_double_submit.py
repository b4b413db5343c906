"""A double submit of the console's revocation or repair form, on both backends.

A regulator who clicks "确认撤销" (or "确认修复") twice, or resends the page after a
timeout, sends the same rendering of the form twice: the change is applied once and the
second submit gets the same answer as the first (the redirect to the record, with the
same notice), not a 409 that reads as if the action had failed. The form's key (one per
rendering of the form, carried through the review step) is what makes the two submits
the same; a genuinely new submission — another rendering, after the record was already
revoked or repaired — is still refused with the Chinese 409 message. Two submits racing
in two threads apply once too: the second waits on the append lock, then replays.
"""

from __future__ import annotations

import re
import threading
from html import unescape

import pytest

from credit.services.audit import verify_chain
from credit.services.verification import idempotency_key
from tests.integration.helpers import all_entries, counts, tamper

from .test_console_pages import SECRET_KEY, Browser, add_record, signed_in, text

pytestmark = pytest.mark.db

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
TYPED = {
    "revocation": {"document_no": "绍柯建撤〔2026〕1号", "reason": "行政复议撤销"},
    "repair": {"repaired_on": "2026-05-01", "document_no": "绍柯建修〔2026〕1号",
               "reason": "已整改"},
}
DONE = {"revocation": "已撤销该记录。", "repair": "已完成信用修复。"}
# what the 409 page says where the form was (console/change.html, from the record's state)
REFUSED = {"revocation": "该记录已被撤销", "repair": "该记录已完成信用修复"}


@pytest.fixture
def app(ctx):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def housing(ctx):
    from credit.services.tokens import create_token
    return create_token(ctx, "test", role="regulator", name="柯桥区住房和城乡建设局",
                        sectors=["housing"])[1]


def _last_form(page: str) -> list[tuple[str, str]]:
    """The hidden fields of the page's last form, as a browser would send them."""
    form = page[page.rindex("<form"):]
    form = form[:form.index("</form>")]
    return [(k, unescape(v)) for k, v in HIDDEN.findall(form) if k != "csrf_token"]


def confirm_form(b: Browser, path: str, which: str) -> dict:
    """Open the form (one rendering), fill it in, review it: the confirm page's form,
    whose button a regulator then clicks (``step=confirm``)."""
    opened = b.get(path)
    assert opened.status_code == 200
    review = b.post(path, {**dict(_last_form(opened.get_data(as_text=True))),
                           **TYPED[which], "step": "review"})
    assert review.status_code == 200, text(review)[:2000]
    return {**dict(_last_form(review.get_data(as_text=True))), "step": "confirm"}


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
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    b = signed_in(app, housing)
    form = confirm_form(b, path, which)
    clicked_again = twin(app, b)
    before = counts(ctx)

    first = b.post(path, form)
    again = clicked_again.post(path, form)  # the double click, or "resend" after a timeout

    assert first.status_code == again.status_code == 302, text(again)[:2000]
    assert again.headers["Location"] == first.headers["Location"] == f"/records/{record['id']}"
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
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    b = signed_in(app, housing)
    done = b.post(path, confirm_form(b, path, which))
    assert done.status_code == 302
    before = counts(ctx)

    # the page opened again shows why there is no form to submit ...
    assert REFUSED[which] in text(b.get(path))
    # ... and a submission of another rendering (another key) is refused at either step
    fresh = {**TYPED[which], "form_key": "another-rendering-0123456789"}
    for step in ("review", "confirm"):
        resp = b.post(path, {**fresh, "step": step})
        assert resp.status_code == 409 and REFUSED[which] in text(resp), text(resp)[:2000]
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
    submission. It is refused (409 ``idempotency_key_reused``), and the page says what
    the regulator needs to know — the record is already revoked (repaired)."""
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    b = signed_in(app, housing)
    form = confirm_form(b, path, which)
    assert b.post(path, form).status_code == 302
    before = counts(ctx)
    changed = b.post(path, {**form, "document_no": "绍柯建〔2026〕99号"})
    assert changed.status_code == 409 and REFUSED[which] in text(changed)
    assert counts(ctx) == before


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_two_submits_racing_in_two_threads_apply_once(ctx, app, housing, which):
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    first = signed_in(app, housing)
    form = confirm_form(first, path, which)
    second = twin(app, first)  # a second click while the first is in flight
    before = counts(ctx)

    barrier = threading.Barrier(2)
    answers: list = [None, None]

    def submit(i: int, b: Browser) -> None:
        barrier.wait(timeout=30)
        answers[i] = b.post(path, form)

    threads = [threading.Thread(target=submit, args=(i, b))
               for i, b in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert [a.status_code for a in answers] == [302, 302], [text(a)[:500] for a in answers]
    assert {a.headers["Location"] for a in answers} == {f"/records/{record['id']}"}
    after = counts(ctx)
    assert (after["events"], after["audit"]) == (before["events"] + 1, before["audit"] + 1)
    assert verify_chain(ctx)["ok"] is True


@pytest.mark.parametrize("which", ["revocation", "repair"])
def test_the_remembered_answer_is_checked_against_its_entry(ctx, app, housing, which):
    """The form's key is kept like an API key: its row is hashed in the change's own
    entry, ``audit verify`` finds an edited row, and an edited row is never replayed."""
    record = add_record(ctx, housing)
    path = f"/records/{record['id']}/{which}"
    b = signed_in(app, housing)
    form = confirm_form(b, path, which)
    assert b.post(path, form).status_code == 302
    entry = all_entries(ctx)[-1]
    assert entry["kind"] == f"record.{'revoked' if which == 'revocation' else 'repaired'}"
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
