"""The auditor's use cases: read the log and the traces, verify a trace by replaying
it, verify the whole chain and every stored row against the hash its creating entry
holds (API.md §6; the verifiers are in services/verification.py). None of them appends
anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from credit.domain.dates import (
    parse_date,
    parse_instant,
    to_micros,
)
from credit.domain.records import Knowledge
from credit.domain.trace import trace_payload
from credit.errors import Forbidden, IntegrityFailure, NotFound
from credit.persistence.audit_log import (
    GENESIS,
    columns_match,
    has_utf8,
    hashes_to,
    read_entry,
    shown_text,
)
from credit.persistence.failures import UnreadableHistory

from . import agencies
from .context import Actor, ServiceContext, require_own_subject
from .paging import page
from .scoring import score_as_known
from .verification import (
    last_verification,
    verify_and_show,
    verify_chain,
)

__all__ = ["TraceFilter", "get_entry", "get_trace", "inquiries", "last_verification",
           "entry_page", "list_entries", "list_traces", "trace_page", "verify_and_show",
           "verify_chain", "verify_trace"]


@dataclass(frozen=True)
class TraceFilter:
    uscc: str | None = None
    actor: str | None = None
    from_: datetime | None = None
    to: datetime | None = None
    limit: int = 100
    after: int | None = None


def get_entry(ctx: ServiceContext, position: int) -> dict:
    with ctx.uow(write=False) as uow:
        entry = uow.audit_queries.get(position)
    if entry is None:
        raise NotFound(f"There is no audit entry {position}.")
    return entry


def get_trace(ctx: ServiceContext, actor: Actor, trace_id: int) -> dict:
    """A served score's trace, exactly as logged; readable by auditors, admins and the
    token that caused it."""
    with ctx.uow(write=False) as uow:
        entry = uow.audit_queries.get(trace_id)
    if entry is None or entry["kind"] != "score.served":
        raise NotFound(f"There is no trace {trace_id}.")
    _may_read_trace(actor, entry)
    return entry


def _may_read_trace(actor: Actor, entry: dict | None) -> None:
    """Auditors, admins and the token that caused the trace; an edited trace (``entry``
    None), whose token id is not to be trusted, auditors and admins only."""
    if actor.role in ("auditor", "admin"):
        return
    if entry is None or entry["payload"].get("token_id") != actor.token_id:
        raise Forbidden("Only auditors, admins and the caller that pulled this score may "
                        "read its trace.")


def _stored(uow, position: int) -> tuple[object | None, dict | None]:
    """An entry's stored row and, while its text still hashes to the hash stored with
    it, the entry parsed with that hash (as :func:`get_entry` gives it); None for an
    entry edited since it was written, which is shown as text, never as what it claims
    to be."""
    row = uow.audit_queries.row(position)
    if row is None or not hashes_to(row.text, row.sha256):
        return row, None
    entry = read_entry(row.text)
    return row, (dict(entry, sha256=row.sha256) if entry is not None else None)


def _page(row, entry: dict | None) -> dict:
    """What a console page shows of a stored entry: its text exactly as stored (the
    bytes its hash is taken of), whether it is intact, and the entry — parsed when
    intact, otherwise only its position and stored hash, which the edit did not touch."""
    return {"text": shown_text(row.text), "intact": entry is not None,
            "entry": entry or {"position": row.position, "sha256": shown_text(row.sha256)}}


def entry_page(ctx: ServiceContext, position: int) -> dict:
    """The console's audit entry page (:func:`_page`), and whether an entry follows it
    (the newest entry links to none)."""
    with ctx.uow(write=False) as uow, uow.verifications.text_as_stored():
        row, entry = _stored(uow, position)
        following = uow.audit_queries.follows(position)
    if row is None:
        raise NotFound(f"There is no audit entry {position}.")
    return {**_page(row, entry), "has_next": following}


def trace_page(ctx: ServiceContext, actor: Actor, trace_id: int, verify: bool) -> dict:
    """The console's trace page (:func:`_page`), with the trace's verification when
    asked (:func:`verify_trace`)."""
    with ctx.uow(write=False) as uow, uow.verifications.text_as_stored():
        row, entry = _stored(uow, trace_id)
        readable = entry if entry is not None or row is None else read_entry(row.text)
        _trace_kind(row, readable, trace_id)
        _may_read_trace(actor, entry)
        page = _page(row, entry)
        page["verification"] = _verification(ctx, uow, row, readable) if verify else None
    return page


def _trace_kind(row, entry: dict | None, trace_id: int) -> None:
    """NotFound unless the entry is a served score's: by its text's ``kind`` while the
    text reads (as :func:`get_trace` decides), by its look-up column otherwise."""
    kind = entry.get("kind") if entry is not None else getattr(row, "kind", None)
    if kind != "score.served":
        raise NotFound(f"There is no trace {trace_id}.")


def list_traces(ctx: ServiceContext, f: TraceFilter) -> dict:
    with ctx.uow(write=False) as uow:
        items = uow.audit_queries.traces(
            uscc=f.uscc, actor=f.actor,
            from_us=to_micros(f.from_) if f.from_ else None,
            to_us=to_micros(f.to) if f.to else None, limit=f.limit + 1, before=f.after)
    items, next_ = page(items, f.limit, lambda e: e["position"])
    return {"items": items, "next": next_}


def list_entries(ctx: ServiceContext, after: int = 0, limit: int = 100,
                 kind: str | None = None) -> dict:
    with ctx.uow(write=False) as uow:
        items = uow.audit_queries.page(after=after, limit=limit + 1, kind=kind)
    items, next_ = page(items, limit, lambda e: e["position"])
    return {"items": items, "next": next_}


def inquiries(ctx: ServiceContext, actor: Actor, uscc: str, limit: int = 100,
              after: int | None = None) -> dict:
    """Who pulled this subject's score, newest first (the enterprise's inquiry log)."""
    require_own_subject(actor, uscc)
    with ctx.uow(write=False) as uow:
        traces = uow.audit_queries.traces(uscc=uscc, limit=limit + 1, before=after,
                                          hashed=True)
    traces, next_ = page(traces, limit, lambda e: e["position"])
    return {"items": [inquiry_line(t) for t in traces], "next": next_}


def inquiry_line(trace: dict) -> dict:
    """One line of the inquiry log; a trace whose payload no longer reads as the service
    writes it was altered after it was written (IntegrityFailure, as parse_entry)."""
    p = trace["payload"]
    sector, as_of, evaluation = p.get("sector"), p.get("as_of"), p.get("evaluation", {})
    if not (isinstance(sector, (str, type(None))) and isinstance(as_of, str)
            and (p.get("token_id") is None or type(p["token_id"]) is int)
            and isinstance(evaluation, dict)
            and (not evaluation or (type(evaluation.get("id")) is int
                                    and isinstance(evaluation.get("tender_code"), str)))):
        raise IntegrityFailure(f"Audit entry {trace['position']} is not the trace it was "
                               "written as: it was altered. `credit audit verify` locates "
                               "it.")
    item = {"trace_id": trace["position"], "at": trace["at"], "actor": trace["actor"],
            "sector": sector, "as_of": as_of}  # sector None: an agency score
    if evaluation:
        item["evaluation_id"] = evaluation["id"]
        item["tender_code"] = evaluation["tender_code"]
    return item


def _differences(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}" if path else k
            if k not in a or k not in b:
                out.append(p)
            else:
                out += _differences(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [path]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _differences(x, y, f"{path}.{i}")
        return out
    return [] if a == b else [path]


def _trace_definition(ctx: ServiceContext, ref: dict) -> tuple[object | None, list[str]]:
    """The definition a trace was served under — a scoring model or an agency
    definition — or None with the difference (unknown, or another file's SHA-256)."""
    if not isinstance(ref, dict):
        return None, ["model"]
    try:
        model = ctx.models.definition(f"{ref['id']}@{ref['version']}")
    except KeyError:
        return None, ["model"]
    if model.kind not in ("scoring", "agency"):
        return None, ["model"]
    if model.sha256 != ref.get("sha256"):
        return None, ["model.sha256"]
    return model, []


def verify_trace(ctx: ServiceContext, trace_id: int) -> dict:
    """Recompute the hash, check the link to the predecessor and replay the score at its
    knowledge position with its model. A trace edited behind the service is reported,
    never a failure of the request: its text that does not hash (or parse) to what was
    stored, and the first field the replay cannot read named as its difference."""
    with ctx.uow(write=False) as uow, uow.verifications.text_as_stored():
        row = uow.audit_queries.row(trace_id)
        entry = read_entry(row.text) if row is not None else None
        _trace_kind(row, entry, trace_id)
        return _verification(ctx, uow, row, entry)


def _verification(ctx: ServiceContext, uow, row, entry: dict | None) -> dict:
    """:func:`verify_trace` of a stored trace ``row``, its text parsed (``entry``, None
    when it does not parse). ``hash_ok``: the text hashes to the stored hash and says
    what its look-up columns say; ``chain_ok``: it links to its predecessor and, when
    there is one, its successor links to it — so a trace rewritten together with its
    hash (another actor, another token) is not ``ok``, as a full verification finds."""
    hash_ok = entry is not None and hashes_to(row.text, row.sha256) \
        and columns_match(row, entry)
    prev = uow.audit_queries.row(row.position - 1) if row.position > 1 else None
    following = uow.audit_queries.row(row.position + 1)
    after = read_entry(following.text) if following is not None else None
    chain_ok = entry is not None and entry.get("prev_sha256") == (
        prev.sha256 if prev else GENESIS) and (
        following is None or (after is not None and after.get("prev_sha256") == row.sha256))
    payload = entry.get("payload") if entry is not None else None
    differences = _replay_differences(ctx, uow, payload if isinstance(payload, dict) else {},
                                      escaped=entry is not None and "\\u" in row.text)
    replay_ok = not differences
    return {"hash_ok": hash_ok, "chain_ok": chain_ok, "replay_ok": replay_ok,
            "ok": hash_ok and chain_ok and replay_ok, "differences": differences}


def _replay_differences(ctx: ServiceContext, uow, p: dict, escaped: bool = False
                        ) -> list[str]:
    """The paths where the score replayed from trace payload ``p`` differs from it.
    ``escaped``: its text holds a ``\\u`` escape, the only way a lone surrogate gets in
    (the service writes UTF-8 and escapes control characters only), so only then are
    its members checked for one."""
    unwritable = sorted(k for k, v in p.items() if not has_utf8(v)) if escaped else []
    if unwritable:  # an escaped lone surrogate: no query, no response can carry it
        return unwritable
    model, differences = _trace_definition(ctx, p.get("model"))
    if model is None:
        return differences
    read = _replay_inputs(p, model)
    if isinstance(read, str):
        return [read]
    uscc, as_of, sector, knowledge = read
    try:
        if model.kind == "agency":  # an agency score (PERFORMANCE.md §7)
            replayed = agencies.replay_trace(uow, model, p, knowledge)
        else:
            replayed = trace_payload(*score_as_known(uow, model, uscc, sector, as_of,
                                                     knowledge))
    except UnreadableHistory:
        # A stored record or event it reads was edited into what its column cannot give
        # back (a date that is none, bytes where text was): the inputs no longer replay
        # it. Only the read's own failure: the engine's would be a fault, not an edit.
        return ["records"]
    # Context the engine does not produce: which token and which tender asked.
    original = {k: v for k, v in p.items() if k not in ("evaluation", "token_id")}
    return _differences(original, replayed)


def _replay_inputs(p: dict, model) -> tuple | str:
    """``(uscc, as_of, sector, knowledge)`` as a replay reads them from a trace, or the
    path of the first that does not read as the service writes it (an edited trace)."""
    position = p.get("knowledge_position")
    if type(position) is not int or not 0 <= position < 2**63:  # a position, as stored
        return "knowledge_position"
    known_at = _parsed(parse_instant, p.get("known_at"))
    if known_at is None:
        return "known_at"
    as_of = _parsed(parse_date, p.get("as_of"))
    if as_of is None:
        return "as_of"
    uscc, sector = p.get("uscc"), p.get("sector")
    if not isinstance(uscc, str):
        return "uscc"
    if model.kind != "agency" and sector not in model.sectors:
        return "sector"
    return uscc, as_of, sector, Knowledge(position, known_at)


def _parsed(parse, text):
    """``parse(text)``, or None when ``text`` is not in the form it reads."""
    try:
        return parse(text)
    except (TypeError, ValueError):
        return None
