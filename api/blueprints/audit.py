"""Traces and the audit log (API.md §6)."""

from flask import g
from marshmallow import ValidationError, fields, validate, validates_schema

from api.auth import AUDIT, TRACE_READERS, requires
from api.blueprints import Blueprint, ctx
from api.http import parse_id, signing_key_path
from api.schemas import EntryQuery, Query, TraceQuery
from credit.services import audit, checkpoints
from credit.services.resources import (
    ChainVerification,
    EntryOut,
    EntryPage,
    TraceVerification,
)

traces = Blueprint("traces", __name__, url_prefix="/api/v1/traces",
                   description="Served scores with everything needed to check them")
log = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="The append-only, hash-chained audit log")


@traces.route("", methods=["GET"])
@traces.response(200, EntryPage)
@requires(*AUDIT)  # outside the query parsing: 401/403/413 come before 400
@traces.arguments(TraceQuery, location="query", as_kwargs=True)
def trace_index(uscc, actor, from_, to, limit, after):
    """Traces newest first, filtered by enterprise, caller and time."""
    f = audit.TraceFilter(uscc=uscc, actor=actor, from_=from_, to=to, limit=limit,
                          after=after)
    return audit.list_traces(ctx(), f)


@traces.route("/<trace_id>", methods=["GET"])
@traces.response(200, EntryOut)
@requires(*TRACE_READERS)
def trace_show(trace_id):
    """One trace, exactly as logged."""
    return audit.get_trace(ctx(), g.actor, parse_id(trace_id, "trace"))


@traces.route("/<trace_id>/verify", methods=["GET"])
@traces.response(200, TraceVerification)
@requires(*AUDIT)
def trace_verify(trace_id):
    """Hash (and its look-up columns), chain links (to its predecessor, and its
    successor's to it) and replay of one trace; appends nothing."""
    return audit.verify_trace(ctx(), parse_id(trace_id, "trace"))


@log.route("/entries", methods=["GET"])
@log.response(200, EntryPage)
@requires(*AUDIT)
@log.arguments(EntryQuery, location="query", as_kwargs=True)
def entries(after, limit, kind):
    """Entries ascending by position after ``after``."""
    return audit.list_entries(ctx(), after=after, limit=limit, kind=kind)


class VerifyQuery(Query):
    """An optional checkpoint (API.md §6): both or neither; or ``from=checkpoint``."""

    position = fields.Integer(load_default=None, strict=False,
                              validate=validate.Range(min=0, max=2**63 - 1))
    sha256 = fields.String(load_default=None, validate=validate.Regexp(
        r"^[0-9a-fA-F]{64}$", error="must be 64 hexadecimal digits."))
    from_ = fields.String(data_key="from", load_default=None, validate=validate.OneOf(
        ["checkpoint"], error="must be checkpoint (the newest stored verification)."),
        metadata={"description": "checkpoint: verify incrementally, from the newest "
                                 "stored intact verification to the head (with a "
                                 "signing key configured, one that key signed); once a "
                                 "stored run has failed, from the start of the chain "
                                 "until a whole intact walk has started after the "
                                 "newest failure (from_position 0)"})

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _both_or_neither(self, data, original_data, **kw):
        # Checked even when a field fails (API.md §1: every problem listed), on what was
        # sent: a half sent but refused is still sent, not also called missing.
        # (``in``, not ``get``: webargs' query proxy gets ``missing`` for an absent key)
        sent = {k for k in ("position", "sha256", "from")
                if k in original_data and original_data[k] is not None}
        if ("position" in sent) != ("sha256" in sent):
            missing = "position" if "sha256" in sent else "sha256"
            raise ValidationError("position and sha256 of a checkpoint go together.",
                                  missing)
        if data.get("from_") is not None and data.get("position") is not None:
            raise ValidationError("from=checkpoint verifies incrementally; a saved "
                                  "checkpoint (position, sha256) needs a full run.", "from")


@log.route("/verify", methods=["GET"])
@requires(*AUDIT)  # outside the query parsing: 401/403 come before 400 (API.md §1)
@log.arguments(VerifyQuery, location="query", as_kwargs=True)
@log.response(200, ChainVerification)
def verify(position, sha256, from_):
    """Re-hash the whole chain and every stored row; appends nothing to the chain (the
    run is stored beside it). With a saved checkpoint (``position`` and ``sha256``) also
    whether the log still extends it; with ``from=checkpoint`` only what was appended
    since the newest stored intact verification (the whole chain again while a stored
    failure has not been followed by an intact whole walk)."""
    cp = checkpoints.parse(position, sha256) if position is not None else None
    return audit.verify_chain(ctx(), cp, incremental=from_ == "checkpoint",
                              key_path=signing_key_path())
