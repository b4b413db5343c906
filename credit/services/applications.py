"""An enterprise's own credit services (issue 13): the credit-repair application
(信用修复申请) and the objection (异议申诉) against one of its records, and the
regulator's decision on them.

Each use case is one transaction. Submitting appends ``application.submitted``;
deciding appends ``application.decided`` — and, when a repair or an objection is
accepted, performs the repair or the revocation of API.md §3 in the same transaction
through the same use-case code (:func:`records.repair_in`, :func:`records.revoke_in`),
so every rule, refusal and audit entry is the existing one. A decision confirmed on the
console's form is taken once per rendering of the form (:func:`decide_once`), so a
double submit is answered like the first. Applications and decisions
are append-only rows, each hashed; the creating entry carries the hash and ``audit
verify`` re-checks them (their ``VerifiedTable`` entries in services/verification.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from credit.domain import canonical
from credit.domain.dates import format_instant
from credit.errors import Conflict, Forbidden, NotFound
from credit.persistence.repositories import application_facts, decision_facts
from credit.persistence.tables import ApplicationDecisionRow, ApplicationRow

from . import records
from .context import Actor, ServiceContext
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .inputs import ApplicationInput, DecisionInput, FieldErrors, load
from .paging import page
from .resources import APPLICATION, present
from .tokens import write_as


@dataclass(frozen=True)
class ApplicationFilter:
    status: str | None = None
    sector: str | None = None
    limit: int = 100
    after: int | None = None


# ------------------------------------------------------------------ the resource

def resource(row: ApplicationRow, decision: ApplicationDecisionRow | None) -> dict:
    """An application as served: ``status`` pending / accepted / rejected and its
    ``decision`` (null while pending)."""
    status = "pending" if decision is None else \
        "accepted" if decision.action == "accept" else "rejected"
    return {
        "id": row.id, "record_id": row.record_id, "uscc": row.uscc, "sector": row.sector,
        "kind": row.kind, "reason": row.reason,
        "requested_repair_on": row.requested_repair_on.isoformat()
        if row.requested_repair_on else None,
        "status": status, "submitted_by": row.submitted_by, "submitted_at": row.submitted_at,
        "decision": None if decision is None else {
            "action": decision.action, "reason": decision.reason,
            "document_no": decision.document_no, "by": decision.decided_by,
            "at": decision.decided_at},
    }


# ------------------------------------------------------------------ submitting

def load_application(ctx: ServiceContext, raw) -> dict:
    """Shape (kind, reason 4–1000, the repair date for repairs only) and the repair date
    not in the future (400 ``repaired_in_future``)."""
    errors = FieldErrors()
    data = load(ApplicationInput(), raw, errors)
    records.refuse_future_repair(ctx, data, "requested_repair_on", errors)
    errors.raise_if_any()
    return data


def _refuse(ctx: ServiceContext, uow, row, events, data: dict) -> None:
    """Step 11 (409) then step 12 (422) of API.md §1: a revoked record takes no
    application, nor a repaired one a repair application; one pending application per
    record; then a repair application meets the rules of the repair itself."""
    if data["kind"] == "objection":
        records.refuse_revocation(row, events)
    else:
        records.refuse_repair_state(row, events)
    pending = uow.applications.pending_for_record(row.id)
    if pending is not None:
        raise Conflict(f"Application {pending.id} for record {row.id} is still pending.",
                       error="application_pending", application_id=pending.id)
    if data["kind"] == "repair":
        records.refuse_repair_rules(ctx, row, data["requested_repair_on"])


def submit(ctx: ServiceContext, actor: Actor, record_id: int, raw) -> dict:
    """An enterprise applies for repair of, or objects to, one of its own records."""
    _refuse_role(actor)
    data = load_application(ctx, raw)
    with write_as(ctx, actor) as uow:
        body, _ = _submit_in(ctx, uow, actor, record_id, data, None)
        uow.commit()
        return body


def submit_once(ctx: ServiceContext, actor: Actor, record_id: int, raw,
                idem: IdempotentRequest) -> Outcome:
    """:func:`submit` from a console form, once per rendering of the form (its key in
    ``idem``), as :func:`decide_once` takes a decision: a second submit of the same
    rendering (a double click, a resend) gets the first 201 again instead of 409 "a
    pending application exists", which read as a failure."""
    _refuse_role(actor)

    def write(uow) -> str:
        # validated after the key is looked up, as API.md §1 orders it (step 7 before 8)
        data = load_application(ctx, raw)
        return _submit_in(ctx, uow, actor, record_id, data, idem)[1]

    return idempotent_write(ctx, actor, idem, 201, write)


def _refuse_role(actor: Actor) -> None:
    if actor.role != "enterprise":
        raise Forbidden("Only an enterprise applies for repair of, or objects to, its records.")


