"""Use cases of warnings (WARNINGS.md §5, §6): read them, and dispose of them (分办处置):
confirm (查实), dismiss (排除) or refer (移送).

A confirmation creates, in the same transaction and through the one function that
creates every record (:func:`credit.services.records.insert_record`), one record for
every party of every bid it names, each carrying ``source_warning``; a ``covered_by``
confirmation points at records that already punish the finding and creates none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from credit.domain.dates import default_valid_until, format_instant
from credit.domain.money import fmt
from credit.errors import Conflict, Forbidden, NotFound

from .context import Actor, ServiceContext
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .inputs import FieldErrors
from .paging import page
from .records import insert_record, lifecycle_status, shown_code
from .resources import WARNING, present
from .tender_inputs import opened_on, validate_disposal
from .tender_resources import WARNING_STATUSES, bid_parties, warning_resource, warning_status
from .tender_rows import disposal_row, rows_digest
from .tenders import check_sector, one, require_role, visible_sectors
from .tokens import check_issuer

WARNING_READERS = ("auditor", "admin", "regulator", "evaluator")


@dataclass(frozen=True)
class WarningFilter:
    sector: str | None = None
    status: str | tuple[str, ...] | None = None  # a tuple: any of these
    code: str | None = None
    severity: str | None = None
    tender: str | None = None
    uscc: str | None = None
    limit: int = 100
    after: int | None = None


# ------------------------------------------------------------------ reads

def resources(uow, rows: list, created: dict[int, list[int]] | None = None) -> list[dict]:
    """Warning resources of ``rows`` with batched reads of their tenders' parties, their
    disposals and the records their confirmations created (``created``: those ids
    given, for a confirmation whose records are not stored yet)."""
    tenders = uow.tenders.by_ids(w.tender_id for w in rows)
    children = uow.tenders.children(list(tenders))
    parties = {tid: bid_parties(one(children, tid)) for tid in tenders}
    disposals = uow.warnings.disposals([w.id for w in rows])
    records = created if created is not None else \
        uow.warnings.records_created([w.id for w in rows])
    return [warning_resource(w, tenders[w.tender_id].code, parties[w.tender_id],
                             disposals.get(w.id, []), records.get(w.id, []))
            for w in rows]


def _warning(uow, actor: Actor, warning_id: int):
    row = uow.warnings.get(warning_id)
    if row is None:
        raise NotFound(f"There is no warning {warning_id}.")
    check_sector(actor, row.sector)
    return row


def get_warning(ctx: ServiceContext, actor: Actor, warning_id: int) -> dict:
    require_role(actor, WARNING_READERS, "read warnings")
    with ctx.uow(write=False) as uow:
        return resources(uow, [_warning(uow, actor, warning_id)])[0]


def warning_codes(ctx: ServiceContext) -> list[str]:
    """Every code a stored warning can have, sorted: each published screen definition's
    screens' and each performance definition's post-award warning's."""
    codes = {s.code for d in ctx.models.of_kind("screens") for s in d.screens}
    return sorted(codes | {d.warning.code for d in ctx.models.of_kind("performance")})


def code_filter_problem(ctx: ServiceContext, code: str | None) -> str | None:
    """Why ``code`` cannot filter warnings (no stored warning can have it: 400 like the
    field it filters, API.md §3, listing the codes — not an empty list that would read
    as "no such warnings"), or None. The HTTP query schema asks this too, so that the
    problem is listed beside the query's others (api/schemas.py)."""
    codes = warning_codes(ctx)
    if code is None or code in codes:
        return None
    return f"Unknown warning code {shown_code(code)!r}; valid codes: {', '.join(codes)}."


def list_warnings(ctx: ServiceContext, actor: Actor, f: WarningFilter) -> dict:
    """Newest first; a regulator sees its own sectors only (§5). A ``code`` no warning
    can have is 400 (:func:`code_filter_problem`), after the role and before a tender's
    sector (§1: 3, 8, 10)."""
    require_role(actor, WARNING_READERS, "read warnings")
    problem = code_filter_problem(ctx, f.code)
    if problem:
        errors = FieldErrors()
        errors.add("code", problem)
        errors.raise_if_any()
    sectors = visible_sectors(actor, f.sector)
    with ctx.uow(write=False) as uow:
        tender_id = None
        if f.tender is not None:
            tender = uow.tenders.by_code(f.tender)
            if tender is None:
                return {"items": [], "next": None}
            # Like reading the tender itself (§5): another sector's tender is 403, not an
            # empty list that would look like "no warnings on it".
            check_sector(actor, tender.sector)
            tender_id = tender.id
        rows, next_ = page(uow.warnings.page(
            sectors=sectors, status=f.status, code=f.code, severity=f.severity,
            tender_id=tender_id, party=f.uscc, limit=f.limit + 1, before=f.after),
            f.limit, lambda w: w.id)
        items = resources(uow, rows)
    return {"items": items, "next": next_}


