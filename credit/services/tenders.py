"""Use cases of tenders (WARNINGS.md §2, §3, §5, §7): register a tender with all its bids
and run the screens; award it; read tenders; show an evaluation committee the open
warnings of its tender.

Registering is one write transaction. The snapshot the cross-tender screens read and the
screens themselves run before the append lock is taken (a 200-bid tender must not hold
every other writer up); the registration then appends, under the lock, its
``tender.registered`` entry and one ``warning.raised`` entry per warning, in screen
order. The snapshot is "what was committed up to position k", recorded in the payload
as ``knowledge_position``, so ``credit screens replay`` recomputes exactly; two tenders
registered at the same moment need not see each other (WARNINGS.md §4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from credit.domain import screens
from credit.domain.dates import format_instant
from credit.errors import Conflict, CreditError, Forbidden, InvalidInput, NotFound, RuleViolation

from .context import Actor, ServiceContext
from .idempotency import IdempotentRequest, Outcome, remember, replay
from .identity import identity_key
from .paging import page
from .resources import TENDER, present
from .tender_inputs import opened_on, tender_from_document, validate_award, validate_tender
from .tender_resources import tender_resource, warning_status
from .tender_rows import award_row, registration_rows, rows_digest, warning_rows
from .tokens import write_as

TENDER_READERS = ("platform", "evaluator", "auditor", "admin", "regulator")
REGISTRARS = ("platform", "operator")

@dataclass(frozen=True)
class TenderFilter:
    sector: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    bidder: str | None = None
    limit: int = 100
    after: int | None = None
    agency: str | None = None


# ------------------------------------------------------------------ access

def require_role(actor: Actor, roles: tuple[str, ...], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"The role {actor.role!r} may not {what}.")


def visible_sectors(actor: Actor, sector: str | None) -> frozenset[str] | None:
    """The sectors a list may show: a regulator only its own (a filter naming another
    is 403 ``sector_forbidden``); everyone else what the filter names, or all (None)."""
    if actor.role == "regulator":
        if sector is not None:
            check_sector(actor, sector)
            return frozenset([sector])
        return actor.sectors
    return frozenset([sector]) if sector is not None else None


def check_sector(actor: Actor, sector: str) -> None:
    """A regulator acts on its own sectors only (check 10 of API.md §1)."""
    if actor.role == "regulator" and sector not in actor.sectors:
        raise Forbidden(f"This token may not see or act on sector {sector!r} (its sectors: "
                        f"{', '.join(sorted(actor.sectors))}).", error="sector_forbidden")


def screen_definition(ctx: ServiceContext, ref: str | None = None):
    """The named screen definition (``id@version``) or the active one."""
    try:
        if ref is None:
            return ctx.models.active_of("screens")
        return ctx.models.definition(ref, "screens")
    except KeyError:
        raise NotFound(f"There is no screen definition {ref or '(active)'}.") from None


# ------------------------------------------------------------------ resources

def one(children: dict[str, dict[int, list]], tender_id: int) -> dict[str, list]:
    """The child rows of one tender out of a batch read."""
    return {table: rows.get(tender_id, []) for table, rows in children.items()}


def load_resources(uow, rows: list) -> list[dict]:
    """Tender resources of ``rows`` with three batched reads, whatever their number."""
    ids = [t.id for t in rows]
    children = uow.tenders.children(ids)
    awards = uow.tenders.awards(ids)
    warnings = uow.warnings.of_tenders(ids)
    return [tender_resource(t, one(children, t.id), awards.get(t.id),
                            [w.id for w in warnings.get(t.id, [])]) for t in rows]


def tender_row(uow, code: str):
    """The stored tender with this code, or NotFound (check 9)."""
    row = uow.tenders.by_code(code)
    if row is None:
        raise NotFound(f"There is no tender {code!r}.")
    return row


def get_tender(ctx: ServiceContext, actor: Actor, code: str) -> dict:
    """One tender with its bids (personal data masked), award and warning ids."""
    require_role(actor, TENDER_READERS, "read tenders")
    with ctx.uow(write=False) as uow:
        row = tender_row(uow, code)
        check_sector(actor, row.sector)
        return load_resources(uow, [row])[0]


def list_tenders(ctx: ServiceContext, actor: Actor, f: TenderFilter) -> dict:
    """Newest first by audit position, filtered (§5)."""
    require_role(actor, TENDER_READERS, "read tenders")
    sectors = visible_sectors(actor, f.sector)
    with ctx.uow(write=False) as uow:
        rows, next_ = page(uow.tenders.page(
            sectors=sectors, opened_from=f.opened_from, opened_to=f.opened_to,
            party=f.bidder, limit=f.limit + 1, before=f.after, agency=f.agency), f.limit,
            lambda t: t.audit_position)
        items = load_resources(uow, rows)
    return {"items": items, "next": next_}


# ------------------------------------------------------------------ registration

def _guard(uow, idem: IdempotentRequest | None, code: str) -> Outcome | None:
    """Idempotent replay first (check 7), then 409 ``duplicate_tender`` (check 11)."""
    replayed = replay(uow, idem)
    if replayed:
        return replayed
    if uow.tenders.by_code(code) is not None:
        raise Conflict(f"A tender {code!r} is already registered (a retry should send the "
                       "same Idempotency-Key).", error="duplicate_tender")
    return None


def replay_or_raise(ctx: ServiceContext, actor: Actor, idem: IdempotentRequest | None,
                    exc: CreditError) -> Outcome:
    """A refused request that carries a key: its key still answers first (check 7) —
    waiting, under the append lock, for a first attempt still in flight."""
    if idem is not None:
        with write_as(ctx, actor) as uow:
            replayed = replay(uow, idem)
        if replayed:
            return replayed
    raise exc


def prepare_registration(ctx: ServiceContext, raw, screens_ref: str | None = None):
    """Validate and normalise a registration (step 8), read its snapshot and run the
    screens: ``(document, definition, knowledge_position, warnings)``. Reads only."""
    doc = validate_tender(raw, identity_key(ctx), ctx.clock())
    definition = screen_definition(ctx, screens_ref)
    tender = tender_from_document(doc)
    with ctx.uow(write=False) as uow:
        if uow.tenders.by_code(doc["code"]) is not None:
            return doc, definition, None, None
        position = uow.audit.head().position
        snapshot = read_snapshot(uow, definition, tender, position)
    return doc, definition, position, screens.run(definition, tender, snapshot)


def read_snapshot(uow, definition, tender, position: int):
    """What the cross-tender screens may read of the tenders known at ``position``:
    those sharing a bidder with ``tender`` inside the co-bidding window, and the awards
    whose project managers its valid bids name (two indexed queries)."""
    window_start = tender.opened_on - timedelta(days=definition.co_bid_window_days)
    managers = {pm for b in tender.bids if b.valid for pm in b.project_managers}
    return uow.tenders.snapshot(position, tender.opened_on, window_start,
                                [b.bidder.uscc for b in tender.bids], managers)


def register_tender(ctx: ServiceContext, actor: Actor, raw,
                    idem: IdempotentRequest | None = None, *,
                    screens_ref: str | None = None) -> Outcome:
    """POST /tenders: validate, screen and register a tender with all its bids (201)."""
    require_role(actor, REGISTRARS, "register tenders")
    if idem is not None:
        with ctx.uow(write=False) as uow:
            replayed = replay(uow, idem)
        if replayed:
            return replayed
    try:
        doc, definition, position, found = prepare_registration(ctx, raw, screens_ref)
    except CreditError as exc:
        return replay_or_raise(ctx, actor, idem, exc)
    with write_as(ctx, actor) as uow:
        replayed = _guard(uow, idem, doc["code"])
        if replayed:
            return replayed
        text = store_registration(uow, actor, doc, definition, position, found, idem)
        uow.commit()
        return Outcome(201, text)


def _register_subjects(uow, doc: dict, position: int) -> None:
    """Every party of every bid becomes a subject with its name in this tender, unless
    already registered — as a first record registers its subject (API.md §4)."""
    parties = {}
    for b in doc["bids"]:
        for uscc, name in [(b["bidder"], b["bidder_name"])] + \
                [(m["uscc"], m["name"]) for m in b["consortium"]]:
            parties.setdefault(uscc, name)
    new = parties.keys() - uow.tenders.registered_subjects(list(parties))
    uow.tenders.add_subjects([(u, parties[u], position) for u in parties if u in new])


def store_registration(uow, actor: Actor, doc: dict, definition, position: int | None,
                       found, idem: IdempotentRequest | None = None) -> str:
    """Under the append lock: the rows, ``tender.registered`` (carrying the
    Idempotency-Key stamp when ``idem`` is remembered), then one ``warning.raised`` per
    warning. Returns the tender resource as sent: dumped through its schema, once."""
    tender_id = uow.tenders.next_id()
    at = uow.audit.next_at()
    entry_position = uow.audit.next_position()
    rows = registration_rows(doc, tender_id, screens=definition,
                             knowledge_position=position, entered_by=actor.name,
                             at=format_instant(at), position=entry_position)
    first_warning = uow.warnings.next_id()
    warning_ids = list(range(first_warning, first_warning + len(found)))
    tender = rows["tenders"][0]
    children = {t: items for t, items in rows.items() if t != "tenders"}
    text = present(TENDER, tender_resource(tender, children, None, warning_ids))
    _register_subjects(uow, doc, entry_position)
    uow.tenders.add(rows)
    uow.audit.append("tender.registered", actor.name, {
        **doc, "tender_id": tender_id, "knowledge_position": position,
        "screens": {"id": definition.id, "version": definition.version,
                    "sha256": definition.sha256},
        "warnings": warning_ids, "rows": rows_digest(rows),
        **remember(uow, idem, 201, text, entry_position)}, at=at)
    raise_warnings(uow, actor, tender, definition, list(zip(warning_ids, found, strict=True)))
    return text


def raise_warnings(uow, actor: Actor, tender, definition, found: list[tuple]) -> None:
    """Append one ``warning.raised`` entry per warning, in order, then store the
    warnings' rows with two inserts whatever their number."""
    stored = []
    for warning_id, w in found:
        at = uow.audit.next_at()
        rows = warning_rows(warning_id, tender, definition, w, at=format_instant(at),
                            position=uow.audit.next_position())
        row = rows["warnings"][0]
        uow.audit.append("warning.raised", actor.name, {
            "warning": {"id": warning_id, "tender": tender.code, "tender_id": tender.id,
                        "sector": tender.sector, "definition": definition.ref,
                        "screen": w.screen, "code": w.code, "severity": w.severity,
                        "basis": w.basis, "bids": sorted(w.bids),
                        "evidence": json.loads(row.evidence),
                        "parameters": json.loads(row.parameters)},
            "rows": rows_digest(rows)}, at=at)
        stored.append(rows)
    if stored:
        uow.warnings.add([r["warnings"][0] for r in stored],
                         [b for r in stored for b in r["warning_bids"]])


