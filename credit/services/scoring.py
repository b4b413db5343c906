"""Serving scores (API.md §4) and bid-opening evaluations (§5). Every served score
appends its trace (``score.served``) in the same transaction that computed it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable

from marshmallow import ValidationError

from credit import canonical_text
from credit.domain import canonical
from credit.domain.consortium import combine
from credit.domain.dates import cst_date_in_range, format_instant
from credit.domain.engine import ScoreResult, evaluate
from credit.domain.money import fmt
from credit.domain.performance import consortium_index
from credit.domain.records import Knowledge
from credit.domain.trace import REBASED, model_ref, rebased, trace_payload
from credit.errors import Forbidden, IntegrityFailure, InvalidInput, NotFound, RuleViolation
from credit.persistence.audit_log import hashes_to, read_entry
from credit.persistence.failures import UnreadableHistory
from credit.persistence.history_rows import HistoryDigest, HistoryTexts
from credit.persistence.tables import EvaluationRow

from .context import Actor, ServiceContext, require_own_subject
from .idempotency import IdempotentRequest, Outcome, idempotent_write, remember
from .inputs import EvaluationInput, FieldErrors, UsccString, as_sent, load, sent_at
from .performance import bidder_indexes
from .records import check_uscc
from .resources import EVALUATION, present
from .tenders import evaluation_warnings
from .tokens import confirm_alive_at, confirm_token, refuse_ended, refuse_revoked, write_as

CLOCK_SKEW = timedelta(seconds=1)
#: A given ``known_at``'s range (API.md §1: every date the service accepts), as the query
#: schemas and this module's check both say it.
KNOWN_AT_RANGE = "must lie in 2000-01-01 … 2099-12-31 (China Standard Time)."


@dataclass(frozen=True)
class ScoreQuery:
    uscc: str
    sector: str
    as_of: date | None = None
    known_at: datetime | None = None
    model: str | None = None


def check_known_at(ctx: ServiceContext, known_at: datetime | None) -> None:
    """Both checks of a given ``known_at``: its range (400) and the future (422)."""
    check_known_at_range(known_at)
    check_known_at_past(ctx, known_at)


def check_known_at_range(known_at: datetime | None) -> None:
    """Its date in China Standard Time within 2000-01-01 … 2099-12-31, as every date
    the service accepts: a field validation (400, check 8 of API.md §1). A later one is
    out of range before it is in the future (422, check 12)."""
    if known_at is not None and not cst_date_in_range(known_at):
        raise InvalidInput(f"known_at {KNOWN_AT_RANGE}", errors={"known_at": [KNOWN_AT_RANGE]})


def check_known_at_past(ctx: ServiceContext, known_at: datetime | None) -> None:
    """Not later than now (with the clock skew allowed): a rule (422
    ``known_at_in_future``, check 12)."""
    if known_at is None:
        return
    now = ctx.clock()
    if known_at > now + CLOCK_SKEW:
        raise RuleViolation(f"known_at {known_at.isoformat()} is later than now "
                            f"({format_instant(now)}): the future is not known yet.",
                            error="known_at_in_future")


def check_sector_rated(model, sector: str) -> None:
    """The model rates ``sector`` (a published model may cover fewer than every sector):
    400 on ``sector`` otherwise, as the batch answers, not the engine's error (a 500)."""
    if sector not in model.sectors:
        raise InvalidInput(f"Model {model.ref} does not rate sector {sector!r}.",
                           errors={"sector": [f"must be one of {', '.join(model.sectors)}."]})


def score_as_known(uow, model, uscc: str, sector: str, as_of: date, knowledge: Knowledge
                   ) -> tuple[ScoreResult, str | None]:
    """The engine's result and the subject's registered name, both as known at
    ``knowledge`` — what a served score computes and what its replay recomputes."""
    records, events = uow.records.history(uscc, knowledge.position)
    subject = uow.subjects.get(uscc)
    if subject is not None and not isinstance(subject.registered_position, int):
        raise UnreadableHistory(uscc, "registration")  # SQLite keeps any value
    return _known_result(model, uscc, (records, events), subject, sector, as_of, knowledge)


