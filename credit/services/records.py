"""Use cases of the record store: enter, revoke and repair credit records (API.md §3,
MODEL.md §2). Each is one transaction that appends exactly one audit entry."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import NamedTuple

from credit.domain import canonical
from credit.domain.dates import (
    default_valid_until,
    earliest_repair_on,
    format_instant,
    latest_explicit_valid_until,
)
from credit.domain.engine import effective_valid_until, original_valid_until
from credit.domain.money import fmt
from credit.errors import Conflict, Forbidden, NotFound, RuleViolation
from credit.persistence.repositories import (
    RECORD_SOURCE_FIELDS,
    event_facts,
    record_facts,
    to_domain_record,
)
from credit.persistence.tables import RecordEventRow, RecordRow
from credit.uscc import InvalidUSCC, normalise_uscc

from .context import Actor, ServiceContext, require_own_subject
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .inputs import FieldErrors, RecordInput, RepairInput, RevocationInput, load
from .paging import page
from .resources import RECORD, present
from .tokens import write_as


@dataclass(frozen=True)
class RecordFilter:
    uscc: str | None = None
    sector: str | None = None
    code: str | None = None
    limit: int = 100
    after: int | None = None


_RECORD_INPUT = RecordInput()  # built once: schema construction dominated validation


def check_uscc(raw, field: str, errors: FieldErrors) -> str | None:
    """Normalise a USCC or note ``invalid_uscc`` against ``field``."""
    try:
        return normalise_uscc(raw)
    except InvalidUSCC as exc:
        errors.add(field, str(exc), "invalid_uscc")
        return None


def validate_record(ctx: ServiceContext, raw) -> dict:
    """Every check of API.md §3 that needs no database: shape, USCC, code, dates and
    validity. Raises InvalidInput listing every problem."""
    errors = FieldErrors()
    data = load(_RECORD_INPUT, raw, errors)
    if "uscc" in data:
        data["uscc"] = check_uscc(data["uscc"], "uscc", errors)
    entry = None
    if "code" in data:
        # PERFORMANCE.md §7: a code of the active scoring model or agency definition.
        entry = ctx.models.record_entry(data["code"])
        if entry is None:
            errors.add("code", f"Unknown behaviour code {shown_code(data['code'])!r}; valid codes: "
                       + ", ".join(ctx.models.enterable_codes()) + ".", "unknown_code")
        elif not entry.enterable:  # PERFORMANCE.md §7: only an approval creates it
            errors.add("code", f"{entry.code} is never entered by hand: only the approval "
                       "of a performance evaluation creates it.", "code_not_enterable")
            entry = None
    decided = data.get("decided_on")
    if decided and decided > ctx.today():
        errors.add("decided_on", f"The decision date {decided} lies in the future "
                   f"(today is {ctx.today()} in China Standard Time).", "decided_in_future")
    if entry is not None and "valid_until" not in errors.errors:
        vu = data.get("valid_until")
        if entry.explicit and vu is None:
            errors.add("valid_until", f"{entry.code} takes its validity from the decision: "
                       "valid_until is required.", "valid_until_required")
        elif not entry.explicit and vu is not None:
            errors.add("valid_until", f"{entry.code} has a default validity of "
                       f"{entry.validity_months} months: valid_until must not be sent.",
                       "valid_until_forbidden")
        elif entry.explicit and decided:
            latest = latest_explicit_valid_until(decided, entry.explicit_max_months)
            if not decided <= vu <= latest:
                errors.add("valid_until", f"valid_until must lie between {decided} and "
                           f"{latest} ({entry.explicit_max_months} months).",
                           "valid_until_out_of_range", latest_valid_until=latest.isoformat())
    errors.raise_if_any()
    return data


def lifecycle_status(events) -> str:
    """``revoked`` > ``repaired`` > ``active`` (API.md §3), from a record's events."""
    kinds = {e.kind for e in events}
    return "revoked" if "revocation" in kinds else "repaired" if "repair" in kinds \
        else "active"


