"""The console's pages of tender-agency evaluation (PERFORMANCE.md §7): the agency page
(its score — served and traced like every score shown — its ratings, its conduct
records and its score timeline), the tenderee's list of its tenders with the agency
ratings due, and the rating form with its confirmation step.

As everywhere in the console, the pages call credit.services use cases (which apply the
API's role rules); the form becomes the JSON body the API would receive."""

from __future__ import annotations

import json
from types import SimpleNamespace

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.access import ctx, signed_in
from api.console.chart import Wording, timeline_svg
from api.console.forms import KEY_REUSED, key_after, new_form_key, posted_form_key
from api.http import logs_a_trace, path_uscc
from credit.errors import CreditError
from credit.services import agencies
from credit.services.idempotency import IdempotentRequest

# The console's wording of the refusals of PERFORMANCE.md §7 (every page is Chinese).
REFUSALS = {
    "already_rated": "该项目的招标代理机构已评价过，每个项目只评价一次。",
    "not_awarded": "该项目尚未定标：定标后才能评价招标代理机构。",
    "no_agency": "该项目未委托招标代理机构，无需评价。",
    "forbidden": "只有该项目的招标人可以评价其招标代理机构。",
    "not_found": "没有找到该招标项目。",
    "idempotency_key_reused": KEY_REUSED,
}


# ------------------------------------------------------------------ the agency page

def _chart(points: list[dict], today, definition) -> object:
    """The score timeline through the console's chart (one series, the agency's), in
    the agency definition's words: a grade is a letter (PERFORMANCE.md §7 names no
    wording for it) and a restricted point carries the definition's measure."""
    series = [SimpleNamespace(on=p["on"], score=p["score"], grade=p["grade"],
                              eligible_to_bid=not p["restricted"]) for p in points]
    bands = [{"grade": b.grade, "min_score": str(b.min_score)} for b in definition.bands]
    wording = Wording("代理服务评分走势", "按现有评价与记录的推算",
                      {b["grade"]: f"{b['grade']} 级" for b in bands},
                      definition.restricted_measure)
    return timeline_svg({"start": points[0]["on"], "end": points[-1]["on"], "today": today,
                         "listed_grade": "", "bands": bands, "series": {"agency": series}},
                        wording)


@bp.get("/agencies/<uscc>")
@logs_a_trace
@signed_in(*agencies.SCORE_READERS)
def agency(uscc):
    uscc = path_uscc(uscc)
    score = agencies.agency_score(ctx(), g.actor, agencies.AgencyScoreQuery(uscc=uscc))
    page = agencies.agency_page(ctx(), g.actor, uscc)
    points = agencies.agency_timeline(ctx(), g.actor, uscc)
    definition = agencies.agency_definition(ctx())
    return render_template("console/agency.html", s=score, page=page, points=points,
                           chart=_chart(points, ctx().today(), definition),
                           definition=definition)


# ------------------------------------------------------------------ the tenderee

@bp.get("/agency-ratings")
@signed_in(*agencies.RATERS)
def agency_ratings():
    return render_template("console/agency_ratings.html",
                           items=agencies.tenderee_tenders(ctx(), g.actor))


def rating_body(form, definition) -> dict:
    """The JSON body of the rating form (an empty note is left out)."""
    body = {"rated_on": form.get("rated_on", ""),
            "items": {k: (form.get(k) or "").strip() for k in definition.items}}
    if (form.get("note") or "").strip():
        body["note"] = form["note"]
    return body


def _errors(exc: CreditError) -> tuple[dict, list]:
    """Field messages keyed by the form's names (``items.documents`` → ``documents``),
    in Chinese; the state refusals as a message for the whole form."""
    fields = {}
    for name in exc.errors:
        key = name.removeprefix("items.")
        if name.startswith("items."):
            fields[key] = ["须为两位小数的分值（如 27.00），在 0.00 与该项满分之间。"]
        elif key == "rated_on":
            fields[key] = ["评价日期须为有效日期，不早于定标日期，也不晚于今天。"]
        elif key == "note":
            fields[key] = ["评价说明不超过 500 字。"]
        else:
            fields.setdefault("_body", []).append("表单内容无效，请刷新页面后重新填写。")
    general = fields.pop("_body", [])
    if exc.error in REFUSALS:
        general.append(REFUSALS[exc.error])
    elif not fields and not general:
        general.append("未能保存评价，请检查后重新提交。")
    return fields, general


def _form(code, values, errors=None, general=None, key=None, status=200):
    definition = agencies.agency_definition(ctx())
    target = agencies.rating_target(ctx(), g.actor, code)
    return render_template("console/agency_rating.html", code=code, values=values,
                           target=target,
                           errors=errors or {}, general=general or [],
                           form_key=key or new_form_key(), definition=definition,
                           today=agencies_today()), status


def agencies_today() -> str:
    return ctx().today().isoformat()


@bp.route("/tenders/<code>/agency-rating", methods=["GET", "POST"])
@signed_in(*agencies.RATERS)
def agency_rating(code):
    """Two steps: the form (``step=review``) runs every check and shows the total;
    only ``step=confirm`` stores the rating (once: the form's key is its
    Idempotency-Key)."""
    if request.method == "GET":
        return _form(code, {"rated_on": agencies_today()})
    definition = agencies.agency_definition(ctx())
    body = rating_body(request.form, definition)
    key = posted_form_key(request.form)
    step = request.form.get("step")
    try:
        if step == "review":
            preview = agencies.check_rating(ctx(), g.actor, code, body)
            return render_template("console/agency_rating_confirm.html", code=code,
                                   preview=preview, form=request.form, form_key=key,
                                   fields=list(definition.items))
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
            done = json.loads(agencies.rate_agency(ctx(), g.actor, code, body, idem).body)
            flash(f"已提交对 {done['agency']['name']} 的评价（项目 {done['tender']}，"
                  f"总分 {done['total']}），并写入审计日志。", "ok")
            return redirect(url_for(".agency_ratings"))
    except CreditError as exc:
        return _form(code, request.form, *_errors(exc), key=key_after(exc, key),
                     status=exc.status)
    return _form(code, request.form, key=key)