def _known_result(model, uscc: str, history: tuple[list, list], subject, sector: str,
                  as_of: date, knowledge: Knowledge) -> tuple[ScoreResult, str | None]:
    """:func:`score_as_known` once the subject's history and row are read."""
    records, events = history
    name = _known_name(subject, knowledge)
    return evaluate(model, uscc, records, events, sector, as_of, knowledge), name


def _known_name(subject, knowledge: Knowledge) -> str | None:
    """The subject's registered name if its registration is known at ``knowledge``."""
    return subject.name if subject and subject.registered_position <= knowledge.position else None


def _stamped(payload: dict, actor: Actor) -> dict:
    """The trace payload with the id of the token that caused it: who may read the
    trace later (API.md §2), by id."""
    payload["token_id"] = actor.token_id
    return payload


def _body(payload: dict, position: int, sha256: str) -> dict:
    """The response: the trace's ``result`` (the §4 fields, built once by the trace
    payload) with the trace's id and hash."""
    body = dict(payload["result"])
    body["trace_id"] = position
    body["trace_sha256"] = sha256
    return body


def _serve(uow, actor: Actor, remembered: "Remembered", at: datetime, context: dict) -> dict:
    """Append an evaluation member's trace (under the lock already held), with the
    evaluation it belongs to, and return the §4 body with its trace id and hash."""
    _, payload, texts = remembered
    payload = _stamped(payload, actor)
    payload["evaluation"] = context
    position, _, sha256 = uow.audit.append_text(
        "score.served", actor.name, canonical_text.dumps_with(payload, texts),
        uscc=payload["uscc"], at=at)
    return _body(payload, position, sha256)


#: A score as the memo hands it out (services/result_memo.py): the engine's result, its
#: trace payload as known at the caller's knowledge, and the canonical texts of the
#: payload's large members that do not depend on it.
Remembered = tuple[ScoreResult, dict, dict[str, str]]


def _memo_key(model, uscc: str, sector: str, as_of: date, name: str | None,
              history: HistoryDigest) -> tuple:
    """A score's key in the process's memo: every input of the engine but the knowledge,
    the history by its rows' hashes (history_rows.HistoryDigest: equal digests are the
    same rows); a default score and an evaluation's bidder read it by the same SQL, so
    either finds the other's."""
    return (model.id, model.version, model.sha256, uscc, sector, as_of, name,
            history.records, history.events)


def _remembered(ctx: ServiceContext, model, uscc: str, sector: str, as_of: date,
                name: str | None, history: HistoryDigest, knowledge: Knowledge,
                rows: Callable[[], HistoryTexts]) -> Remembered:
    """The score of these inputs from the process's memo (:func:`_memo_key`), or computed
    from the history's rows (``rows()``, read only then) and remembered: its payload
    rebased to ``knowledge``; its result as remembered, whose knowledge may be another's
    (:func:`_member_score` rebases it: a served score needs only the payload). ``rows``
    must give the rows ``history`` names, every one known at ``knowledge``."""
    def fresh() -> Remembered:
        texts = rows()
        result = evaluate(model, uscc, texts.records(), texts.events(), sector, as_of,
                          knowledge)
        payload = trace_payload(result, name)
        # The large members (model, records, steps); the few short ones are written
        # with each request's.
        return result, payload, {k: canonical_text.dumps(v) for k, v in payload.items()
                                 if k not in REBASED and type(v) in (dict, list)}
    result, payload, texts = ctx.results.recall(
        _memo_key(model, uscc, sector, as_of, name, history), fresh)
    return result, rebased(payload, knowledge), texts


def _append_trace(ctx: ServiceContext, actor: Actor, payload: dict, uscc: str,
                  text: str | None = None) -> dict:
    """Hand the trace of a score computed outside the append lock (``text``: its
    canonical text, when already written) to the process's group appender, which takes
    the lock only to assign position and ``at``, insert and commit
    (services/group_commit.py); the response."""
    if text is None:
        text = canonical_text.dumps(payload)
    appended = ctx.appender().append("score.served", actor.name, text, uscc,
                                     actor.token_id, actor.expires_at_us)
    if appended is None:  # the token was revoked, or expired, while it was computed
        refuse_ended(actor)
    return _body(payload, appended.position, appended.sha256)