def shown_code(code: str) -> str:
    """A code as quoted back in a message: a long one cut short."""
    return code if len(code) <= 64 else code[:64] + "…"


def record_resource(ctx: ServiceContext, row: RecordRow, events: list[RecordEventRow]) -> dict:
    """The record as served (API.md §3): inputs, model-derived fields, lifecycle. The
    order of the fields sent is RecordOut's (services/resources.py)."""
    active = ctx.models.record_entry(row.code)  # None: the active model ignores the code
    entry = active or ctx.models.describe(row.code)
    body = {f: _iso(getattr(row, f)) for f in RECORD_INPUT_FIELDS}
    body.update({f: getattr(row, f, None) for f in RECORD_SOURCE_FIELDS})
    body.update(name=entry.name, category=entry.category, tier=entry.tier,
                points=fmt(entry.points), valid_from=row.decided_on.isoformat(),
                events=[_event_resource(e) for e in events])
    body.update(_lifecycle(ctx, row, active, events))
    return body


RECORD_INPUT_FIELDS = ("id", "uscc", "subject_name", "sector", "code", "decided_on",
                       "document_no", "issued_by", "project_code", "project_name",
                       "occurred_on", "note", "entered_by", "recorded_at", "audit_position",
                       "sha256")


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


def _event_resource(e: RecordEventRow) -> dict:
    body = {"kind": e.kind, "document_no": e.document_no, "reason": e.reason,
            "entered_by": e.entered_by, "recorded_at": e.recorded_at,
            "audit_position": e.audit_position}
    if e.repaired_on is not None:
        body["repaired_on"] = e.repaired_on.isoformat()
    return body


def _lifecycle(ctx: ServiceContext, row: RecordRow, entry, events) -> dict:
    """Status, validity (original and after a repair) and whether it counts today, under
    the active model: a code it does not know (``entry`` None) keeps the stored validity
    and counts for nothing (``not_in_model``, API.md §7)."""
    original = original_valid_until(to_domain_record(row), entry)
    status = lifecycle_status(events)
    repair = next((e for e in events if e.kind == "repair"), None)
    effective = effective_valid_until(original, repair.repaired_on if repair else None)
    out = {"valid_until": effective.isoformat(),
           "original_valid_until": original.isoformat(), "status": status,
           "counts_today": entry is not None and status != "revoked"
           and row.decided_on <= ctx.today() <= effective}
    if repair is not None:
        out["repaired_on"] = repair.repaired_on.isoformat()
    if status == "revoked":
        out["revoked_at"] = next(e.recorded_at for e in events if e.kind == "revocation")
    return out


def require_sector(actor: Actor, sector: str) -> None:
    """The sector rule of API.md §2: regulators write only their own sectors (the CLI's
    operator any); records and the applications on them alike."""
    if actor.role == "operator":
        return
    if actor.role != "regulator":
        raise Forbidden("Only sector regulators enter, revoke and repair records.")
    if sector not in actor.sectors:
        raise Forbidden(f"This token may not write records of sector {sector!r} (its "
                        f"sectors: {', '.join(sorted(actor.sectors))}).",
                        error="sector_forbidden")


def insert_record(ctx: ServiceContext, uow, actor: Actor, data: dict) -> tuple[RecordRow, dict]:
    """Inside an open write unit of work: refuse duplicates, register the subject on its
    first record, store the row and append ``record.created``. The one function that
    creates every record: a use case that creates records itself (a confirmed warning)
    passes its source in ``data`` (a key of RECORD_SOURCE_FIELDS, e.g.
    ``source_warning``), which clients cannot send (RecordInput refuses unknown fields)."""
    row, at = new_record(ctx, uow, actor, data)
    return row, store_record(uow, actor, row, at)