# ------------------------------------------------------------------ award

def award_tender(ctx: ServiceContext, actor: Actor, code: str, raw,
                 idem: IdempotentRequest | None = None) -> Outcome:
    """POST /tenders/{code}/award (§3): once, to the bidder of a valid bid (200)."""
    require_role(actor, REGISTRARS, "award tenders")
    with write_as(ctx, actor) as uow:
        replayed = replay(uow, idem)
        if replayed:
            return replayed
        data = validate_award(raw, ctx.today())
        tender = tender_row(uow, code)
        children = one(uow.tenders.children([tender.id]), tender.id)
        _check_award(uow, tender, children, data)
        row, at = new_award(uow, actor, tender, data)
        warning_ids = [w.id for w in uow.warnings.of_tenders([tender.id]).get(tender.id, [])]
        text = present(TENDER, tender_resource(tender, children, row, warning_ids))
        store_award(uow, actor, tender, row, at,
                    remember(uow, idem, 200, text, row.audit_position))
        uow.commit()
        return Outcome(200, text)


def _check_award(uow, tender, children: dict[str, list], data: dict) -> None:
    """Checks 11 and 11a of an award: not awarded yet, not before the opening, to the
    bidder of a valid bid."""
    code = tender.code
    if uow.tenders.awards([tender.id]):
        raise Conflict(f"Tender {code!r} is already awarded.", error="already_awarded")
    if data["awarded_on"] < opened_on(tender):
        raise InvalidInput(f"awarded_on must not be before the opening ({opened_on(tender)}).",
                           errors={"awarded_on": [f"must not be before {opened_on(tender)}, "
                                                  "the date of opened_at."]})
    if not any(b.bidder_uscc == data["winner"] and b.status == "valid"
               for b in children["bids"]):
        raise RuleViolation(f"{data['winner']} is not the bidder of a valid bid of tender "
                            f"{code!r}.", error="winner_not_a_valid_bid")