#: ``compute(uow, knowledge)``: a served score's trace payload as known at ``knowledge``
#: (without the caller's token id, which :func:`serve_traced` adds).
Computation = Callable[[Any, Knowledge], dict]


def serve_traced(ctx: ServiceContext, actor: Actor, known_at: datetime | None, uscc: str,
                 compute: Computation) -> dict:
    """Serve one score and log its trace (``score.served``) under API.md §4's rule for
    its knowledge — the subject score's and the agency score's (PERFORMANCE.md §7)
    alike: computed in a read snapshot at the committed head, whose ``at`` and position
    are the default ``known_at`` and ``knowledge_position``, or at an earlier
    ``known_at`` (:func:`snapshot_knowledge`), its trace then handed to the group
    appender; computed under the append lock when the answer needs it."""
    with ctx.uow(write=False) as uow:
        confirm_token(uow, actor)
        knowledge = snapshot_knowledge(uow, known_at)
        payload = None if knowledge is None else compute(uow, knowledge)
    if payload is None:
        return serve_under_lock(ctx, actor, known_at, uscc, compute)
    return _append_trace(ctx, actor, _stamped(payload, actor), uscc)


def serve_under_lock(ctx: ServiceContext, actor: Actor, known_at: datetime | None,
                     uscc: str, compute: Computation) -> dict:
    """:func:`serve_traced` for a ``known_at`` not earlier than the committed head's
    ``at``, or an empty chain: computed and appended under the lock, with the knowledge
    of :func:`serving_knowledge`."""
    with write_as(ctx, actor) as uow:
        at, knowledge = serving_knowledge(uow, known_at)
        confirm_alive_at(actor, at)  # a known_at a moment ahead stamps the trace later
        payload = _stamped(compute(uow, knowledge), actor)
        entry = uow.audit.append("score.served", actor.name, payload, uscc=uscc, at=at)
        uow.commit()
    return _body(payload, entry["position"], entry["sha256"])


def score(ctx: ServiceContext, actor: Actor, q: ScoreQuery) -> dict:
    """One subject's score, grade, eligibility and measures for a sector (traced).

    With the default ``known_at`` the score is computed from one read at the chain's
    committed head (``served_scores.read_at_head``: the token's revocation, the subject
    and its history at once), outside the append lock, and its trace is handed to the
    group appender (API.md §4, §6 "Knowledge"); otherwise, and on an empty chain, as
    :func:`serve_traced` serves any score. Checks in API.md §1's order: ``known_at``
    before 2000 (400, check 8), an unknown model (404, 9), another enterprise's subject
    (403, 10), a ``known_at`` in the future (422, 12)."""
    check_known_at_range(q.known_at)
    model = ctx.model(q.model)
    check_sector_rated(model, q.sector)
    require_own_subject(actor, q.uscc)
    check_known_at_past(ctx, q.known_at)
    as_of = q.as_of or ctx.today()
    if q.known_at is None:
        at_head = _payload_at_head(ctx, actor, model, q, as_of)
        if at_head is not None:
            _, payload, texts = at_head
            payload = _stamped(payload, actor)
            return _append_trace(ctx, actor, payload, q.uscc,
                                 canonical_text.dumps_with(payload, texts))
    return serve_traced(ctx, actor, q.known_at, q.uscc, _computation(model, q, as_of))


def _computation(model, q: ScoreQuery, as_of: date) -> Computation:
    return lambda uow, knowledge: trace_payload(
        *score_as_known(uow, model, q.uscc, q.sector, as_of, knowledge))


def _payload_at_head(ctx: ServiceContext, actor: Actor, model, q: ScoreQuery,
                     as_of: date) -> Remembered | None:
    """The score and its trace payload as known at the committed head, read without the
    lock (:func:`_remembered`); None on an empty chain. Every read is bounded by the
    head's position, so READ COMMITTED is as good as a snapshot here: rows are never
    updated, and a row at or below a visible head was committed with it or before it —
    which is also why the head's knowledge knows every row read, as the memo needs."""
    read = ctx.uow.served_scores.read_at_head(None if actor.confirmed else actor.token_id,
                                              q.uscc)
    if read is None:
        return None
    if read.opening.revoked:
        refuse_revoked(actor)
    knowledge = head_knowledge(read.opening.head)
    subject = read.opening if read.opening.registered_position is not None else None
    name = _known_name(subject, knowledge)
    return _remembered(ctx, model, q.uscc, q.sector, as_of, name, read.history, knowledge,
                       lambda: ctx.uow.served_scores.history_at(q.uscc, knowledge.position))


