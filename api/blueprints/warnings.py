"""Warnings (WARNINGS.md §5, §6): read by auditors, admins, evaluators and the sector's
regulators; disposed of (分办处置) by the regulator of the tender's sector."""

from flask import g

from api.auth import requires
from api.blueprints import Blueprint, ctx
from api.http import id_after_body, idempotency, json_body, parse_id, read_json, verbatim
from api.schemas import ErrorBody, WarningQuery
from credit.services import warnings
from credit.services.resources import WarningOut, WarningPage
from credit.services.tender_inputs import DisposalIn

blp = Blueprint("warnings", __name__, url_prefix="/api/v1/warnings",
                description="Collusion warnings (标中预警) and their disposal")


@blp.route("", methods=["GET"])
@blp.response(200, WarningPage)
@requires(*warnings.WARNING_READERS)  # outside the query parsing: 401/403 before 400
@blp.arguments(WarningQuery, location="query", as_kwargs=True)
def index(sector, status, code, severity, tender, uscc, limit, after):
    """Warnings newest first, filtered; a regulator's are its own sectors'."""
    f = warnings.WarningFilter(sector=sector, status=status, code=code, severity=severity,
                               tender=tender, uscc=uscc, limit=limit, after=after)
    return warnings.list_warnings(ctx(), g.actor, f)


@blp.route("/<warning_id>", methods=["GET"])
@blp.response(200, WarningOut)
@requires(*warnings.WARNING_READERS)
def show(warning_id):
    """One warning with its evidence and disposals."""
    return warnings.get_warning(ctx(), g.actor, parse_id(warning_id, "warning"))


@blp.route("/<warning_id>/disposal", methods=["POST"])
@blp.doc(**json_body(DisposalIn, idempotent=True))
@blp.response(200, WarningOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("regulator")
@id_after_body("warning_id", "warning")
def dispose(warning_id):
    """Confirm (查实), dismiss (排除) or refer (移送) a warning; a confirmation creates
    the parties' records in the same transaction (403, after every other check, for a
    token whose name, over 100 characters, cannot be their issued_by)."""
    body = read_json()
    return verbatim(warnings.dispose(ctx(), g.actor, warning_id, body,
                                     idempotency(g.actor.token_id, body)))
