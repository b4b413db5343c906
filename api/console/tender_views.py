"""The console's pages of the tender loop (WARNINGS.md §8): the regulator's inbox of
pending warnings (待处置预警), a warning with its disposals (auditors: with their audit
entries), the disposal form with its confirmation step, and the tender page with the
bids side by side and shared values marked.

As everywhere in the console, the pages call credit.services use cases, which apply the
API's role and sector rules; a form becomes the JSON body the API would receive."""

from __future__ import annotations

import json
import re

from flask import flash, g, redirect, render_template, request, url_for

from api.console import bp
from api.console.access import ctx, signed_in
from api.console.forms import form_errors, key_after, new_form_key, posted_form_key
from api.console.labels import add_filters
from api.console.tender_labels import (
    ACTIONS,
    BID_STATUS,
    IDENTIFIERS,
    METHODS,
    PERSON_ROLES,
    SCREEN_EVIDENCE,
    SEVERITIES,
    STATUS_CHOICES,
    WARNING_READER_NAMES,
    WARNING_STATUS,
)
from api.http import parse_id
from credit.domain.model import SECTORS
from credit.errors import CreditError, NotFound
from credit.services import performance_console, tender_console, tenders, warnings
from credit.services.idempotency import IdempotentRequest

DECISION_FIELDS = ("document_no", "decided_on", "code")
PAGE = 50


LABELS = {"severity_zh": SEVERITIES, "warning_status_zh": WARNING_STATUS,
          "disposal_action_zh": ACTIONS, "method_zh": METHODS, "person_role_zh": PERSON_ROLES,
          "bid_status_zh": BID_STATUS, "identifier_zh": IDENTIFIERS}


@bp.app_context_processor
def _tender_labels():
    """The label tables (for pages that list them, e.g. a filter's options), and the
    evidence labels that depend on the screen (not a filter: two keys)."""
    return {**LABELS, "screen_evidence_zh": SCREEN_EVIDENCE}


@bp.record_once
def _label_filters(state) -> None:
    """The same tables as filters (``x|disposal_action_zh``), which macros imported without
    context can use too; an unknown code is shown as it is."""
    add_filters(state.app.jinja_env, LABELS)


def screen_names() -> dict[str, str]:
    """The Chinese name of each warning code: the screens' and the post-award warning's
    (PERFORMANCE.md §4.2, raised by the performance definition, not by a screen). Only
    warning codes: the inbox offers them as its code filter."""
    names = {}
    try:
        names.update({s.code: s.name for s in tenders.screen_definition(ctx()).screens})
    except NotFound:
        pass
    perf = _performance_definition()
    return names | ({perf.warning.code: perf.warning.name} if perf else {})


def _item_names() -> dict[str, str]:
    """The Chinese name of each performance evaluation item, which a post-award
    warning's parameters name as its triggers (``PM-ABSENT`` is both an item and the
    warning's code, so the two tables stay apart)."""
    perf = _performance_definition()
    return {item: i.name for item, i in perf.indicators.items()} if perf else {}


def _performance_definition():
    try:
        return performance_console.form_definition(ctx())
    except KeyError:  # no performance definition is active: no post-award names
        return None


def _cursor() -> int | None:
    after = request.args.get("after")
    return parse_id(after, "page") if after else None


# ------------------------------------------------------------------ the inbox

def _inbox_filter() -> tuple[warnings.WarningFilter, dict]:
    """The inbox's filters from the query string; values no filter takes are ignored
    (a bookmarked page keeps working), never an error page."""
    a = request.args
    default = "pending" if g.actor.role == "regulator" else "all"
    status = a.get("status") if a.get("status") in STATUS_CHOICES else default
    own = sorted(g.actor.sectors) if g.actor.role == "regulator" else list(SECTORS)
    shown = {"status": status,
             "sector": a.get("sector") if a.get("sector") in own else None,
             "severity": a.get("severity") if a.get("severity") in SEVERITIES else None,
             "code": _known((a.get("code") or "").strip(), warnings.warning_codes(ctx())),
             "tender": (a.get("tender") or "").strip()[:64] or None}
    statuses = {"pending": ("open", "referred"), "all": None}.get(status, status)
    f = warnings.WarningFilter(sector=shown["sector"], status=statuses, code=shown["code"],
                               severity=shown["severity"], tender=shown["tender"],
                               limit=PAGE, after=_cursor())
    return f, {**shown, "sectors": own}


def _known(value: str, choices: list[str]) -> str | None:
    return value if value in choices else None


@bp.get("/warnings")
@signed_in(*warnings.WARNING_READERS)
def warning_inbox():
    f, shown = _inbox_filter()
    page = warnings.list_warnings(ctx(), g.actor, f)
    return render_template("console/warnings.html", items=page["items"], next=page["next"],
                           filters=shown, screen_names=screen_names(),
                           statuses=STATUS_CHOICES)


# ------------------------------------------------------------------ one warning

def _can_dispose(w: dict) -> bool:
    return (g.actor.role == "regulator" and w["sector"] in g.actor.sectors
            and w["status"] in ("open", "referred"))