def head_knowledge(head) -> Knowledge:
    """API.md §4: the default ``known_at`` is the ``at`` of the committed head the
    computation read, its ``knowledge_position`` that head's position."""
    return Knowledge(head.position, head.at())


def snapshot_knowledge(uow, known_at: datetime | None) -> Knowledge | None:
    """The knowledge of a score computed outside the append lock: the committed head's
    (:func:`head_knowledge`) by default, or for a ``known_at`` earlier than that head's
    ``at`` the highest position with ``at ≤ known_at``. None when the answer needs the
    lock: an empty chain, or a ``known_at`` not earlier than the head's ``at`` (an entry
    with ``at ≤ known_at`` could still be committed)."""
    head = uow.audit.head()
    if head.at_us is None:
        return None
    if known_at is None:
        return head_knowledge(head)
    if known_at >= head.at():
        return None
    return Knowledge(uow.audit.position_known_at(known_at), known_at)


def serving_knowledge(uow, known_at: datetime | None) -> tuple[datetime, Knowledge]:
    """Under the append lock: the ``at`` of a served score's trace entry and the
    knowledge it is computed with (the rule before issue 10, kept for a ``known_at``
    not earlier than the committed head's ``at`` and for an empty chain)."""
    at = uow.audit.next_at()
    if known_at is not None and known_at >= at:
        # A known_at a moment ahead (clock skew): the trace itself is stamped at
        # known_at, so every later entry has at > known_at and the answer is final.
        at = known_at
    if known_at is None or known_at >= at:
        # Everything committed before the lock was granted to us.
        return at, Knowledge(uow.audit.next_position(), known_at or at)
    return at, Knowledge(uow.audit.position_known_at(known_at), known_at)


def _score_under_lock(ctx: ServiceContext, actor: Actor, model, q: ScoreQuery,
                      as_of: date) -> dict:
    """A subject score served under the lock (the rule before issue 10 for a default
    ``known_at``)."""
    return serve_under_lock(ctx, actor, q.known_at, q.uscc, _computation(model, q, as_of))


def validate_evaluation(ctx: ServiceContext, raw) -> dict:
    """Every check of API.md §5 that needs no database: the body's shape, then each
    USCC the schema loaded (``invalid_uscc``) and no bidder twice
    (``duplicate_bidder``), keyed by its index in the body as sent; the bidders with
    their USCCs normalised."""
    errors = FieldErrors()
    data = load(EvaluationInput(), raw, errors)
    seen: dict[str, str] = {}

    def note(uscc_raw, path):
        uscc = check_uscc(uscc_raw, path, errors)
        if uscc is None:
            return None
        if uscc in seen:
            errors.add(path, f"{uscc} appears twice among the bidders (first at "
                       f"{seen[uscc]}).", "duplicate_bidder")
        else:
            seen[uscc] = path
        return uscc

    bidders = data.get("bidders") or []
    sent = raw.get("bidders") if isinstance(raw, dict) else None
    for i, bidder in as_sent(sent, bidders):
        if "uscc" in bidder:
            bidder["uscc"] = note(bidder["uscc"], f"bidders.{i}.uscc")
        elif "consortium" in bidder:
            bidder["consortium"] = [
                note(member, f"bidders.{i}.consortium.{j}") for j, member in as_sent(
                    sent_at(sent, i).get("consortium"), bidder["consortium"],
                    _loads_as_uscc)]
    # API.md §5: several invalid USCCs (or duplicates) still answer ``invalid_uscc``
    # (``duplicate_bidder``), keyed by path, when nothing else is wrong.
    errors.raise_if_any(uniform=True)
    return data


_USCC = UsccString()


def _loads_as_uscc(value) -> bool:
    try:
        _USCC.deserialize(value)
    except ValidationError:
        return False
    return True


