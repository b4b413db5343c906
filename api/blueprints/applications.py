"""Repair applications and objections (issue 13): an enterprise applies for its own
records; the regulator of the record's sector decides."""

from flask import g

from api.auth import requires
from api.blueprints import Blueprint, ctx
from api.http import id_after_body, json_body, read_json
from api.schemas import ApplicationQuery, ErrorBody
from credit.services import applications
from credit.services.inputs import ApplicationInput, DecisionInput
from credit.services.resources import ApplicationOut, ApplicationPage

blp = Blueprint("applications", __name__, url_prefix="/api/v1",
                description="Credit-repair applications (信用修复申请) and objections (异议申诉)")


@blp.route("/records/<record_id>/applications", methods=["POST"])
@blp.doc(**json_body(ApplicationInput, idempotent=False))
@blp.response(201, ApplicationOut)
@blp.alt_response(400, schema=ErrorBody)
@blp.alt_response(409, schema=ErrorBody)
@blp.alt_response(422, schema=ErrorBody)
@requires("enterprise")
@id_after_body("record_id", "record")
def submit(record_id):
    """Apply for credit repair of, or object to, one of the enterprise's own records."""
    return applications.submit(ctx(), g.actor, record_id, read_json())


@blp.route("/applications", methods=["GET"])
@blp.response(200, ApplicationPage)
@requires("regulator", "auditor", "admin", "enterprise")
@blp.arguments(ApplicationQuery, location="query", as_kwargs=True)
def index(status, sector, limit, after):
    """Applications newest first: a regulator's sectors, an enterprise's own, all for
    auditors and admins."""
    f = applications.ApplicationFilter(status=status, sector=sector, limit=limit, after=after)
    return applications.list_applications(ctx(), g.actor, f)


@blp.route("/applications/<application_id>/decision", methods=["POST"])
@blp.doc(**json_body(DecisionInput, idempotent=False))
@blp.response(200, ApplicationOut)
@blp.alt_response(409, schema=ErrorBody)
@blp.alt_response(422, schema=ErrorBody)
@requires("regulator")
@id_after_body("application_id", "application")
def decide(application_id):
    """Accept (performing the repair or revocation) or reject an application."""
    return applications.decide(ctx(), g.actor, application_id, read_json())
