"""Traces and the audit log (API.md §6)."""

from flask import g

from api.auth import AUDIT, READERS, requires
from api.blueprints import Blueprint, ctx
from api.http import json_response, parse_id
from api.schemas import (
    ChainVerification,
    Entry,
    EntryPage,
    EntryQuery,
    TraceQuery,
    TraceVerification,
)
from credit.services import audit

traces = Blueprint("traces", __name__, url_prefix="/api/v1/traces",
                   description="Served scores with everything needed to check them")
log = Blueprint("audit", __name__, url_prefix="/api/v1/audit",
                description="The append-only, hash-chained audit log")


@traces.route("", methods=["GET"])
@traces.arguments(TraceQuery, location="query", as_kwargs=True)
@traces.response(200, EntryPage)
@requires(*AUDIT)
def trace_index(uscc, actor, from_, to, limit, after):
    """Traces newest first, filtered by enterprise, caller and time."""
    f = audit.TraceFilter(uscc=uscc, actor=actor, from_=from_, to=to, limit=limit,
                          after=after)
    return json_response(audit.list_traces(ctx(), f))


@traces.route("/<trace_id>", methods=["GET"])
@traces.response(200, Entry)
@requires(*READERS)
def trace_show(trace_id):
    """One trace, exactly as logged."""
    return json_response(audit.get_trace(ctx(), g.actor, parse_id(trace_id, "trace")))


@traces.route("/<trace_id>/verify", methods=["GET"])
@traces.response(200, TraceVerification)
@requires(*AUDIT)
def trace_verify(trace_id):
    """Hash, chain link and replay of one trace; appends nothing."""
    return json_response(audit.verify_trace(ctx(), parse_id(trace_id, "trace")))


@log.route("/entries", methods=["GET"])
@log.arguments(EntryQuery, location="query", as_kwargs=True)
@log.response(200, EntryPage)
@requires(*AUDIT)
def entries(after, limit, kind):
    """Entries ascending by position after ``after``."""
    return json_response(audit.list_entries(ctx(), after=after, limit=limit, kind=kind))


@log.route("/verify", methods=["GET"])
@log.response(200, ChainVerification)
@requires(*AUDIT)
def verify():
    """Re-hash the whole chain and every stored row; appends nothing."""
    return json_response(audit.verify_chain(ctx()))