def _member_entries(items: list[dict], uscc: str) -> list[dict]:
    return [{"uscc": uscc, **item} for item in items]


def create_evaluation(ctx: ServiceContext, actor: Actor, raw,
                      idem: IdempotentRequest | None = None) -> Outcome:
    """Freeze the scores of every bidder at the bid deadline: one trace per member, all
    with the same ``known_at`` (the creation instant), and the document stored verbatim."""
    def write(uow) -> str:
        data = validate_evaluation(ctx, raw)
        model = ctx.model(data.get("model"))
        check_sector_rated(model, data["sector"])
        # A registered tender's evaluation: its bids, its sector, and the committee sees
        # its open warnings (WARNINGS.md §7, check 11a); they change no score.
        warnings = evaluation_warnings(uow, data)
        evaluation_id = uow.evaluations.next_id()
        created = uow.audit.next_at()
        members, results = _score_members(ctx, uow, actor, model, data, created, {
            "id": evaluation_id, "tender_code": data["tender"]["code"]})
        # PERFORMANCE.md §6: information for the committee, frozen with the rest.
        indexes = bidder_indexes(ctx, uow, list(results), data["as_of"])
        document = {
            "id": evaluation_id,
            "tender": data["tender"],
            "sector": data["sector"],
            "as_of": data["as_of"].isoformat(),
            "known_at": format_instant(created),
            "model": model_ref(model),
            "created_by": actor.name,
            "created_at": format_instant(created),
            "results": [_bid_result(model, bidder, members, results, indexes)
                        for bidder in data["bidders"]],
            "warnings": warnings,
        }
        text = present(EVALUATION, document)
        _store_evaluation(uow, actor, idem, data, evaluation_id, text)
        return text

    return idempotent_write(ctx, actor, idem, 201, write)


def _members(bidder: dict) -> list[str]:
    return bidder.get("consortium") or [bidder["uscc"]]


def _score_members(ctx: ServiceContext, uow, actor: Actor, model, data: dict,
                   created: datetime, context: dict
                   ) -> tuple[dict[str, dict], dict[str, ScoreResult]]:
    """Serve (and trace) every member's score as known at ``created``: the §4 bodies and
    the engine's results, by USCC."""
    knowledge = Knowledge(uow.audit.next_position(), created)
    # Every member's history digest in one statement, their subject rows in one more
    # (per 500), and the rows of those the memo does not hold in a third: bounded by
    # the same position, the rows score_as_known reads.
    usccs = [uscc for bidder in data["bidders"] for uscc in _members(bidder)]
    subjects = uow.subjects.of_many(sorted(set(usccs)))
    keys = {uscc: (_known_name(subjects.get(uscc), knowledge), digest) for uscc, digest
            in uow.records.history_digests(usccs, knowledge.position).items()}
    rows = _MemberRows(uow, knowledge.position, [
        uscc for uscc, (name, digest) in keys.items() if not ctx.results.holds(
            _memo_key(model, uscc, data["sector"], data["as_of"], name, digest))])
    members: dict[str, dict] = {}
    results: dict[str, ScoreResult] = {}
    at = created
    with uow.audit.batch():  # the traces go in with one INSERT
        for uscc in usccs:
            remembered = _member_score(ctx, model, uscc, *keys[uscc], rows, data, knowledge)
            results[uscc] = remembered[0]
            members[uscc] = _serve(uow, actor, remembered, at, context)
            at = uow.audit.next_at()
    return members, results


class _MemberRows:
    """The rows of an evaluation's members that the memo did not hold when it opened,
    read in one statement on first use; a member forgotten since (another thread's
    scores took its room) is read on its own."""

    def __init__(self, uow, position: int, usccs: list[str]):
        self._uow, self._position, self._usccs = uow, position, usccs
        self._read: dict[str, HistoryTexts] | None = None

    def of(self, uscc: str) -> HistoryTexts:
        if self._read is None:
            self._read = (self._uow.records.histories(self._usccs, self._position)
                          if self._usccs else {})
        if uscc not in self._read:
            self._read.update(self._uow.records.histories([uscc], self._position))
        return self._read[uscc]


