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
        "records": [
            {
                "id": st.record.id,
                "sha256": st.record.sha256,
                "code": st.record.code,
                "sector": st.record.sector,
                # A code the model does not know (not_in_model) has no category, tier
                # or points under it.
                "category": st.entry.category if st.entry else None,
                "tier": st.entry.tier if st.entry else None,
                "points": fmt(st.entry.points) if st.entry else None,
                "decided_on": st.record.decided_on.isoformat(),
                "valid_until": st.effective_valid_until.isoformat(),
                "original_valid_until": st.original_valid_until.isoformat(),
                "repaired_on": st.repaired_on.isoformat() if st.repaired_on else None,
                "project_code": st.record.project_code,
                "document_no": st.record.document_no,
                "audit_position": st.record.audit_position,
                "status": st.status,
                "factor": fmt_factor(st.factor),
                "contribution": fmt(st.contribution),
            }
            for st in result.records
        ],
        "steps": [s.as_json() for s in result.steps],
        "result": result_body(result, name),
    }
