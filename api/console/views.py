"""The console's pages. Each view checks who may open it (``signed_in``), calls
credit.services use cases — which apply the same role and sector rules as the API — and
renders a template. Forms post back to themselves; a success redirects (post/redirect/
get), a refusal re-renders the form with the use case's messages and writes nothing."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.access import (
    AUDIT,
    READERS,
    TRACE_READERS,
    ctx,
    own_subject,
    safe_next,
    sign_in,
    sign_out,
    signed_in,
)
from api.console.chart import change_rows, timeline_svg
from api.console.forms import (
    RECORD_FIELDS,
    REPAIR_FIELDS,
    REVOCATION_FIELDS,
    body_from,
    form_errors,
    key_after,
    new_form_key,
    posted_form_key,
    zh,
)
from api.console.labels import KINDS
from api.console.tender_views import screen_names
from api.http import logs_a_trace, parse_id, path_uscc, signing_key_path
from credit.domain.dates import format_instant
from credit.errors import CreditError, InvalidInput, NotFound, Unauthenticated
from credit.services import applications, audit, console, records, scoring, subjects, tokens
from credit.services.idempotency import IdempotentRequest
from credit.uscc import InvalidUSCC, normalise_uscc

# A search that looks like a USCC (letters and digits, about 18 of them) rather than a name.
_USCC_LIKE = re.compile(r"[0-9A-Za-z]{15,21}")
# Up to this many audit entries the audit page re-verifies the whole chain on each view.


# ------------------------------------------------------------------ signing in

@bp.get("/")
def home():
    if g.actor is None:
        return render_template("console/signin.html", next=safe_next(request.args.get("next")))
    if g.actor.role == "enterprise":
        return redirect(url_for(".subject", uscc=g.actor.uscc))
    if g.actor.role == "platform":  # the trading platform reads tenders, not credit files
        return redirect(url_for(".tender_index"))
    if g.actor.role == "tenderee":  # its contracts and the evaluations due (PERFORMANCE.md)
        return redirect(url_for(".contracts"))
    q = (request.args.get("q") or "").strip()
    problem = None
    try:
        return redirect(url_for(".subject", uscc=normalise_uscc(q)))
    except InvalidUSCC as exc:
        if _USCC_LIKE.fullmatch(q):  # meant as a code: say what is wrong with it
            problem = zh(str(exc))
    found = console.find_subjects(ctx(), q) if q else []
    return render_template("console/home.html", q=q, subjects=found, problem=problem,
                           recent=_recent_records(), evaluations=_evaluations_or_none())


@bp.post("/signin")
def signin():
    try:
        sign_in(request.form.get("token", ""))
    except Unauthenticated:
        return render_template("console/signin.html", next=safe_next(request.form.get("next")),
                               error="令牌无效、已吊销或已过期。"), 401
    return redirect(safe_next(request.form.get("next")) or url_for(".home"))


@bp.post("/signout")
def signout():
    sign_out()
    flash("已退出登录。", "info")
    return redirect(url_for(".home"))


def _recent_records():
    if g.actor.role != "regulator":
        return None
    items = [r for s in sorted(g.actor.sectors) for r in records.list_records(
        ctx(), g.actor, records.RecordFilter(sector=s, limit=10))["items"]]
    return sorted(items, key=lambda r: -r["audit_position"])[:10]


def _evaluations_or_none():
    if g.actor.role not in ("evaluator", "auditor", "admin"):
        return None
    return console.evaluation_index(ctx(), g.actor, limit=10)


# ------------------------------------------------------------------ enterprises

def _profile(uscc: str) -> dict:
    try:
        return subjects.get_subject(ctx(), uscc)
    except NotFound:  # never registered: still scored (100.00), like the API
        return {"uscc": uscc, "name": None, "counts": {}}


@bp.get("/subjects/<uscc>")
@logs_a_trace
@signed_in(*READERS)
def subject(uscc):
    uscc = path_uscc(uscc)
    own_subject(uscc)
    scores = [scoring.score(ctx(), g.actor, scoring.ScoreQuery(uscc=uscc, sector=sector))
              for sector in ctx().models.active.sectors]
    page = records.list_records(ctx(), g.actor, records.RecordFilter(uscc=uscc, limit=500))
    timeline = console.score_timeline(ctx(), uscc)
    return render_template("console/subject.html", profile=_profile(uscc), scores=scores,
                           records=page["items"], more=page["next"], timeline=timeline,
                           chart=timeline_svg(timeline), changes=change_rows(timeline),
                           today=timeline["today"].isoformat(),
                           options=applications.options_for(ctx(), g.actor, uscc))


@bp.get("/subjects/<uscc>/inquiries")
@signed_in("auditor", "admin", "enterprise")
def inquiries(uscc):
    uscc = path_uscc(uscc)
    after = request.args.get("after")
    after = parse_id(after, "cursor") if after else None
    page = console.inquiry_page(ctx(), g.actor, uscc, limit=100, after=after)
    caused = g.actor.role == "enterprise"  # traces it may open: the ones it caused
    return render_template("console/inquiries.html", profile=_profile(uscc), items=page["items"],
                           next=page["next"], own=page["own"],
                           can_open=lambda i: not caused or i["actor"] == g.actor.name)


# ------------------------------------------------------------------ records

def _catalogue() -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    entries = subjects.model_definition(ctx(), ctx().models.active.ref)["catalogue"]
    # PERFORMANCE.md §7: the active agency definition's conduct codes are entered alike
    entries += subjects.model_definition(ctx(), ctx().models.active_of("agency").ref
                                         )["catalogue"]
    for entry in entries:
        if entry["enterable"]:  # PERF-* codes: only an approval creates them
            groups.setdefault(entry["category"], []).append(entry)
    return list(groups.items())


def _record_form(values, errors=None, general=None, key=None, status=200):
    return render_template("console/record_new.html", values=values, errors=errors or {},
                           general=general or [], form_key=key or new_form_key(),
                           sectors=sorted(g.actor.sectors), catalogue=_catalogue(),
                           today=ctx().today().isoformat()), status


@bp.route("/records/new", methods=["GET", "POST"])
@signed_in("regulator")
def record_new():
    """A decision in two steps, since a record can never be changed: the form
    (``step=review``) shows every value, the catalogue entry and the registered name for
    a last look; only ``step=confirm`` creates it (once, by the form's key)."""
    if request.method == "GET":
        values = {k: v for k, v in request.args.items() if k in ("uscc", "subject_name")}
        return _record_form({"issued_by": tokens.default_issuer(g.actor), **values})
    body = body_from(request.form, RECORD_FIELDS)
    key = posted_form_key(request.form)
    step = request.form.get("step") or "review"
    try:
        if step == "review":
            preview = records.preview_record(ctx(), g.actor, body)
            return render_template("console/record_confirm.html", preview=preview,
                                   typed=body, form_key=key)
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
            created = json.loads(records.create_record(ctx(), g.actor, body, idem).body)
            flash(f"已录入记录 #{created['id']}，已计入评分并写入审计日志。", "ok")
            return redirect(url_for(".record", record_id=created["id"]))
    except CreditError as exc:
        return _record_form(request.form, *form_errors(exc), key=key_after(exc, key),
                            status=exc.status)
    return _record_form(request.form, key=key)


@bp.get("/records/<record_id>")
@signed_in(*READERS)
def record(record_id):
    body = records.get_record(ctx(), g.actor, parse_id(record_id, "record"))
    own_subject(body["uscc"])
    writable = g.actor.role == "regulator" and body["sector"] in g.actor.sectors
    return render_template("console/record.html", record=body, writable=writable)


@bp.route("/records/<record_id>/<any(revocation, repair):which>", methods=["GET", "POST"])
@signed_in("regulator")
def change(record_id, which):
    """Revoke or repair in two steps: the form (``step=review``) runs every check of the
    use case and shows a confirmation page; only ``step=confirm`` writes — once per
    rendering of the form (its key), so a double submit is answered like the first."""
    rid = parse_id(record_id, "record")
    form = console.revocation_form if which == "revocation" else console.repair_form
    record_ = form(ctx(), g.actor, rid)
    body = body_from(request.form, REVOCATION_FIELDS if which == "revocation" else REPAIR_FIELDS)
    step = request.form.get("step") if request.method == "POST" else None
    key = posted_form_key(request.form)
    try:
        if step == "review":
            return _confirmation(record_, which, key,
                                 records.check_change(ctx(), g.actor, rid, which, body))
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
            records.apply_change(ctx(), g.actor, rid, which, body, idem)
            flash("已撤销该记录。" if which == "revocation" else "已完成信用修复。", "ok")
            return redirect(url_for(".record", record_id=rid))
    except CreditError as exc:
        return _change_form(record_, which, request.form, *form_errors(exc),
                            key=key_after(exc, key), refused=exc.error, status=exc.status)
    return _change_form(record_, which, request.form, key=key)


def _change_form(record_, which, values, errors=None, general=None, key=None, refused=None,
                 status=200):
    """``refused``: the refusal's code, so the page does not repeat a refusal its notice of
    the record's state already says."""
    return render_template("console/change.html", record=record_, which=which, values=values,
                           errors=errors or {}, general=general or [], refused=refused,
                           form_key=key or new_form_key(),
                           today=ctx().today().isoformat()), status


def _confirmation(record_, which, key, values):
    until = None
    if which == "repair":
        until = console.repaired_valid_until(record_, values["repaired_on"])
    return render_template("console/confirm.html", record=record_, which=which, values=values,
                           until=until, form_key=key)


# ------------------------------------------------------------------ traces and audit

@bp.get("/traces/<trace_id>")
@signed_in(*TRACE_READERS)
def trace(trace_id):
    return _trace_page(parse_id(trace_id, "trace"), verify=False)


@bp.post("/traces/<trace_id>/verify")
@signed_in(*AUDIT)
def trace_verify(trace_id):
    return _trace_page(parse_id(trace_id, "trace"), verify=True)


def _trace_page(tid: int, verify: bool):
    """The trace laid out as its score while its stored bytes hash to its stored hash;
    an edited trace as text only, with the verification that locates the edit."""
    page = audit.trace_page(ctx(), g.actor, tid, verify)
    if not page["intact"]:
        return render_template("console/trace_edited.html", entry=page["entry"],
                               canonical=page["text"], verification=page["verification"])
    entry = page["entry"]
    return render_template(_trace_template(entry), entry=entry, canonical=page["text"],
                           verification=page["verification"], labels=_labels(entry))


def _trace_template(entry: dict) -> str:
    """An agency score's trace (PERFORMANCE.md §7: ratings, A, R) has a page of its own."""
    return "console/agency_trace.html" if "ratings" in entry["payload"] \
        else "console/trace.html"


def _labels(entry: dict) -> dict[int, dict]:
    p = entry["payload"]
    model = p.get("model") or {}
    return console.record_labels(ctx(), [r["id"] for r in p.get("records", [])],
                                 f"{model.get('id')}@{model.get('version')}")


@bp.get("/audit")
@signed_in(*AUDIT)
def audit_log():
    return _audit_page(verify=None)


@bp.post("/audit/verify")
@signed_in(*AUDIT)
def audit_verify():
    return _audit_page(verify=request.form.get("mode") or "full")


def _audit_page(verify: str | None):
    """The chain status and the newest entries matching kind, actor and enterprise, a
    page at a time (``before``: older entries). A view shows the newest stored
    verification (its result and time, issue 10) and verifies nothing; the buttons run
    a full or an incremental verification, which is stored and shown. An entry altered
    after it was written is listed, marked as such, never refused (audit_feed, lenient):
    the buttons must work exactly when the chain was altered."""
    args = request.args
    kind, actor = args.get("kind") or None, (args.get("actor") or "").strip() or None
    raw_uscc, uscc, problem = (args.get("uscc") or "").strip(), None, None
    try:
        uscc = path_uscc(raw_uscc) if raw_uscc else None
    except InvalidInput as exc:
        problem = "统一社会信用代码无效，未按企业筛选：" + zh(exc.message)
    before = args.get("before")
    before = parse_id(before, "page") if before else None
    feed = console.audit_feed(ctx(), kind=kind, actor=actor, uscc=uscc, limit=50,
                              before=before, lenient=True)
    if verify is not None:  # the run just made, whatever else the table holds
        chain = audit.verify_and_show(ctx(), incremental=verify == "incremental",
                                      key_path=signing_key_path())
    else:
        chain = audit.last_verification(ctx(), signing_key_path())
    return render_template("console/audit.html", feed=feed, kinds=KINDS, chain=chain,
                           just_verified=verify,
                           filters={"kind": kind, "actor": actor}, raw_uscc=raw_uscc,
                           filter_error=problem, before=before)


@bp.get("/audit/entries/<position>")
@signed_in(*AUDIT)
def audit_entry(position):
    page = audit.entry_page(ctx(), parse_id(position, "audit entry"))
    if page["intact"] and page["entry"]["kind"] == "score.served":
        return redirect(url_for(".trace", trace_id=page["entry"]["position"]))
    return render_template("console/entry.html", entry=page["entry"], canonical=page["text"],
                           intact=page["intact"], has_next=page["has_next"])


# ------------------------------------------------------------------ evaluations

@bp.get("/evaluations")
@signed_in("evaluator", "auditor", "admin")
def evaluations():
    return render_template("console/evaluations.html",
                           evaluations=console.evaluation_index(ctx(), g.actor, limit=100))


@bp.get("/evaluations/open")
@signed_in("evaluator", "auditor", "admin")
def evaluation_open():
    """The "open by number" form: older evaluations than the list shows."""
    number = (request.args.get("id") or "").strip().lstrip("#")
    return redirect(url_for(".evaluation", evaluation_id=parse_id(number, "evaluation")))


@bp.get("/evaluations/<evaluation_id>")
@signed_in("evaluator", "auditor", "admin")
def evaluation(evaluation_id):
    doc = json.loads(scoring.get_evaluation(ctx(), g.actor,
                                            parse_id(evaluation_id, "evaluation")))
    names = {m["uscc"]: m["name"] or m["uscc"] for r in doc["results"] for m in r["members"]}
    return render_template("console/evaluation.html", doc=doc, ranked=_ranked(doc["results"]),
                           names=names, printed_at=format_instant(ctx().clock()),
                           screen_names=screen_names() if doc.get("warnings") else {})


def _ranked(results: list[dict]) -> list[dict]:
    """Eligible bidders by bid points, then score, then bidding order; bidders under a
    bid ban follow, unranked (a ban excludes, it does not rank)."""
    order = sorted(enumerate(results, start=1), key=lambda p: (
        not p[1]["eligible_to_bid"], -Decimal(p[1]["bid_points"]), -Decimal(p[1]["score"]), p[0]))
    out, rank = [], 0
    for i, result in order:
        rank += 1 if result["eligible_to_bid"] else 0
        out.append({"rank": rank if result["eligible_to_bid"] else None, "order": i,
                    "result": result})
    return out