def _member_score(ctx: ServiceContext, model, uscc: str, name: str | None,
                  history: HistoryDigest, rows: _MemberRows, data: dict,
                  knowledge: Knowledge) -> Remembered:
    """One member's score (:func:`_remembered`): its history was read up to the
    evaluation's own position, so the knowledge knows all of it."""
    result, payload, texts = _remembered(ctx, model, uscc, data["sector"], data["as_of"],
                                         name, history, knowledge, lambda: rows.of(uscc))
    if result.knowledge != knowledge:  # remembered from another evaluation or score
        result = replace(result, knowledge=knowledge)
    return result, payload, texts


def _bid_result(model, bidder: dict, members: dict[str, dict],
                results: dict[str, ScoreResult], indexes: dict) -> dict:
    """One bidder's result (API.md §5): a consortium by the consortium rule, with its
    members' measures and reasons, each with its USCC."""
    usccs = _members(bidder)
    combined = combine(model, [results[u] for u in usccs])
    return {
        "bidder": {"consortium": usccs} if "consortium" in bidder else {"uscc": usccs[0]},
        "score": fmt(combined.score),
        "grade": combined.grade,
        "eligible_to_bid": combined.eligible_to_bid,
        "bid_points": fmt(combined.bid_points),
        "measures": [m for u in usccs for m in _member_entries(members[u]["measures"], u)],
        "reasons": [r for u in usccs for r in _member_entries(members[u]["reasons"], u)],
        "members": [members[u] for u in usccs],
        "performance_index": _fmt_or_none(consortium_index(indexes[u] for u in usccs)),
    }


def _fmt_or_none(value) -> str | None:
    return fmt(value) if value is not None else None


def _store_evaluation(uow, actor: Actor, idem: IdempotentRequest | None, data: dict,
                      evaluation_id: int, text: str) -> None:
    """Store the document as sent, remember it for the Idempotency-Key, and append
    ``evaluation.created`` carrying both hashes."""
    sha = canonical.sha256_hex(text)
    position = uow.audit.next_position()
    extra = remember(uow, idem, 201, text, position)
    uow.evaluations.add(EvaluationRow(id=evaluation_id, created_by_token=actor.token_id,
                                      document=text, sha256=sha, audit_position=position))
    uow.audit.append("evaluation.created", actor.name,
                     {"evaluation_id": evaluation_id, "tender": data["tender"],
                      "sector": data["sector"], "as_of": data["as_of"].isoformat(),
                      "bidders": len(data["bidders"]), "sha256": sha, **extra})


def get_evaluation(ctx: ServiceContext, actor: Actor, evaluation_id: int) -> str:
    """The frozen document, byte for byte as created (a bid protest re-reads it)."""
    with ctx.uow(write=False) as uow:
        row = uow.evaluations.get(evaluation_id)
        if row is None:
            raise NotFound(f"There is no evaluation {evaluation_id}.")
        if actor.role not in ("auditor", "admin") and row.created_by_token != actor.token_id:
            raise Forbidden("Only the evaluator that created this evaluation, auditors and "
                            "admins may read it.")
        _check_intact(uow, row)
        return row.document


def _check_intact(uow, row: EvaluationRow) -> None:
    """API.md §5: the document read is the one created, "forever" — a bid protest rests
    on it. It must hash to its row's ``sha256`` and that hash be the one its creating
    ``evaluation.created`` entry carries, that entry itself hashing to its stored hash;
    else it was altered after it was written: IntegrityFailure (500
    ``integrity_failure``, which ``credit audit verify`` locates), never served."""
    entry_row = uow.audit_queries.row(row.audit_position)
    entry = None
    if entry_row is not None and hashes_to(entry_row.text, entry_row.sha256):
        entry = read_entry(entry_row.text)
    payload = entry.get("payload") if entry is not None else None
    if not (isinstance(payload, dict) and entry.get("kind") == "evaluation.created"
            and payload.get("evaluation_id") == row.id
            and payload.get("sha256") == row.sha256
            and hashes_to(row.document, row.sha256)):
        raise IntegrityFailure(f"Evaluation {row.id} is not the document it was created "
                               "as: it was altered. `credit audit verify` locates it.")
