"""The console's pages of post-award performance (PERFORMANCE.md §2–§4): the contracts
(a tenderee's own, with the evaluations due; a regulator's sectors, overdue ones to
chase, village projects filterable), the tenderee's evaluation form with its
confirmation step, the regulator's review queue (待审核) and the review with its
confirmation step showing the records and the warning an approval creates.

As everywhere in the console, the pages call credit.services use cases, which apply the
API's role and sector rules; a form becomes the JSON body the API would receive."""

from __future__ import annotations

import json
import re

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.access import ctx, signed_in
from api.console.forms import (
    REVIEW_FIELDS,
    body_from,
    form_errors,
    key_after,
    new_form_key,
    posted_form_key,
)
from api.console.labels import add_filters
from api.http import parse_id
from credit.domain.model import SECTORS
from credit.errors import CreditError
from credit.services import performance, performance_console
from credit.services.idempotency import IdempotentRequest

PAGE = 50
READERS = performance.PERFORMANCE_READERS

RATINGS = {"excellent": "优良", "pass": "合格", "basic": "基本合格", "fail": "不合格"}
EVALUATION_STATUS = {"submitted": "待审核", "returned": "已退回", "approved": "已通过"}
KINDS = {"periodic": "阶段（季度）评价", "final": "竣工评价"}
CONTRACT_STATUS = {"in_progress": "履约中", "overdue": "履约评价逾期", "completed": "已完成"}
REVIEW_ACTIONS = {"approve": "通过", "return": "退回"}
LABELS = {"rating_zh": RATINGS, "evaluation_status_zh": EVALUATION_STATUS,
          "perf_kind_zh": KINDS, "contract_status_zh": CONTRACT_STATUS,
          "review_action_zh": REVIEW_ACTIONS}
# Refusals that are not about one field's shape (the Chinese wording of the codes).
_GENERAL = {
    "review_pending": "该合同已有一份评价待监管部门审核，审核前不能再提交。",
    "contract_completed": "该合同的竣工评价已通过审核，不能再提交评价。",
    "not_awarded": "该招标项目尚未定标，没有可评价的合同。",
    "already_reviewed": "该评价已经审核，不能再次审核。",
    "duplicate_item": "同一扣分项只能扣一次。",
    "sector_forbidden": "本账号无权审核其他行业的评价。",
}


@bp.app_context_processor
def _performance_labels():
    return LABELS


@bp.record_once
def _label_filters(state) -> None:
    add_filters(state.app.jinja_env, LABELS)


def _errors(exc: CreditError) -> tuple[dict, list]:
    fields, general = form_errors(exc)
    if exc.error in _GENERAL:
        general = [m for m in general if m != exc.message] + [_GENERAL[exc.error]]
    return fields, general


def _cursor() -> int | None:
    after = request.args.get("after")
    return parse_id(after, "page") if after else None


def _own_sectors() -> list[str]:
    return sorted(g.actor.sectors) if g.actor.role == "regulator" else list(SECTORS)


# ------------------------------------------------------------------ contracts (§2)

@bp.get("/contracts")
@signed_in(*READERS)
def contracts():
    a = request.args
    own = _own_sectors()
    shown = {"status": a.get("status") if a.get("status") in CONTRACT_STATUS else None,
             "sector": a.get("sector") if a.get("sector") in own else None,
             "village": {"true": True, "false": False}.get(a.get("village") or "")}
    page = performance_console.contracts_page(ctx(), g.actor, performance.ContractFilter(
        status=shown["status"], sector=shown["sector"], village=shown["village"],
        limit=PAGE, after=_cursor()))
    return render_template("console/contracts.html", items=page["items"], next=page["next"],
                           filters=shown, sectors=own)


# ------------------------------------------------------------------ the form (§3)

def evaluation_body(form, items: list[str]) -> tuple[dict, list[str]]:
    """The JSON body of the evaluation form and the items sent as deductions, in order
    (a row with neither points nor a note is no deduction)."""
    body: dict = {"kind": form.get("kind", "")}
    date_field = "completed_on" if body["kind"] == "final" else "period_end"
    if (form.get(date_field) or "").strip():
        body[date_field] = form[date_field].strip()
    manager = {"yes": True, "no": False}.get(form.get("pm_on_site", ""))
    if manager is not None:
        body["project_manager_on_site"] = manager
    sent, deductions = [], []
    for item in items:
        points = (form.get(f"points-{item}") or "").strip()
        note = form.get(f"note-{item}") or ""
        if points or note.strip():
            sent.append(item)
            deductions.append({"item": item, "points": points, "note": note})
    body["deductions"] = deductions
    return body, sent


def _by_row(errors: dict, sent: list[str]) -> dict:
    """``deductions.{i}.points`` → ``points-{item}`` (the form's own field names)."""
    out = {}
    for key, messages in errors.items():
        m = re.fullmatch(r"deductions\.(\d+)\.(points|note|item)", key)
        if m and int(m[1]) < len(sent):
            key = f"{'note' if m[2] == 'note' else 'points'}-{sent[int(m[1])]}"
        out.setdefault(key, []).extend(messages)
    return out