def new_record(ctx: ServiceContext, uow, actor: Actor, data: dict
               ) -> tuple[RecordRow, datetime]:
    """The row a valid input makes (not stored yet) and the ``at`` of its creating entry;
    Conflict ``duplicate_record`` when a live record holds the same decision."""
    refuse_duplicate(uow, data)
    entry = ctx.models.record_entry(data["code"])
    at = uow.audit.next_at()
    row = RecordRow(
        id=uow.records.next_id(), uscc=data["uscc"], subject_name=data["subject_name"],
        sector=data["sector"], code=data["code"], decided_on=data["decided_on"],
        valid_until=stored_valid_until(entry, data), document_no=data["document_no"],
        issued_by=data["issued_by"], project_code=data.get("project_code"),
        project_name=data.get("project_name"), occurred_on=data.get("occurred_on"),
        note=data.get("note"), entered_by=actor.name, recorded_at=format_instant(at),
        audit_position=uow.audit.next_position(), sha256="",
        **{f: data.get(f) for f in RECORD_SOURCE_FIELDS})
    row.sha256 = canonical.digest(record_facts(row))
    return row, at


def refuse_duplicate(uow, data: dict) -> None:
    """409 ``duplicate_record`` (with the live record's id) when a record that is not
    revoked already holds the same code and document number for the subject."""
    dup = uow.records.live_duplicate(data["uscc"], data["code"], data["document_no"])
    if dup is not None:
        raise Conflict(f"Record {dup.id} already holds {data['code']} {data['document_no']!r} "
                       f"for {data['uscc']}.", error="duplicate_record", record_id=dup.id)


def stored_valid_until(entry, data: dict) -> date:
    """The ``valid_until`` a record keeps: the decision's own for codes with an explicit
    validity, else the catalogue's default counted from ``decided_on`` (MODEL.md §2)."""
    if entry.explicit:
        return data["valid_until"]
    return default_valid_until(data["decided_on"], entry.validity_months)


def store_record(uow, actor: Actor, row: RecordRow, at: datetime,
                 extra: dict | None = None) -> dict:
    """Register the subject on its first record, store ``row`` and append its
    ``record.created`` entry (``extra`` adds payload keys, e.g. ``idempotency``);
    returns the hashed facts."""
    facts = record_facts(row)
    if uow.subjects.get(row.uscc) is None:
        uow.subjects.add(row.uscc, row.subject_name, row.audit_position)
    uow.records.add(row)
    uow.audit.append("record.created", actor.name,
                     {"record": facts, "sha256": row.sha256, **(extra or {})},
                     uscc=row.uscc, at=at)
    return facts


def create_record(ctx: ServiceContext, actor: Actor, raw,
                  idem: IdempotentRequest | None = None) -> Outcome:
    """Enter a penalty or award decision (one regulator, own sector)."""
    def write(uow) -> str:
        data = validate_record(ctx, raw)
        require_sector(actor, data["sector"])
        row, at = new_record(ctx, uow, actor, data)
        body = present(RECORD, record_resource(ctx, row, []))
        store_record(uow, actor, row, at, remember(uow, idem, 201, body, row.audit_position))
        return body

    return idempotent_write(ctx, actor, idem, 201, write)


def get_record(ctx: ServiceContext, actor: Actor, record_id: int) -> dict:
    with ctx.uow(write=False) as uow:
        row = uow.records.get(record_id)
        if row is None:
            raise NotFound(f"There is no record {record_id}.")
        return record_resource(ctx, row, uow.records.events_of(row.id))


def code_filter_problem(ctx: ServiceContext, code: str | None) -> str | None:
    """Why ``code`` cannot filter records (no stored record can have it: 400
    ``unknown_code`` listing the codes, API.md §3), or None. The HTTP query schema asks
    this too, so that the problem is listed beside the query's others (api/schemas.py)."""
    if code is None or ctx.models.describe(code) is not None:
        return None
    return (f"Unknown behaviour code {shown_code(code)!r}; valid codes: "
            + ", ".join(ctx.models.recorded_codes()) + ".")


