"""Signed checkpoints of the audit log and the public key that checks them (API.md §6).

The private key file named by the settings (``CREDIT_SIGNING_KEY``; the app's config
may name another) is read on each request, so a key created with ``credit keys create``
is used without a restart.
"""

from flask import current_app
from marshmallow import Schema, fields

from api.auth import AUDIT, public, requires
from api.blueprints import Blueprint, ctx
from api.http import json_response
from api.schemas import ErrorBody
from credit.services import checkpoints

blp = Blueprint("checkpoints", __name__, url_prefix="/api/v1/audit",
                description="Signed checkpoints of the audit log")


class CheckpointOut(Schema):
    position = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    at = fields.String(required=True)
    key_id = fields.String(required=True)
    signature = fields.String(required=True, metadata={
        "description": "base64 Ed25519 signature over the UTF-8 canonical JSON of "
                       "{position, sha256, at}"})


class PublicKeyOut(Schema):
    key_id = fields.String(required=True)
    algorithm = fields.String(required=True, metadata={"enum": ["Ed25519"]})
    public_key = fields.String(required=True, metadata={
        "description": "base64 of the raw 32-byte Ed25519 public key"})


def _key():
    return checkpoints.signer(current_app.extensions["credit_settings"].signing_key_path)


@blp.route("/checkpoint", methods=["GET"])
@blp.response(200, CheckpointOut)
@blp.alt_response(503, schema=ErrorBody)
@requires(*AUDIT)
def checkpoint():
    """The head of the log, signed: keep it to catch a later truncation or rewrite."""
    return json_response(checkpoints.issue(ctx(), _key()))


@blp.route("/public-key", methods=["GET"])
@blp.response(200, PublicKeyOut)
@blp.alt_response(503, schema=ErrorBody)
@public
def public_key():
    """The Ed25519 public key that checks checkpoints (no token needed)."""
    return json_response(checkpoints.public_key(_key()))