# ------------------------------------------------------------------ disposal

@dataclass
class Plan:
    """A disposal checked against its warning: the records a confirmation creates."""

    warning: object
    tender: object
    data: dict
    records: list[dict]


def _state(warning_id: int, status: str, action: str) -> None:
    """Check 11: ``confirmed`` and ``dismissed`` are final; a second ``refer`` is 409."""
    if status in ("confirmed", "dismissed"):
        raise Conflict(f"Warning {warning_id} is already {status}.", error="already_disposed")
    if status == "referred" and action == "refer":
        raise Conflict(f"Warning {warning_id} is already referred.", error="already_referred")


def allowed_codes(ctx: ServiceContext, warning) -> tuple[str, ...]:
    """The catalogue codes a confirmation of this warning (a row or a resource) may use:
    the definition that raised it says so per screen."""
    ref, code = ((warning["definition"], warning["code"]) if isinstance(warning, dict)
                 else (warning.definition, warning.code))
    try:
        definition = ctx.models.definition(ref)
        if definition.kind == "performance":  # the post-award warning (PERFORMANCE.md §4)
            return definition.warning.confirmation_codes if code == definition.warning.code \
                else ()
        return definition.screen(code).allowed_codes
    except KeyError:
        return ()


def _covered_by(uow, tender, parties: set[str], ids: list[int], errors: FieldErrors) -> None:
    records = {i: uow.records.get(i) for i in ids}
    for k, record_id in enumerate(ids):
        r = records[record_id]
        where = f"covered_by.{k}"
        if r is None:
            errors.add(where, f"there is no record {record_id}.")
        elif r.uscc not in parties or r.project_code != tender.code:
            errors.add(where, f"record {record_id} is not a record of a party of a named bid "
                       f"with project_code {tender.code!r}.")
        elif lifecycle_status(uow.records.events_of(r.id)) == "revoked":
            errors.add(where, f"record {record_id} is revoked: it punishes nothing.")


def _named_bids(warning) -> set[int]:
    """The positions of the bids a stored warning names."""
    return set(json.loads(warning.bids))


def _against_warning(ctx, uow, plan_parts, data: dict) -> None:
    """Check 11a: the disposal against its stored warning and tender (``parties``: the
    tender's bids by position)."""
    warning, tender, parties = plan_parts
    errors = FieldErrors()
    if data["action"] != "confirm":
        return
    named = _named_bids(warning)
    outside = [n for n in data["bids"] if n not in named]
    if outside:
        errors.add("bids", f"bid(s) {outside} are not named by warning {warning.id} (it names "
                   f"{sorted(named)}).", "bid_not_in_warning")
    if data.get("code") is not None and data["code"] not in allowed_codes(ctx, warning):
        errors.add("code", f"{shown_code(data['code'])} may not confirm a {warning.code} warning; "
                   "allowed: "
                   f"{', '.join(allowed_codes(ctx, warning))}.", "code_not_allowed")
    if data.get("decided_on") is not None and data["decided_on"] < opened_on(tender):
        errors.add("decided_on", f"must not be before {opened_on(tender)}, the date the "
                   "tender was opened.")
    if data.get("covered_by") is not None:
        members = {uscc for n in data["bids"] if n in parties
                   for uscc, _ in party_names(parties[n])}
        _covered_by(uow, tender, members, data["covered_by"], errors)
    errors.raise_if_any(uniform=True)


def party_names(bid: dict) -> list[tuple[str, str]]:
    """(USCC, name in the tender) of a bid's parties: the bidder, then its members."""
    return [(bid["bidder"], bid["bidder_name"])] + \
        [(m["uscc"], m["name"]) for m in bid["consortium"]]


def _planned_records(actor: Actor, tender, warning, data: dict, parties) -> list[dict]:
    """One record per party of every named bid (§6), as insert_record takes it. They
    are planned before check 11a, for the duplicate check of 11: a position the
    warning does not name (or the tender does not have) would never get a record, so it
    plans nothing here, and 11a refuses it afterwards (400 ``bid_not_in_warning``, not a
    409 about a record that could not be created)."""
    if data["action"] != "confirm" or data.get("covered_by") is not None:
        return []
    named = _named_bids(warning)
    out = []
    for n in sorted(n for n in data["bids"] if n in parties and n in named):
        for uscc, name in party_names(parties[n]):
            out.append({"uscc": uscc, "subject_name": name, "sector": tender.sector,
                        "code": data["code"], "decided_on": data["decided_on"],
                        "document_no": data["document_no"], "issued_by": actor.name,
                        "project_code": tender.code, "valid_until": None,
                        "source_warning": warning.id,
                        "bid": n})
    return out


