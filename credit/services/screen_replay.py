"""``credit screens replay --tender CODE`` (WARNINGS.md §8): recompute a tender's
warnings from its ``tender.registered`` entry alone — the normalised input, the screen
definition it names (checked against its SHA-256) and the snapshot at its
``knowledge_position`` — and say whether they equal the stored warnings."""

from __future__ import annotations

import json

from credit.domain import screens

from .context import ServiceContext
from .tender_inputs import tender_from_document
from .tender_rows import plain
from .tenders import read_snapshot, tender_row

_COMPARED = ("screen", "code", "severity", "basis", "bids", "evidence", "parameters")


def _recomputed(w) -> dict:
    return {"screen": w.screen, "code": w.code, "severity": w.severity, "basis": w.basis,
            "bids": sorted(w.bids), "evidence": plain(w.evidence),
            "parameters": plain(w.parameters)}


def _stored(row) -> dict:
    return {"screen": row.screen, "code": row.code, "severity": row.severity,
            "basis": row.basis, "bids": json.loads(row.bids),
            "evidence": json.loads(row.evidence), "parameters": json.loads(row.parameters)}


def _definition(ctx: ServiceContext, ref: dict, differences: list[str]):
    name = f"{ref['id']}@{ref['version']}"
    try:
        definition = ctx.models.definition(name, "screens")
    except KeyError:
        differences.append(f"the screen definition {name} is not shipped any more")
        return None
    if definition.sha256 != ref["sha256"]:
        differences.append(f"the screen definition {name} was edited: its SHA-256 is "
                           f"{definition.sha256}, the registration used {ref['sha256']}")
        return None
    return definition


def replay_screens(ctx: ServiceContext, code: str) -> dict:
    """``{"tender", "knowledge_position", "definition", "equal", "stored",
    "recomputed", "differences"}`` — ``equal`` when the recomputed warnings equal the
    stored ones, in the same order, field by field. Reads only."""
    differences: list[str] = []
    with ctx.uow(write=False, snapshot=True) as uow:
        row = tender_row(uow, code)
        payload = uow.audit_queries.get(row.audit_position)["payload"]
        # The registration's warnings: not those a performance approval raised later
        # (PERFORMANCE.md §4), which name another definition.
        screens_ref = f"{payload['screens']['id']}@{payload['screens']['version']}"
        stored_rows = [w for w in uow.warnings.of_tenders([row.id]).get(row.id, [])
                       if w.definition == screens_ref]
        definition = _definition(ctx, payload["screens"], differences)
        recomputed = []
        if definition is not None:
            tender = tender_from_document(payload)
            snapshot = read_snapshot(uow, definition, tender, payload["knowledge_position"])
            recomputed = [_recomputed(w) for w in screens.run(definition, tender, snapshot)]
    stored = [_stored(w) for w in stored_rows]
    if [w.id for w in stored_rows] != payload.get("warnings"):
        differences.append("the stored warnings are not the ones the registration raised "
                           f"(ids {[w.id for w in stored_rows]} vs {payload.get('warnings')})")
    if definition is not None and stored != recomputed:
        differences += _differences(stored, recomputed)
    return {"tender": code, "knowledge_position": payload["knowledge_position"],
            "definition": f"{payload['screens']['id']}@{payload['screens']['version']}",
            "equal": not differences, "stored": len(stored), "recomputed": len(recomputed),
            "differences": differences}


def _differences(stored: list[dict], recomputed: list[dict]) -> list[str]:
    out = []
    if len(stored) != len(recomputed):
        out.append(f"{len(stored)} warning(s) stored, {len(recomputed)} recomputed")
    for i, (a, b) in enumerate(zip(stored, recomputed, strict=False)):
        for key in _COMPARED:
            if a[key] != b[key]:
                out.append(f"warning {i + 1} ({a['code']}): {key} differs")
    return out
