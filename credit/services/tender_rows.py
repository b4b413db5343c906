"""Stored rows of the tender loop as pure projections of what their audit entries say,
and the digests those entries carry (API.md §6: every stored row is re-checked against
the hash its creating entry holds).

A registration's rows are grouped by table; each entry carries, per table, the SHA-256
of the canonical JSON of the list of its rows' facts (every column, in key order), so
``audit verify`` re-hashes the rows of each tender, award, warning and disposal and
names the table whose rows differ (credit.services.verification, ``TENDER_TABLES``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Mapping

from credit.domain import canonical
from credit.persistence.tender_tables import (
    AwardRow,
    BidDocumentRow,
    BidPartyRow,
    BidPersonRow,
    BidRow,
    BidUploadRow,
    DisposalRow,
    TenderExclusionRow,
    TenderRow,
    WarningBidRow,
    WarningRow,
)

from .tender_inputs import opened_on

REGISTRATION_TABLES = ("tenders", "bids", "bid_parties", "bid_documents", "bid_uploads",
                       "bid_personnel", "tender_exclusions")


class Fresh(SimpleNamespace):
    """A row about to be inserted, with its table: plain attributes, since building ORM
    instances for the thousand rows of a 200-bid registration cost more than the
    screens. Read back, the same row is an ORM instance with the same attributes."""

    def __init__(self, cls, **values):
        super().__init__(__table__=cls.__table__, **values)


def row_facts(row) -> dict:
    """Every column of a row (stored, or :class:`Fresh`), as hashed (dates as ISO
    strings)."""
    out = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        out[column.key] = value.isoformat() if isinstance(value, date) else value
    return out


def rows_digest(rows: Mapping[str, list]) -> dict[str, str]:
    """Per table, the SHA-256 of the canonical JSON of its rows' facts in key order."""
    return {table: canonical.digest([row_facts(r) for r in items])
            for table, items in rows.items()}


def plain(value):
    """Evidence and parameters as JSON values: mappings as objects, tuples as lists,
    decimals as the strings they are written as."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [plain(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def registration_rows(doc: dict, tender_id: int, *, screens, knowledge_position: int,
                      entered_by: str, at: str, position: int) -> dict[str, list]:
    """The rows of one registration, table by table, in key order."""
    opened = opened_on(doc)
    agency = doc["agency"] or {}
    rows: dict[str, list] = {t: [] for t in REGISTRATION_TABLES}
    rows["tenders"].append(Fresh(TenderRow,
        id=tender_id, code=doc["code"], name=doc["name"], sector=doc["sector"],
        tenderee_uscc=doc["tenderee"]["uscc"], tenderee_name=doc["tenderee"]["name"],
        agency_uscc=agency.get("uscc"), agency_name=agency.get("name"), method=doc["method"],
        ceiling_price=doc["ceiling_price"], opened_at=doc["opened_at"], opened_on=opened,
        village=doc["village"], screens=screens.ref, screens_sha256=screens.sha256,
        knowledge_position=knowledge_position, entered_by=entered_by, registered_at=at,
        audit_position=position))
    for b in doc["bids"]:
        _bid_rows(rows, tender_id, b, opened, position)
    rows["tender_exclusions"] = [
        Fresh(TenderExclusionRow, tender_id=tender_id, idx=k, kind=x["kind"], value=x["value"])
        for k, x in enumerate(doc["exclusions"])]
    return rows


def _bid_rows(rows: dict, tender_id: int, b: dict, opened: date, position: int) -> None:
    n = b["n"]
    rows["bids"].append(Fresh(BidRow,
        tender_id=tender_id, n=n, bidder_uscc=b["bidder"], bidder_name=b["bidder_name"],
        price=b["price"], status=b["status"], reject_reason=b["reject_reason"],
        submitted_at=b["submitted_at"], deposit_hash=b["deposit_account_hash"],
        deposit_masked=b["deposit_account_masked"]))
    parties = [("bidder", b["bidder"], b["bidder_name"])] + \
        [("member", m["uscc"], m["name"]) for m in b["consortium"]]
    rows["bid_parties"] += [
        Fresh(BidPartyRow, tender_id=tender_id, n=n, idx=k, role=role, uscc=uscc, name=name,
                    opened_on=opened, audit_position=position)
        for k, (role, uscc, name) in enumerate(parties)]
    rows["bid_documents"] += [Fresh(BidDocumentRow, tender_id=tender_id, n=n, idx=k, **d)
                              for k, d in enumerate(b["documents"])]
    rows["bid_uploads"] += [Fresh(BidUploadRow, tender_id=tender_id, n=n, idx=k, **u)
                            for k, u in enumerate(b["uploads"])]
    rows["bid_personnel"] += [
        Fresh(BidPersonRow, tender_id=tender_id, n=n, idx=k, role=p["role"],
                     id_hash=p["id_number_hash"], id_masked=p["id_number_masked"],
                     bidder=b["bidder"])
        for k, p in enumerate(b["personnel"])]


def warning_rows(warning_id: int, tender: TenderRow, definition, w, *, at: str,
                 position: int) -> dict[str, list]:
    """A raised warning (a domain ScreenWarning ``w``) and the bids it names."""
    row = Fresh(
        WarningRow, id=warning_id, tender_id=tender.id, sector=tender.sector,
        definition=definition.ref,
        screen=w.screen, code=w.code, severity=w.severity, basis=w.basis,
        bids=canonical.dumps(sorted(w.bids)), evidence=canonical.dumps(plain(w.evidence)),
        parameters=canonical.dumps(plain(w.parameters)), raised_at=at,
        audit_position=position)
    bids = [Fresh(WarningBidRow, warning_id=warning_id, n=n, tender_id=tender.id)
            for n in sorted(w.bids)]
    return {"warnings": [row], "warning_bids": bids}


def award_row(tender: TenderRow, data: dict, *, entered_by: str, at: str,
              position: int) -> AwardRow:
    return AwardRow(tender_id=tender.id, winner_uscc=data["winner"],
                    awarded_on=data["awarded_on"], contract_price=data["contract_price"],
                    completion_due=data["completion_due"], entered_by=entered_by,
                    awarded_at=at, audit_position=position)


def disposal_row(disposal_id: int, warning_id: int, data: dict, *, entered_by: str,
                 at: str, position: int) -> DisposalRow:
    covered = data.get("covered_by")
    return DisposalRow(
        id=disposal_id, warning_id=warning_id, action=data["action"], reason=data["reason"],
        document_no=data.get("document_no"), decided_on=data.get("decided_on"),
        code=data.get("code"), bids=canonical.dumps(sorted(data.get("bids") or [])),
        covered_by=canonical.dumps(covered) if covered is not None else None,
        entered_by=entered_by, disposed_at=at, audit_position=position)