def new_award(uow, actor: Actor, tender, data: dict) -> tuple[object, datetime]:
    """The award row a valid award makes (not stored yet) and its entry's ``at``."""
    at = uow.audit.next_at()
    return award_row(tender, data, entered_by=actor.name, at=format_instant(at),
                     position=uow.audit.next_position()), at


def store_award(uow, actor: Actor, tender, row, at: datetime,
                extra: dict | None = None) -> None:
    """Under the append lock: the award row and its ``tender.awarded`` entry (``extra``
    adds payload keys, e.g. ``idempotency``)."""
    uow.tenders.add_award(row)
    uow.audit.append("tender.awarded", actor.name, {
        "award": {"tender": tender.code, "tender_id": tender.id, "winner": row.winner_uscc,
                  "awarded_on": row.awarded_on.isoformat(),
                  "contract_price": row.contract_price,
                  "completion_due": row.completion_due.isoformat()},
        "rows": rows_digest({"awards": [row]}), **(extra or {})}, at=at)


# ------------------------------------------------------------------ evaluations (§7)

def evaluation_warnings(uow, data: dict) -> list[dict]:
    """For POST /evaluations: when ``tender.code`` names a registered tender, its bidders
    must be the tender's valid bids and its sector the tender's (400
    ``bidders_differ_from_tender``, check 11a); returns the tender's warnings ``open``
    or ``referred`` now (id, code, severity, bids). Unregistered: ``[]``."""
    tender = uow.tenders.by_code(data["tender"]["code"])
    if tender is None:
        return []
    children = one(uow.tenders.children([tender.id]), tender.id)
    valid = {b.n for b in children["bids"] if b.status == "valid"}
    expected = sorted(sorted(p.uscc for p in children["bid_parties"] if p.n == n)
                      for n in valid)
    sent = sorted(sorted(b.get("consortium") or [b.get("uscc")]) for b in data["bidders"])
    problems = {}
    if data["sector"] != tender.sector:
        problems["sector"] = [f"tender {tender.code!r} is of sector {tender.sector!r}."]
    if sent != expected:
        problems["bidders"] = [f"must be the {len(valid)} valid bid(s) of tender "
                               f"{tender.code!r}, each once (bidder or consortium)."]
    if problems:
        raise InvalidInput(f"The evaluation does not match registered tender "
                           f"{tender.code!r}: " + " ".join(m for v in problems.values()
                                                         for m in v),
                           error="bidders_differ_from_tender", errors=problems)
    warnings = uow.warnings.of_tenders([tender.id]).get(tender.id, [])
    disposals = uow.warnings.disposals([w.id for w in warnings])
    return [{"id": w.id, "code": w.code, "severity": w.severity,
             "bids": json.loads(w.bids)}
            for w in warnings
            if warning_status(disposals.get(w.id, [])) in ("open", "referred")]
