"""The enterprise's credit report (信用报告, printable to PDF from the browser) and the
active model's catalogue and rules as a page (instead of pointing people at MODEL.md),
plus the template helper that gives every record its legal basis from the model."""

from __future__ import annotations

from flask import current_app, g, render_template

from api.auth import EVERY_ROLE
from api.console import bp
from api.console.access import ctx, own_subject, signed_in
from api.http import logs_a_trace, path_uscc
from credit.domain.dates import format_instant
from credit.errors import NotFound
from credit.services import console, records, scoring, subjects


def basis_of(code: str) -> str:
    """The legal basis of a record's code: the active scoring model's entry, else the
    active agency definition's ('' when neither names one)."""
    entry = current_app.extensions["credit"].models.record_entry(code)
    return entry.basis if entry else ""


@bp.record_once
def _globals(state) -> None:
    state.app.jinja_env.globals["basis_of"] = basis_of


@bp.get("/model")
@signed_in(*EVERY_ROLE)  # like GET /models (API.md §2); every page's navigation links it
def model_page():
    """The active model: catalogue (with legal basis) and every rule's parameters."""
    model = subjects.model_definition(ctx(), ctx().models.active.ref)
    groups: dict[str, list[dict]] = {}
    for entry in model["catalogue"]:
        groups.setdefault(entry["category"], []).append(entry)
    return render_template("console/model.html", model=model, groups=groups)


@bp.get("/subjects/<uscc>/report")
@logs_a_trace
@signed_in("auditor", "admin", "enterprise")
def report(uscc):
    """信用报告: per sector the served (and traced) score, grade and measures; the
    records with their basis and 公示期; who looked the enterprise up."""
    uscc = path_uscc(uscc)
    own_subject(uscc)
    scores = [scoring.score(ctx(), g.actor, scoring.ScoreQuery(uscc=uscc, sector=sector))
              for sector in ctx().models.active.sectors]
    page = records.list_records(ctx(), g.actor, records.RecordFilter(uscc=uscc, limit=500))
    try:
        profile = subjects.get_subject(ctx(), uscc)
    except NotFound:
        profile = {"uscc": uscc, "name": None, "counts": {}}
    return render_template("console/report.html", profile=profile, scores=scores,
                           records=page["items"], more=page["next"],
                           inquiries=console.inquiry_summary(ctx(), g.actor, uscc),
                           model=ctx().models.active, printed_at=format_instant(ctx().clock()))