def _evaluation_form(code: str, values, errors=None, general=None, key=None, status=200,
                     d=None):
    d = d or performance_console.form_definition(ctx())
    return render_template("console/performance_form.html", code=code, values=values,
                           errors=errors or {}, general=general or [], d=d,
                           form_key=key or new_form_key()), status


@bp.route("/tenders/<code>/performance/new", methods=["GET", "POST"])
@signed_in("tenderee")
def performance_new(code):
    """Two steps: the form (``step=review``) shows L and the rating; only
    ``step=confirm`` submits."""
    if request.method == "GET":
        return _evaluation_form(code, {"kind": "periodic"},
                                d=performance_console.evaluation_form(ctx(), g.actor, code))
    items = list(performance_console.form_definition(ctx()).indicators)
    body, sent = evaluation_body(request.form, items)
    key = posted_form_key(request.form)
    step = request.form.get("step")
    try:
        if step == "review":
            preview = performance.preview_evaluation(ctx(), g.actor, code, body)
            return render_template("console/performance_confirm.html", code=code, body=body,
                                   preview=preview, form=request.form, form_key=key)
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST",
                                     f"/api/v1/tenders/{code}/performance", key, body)
            done = json.loads(performance.submit_evaluation(ctx(), g.actor, code, body,
                                                            idem).body)
            flash(f"履约评价 #{done['id']} 已提交（{done['score']} 分，"
                  f"{RATINGS.get(done['rating'])}），等待行业监管部门审核。", "ok")
            return redirect(url_for(".performance_page", evaluation_id=done["id"]))
    except CreditError as exc:
        errors, general = _errors(exc)
        return _evaluation_form(code, request.form, _by_row(errors, sent), general,
                                key_after(exc, key), exc.status)
    return _evaluation_form(code, request.form, key=key)


# ------------------------------------------------------------------ the queue, review (§4)

@bp.get("/performance")
@signed_in(*READERS)
def performance_list():
    a = request.args
    own = _own_sectors()
    default = "submitted" if g.actor.role == "regulator" else None
    status = a.get("status") if a.get("status") in EVALUATION_STATUS else \
        (None if a.get("status") == "all" else default)
    sector = a.get("sector") if a.get("sector") in own else None
    tender = (a.get("tender") or "").strip()[:64] or None
    page = performance.list_evaluations(ctx(), g.actor, performance.PerformanceFilter(
        status=status, sector=sector, tender=tender, limit=PAGE, after=_cursor()))
    return render_template("console/performance_list.html", items=page["items"],
                           next=page["next"], status=status, sector=sector, sectors=own,
                           tender=tender)


def _can_review(e: dict) -> bool:
    return (g.actor.role == "regulator" and e["sector"] in g.actor.sectors
            and e["status"] == "submitted")


def _performance(e: dict, values=None, errors=None, general=None, key=None, status=200):
    d = performance_console.form_definition(ctx())
    return render_template("console/performance.html", e=e, d=d, can_review=_can_review(e),
                           values=values or {"action": "approve"}, errors=errors or {},
                           general=general or [], form_key=key or new_form_key()), status


@bp.get("/performance/<evaluation_id>")
@signed_in(*READERS)
def performance_page(evaluation_id):
    e = performance.get_evaluation(ctx(), g.actor, parse_id(evaluation_id, "evaluation"))
    return _performance(e)


@bp.post("/performance/<evaluation_id>/review")
@signed_in("regulator")
def performance_review(evaluation_id):
    """Two steps like every form that writes: ``step=review`` shows what an approval
    creates; only ``step=confirm`` reviews."""
    eid = parse_id(evaluation_id, "evaluation")
    e = performance.get_evaluation(ctx(), g.actor, eid)
    body = body_from(request.form, REVIEW_FIELDS)  # a blank field is missing: "此项必填"
    key = posted_form_key(request.form)
    step = request.form.get("step")
    try:
        if step == "review":
            preview = performance.preview_review(ctx(), g.actor, eid, body)
            return render_template("console/review_confirm.html", e=e, body=body,
                                   preview=preview, form_key=key)
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST",
                                     f"/api/v1/performance/{eid}/review", key, body)
            done = json.loads(performance.review_evaluation(ctx(), g.actor, eid, body,
                                                            idem).body)
            flash(_reviewed_message(done), "ok")
            return redirect(url_for(".performance_page", evaluation_id=eid))
    except CreditError as exc:
        errors, general = _errors(exc)
        return _performance(e, request.form, errors, general, key_after(exc, key),
                            exc.status)
    return _performance(e, request.form, key=key)


def _reviewed_message(e: dict) -> str:
    r = e["review"]
    parts = [f"履约评价 #{e['id']} 已{REVIEW_ACTIONS.get(r['action'])}"]
    if r["records"]:
        parts.append(f"已生成 {len(r['records'])} 条信用记录")
    if r["warning"]:
        parts.append(f"已发出标后预警 #{r['warning']}")
    return "，".join(parts) + "，并写入审计日志。"
