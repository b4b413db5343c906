"""Signed checkpoints of the audit log and the public key that checks them (API.md §6).

The private key file named by the settings (``CREDIT_SIGNING_KEY``; the app's config
may name another) is read on each request, so a key created with ``credit keys create``
is used without a restart.
"""

from api.auth import AUDIT, public, requires
from api.blueprints import Blueprint, ctx
from api.http import signing_key_path
from api.schemas import ErrorBody
from credit.services import checkpoints
from credit.services.resources import CheckpointOut, PublicKeyOut

blp = Blueprint("checkpoints", __name__, url_prefix="/api/v1/audit",
                description="Signed checkpoints of the audit log")


def _key():
    return checkpoints.signer(signing_key_path())


@blp.route("/checkpoint", methods=["GET"])
@blp.response(200, CheckpointOut)
@blp.alt_response(503, schema=ErrorBody)
@requires(*AUDIT)
def checkpoint():
    """The head of the log, signed: keep it to catch a later truncation or rewrite."""
    return checkpoints.issue(ctx(), _key())


@blp.route("/public-key", methods=["GET"])
@blp.response(200, PublicKeyOut)
@blp.alt_response(503, schema=ErrorBody)
@public
def public_key():
    """The Ed25519 public key that checks checkpoints (no token needed)."""
    return checkpoints.public_key(_key())