def _submit_in(ctx: ServiceContext, uow, actor: Actor, record_id: int, data: dict,
               idem: IdempotentRequest | None) -> tuple[dict, str | None]:
    """The application, appended in ``uow``: its body and, with ``idem``, the reply's
    text, remembered for the form's key."""
    row, events = records.load_target(uow, record_id)
    if row.uscc != actor.uscc:
        raise Forbidden("An enterprise applies only for its own records.")
    _refuse(ctx, uow, row, events, data)
    at = uow.audit.next_at()
    app = ApplicationRow(
        id=uow.applications.next_id(), record_id=row.id, uscc=row.uscc, sector=row.sector,
        kind=data["kind"], reason=data["reason"],
        requested_repair_on=data.get("requested_repair_on"), submitted_by=actor.name,
        submitted_at=format_instant(at), audit_position=uow.audit.next_position(),
        sha256="")
    facts = application_facts(app)
    app.sha256 = canonical.digest(facts)
    uow.applications.add(app)
    body = resource(app, None)
    reply = present(APPLICATION, body) if idem else None
    extra = remember(uow, idem, 201, reply, app.audit_position) if idem else {}
    uow.audit.append("application.submitted", actor.name,
                     {"application": facts, "uscc": row.uscc, "sha256": app.sha256, **extra},
                     uscc=row.uscc, at=at)
    return body, reply


# ------------------------------------------------------------------ deciding

def load_decision(raw) -> dict:
    """Shape: accept or reject, a reason of 4–1000 characters, the decision's document
    number when accepting."""
    errors = FieldErrors()
    data = load(DecisionInput(), raw, errors)
    errors.raise_if_any()
    return data


def _decidable(uow, actor: Actor, application_id: int) -> ApplicationRow:
    app = uow.applications.get(application_id)
    if app is None:
        raise NotFound(f"There is no application {application_id}.")
    records.require_sector(actor, app.sector)
    if uow.applications.decision_of(app.id) is not None:
        raise Conflict(f"Application {app.id} is already decided.", error="already_decided")
    return app


def _perform(ctx: ServiceContext, uow, actor: Actor, app: ApplicationRow, data: dict):
    """Accepting performs the existing use case: a repair with the requested date, or
    the revocation the objection asked for. Returns the record event, or None."""
    if data["action"] != "accept":
        return None
    body = {"document_no": data["document_no"], "reason": data["reason"]}
    if app.kind == "repair":
        return records.repair_in(ctx, uow, actor, app.record_id,
                                 {**body, "repaired_on": app.requested_repair_on}).event
    return records.revoke_in(ctx, uow, actor, app.record_id, body).event


def _decide_in(ctx: ServiceContext, uow, actor: Actor, application_id: int, data: dict,
               idem: IdempotentRequest | None) -> tuple[dict, str | None]:
    """Inside an open write unit of work: the decision after validation (sector, state,
    the repair or revocation an acceptance performs, the decision and its
    ``application.decided`` entry); returns the application as it now is and, with
    ``idem`` (a console form's key, :func:`decide_once`), the reply's text, remembered
    once (the entry carries its stamp), else None."""
    app = _decidable(uow, actor, application_id)
    event = _perform(ctx, uow, actor, app, data)
    at = uow.audit.next_at()
    decision = ApplicationDecisionRow(
        application_id=app.id, action=data["action"], reason=data["reason"],
        document_no=data.get("document_no"),
        record_event_id=event.id if event is not None else None, decided_by=actor.name,
        decided_at=format_instant(at), audit_position=uow.audit.next_position(), sha256="")
    facts = decision_facts(decision)
    decision.sha256 = canonical.digest(facts)
    body = resource(app, decision)
    # only a keyed decision pays for the reply's text: the API's never is remembered
    reply = present(APPLICATION, body) if idem else None
    extra = remember(uow, idem, 200, reply, decision.audit_position) if idem else {}
    uow.applications.add_decision(decision)
    uow.audit.append("application.decided", actor.name,
                     {"decision": facts, "uscc": app.uscc, "sha256": decision.sha256, **extra},
                     uscc=app.uscc, at=at)
    return body, reply


def decide(ctx: ServiceContext, actor: Actor, application_id: int, raw) -> dict:
    """The regulator of the record's sector accepts or rejects an application. An
    acceptance that the record's state refuses (revoked or repaired meanwhile) answers
    that 409 and leaves the application pending."""
    data = load_decision(raw)
    with write_as(ctx, actor) as uow:
        body, _ = _decide_in(ctx, uow, actor, application_id, data, None)
        uow.commit()
        return body