def list_records(ctx: ServiceContext, actor: Actor, f: RecordFilter) -> dict:
    """Newest first; ``next`` continues after the last item. A ``code`` that no stored
    record can have is 400 ``unknown_code``, like the field it filters (API.md §3), and
    comes before an enterprise's 403 for another subject (check 8 before 10, §1); an
    enterprise sees only its own records."""
    problem = code_filter_problem(ctx, f.code)
    if problem:
        errors = FieldErrors()
        errors.add("code", problem, "unknown_code")
        errors.raise_if_any()
    if actor.role == "enterprise":
        require_own_subject(actor, f.uscc or actor.uscc)
        f = replace(f, uscc=actor.uscc)
    with ctx.uow(write=False) as uow:
        rows, next_ = page(uow.records.page(uscc=f.uscc, sector=f.sector, code=f.code,
                                            limit=f.limit + 1, after=f.after),
                           f.limit, lambda r: r.audit_position)
        events = uow.records.events_of_many([r.id for r in rows])
        items = [record_resource(ctx, r, events[r.id]) for r in rows]
    return {"items": items, "next": next_}


def _event(uow, actor: Actor, row: RecordRow, kind: str, data: dict, repaired_on=None
           ) -> tuple[RecordEventRow, datetime]:
    """The event row a valid revocation or repair makes (not stored yet) and the ``at``
    of its entry."""
    at = uow.audit.next_at()
    ev = RecordEventRow(
        id=uow.records.next_event_id(), record_id=row.id, uscc=row.uscc, kind=kind,
        document_no=data["document_no"], reason=data["reason"], repaired_on=repaired_on,
        entered_by=actor.name, recorded_at=format_instant(at),
        audit_position=uow.audit.next_position(), sha256="")
    ev.sha256 = canonical.digest(event_facts(ev))
    return ev, at


class Change(NamedTuple):
    """A revocation or repair written: the record as it now is, its event, and — when
    it was keyed (:func:`apply_change`) — the reply's text as remembered, else None."""
    body: dict
    event: RecordEventRow
    reply: str | None


def _store_event(ctx: ServiceContext, uow, actor: Actor, row: RecordRow,
                 events: list[RecordEventRow], ev: RecordEventRow, at: datetime,
                 idem: IdempotentRequest | None) -> Change:
    """Store ``ev`` and append its ``record.revoked`` or ``record.repaired`` entry. With
    ``idem`` (a console form's key, :func:`apply_change`) the reply is remembered and
    the entry carries its stamp; the reply is written once, so the answer and any
    replay of it are the same text."""
    events.append(ev)
    body = record_resource(ctx, row, events)
    # only a keyed change pays for the reply's text: the API's never is remembered
    reply = present(RECORD, body) if idem else None
    extra = remember(uow, idem, 200, reply, ev.audit_position) if idem else {}
    uow.records.add_event(ev)
    uow.audit.append(f"record.{'revoked' if ev.kind == 'revocation' else 'repaired'}",
                     actor.name, {"event": event_facts(ev), "sha256": ev.sha256, **extra},
                     uscc=row.uscc, at=at)
    return Change(body, ev, reply)


def load_target(uow, record_id: int) -> tuple[RecordRow, list[RecordEventRow]]:
    row = uow.records.get(record_id)
    if row is None:
        raise NotFound(f"There is no record {record_id}.")
    return row, uow.records.events_of(row.id)


def load_revocation(raw) -> dict:
    """Shape of a revocation body (API.md §3); InvalidInput listing every problem."""
    errors = FieldErrors()
    data = load(RevocationInput(), raw, errors)
    errors.raise_if_any()
    return data


def load_repair(ctx: ServiceContext, raw) -> dict:
    """Shape of a repair body and ``repaired_on`` ≤ today (400 ``repaired_in_future``)."""
    errors = FieldErrors()
    data = load(RepairInput(), raw, errors)
    refuse_future_repair(ctx, data, "repaired_on", errors)
    errors.raise_if_any()
    return data


