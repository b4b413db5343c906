"""The served score as JSON: the §4 result body and the trace payload of API.md §6.

The trace carries every input (each record with its status, factor and contribution),
each ordered step with the rule and the parameter values it used, and the result, so a
reader can re-check every cent by hand.
"""

from __future__ import annotations

from .dates import format_instant
from .engine import ScoreResult
from .model import ScoringModel
from .money import fmt, fmt_factor
from .records import Knowledge


def model_ref(model: ScoringModel) -> dict:
    return {"id": model.id, "version": model.version, "sha256": model.sha256}


def result_body(result: ScoreResult, name: str | None) -> dict:
    """The fields of the §4 score body (without ``trace_id``/``trace_sha256``)."""
    return {
        "uscc": result.uscc,
        "name": name,
        "sector": result.sector,
        "as_of": result.as_of.isoformat(),
        "known_at": format_instant(result.knowledge.known_at),
        "model": model_ref(result.model),
        "score": fmt(result.score),
        "components": {k: fmt(v) for k, v in result.components.items()},
        "grade": result.grade,
        "eligible_to_bid": result.eligible_to_bid,
        "bid_points": fmt(result.bid_points),
        "inspection_multiplier": fmt(result.inspection_multiplier),
        "measures": [m.as_json() for m in result.measures],
        "reasons": [dict(r) for r in result.reasons],
    }


def trace_payload(result: ScoreResult, name: str | None) -> dict:
    """Payload of a ``score.served`` audit entry."""
    return {
        "uscc": result.uscc,
        "sector": result.sector,
        "as_of": result.as_of.isoformat(),
        "known_at": format_instant(result.knowledge.known_at),
        "knowledge_position": result.knowledge.position,
        "model": model_ref(result.model),
        "records": _records(result.records),
        "steps": [s.as_json() for s in result.steps],
        "result": result_body(result, name),
    }


#: The members of a trace payload that :func:`rebased` replaces; every other member
#: (``model``, ``records``, ``steps`` …) is the same whatever the knowledge.
REBASED = ("known_at", "knowledge_position", "result")


def rebased(payload: dict, knowledge: Knowledge) -> dict:
    """The trace payload of the same score as known at ``knowledge`` instead: a copy with
    its three knowledge fields (``known_at`` twice, ``knowledge_position``) replaced.

    Exact only when ``knowledge`` knows the same records and events the payload's own
    knowledge knew — as two reads of one unchanged history at two committed heads do
    (every row read is at or below its head, so each knowledge knows all of them): the
    engine looks at knowledge only to drop what it does not know
    (:func:`~credit.domain.engine.record_standings`), and the trace names it only in
    these fields. The copy's own dicts are new (its caller stamps it); the records and
    steps are shared, and nothing downstream mutates them."""
    known_at = format_instant(knowledge.known_at)
    result = dict(payload["result"])
    result["known_at"] = known_at
    out = dict(payload)
    out["known_at"] = known_at
    out["knowledge_position"] = knowledge.position
    out["result"] = result
    return out


def _records(standings) -> list[dict]:
    """Each input record of the trace with how it stands: a loop with the record and its
    catalogue entry named once (a thousand of these per 50-bidder evaluation)."""
    out = []
    for st in standings:
        rec, entry, repaired_on = st.record, st.entry, st.repaired_on
        out.append({
            "id": rec.id,
            "sha256": rec.sha256,
            "code": rec.code,
            "sector": rec.sector,
            # A code the model does not know (not_in_model) has no category, tier or
            # points under it.
            "category": entry.category if entry else None,
            "tier": entry.tier if entry else None,
            "points": fmt(entry.points) if entry else None,
            "decided_on": rec.decided_on.isoformat(),
            "valid_until": st.effective_valid_until.isoformat(),
            "original_valid_until": st.original_valid_until.isoformat(),
            "repaired_on": repaired_on.isoformat() if repaired_on else None,
            "project_code": rec.project_code,
            "document_no": rec.document_no,
            "audit_position": rec.audit_position,
            "status": st.status,
            "factor": fmt_factor(st.factor),
            "contribution": fmt(st.contribution),
        })
    return out
