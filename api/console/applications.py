"""Repair applications and objections in the console (issue 13): the enterprise's form
on each of its records and its list; the regulator's queue and its decision with a
confirmation step (the review runs every check of the decision, writing nothing)."""

from __future__ import annotations

import json

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.access import ctx, own_subject, signed_in
from api.console.forms import (
    APPLICATION_FIELDS,
    DECISION_FIELDS,
    body_from,
    form_errors,
    key_after,
    new_form_key,
    posted_form_key,
)
from api.http import parse_id
from credit.errors import CreditError, NotFound
from credit.services import applications, console, records
from credit.services.idempotency import IdempotentRequest
from credit.services.resources import APPLICATION_STATUSES

STATUS_FILTERS = APPLICATION_STATUSES


@bp.get("/applications")
@signed_in("regulator", "auditor", "admin", "enterprise")
def applications_list():
    """An enterprise's own applications; a regulator's queue (pending first shown);
    everything for auditors and admins."""
    default = "pending" if g.actor.role == "regulator" else ""
    status = request.args.get("status", default)
    status = status if status in STATUS_FILTERS else None
    after = request.args.get("after")
    f = applications.ApplicationFilter(status=status, limit=50,
                                       after=parse_id(after, "page") if after else None)
    page = applications.list_applications(ctx(), g.actor, f)
    return render_template("console/applications.html", status=status or "",
                           items=console.with_records(ctx(), page["items"]), next=page["next"])


def _apply_form(record, kind, option, values, errors=None, general=None, key=None,
                refused=None, status=200):
    """``refused``: the refusal's code, so the page does not repeat a refusal its notice
    of the record's state already says."""
    return render_template("console/apply.html", record=record, kind=kind, option=option,
                           values=values, errors=errors or {}, general=general or [],
                           today=ctx().today().isoformat(), refused=refused,
                           form_key=key or new_form_key()), status


@bp.route("/records/<record_id>/apply/<any(repair, objection):kind>", methods=["GET", "POST"])
@signed_in("enterprise")
def apply(record_id, kind):
    """The enterprise applies for repair of, or objects to, one of its records: once
    per rendering of the form (its key), so a double submit is answered like the
    first."""
    rid = parse_id(record_id, "record")
    record = records.get_record(ctx(), g.actor, rid)
    own_subject(record["uscc"])
    option = applications.options_for(ctx(), g.actor, record["uscc"]).get(rid) or {}
    if request.method == "GET":
        return _apply_form(record, kind, option, {})
    body = {**body_from(request.form, APPLICATION_FIELDS), "kind": kind}
    key = posted_form_key(request.form)
    try:
        idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
        created = json.loads(applications.submit_once(ctx(), g.actor, rid, body, idem).body)
    except CreditError as exc:
        errors = form_errors(exc, rename={"repaired_on": "requested_repair_on"})
        return _apply_form(record, kind, option, request.form, *errors,
                           key=key_after(exc, key), refused=exc.error, status=exc.status)
    flash(f"已提交{'信用修复申请' if kind == 'repair' else '异议申诉'} #{created['id']}，"
          "等待该行业监管部门处理。", "ok")
    return redirect(url_for(".applications_list"))


def _detail(app, decision_values=None, errors=None, general=None, key=None, status=200):
    record = records.get_record(ctx(), g.actor, app["record_id"])
    may_decide = (g.actor.role == "regulator" and app["sector"] in g.actor.sectors
                  and app["status"] == "pending")
    return render_template("console/application.html", app=app, record=record,
                           may_decide=may_decide, values=decision_values or {},
                           errors=errors or {}, general=general or [],
                           form_key=key or new_form_key()), status


@bp.route("/applications/<application_id>", methods=["GET", "POST"])
@signed_in("regulator", "auditor", "admin", "enterprise")
def application(application_id):
    """One application; its regulator decides in two steps (``step=review`` checks
    everything and shows what will happen; only ``step=confirm`` writes — once per
    rendering of the form (its key), so a double submit is answered like the first)."""
    aid = parse_id(application_id, "application")
    app = applications.get_application(ctx(), g.actor, aid)
    if request.method == "GET":
        return _detail(app)
    body = body_from(request.form, DECISION_FIELDS)
    step = request.form.get("step") or "review"
    key = posted_form_key(request.form)
    try:
        if step == "review":
            checked = applications.check_decision(ctx(), g.actor, aid, body)
            return render_template("console/application_confirm.html", app=app,
                                   record=records.get_record(ctx(), g.actor, app["record_id"]),
                                   decision=checked["decision"], typed=body, form_key=key)
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
            # taken as typed (a replay of this key was sent the same body, or it is 409)
            applications.decide_once(ctx(), g.actor, aid, body, idem)
            flash(f"已{'同意' if body['action'] == 'accept' else '不予同意'}申请 #{aid}，"
                  "并写入审计日志。", "ok")
            return redirect(url_for(".application", application_id=aid))
    except CreditError as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(app, request.form, *form_errors(exc, shown=DECISION_FIELDS),
                       key=key_after(exc, key),
                       status=exc.status)
    return _detail(app, request.form, key=key)
