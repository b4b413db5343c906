"""Tenders, bids and awards as the collusion screens see them (WARNINGS.md §2–§4).

Every value here is already validated and normalised (credit.domain.identifiers);
personal values (resident id numbers, deposit accounts) are present only as their keyed
hashes and masks, never in clear. Positions ``n`` count bids from 1 in the order sent.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Mapping

from .dates import cst_date
from .values import value

METHODS = ("lowest_price", "comprehensive", "benchmark")
BID_STATUSES = ("valid", "rejected")
PERSONNEL_ROLES = ("project_manager", "technical_lead", "safety_officer")
DOCUMENT_KINDS = ("machine_code", "file_id", "pricing_lock")
UPLOAD_KINDS = ("mac", "cpu", "disk", "ip")
EXCLUSION_KINDS = DOCUMENT_KINDS + UPLOAD_KINDS


@value
class Party:
    """A bidder or consortium member (or the tenderee, or the agency): USCC and the name
    the tender gives it."""

    uscc: str
    name: str


@value
class Document:
    """Identifiers of one bid file (文件制作机器码, 文件创建标识码, 计价软件加密锁号)."""

    machine_code: str | None = None
    file_id: str | None = None
    pricing_lock: str | None = None


@value
class Upload:
    """Where a bid was uploaded from; ``onsite`` = the trading centre's own terminal."""

    mac: str | None = None
    cpu: str | None = None
    disk: str | None = None
    ip: str | None = None
    onsite: bool = False


@value
class Person:
    """A named key person of a bid, known only by the keyed hash of the id number."""

    role: str
    id_hash: str
    id_masked: str


@value
class Bid:
    n: int
    bidder: Party
    price: Decimal
    status: str
    submitted_at: datetime
    consortium: tuple[Party, ...] = ()
    reject_reason: str | None = None
    documents: tuple[Document, ...] = ()
    uploads: tuple[Upload, ...] = ()
    deposit_hash: str | None = None
    deposit_masked: str | None = None
    personnel: tuple[Person, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @property
    def parties(self) -> tuple[Party, ...]:
        """The bidder, then its consortium members."""
        return (self.bidder, *self.consortium)

    @cached_property  # computed once: screen 12 asks for it per earlier tender
    def project_managers(self) -> frozenset[str]:
        """Id hashes of the persons this bid names as project manager."""
        return frozenset(p.id_hash for p in self.personnel if p.role == "project_manager")


@value
class Tender:
    code: str
    name: str
    sector: str
    tenderee: Party
    agency: Party | None
    method: str
    ceiling_price: Decimal
    opened_at: datetime
    village: bool
    bids: tuple[Bid, ...]
    exclusions: frozenset[tuple[str, str]] = frozenset()  # (kind, normalised value)

    @cached_property  # computed once: the cross-tender screens ask for it per tender
    def opened_on(self) -> date:
        """The date of the opening: its calendar date in CST (WARNINGS.md §2)."""
        return cst_date(self.opened_at)

    def excluded(self, kind: str, value: str) -> bool:
        return (kind, value) in self.exclusions


@value
class PriorAward:
    """The award of an earlier tender, as known before a registration: who won, when,
    the contract's end (approved final evaluation's ``completed_on``, else
    ``completion_due``) and the id hashes of the winning bid's project managers."""

    winner: str
    awarded_on: date
    end: date
    project_managers: frozenset[str] = frozenset()


@value
class PriorTender:
    """What the cross-tender screens (12, 13) read of a tender registered earlier."""

    code: str
    opened_on: date
    bidders: frozenset[str]  # the ``bidder`` USCCs of its bids (consortium members not)
    award: PriorAward | None = None


@value
class Snapshot:
    """Everything committed up to ``knowledge_position`` that screens 12–13 may read
    (the registering tender itself excluded). The service passes only the earlier
    tenders relevant to this one (found through indexes), never the whole history."""

    knowledge_position: int
    tenders: tuple[PriorTender, ...] = ()


@value
class ScreenWarning:
    """One warning raised by a screen: which screen, the bids it names (positions,
    ascending), its evidence exactly as WARNINGS.md §4 lists it, and the definition's
    parameter values the screen used."""

    screen: int
    code: str
    severity: str
    basis: str
    bids: tuple[int, ...]
    evidence: Mapping
    parameters: Mapping