def refuse_future_repair(ctx: ServiceContext, data: dict, field: str,
                         errors: FieldErrors) -> None:
    """A repair is never dated after today (400 ``repaired_in_future`` on ``field``):
    the repair itself and an application for one alike."""
    wanted = data.get(field)
    if wanted and wanted > ctx.today():
        errors.add(field, f"The repair date {wanted} lies in the future "
                   f"(today is {ctx.today()} in China Standard Time).", "repaired_in_future")


def repair_window(row: RecordRow, entry) -> tuple[date, date]:
    """The dates a repair of ``row`` may carry (MODEL.md §2): from ``decided_on`` plus
    the code's minimum months, through the record's original ``valid_until``."""
    return (earliest_repair_on(row.decided_on, entry.repair_min_months),
            original_valid_until(to_domain_record(row), entry))


def refuse_revocation(row: RecordRow, events: list[RecordEventRow]) -> None:
    """409 ``already_revoked`` (a repaired record may still be revoked)."""
    if any(e.kind == "revocation" for e in events):
        raise Conflict(f"Record {row.id} is already revoked.", error="already_revoked")


def refuse_repair(ctx: ServiceContext, row: RecordRow, events: list[RecordEventRow],
                  repaired_on) -> None:
    """The refusals of API.md §3 in their order: 409 ``already_revoked``, 409
    ``already_repaired`` (:func:`refuse_repair_state`), then the 422s
    (:func:`refuse_repair_rules`)."""
    refuse_repair_state(row, events)
    refuse_repair_rules(ctx, row, repaired_on)


def refuse_repair_state(row: RecordRow, events: list[RecordEventRow]) -> None:
    """Step 11 (409) of a repair: ``already_revoked``, ``already_repaired``."""
    if any(e.kind == "revocation" for e in events):
        raise Conflict(f"Record {row.id} is revoked.", error="already_revoked")
    if any(e.kind == "repair" for e in events):
        raise Conflict(f"Record {row.id} is already repaired.", error="already_repaired")


def refuse_repair_rules(ctx: ServiceContext, row: RecordRow, repaired_on) -> None:
    """Step 12 (422) of a repair: ``not_repairable``, ``repair_too_early`` (with the
    earliest date), ``repair_after_expiry`` (with the latest). ``repaired_on`` None
    checks only whether the code is repairable at all."""
    entry = ctx.models.record_entry(row.code)
    if entry is None:  # a repair would change nothing the active model scores
        raise RuleViolation(f"{row.code} is not in the active model "
                            f"{ctx.models.active.ref}, which ignores it; it is not repairable.",
                            error="not_repairable")
    if not entry.repairable:
        raise RuleViolation(f"{row.code} ({entry.name}) is not repairable.",
                            error="not_repairable")
    if repaired_on is None:
        return
    earliest, original = repair_window(row, entry)
    if repaired_on < earliest:
        raise RuleViolation(f"Record {row.id} may be repaired from {earliest} on.",
                            error="repair_too_early", earliest_repair_on=earliest.isoformat())
    if repaired_on > original:
        raise RuleViolation(f"Record {row.id} stopped counting on {original}; a repair "
                            f"must be dated on or before that day.",
                            error="repair_after_expiry", latest_repair_on=original.isoformat())


def revoke_in(ctx: ServiceContext, uow, actor: Actor, record_id: int, data: dict,
              idem: IdempotentRequest | None = None) -> Change:
    """Inside an open write unit of work: the revocation use case after validation
    (sector, state, the event and its ``record.revoked`` entry)."""
    row, events = load_target(uow, record_id)
    require_sector(actor, row.sector)
    refuse_revocation(row, events)
    event, at = _event(uow, actor, row, "revocation", data)
    return _store_event(ctx, uow, actor, row, events, event, at, idem)