def _no_duplicate(uow, records: list[dict]) -> None:
    """Check 11, after the warning's state: a record the disposal would create that is
    a duplicate (API.md §3) makes the whole disposal 409 ``duplicate_record``."""
    for r in records:
        dup = uow.records.live_duplicate(r["uscc"], r["code"], r["document_no"])
        if dup is not None:
            raise Conflict(f"Record {dup.id} already holds {r['code']} {r['document_no']!r} "
                           f"for {r['uscc']}: nothing was disposed.", error="duplicate_record",
                           record_id=dup.id)


def plan_disposal(ctx: ServiceContext, uow, actor: Actor, warning_id: int, raw) -> Plan:
    """Every check of a disposal in the order of API.md §1 — role, 8, 9, 10, 11 (409:
    the warning's state, then ``duplicate_record`` over the records it would create, as
    WARNINGS.md §6 orders them), 11a (400: against the warning and its tender), then
    whether the token's name may be their ``issued_by`` (tokens.check_issuer) — and the
    records it creates; writes nothing."""
    if actor.role != "regulator":
        raise Forbidden("Only the regulator of the tender's sector disposes of a warning.")
    data = validate_disposal(raw, ctx.today())
    warning = _warning(uow, actor, warning_id)
    disposals = uow.warnings.disposals([warning.id]).get(warning.id, [])
    _state(warning.id, warning_status(disposals), data["action"])
    tender = uow.tenders.by_id(warning.tender_id)
    parties = bid_parties(one(uow.tenders.children([tender.id]), tender.id))
    records = _planned_records(actor, tender, warning, data, parties)
    _no_duplicate(uow, records)
    _against_warning(ctx, uow, (warning, tender, parties), data)
    if records:  # last: it refuses only what every check above lets through
        check_issuer(actor)
    return Plan(warning, tender, data, records)


def preview_disposal(ctx: ServiceContext, actor: Actor, warning_id: int, raw) -> dict:
    """The confirmation step of the console: the warning and the records a disposal
    would create (code, name, points, validity), after every check; writes nothing."""
    with ctx.uow(write=False) as uow:
        plan = plan_disposal(ctx, uow, actor, warning_id, raw)
        warning = resources(uow, [plan.warning])[0]
    catalogue = ctx.models.active.catalogue
    records = []
    for r in plan.records:
        entry = catalogue[r["code"]]
        records.append({**r, "decided_on": r["decided_on"].isoformat(), "name": entry.name,
                        "points": fmt(entry.points),
                        "valid_until": default_valid_until(r["decided_on"],
                                                           entry.validity_months).isoformat()})
    return {"warning": warning, "data": plan.data, "records": records}


def dispose(ctx: ServiceContext, actor: Actor, warning_id: int, raw,
            idem: IdempotentRequest | None = None) -> Outcome:
    """POST /warnings/{id}/disposal (§6): ``warning.disposed``, then (confirm) one
    ``record.created`` per party of every named bid; all or nothing (200)."""
    return idempotent_write(ctx, actor, idem, 200, lambda uow: store_disposal(
        ctx, uow, actor, plan_disposal(ctx, uow, actor, warning_id, raw), idem))


def store_disposal(ctx: ServiceContext, uow, actor: Actor, plan: Plan,
                   idem: IdempotentRequest | None = None) -> str:
    """Under the append lock: the disposal row and its ``warning.disposed`` entry, then
    the records it creates (§6: each ``record.created`` after ``warning.disposed``).
    Returns the warning resource as sent, dumped through its schema before the entry is
    appended, so that the entry can carry the Idempotency-Key stamp of that text: the
    records' ids are the next ones, given in order under the lock."""
    at = uow.audit.next_at()
    row = disposal_row(uow.warnings.next_disposal_id(), plan.warning.id, plan.data,
                       entered_by=actor.name, at=format_instant(at),
                       position=uow.audit.next_position())
    first = uow.records.next_id()
    ids = list(range(first, first + len(plan.records)))
    uow.warnings.add_disposal(row)
    text = present(WARNING, resources(uow, [plan.warning], {plan.warning.id: ids})[0])
    uow.audit.append("warning.disposed", actor.name, {
        "disposal": {"id": row.id, "warning": plan.warning.id, "tender": plan.tender.code,
                     "action": row.action, "reason": row.reason,
                     "document_no": row.document_no,
                     "decided_on": row.decided_on.isoformat() if row.decided_on else None,
                     "code": row.code, "bids": json.loads(row.bids),
                     "covered_by": json.loads(row.covered_by) if row.covered_by else None},
        "rows": rows_digest({"warning_disposals": [row]}),
        **remember(uow, idem, 200, text, row.audit_position)}, at=at)
    created = [insert_record(ctx, uow, actor, {k: v for k, v in r.items() if k != "bid"})[0].id
               for r in plan.records]
    if created != ids:  # the reply named other records: never commit it
        raise RuntimeError(f"disposal {row.id} created records {created}, not {ids}")
    return text


__all__ = ["WARNING_STATUSES", "WarningFilter", "allowed_codes", "code_filter_problem",
           "dispose", "get_warning",
           "list_warnings", "plan_disposal", "preview_disposal", "warning_codes"]