def decide_once(ctx: ServiceContext, actor: Actor, application_id: int, raw,
                idem: IdempotentRequest) -> Outcome:
    """A decision confirmed on a console form, taken once per rendering of the form:
    ``idem`` holds the form's key, scoped to the token and the console's path
    (``/applications/{id}``). The first 200 reply is remembered
    (services/idempotency.py), so a second submit of the same rendering — a double
    click, a resend — waits on the append lock and gets that reply again instead of 409
    ``already_decided``, which would read as a failure; the same key with another
    decision is 409 ``idempotency_key_reused``; another rendering (another key) is
    refused ``already_decided`` as before. The HTTP route calls :func:`decide`, which
    takes no key: API.md §3 honours Idempotency-Key only on ``POST /records`` and
    ``POST /evaluations``."""
    def write(uow) -> str:
        # validated after the key is looked up, as API.md §1 orders it (step 7 before 8)
        data = load_decision(raw)
        return _decide_in(ctx, uow, actor, application_id, data, idem)[1]

    return idempotent_write(ctx, actor, idem, 200, write)


def check_decision(ctx: ServiceContext, actor: Actor, application_id: int, raw) -> dict:
    """Every check :func:`decide` makes, writing nothing (the console's review step):
    the validated decision with the application it concerns."""
    data = load_decision(raw)
    with ctx.uow(write=False) as uow:
        app = _decidable(uow, actor, application_id)
        if data["action"] == "accept":
            row, events = records.load_target(uow, app.record_id)
            if app.kind == "repair":
                records.refuse_repair(ctx, row, events, app.requested_repair_on)
            else:
                records.refuse_revocation(row, events)
        return {"decision": data, "application": resource(app, None)}


# ------------------------------------------------------------------ reading

def _may_read(actor: Actor, app: ApplicationRow) -> None:
    if actor.role in ("auditor", "admin"):
        return
    if actor.role == "enterprise" and actor.uscc == app.uscc:
        return
    if actor.role == "regulator" and app.sector in actor.sectors:
        return
    raise Forbidden("This application belongs to another enterprise or sector.")


def get_application(ctx: ServiceContext, actor: Actor, application_id: int) -> dict:
    with ctx.uow(write=False) as uow:
        app = uow.applications.get(application_id)
        if app is None:
            raise NotFound(f"There is no application {application_id}.")
        _may_read(actor, app)
        return resource(app, uow.applications.decision_of(app.id))


def _scope(actor: Actor, sector: str | None) -> tuple[str | None, list[str] | None]:
    """(uscc, sectors) an actor's list is limited to (API.md §2 as issue 13 extends it)."""
    if actor.role == "enterprise":
        return actor.uscc, [sector] if sector else None
    if actor.role == "regulator":
        if sector and sector not in actor.sectors:
            raise Forbidden(f"This token may not read applications of sector {sector!r}.",
                            error="sector_forbidden")
        return None, [sector] if sector else sorted(actor.sectors)
    if actor.role in ("auditor", "admin"):
        return None, [sector] if sector else None
    raise Forbidden(f"The role {actor.role!r} may not read applications.")


def list_applications(ctx: ServiceContext, actor: Actor, f: ApplicationFilter) -> dict:
    """Newest first: a regulator's sectors, an enterprise's own, everything for auditors
    and admins."""
    uscc, sectors = _scope(actor, f.sector)
    with ctx.uow(write=False) as uow:
        rows, next_ = page(uow.applications.page(uscc=uscc, sectors=sectors, status=f.status,
                                                 limit=f.limit + 1, after=f.after),
                           f.limit, lambda r: r.id)
        decisions = uow.applications.decisions_of_many([r.id for r in rows])
    return {"items": [resource(r, decisions.get(r.id)) for r in rows], "next": next_}


def options_for(ctx: ServiceContext, actor: Actor, uscc: str) -> dict[int, dict]:
    """What the enterprise may apply for on each of its records (the console's buttons):
    ``pending`` (its open application or None), ``objection`` (may object),
    ``repair`` (may apply for repair at all) and ``earliest_repair_on``."""
    if actor.role != "enterprise" or actor.uscc != uscc:
        return {}
    out: dict[int, dict] = {}
    with ctx.uow(write=False) as uow:
        rows = uow.records.of_subject(uscc)
        events = uow.records.events_of_many([r.id for r in rows])
        apps = uow.applications.of_subject(uscc)
        decided = uow.applications.decisions_of_many([a.id for a in apps])
    pending = {a.record_id: a for a in apps if a.id not in decided}
    for row in rows:
        status = records.lifecycle_status(events[row.id])
        entry = ctx.models.record_entry(row.code)
        option = {"pending": resource(pending[row.id], None) if row.id in pending else None,
                  "objection": status != "revoked", "repair": False,
                  "earliest_repair_on": None, "latest_repair_on": None}
        if status == "active" and entry is not None and entry.repairable:
            earliest, latest = records.repair_window(row, entry)
            option.update(repair=True, earliest_repair_on=earliest.isoformat(),
                          latest_repair_on=latest.isoformat())
        out[row.id] = option
    return out
