"""The tender, warning and disposal resources as served (WARNINGS.md §5, §6), built from
stored rows in one place. Personal values appear only masked: the keyed hashes are read
by the screens and the audit log, never served here."""

from __future__ import annotations

import json
from collections import defaultdict

WARNING_STATUSES = ("open", "referred", "confirmed", "dismissed")
DISPOSAL_ACTIONS = ("confirm", "dismiss", "refer")
_FINAL = {"confirm": "confirmed", "dismiss": "dismissed"}


def warning_status(disposals: list) -> str:
    """``confirmed``/``dismissed`` once finally disposed, ``referred`` after a referral,
    else ``open`` (WARNINGS.md §6)."""
    for d in disposals:
        if d.action in _FINAL:
            return _FINAL[d.action]
    return "referred" if any(d.action == "refer" for d in disposals) else "open"


def _by_bid(rows: list) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for r in rows:
        out[r.n].append(r)
    return out


def bid_parties(children: dict[str, list]) -> dict[int, dict]:
    """Per bid position: ``bidder``, ``bidder_name`` and ``consortium`` (as a warning
    names its bids)."""
    out: dict[int, dict] = {}
    for n, parties in _by_bid(children["bid_parties"]).items():
        bidder = next(p for p in parties if p.role == "bidder")
        out[n] = {"n": n, "bidder": bidder.uscc, "bidder_name": bidder.name,
                  "consortium": [{"uscc": p.uscc, "name": p.name}
                                 for p in parties if p.role == "member"]}
    return out


def _bid(b, parties: dict, documents: list, uploads: list, personnel: list) -> dict:
    return {
        **parties,
        "price": b.price,
        "status": b.status,
        "reject_reason": b.reject_reason,
        "submitted_at": b.submitted_at,
        "documents": [{"machine_code": d.machine_code, "file_id": d.file_id,
                       "pricing_lock": d.pricing_lock} for d in documents],
        "uploads": [{"mac": u.mac, "cpu": u.cpu, "disk": u.disk, "ip": u.ip,
                     "onsite": u.onsite} for u in uploads],
        "deposit_account_masked": b.deposit_masked,
        "personnel": [{"role": p.role, "id_number_masked": p.id_masked} for p in personnel],
    }


def award_resource(award, children: dict[str, list]) -> dict | None:
    """The award with the winning bid's name and (masked) project managers."""
    if award is None:
        return None
    winning = next((b for b in children["bids"] if b.bidder_uscc == award.winner_uscc), None)
    n = winning.n if winning else None
    return {
        "winner": award.winner_uscc,
        "winner_name": winning.bidder_name if winning else None,
        "bid": n,
        "awarded_on": award.awarded_on.isoformat(),
        "contract_price": award.contract_price,
        "completion_due": award.completion_due.isoformat(),
        "project_managers": [p.id_masked for p in children["bid_personnel"]
                             if p.n == n and p.role == "project_manager"],
        "awarded_by": award.entered_by,
        "awarded_at": award.awarded_at,
        "audit_position": award.audit_position,
    }


def tender_resource(t, children: dict[str, list], award, warning_ids: list[int]) -> dict:
    """Every input field (personal data masked) plus ``registered_at``,
    ``audit_position``, ``screens``, ``award`` and ``warnings`` (§5)."""
    parties = bid_parties(children)
    docs, uploads = _by_bid(children["bid_documents"]), _by_bid(children["bid_uploads"])
    persons = _by_bid(children["bid_personnel"])
    return {
        "code": t.code,
        "name": t.name,
        "sector": t.sector,
        "tenderee": {"uscc": t.tenderee_uscc, "name": t.tenderee_name},
        "agency": ({"uscc": t.agency_uscc, "name": t.agency_name}
                   if t.agency_uscc is not None else None),
        "method": t.method,
        "ceiling_price": t.ceiling_price,
        "opened_at": t.opened_at,
        "village": t.village,
        "exclusions": [{"kind": x.kind, "value": x.value}
                       for x in children["tender_exclusions"]],
        "bids": [_bid(b, parties[b.n], docs[b.n], uploads[b.n], persons[b.n])
                 for b in children["bids"]],
        "registered_at": t.registered_at,
        "registered_by": t.entered_by,
        "audit_position": t.audit_position,
        "knowledge_position": t.knowledge_position,
        "screens": {"ref": t.screens, "sha256": t.screens_sha256},
        "award": award_resource(award, children),
        "warnings": list(warning_ids),
    }


def disposal_resource(d, records: list[int]) -> dict:
    """One disposal; ``records`` the ids of the records it created."""
    return {
        "id": d.id,
        "action": d.action,
        "reason": d.reason,
        "document_no": d.document_no,
        "decided_on": d.decided_on.isoformat() if d.decided_on else None,
        "code": d.code,
        "bids": json.loads(d.bids),
        "covered_by": json.loads(d.covered_by) if d.covered_by else None,
        "records": records,
        "by": d.entered_by,
        "at": d.disposed_at,
        "audit_position": d.audit_position,
    }


def warning_resource(w, tender_code: str, parties: dict[int, dict], disposals: list,
                     records: list[int]) -> dict:
    """A warning (§5): the bids it names with their parties, its evidence, status and
    disposals. ``records`` are the records its confirmation created (only a
    ``confirm`` creates records, and a warning is confirmed at most once)."""
    bids = json.loads(w.bids)
    return {
        "id": w.id,
        "tender": tender_code,
        "sector": w.sector,
        "screen": w.screen,
        "code": w.code,
        "severity": w.severity,
        "basis": w.basis,
        "bids": [parties[n] for n in bids],
        "evidence": json.loads(w.evidence),
        "parameters": json.loads(w.parameters),
        "definition": w.definition,
        "raised_at": w.raised_at,
        "audit_position": w.audit_position,
        "status": warning_status(disposals),
        "disposals": [disposal_resource(d, records if d.action == "confirm" else [])
                      for d in disposals],
    }