@bp.get("/warnings/<warning_id>")
@signed_in(*warnings.WARNING_READERS)
def warning(warning_id):
    w = warnings.get_warning(ctx(), g.actor, parse_id(warning_id, "warning"))
    entries = (tender_console.disposal_entries(ctx(), g.actor, w)
               if g.actor.role in ("auditor", "admin") else None)
    return render_template("console/warning.html", w=w, entries=entries,
                           can_dispose=_can_dispose(w), screen_names=screen_names(),
                           item_names=_item_names())


# ------------------------------------------------------------------ disposal

_PLAIN = re.compile(r"[0-9]{1,18}")

def _ints(values: list[str]):
    """Positions or ids typed in a form: integers when they all are plain ASCII integers
    (API.md §3; ``str.isdigit`` also takes "５" and "²", which ``int`` refuses), else
    the text as sent (the use case then says what is wrong with it)."""
    parts = [p for v in values for p in re.split(r"[\s,，、]+", v) if p]
    return [int(p) for p in parts] if all(_PLAIN.fullmatch(p) for p in parts) else parts


def disposal_body(form) -> dict:
    """The JSON body of the disposal form: confirm-only fields only for confirm; with
    record ids in 已有记录 the confirmation points at them (``covered_by``)."""
    body = {"action": form.get("action", ""), "reason": form.get("reason", "")}
    if body["action"] != "confirm":
        return body
    body["bids"] = _ints(form.getlist("bids"))
    covered = _ints([form.get("covered_by", "")])
    if covered:
        body["covered_by"] = covered
    else:
        body.update({f: form[f] for f in DECISION_FIELDS if (form.get(f) or "").strip()})
    return body


def _disposal_form(w, values, errors=None, general=None, key=None, status=200):
    allowed = warnings.allowed_codes(ctx(), w)
    return render_template("console/disposal.html", w=w, values=values, errors=errors or {},
                           general=general or [], form_key=key or new_form_key(),
                           allowed=allowed, catalogue=ctx().models.active.catalogue,
                           chosen=set(_chosen(values)), screen_names=screen_names()), status


def _chosen(values) -> list[str]:
    return values.getlist("bids") if hasattr(values, "getlist") else values.get("bids", [])


@bp.route("/warnings/<warning_id>/disposal", methods=["GET", "POST"])
@signed_in("regulator")
def disposal(warning_id):
    """Two steps: the form (``step=review``) shows the records a confirmation will
    create; only ``step=confirm`` disposes."""
    wid = parse_id(warning_id, "warning")
    w = warnings.get_warning(ctx(), g.actor, wid)
    if request.method == "GET":
        return _disposal_form(w, {"bids": [str(b["n"]) for b in w["bids"]]})
    body = disposal_body(request.form)
    key = posted_form_key(request.form)
    step = request.form.get("step")
    try:
        if step == "review":
            preview = warnings.preview_disposal(ctx(), g.actor, wid, body)
            return render_template("console/disposal_confirm.html", w=w, body=body,
                                   preview=preview, form=request.form, form_key=key,
                                   screen_names=screen_names())
        if step == "confirm":
            idem = IdempotentRequest(g.actor.token_id, "POST", request.path, key, body)
            done = json.loads(warnings.dispose(ctx(), g.actor, wid, body, idem).body)
            flash(_done_message(done), "ok")
            return redirect(url_for(".warning", warning_id=wid))
    except CreditError as exc:
        return _disposal_form(w, request.form, *form_errors(exc), key=key_after(exc, key),
                              status=exc.status)
    return _disposal_form(w, request.form, key=key)


def _done_message(w: dict) -> str:
    last = w["disposals"][-1]
    created = f"，已生成 {len(last['records'])} 条信用记录" if last["records"] else ""
    done = ACTIONS.get(last["action"], last["action"])
    return f"预警 #{w['id']} 已{done}{created}，并写入审计日志。"


# ------------------------------------------------------------------ tenders

@bp.get("/tenders")
@signed_in(*tenders.TENDER_READERS)
def tender_index():
    code = (request.args.get("code") or "").strip()
    if code:
        return redirect(url_for(".tender", code=code))
    own = sorted(g.actor.sectors) if g.actor.role == "regulator" else list(SECTORS)
    sector = request.args.get("sector") if request.args.get("sector") in own else None
    page = tenders.list_tenders(ctx(), g.actor, tenders.TenderFilter(
        sector=sector, limit=PAGE, after=_cursor()))
    return render_template("console/tenders.html", items=page["items"], next=page["next"],
                           sector=sector, sectors=own)


@bp.get("/tenders/<code>")
@signed_in(*tenders.TENDER_READERS)
def tender(code):
    page = tender_console.tender_page(ctx(), g.actor, code)
    return render_template("console/tender.html", t=page["tender"], marks=page["marks"],
                           warnings=page["warnings"], links=page["links"],
                           screen_names=screen_names(), readers=_warning_readers())


def _warning_readers() -> str:
    """The offices that read warnings, from the use case's own list (so the tender
    page's note cannot drift from it), as a Chinese list: "甲、乙和丙". A reader role
    the table does not name fails the page (the platform's tender page is walked by
    tests/integration/test_console_no_raw_codes.py) rather than being left out."""
    names = [WARNING_READER_NAMES[r] for r in
             sorted(warnings.WARNING_READERS, key=list(WARNING_READER_NAMES).index)]
    return "、".join(names[:-1]) + "和" + names[-1]
