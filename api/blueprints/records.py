"""Records (API.md §3): regulators write their own sectors; readers list and read."""

from flask import g

from api.auth import READERS, own_subject, requires
from api.blueprints import Blueprint, ctx
from api.http import id_after_body, idempotency, json_body, parse_id, read_json, verbatim
from api.schemas import ErrorBody, RecordQuery
from credit.services import records
from credit.services.inputs import RecordInput, RepairInput, RevocationInput
from credit.services.resources import RecordOut, RecordPage

blp = Blueprint("records", __name__, url_prefix="/api/v1/records",
                description="Credit records entered by sector regulators")


@blp.route("", methods=["POST"])
@blp.doc(**json_body(RecordInput, idempotent=True))
@blp.response(201, RecordOut)
@blp.alt_response(400, schema=ErrorBody)
@requires("regulator")
def create():
    """Enter a penalty or award decision (regulator, own sectors)."""
    body = read_json()
    # Dumped through RecordOut at creation, and remembered as that text (Idempotency-Key).
    return verbatim(records.create_record(ctx(), g.actor, body,
                                          idempotency(g.actor.token_id, body)))


@blp.route("", methods=["GET"])
@blp.response(200, RecordPage)
@requires(*READERS)  # outside the query parsing: 401/403/413 come before 400
@blp.arguments(RecordQuery, location="query", as_kwargs=True)
def index(uscc, sector, code, limit, after):
    """Records, newest first by audit position."""
    f = records.RecordFilter(uscc=uscc, sector=sector, code=code, limit=limit, after=after)
    return records.list_records(ctx(), g.actor, f)


@blp.route("/<record_id>", methods=["GET"])
@blp.response(200, RecordOut)
@requires(*READERS)
def show(record_id):
    """One record with its events."""
    body = records.get_record(ctx(), g.actor, parse_id(record_id, "record"))
    own_subject(body["uscc"])
    return body


@blp.route("/<record_id>/revocation", methods=["POST"])
@blp.doc(**json_body(RevocationInput, idempotent=False))
@blp.response(200, RecordOut)
@requires("regulator")
@id_after_body("record_id", "record")
def revoke(record_id):
    """Revoke (撤销) a record: it never counted, for any knowledge from now on."""
    return records.revoke_record(ctx(), g.actor, record_id, read_json())


@blp.route("/<record_id>/repair", methods=["POST"])
@blp.doc(**json_body(RepairInput, idempotent=False))
@blp.response(200, RecordOut)
@requires("regulator")
@id_after_body("record_id", "record")
def repair(record_id):
    """Credit repair (信用修复): the record stops counting the day before repaired_on."""
    return records.repair_record(ctx(), g.actor, record_id, read_json())