def repair_in(ctx: ServiceContext, uow, actor: Actor, record_id: int, data: dict,
              idem: IdempotentRequest | None = None) -> Change:
    """Inside an open write unit of work: the repair use case after validation (sector,
    every refusal of API.md §3, the event and its ``record.repaired`` entry)."""
    row, events = load_target(uow, record_id)
    require_sector(actor, row.sector)
    refuse_repair(ctx, row, events, data["repaired_on"])
    event, at = _event(uow, actor, row, "repair", data, data["repaired_on"])
    return _store_event(ctx, uow, actor, row, events, event, at, idem)


def revoke_record(ctx: ServiceContext, actor: Actor, record_id: int, raw) -> dict:
    """Revocation (撤销): the record never counted, for any knowledge from now on."""
    data = load_revocation(raw)
    with write_as(ctx, actor) as uow:
        body = revoke_in(ctx, uow, actor, record_id, data).body
        uow.commit()
        return body


def repair_record(ctx: ServiceContext, actor: Actor, record_id: int, raw) -> dict:
    """Credit repair (信用修复): ends the record the day before ``repaired_on``, within the
    limits of MODEL.md §2; a refusal names the earliest (or latest) allowed date."""
    data = load_repair(ctx, raw)
    with write_as(ctx, actor) as uow:
        body = repair_in(ctx, uow, actor, record_id, data).body
        uow.commit()
        return body


def apply_change(ctx: ServiceContext, actor: Actor, record_id: int, which: str, raw,
                 idem: IdempotentRequest) -> Outcome:
    """A revocation (``which='revocation'``) or repair confirmed on a console form, applied
    once per rendering of the form: ``idem`` holds the form's key, scoped to the token and
    the console's path (``/records/{id}/revocation``). The first 200 reply is remembered
    (services/idempotency.py), so a second submit of the same rendering — a double click,
    a resend — waits on the append lock and gets that reply again instead of 409
    ``already_revoked`` or ``already_repaired``, which would read as a failure; another
    rendering (another key) is refused as before. The HTTP routes call
    :func:`revoke_record` and :func:`repair_record`, which take no key: API.md §3 honours
    Idempotency-Key only on ``POST /records`` and ``POST /evaluations``."""
    change_in = revoke_in if which == "revocation" else repair_in

    def write(uow) -> str:
        return change_in(ctx, uow, actor, record_id, load_change(ctx, which, raw), idem).reply

    return idempotent_write(ctx, actor, idem, 200, write)


def load_change(ctx: ServiceContext, which: str, raw) -> dict:
    """A revocation's (``which='revocation'``) or a repair's validated body."""
    return load_revocation(raw) if which == "revocation" else load_repair(ctx, raw)


def check_change(ctx: ServiceContext, actor: Actor, record_id: int, which: str, raw) -> dict:
    """Every check the revocation (``which='revocation'``) or repair use case makes,
    writing nothing: the review step of a confirmation page refuses exactly what the
    final step would. Returns the validated body (dates as ISO text)."""
    data = load_change(ctx, which, raw)
    with ctx.uow(write=False) as uow:
        row, events = load_target(uow, record_id)
        require_sector(actor, row.sector)
        if which == "revocation":
            refuse_revocation(row, events)
        else:
            refuse_repair(ctx, row, events, data["repaired_on"])
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def preview_record(ctx: ServiceContext, actor: Actor, raw) -> dict:
    """Every check of :func:`create_record`, writing nothing, for the review step of a
    new decision: ``values`` (normalised, dates as ISO text), the catalogue entry's
    ``name`` and ``basis``, and the subject's ``registered_name`` (None when the subject
    is new) so that a differing typed name can be shown beside it."""
    data = validate_record(ctx, raw)
    require_sector(actor, data["sector"])
    with ctx.uow(write=False) as uow:
        refuse_duplicate(uow, data)
        subject = uow.subjects.get(data["uscc"])
    entry = ctx.models.record_entry(data["code"])
    valid_until = stored_valid_until(entry, data)
    values = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
              for k, v in data.items() if v is not None}
    return {"values": values, "name": entry.name, "basis": entry.basis,
            "points": fmt(entry.points), "valid_until": valid_until.isoformat(),
            "registered_name": subject.name if subject else None}
