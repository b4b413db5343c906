"""Scoring models and health (API.md §7)."""

from api.auth import EVERY_ROLE, public, requires
from api.blueprints import Blueprint, ctx
from credit.services import subjects
from credit.services.resources import Health, ModelDefinition, ModelList

blp = Blueprint("models", __name__, url_prefix="/api/v1", description="Models and health")


@blp.route("/models", methods=["GET"])
@blp.response(200, ModelList)
@requires(*EVERY_ROLE)
def index():
    """Published model versions and which one is active."""
    return subjects.list_models(ctx())


@blp.route("/models/<ref>", methods=["GET"])
@blp.response(200, ModelDefinition)
@requires(*EVERY_ROLE)
def show(ref):
    """The whole definition of ``id@version``: catalogue and parameters."""
    return subjects.model_definition(ctx(), ref)


@blp.route("/health", methods=["GET"])
@blp.response(200, Health)
@public
def health():
    """Liveness of the service and its database."""
    return subjects.health(ctx())
