"""The auditor's use cases: read the log and the traces, verify a trace by replaying
it, verify the whole chain and every stored row against the hash its creating entry
holds (API.md §6). None of them appends anything."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from credit.domain import canonical
from credit.domain.dates import (
    format_instant,
    from_micros,
    parse_date,
    parse_instant,
    to_micros,
)
from credit.domain.records import Knowledge
from credit.domain.trace import trace_payload
from credit.errors import Forbidden, NotFound
from credit.persistence.audit_log import GENESIS
from credit.persistence.repositories import event_facts, record_facts

from . import tender_audit
from .context import Actor, ServiceContext
from .paging import page
from .scoring import score_as_known

ENTRY_PROBLEMS = ("hash_mismatch", "prev_mismatch", "position_gap")
ROW_KINDS = {"record.created": "records", "record.revoked": "record_events",
             "record.repaired": "record_events", "evaluation.created": "evaluations"}


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
    if actor.role not in ("auditor", "admin") and \
            entry["payload"].get("token_id") != actor.token_id:
        raise Forbidden("Only auditors, admins and the caller that pulled this score may "
                        "read its trace.")
    return entry


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
    if actor.role == "enterprise" and actor.uscc != uscc:
        raise Forbidden("An enterprise sees only its own inquiries.")
    with ctx.uow(write=False) as uow:
        traces = uow.audit_queries.traces(uscc=uscc, limit=limit + 1, before=after)
    traces, next_ = page(traces, limit, lambda e: e["position"])
    items = []
    for t in traces:
        p = t["payload"]
        item = {"trace_id": t["position"], "at": t["at"], "actor": t["actor"],
                "sector": p["sector"], "as_of": p["as_of"]}
        if "evaluation" in p:
            item["evaluation_id"] = p["evaluation"]["id"]
            item["tender_code"] = p["evaluation"]["tender_code"]
        items.append(item)
    return {"items": items, "next": next_}


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


def verify_trace(ctx: ServiceContext, trace_id: int) -> dict:
    """Recompute the hash, check the link to the predecessor and replay the score at its
    knowledge position with its model."""
    with ctx.uow(write=False) as uow:
        row_entry = uow.audit_queries.get(trace_id)
        if row_entry is None or row_entry["kind"] != "score.served":
            raise NotFound(f"There is no trace {trace_id}.")
        stored = {k: v for k, v in row_entry.items() if k != "sha256"}
        hash_ok = canonical.digest(stored) == row_entry["sha256"]
        prev = uow.audit_queries.get(trace_id - 1) if trace_id > 1 else None
        expected_prev = prev["sha256"] if prev else GENESIS
        chain_ok = row_entry["prev_sha256"] == expected_prev
        p = row_entry["payload"]
        differences: list[str] = []
        try:
            model = ctx.models.get(f"{p['model']['id']}@{p['model']['version']}")
        except KeyError:
            model = None
            differences.append("model")
        if model is not None and model.sha256 != p["model"]["sha256"]:
            differences.append("model.sha256")
            model = None
        if model is not None:
            knowledge = Knowledge(p["knowledge_position"], parse_instant(p["known_at"]))
            replayed = trace_payload(*score_as_known(uow, model, p["uscc"], p["sector"],
                                                     parse_date(p["as_of"]), knowledge))
            # Context the engine does not produce: which token and which tender asked.
            original = {k: v for k, v in p.items() if k not in ("evaluation", "token_id")}
            differences += _differences(original, replayed)
    replay_ok = not differences
    return {"hash_ok": hash_ok, "chain_ok": chain_ok, "replay_ok": replay_ok,
            "ok": hash_ok and chain_ok and replay_ok, "differences": differences}


def _expected_uscc(entry: dict) -> str | None:
    """The subject an entry is about, as its look-up column must say."""
    p = entry.get("payload") or {}
    if entry.get("kind") == "score.served":
        return p.get("uscc")
    for key in ("record", "event"):
        if isinstance(p.get(key), dict):
            return p[key].get("uscc")
    return None


def _lookup_columns_match(row, entry: dict) -> bool:
    """The typed columns used to find entries (kind, at, actor, uscc) say what the
    hashed text says; otherwise an edit could hide an entry from a filtered view."""
    try:
        at_us = to_micros(parse_instant(entry["at"]))
    except (KeyError, TypeError, ValueError):
        return False
    return (row.kind == entry.get("kind") and row.actor == entry.get("actor")
            and row.at_us == at_us and row.uscc == _expected_uscc(entry))


def _subject_problems(uow, first_record: dict[str, tuple[int, str]]) -> list[dict]:
    """A subject is registered by its first record: same name, same position."""
    out = []
    for subject in uow.subjects.all():
        first = first_record.pop(subject.uscc, None)
        if first is None:
            out.append({"position": None, "problem": "row_unreferenced", "table": "subjects",
                        "id": subject.uscc})
        elif (subject.registered_position, subject.name) != first:
            out.append({"position": first[0], "problem": "row_mismatch", "table": "subjects",
                        "id": subject.uscc})
    for uscc, (position, _) in first_record.items():
        out.append({"position": position, "problem": "row_missing", "table": "subjects",
                    "id": uscc})
    return out


def _token_problems(uow, created: dict, revoked: dict) -> list[dict]:
    """Token rows and revocations against their ``token.created`` / ``token.revoked``
    entries (a role raised or a secret swapped in the database is caught)."""
    out = []
    for t in uow.tokens.all():
        origin = created.pop(t.id, None)
        if origin is None:
            out.append({"position": None, "problem": "row_unreferenced", "table": "tokens",
                        "id": t.id})
            continue
        position, p = origin
        expires = format_instant(from_micros(t.expires_at_us)) if t.expires_at_us else None
        same = (t.name == p.get("name") and t.role == p.get("role")
                and [s for s in t.sectors.split(",") if s] == list(p.get("sectors") or [])
                and t.uscc == p.get("uscc") and expires == p.get("expires_at")
                and t.audit_position == position
                and hashlib.sha256(t.secret_sha256.encode()).hexdigest()
                == p.get("secret_digest"))
        if not same:
            out.append({"position": position, "problem": "row_mismatch", "table": "tokens",
                        "id": t.id})
    for token_id, (position, _) in created.items():
        out.append({"position": position, "problem": "row_missing", "table": "tokens",
                    "id": token_id})
    for rev in uow.tokens.iter_revocations():
        position = revoked.pop(rev.token_id, None)
        if position is None or rev.audit_position != position:
            out.append({"position": position, "problem": "row_unreferenced"
                        if position is None else "row_mismatch",
                        "table": "token_revocations", "id": rev.token_id})
    for token_id, position in revoked.items():
        out.append({"position": position, "problem": "row_missing",
                    "table": "token_revocations", "id": token_id})
    return out


def verify_chain(ctx: ServiceContext, checkpoint=None) -> dict:
    """Walk the whole chain; re-hash every entry and every stored record, event and
    evaluation against the hash its creating entry carries. ``first_bad`` is the lowest
    bad position (rows no entry created come last, with position null).

    With a ``checkpoint`` (``position``, ``sha256``: see services/checkpoints.py) the
    result adds ``checkpoint_ok`` — the entry at that position still hashes to that
    value and the chain from genesis through it to the head has no bad entry — and
    ``checkpoint_problem``: null, or ``{"position", "problem"}`` with ``truncated`` (the
    first missing position; the log now ends before the checkpoint), ``hash_mismatch``
    (the entry at the checkpoint was rewritten) or the chain's first bad entry."""
    problems: list[dict] = []
    created: dict[tuple[str, int], tuple[int, str]] = {}
    checked = 0
    last_position = 0
    at_checkpoint: bool | None = None  # None: the checkpoint's position was not reached
    if checkpoint is not None and checkpoint.position == 0:
        at_checkpoint = checkpoint.sha256 == GENESIS
    tokens_created: dict[int, tuple[int, dict]] = {}
    tokens_revoked: dict[int, int] = {}
    tender_firsts: dict[str, tuple[int, str]] = {}  # subjects registered by a tender
    with ctx.uow(write=False, snapshot=True) as uow:
        expected_prev, expected_pos = GENESIS, 1
        for row in uow.audit_queries.iter_rows():
            checked += 1
            problem = None
            try:
                entry = json.loads(row.text)
            except ValueError:
                entry = None
            if row.position != expected_pos:
                problem = "position_gap"
            elif entry is None or canonical.sha256_hex(row.text) != row.sha256 \
                    or entry.get("position") != row.position:
                problem = "hash_mismatch"
            elif entry.get("prev_sha256") != expected_prev:
                problem = "prev_mismatch"
            if problem:
                problems.append({"position": row.position, "problem": problem})
            elif not _lookup_columns_match(row, entry):
                problems.append({"position": row.position, "problem": "row_mismatch",
                                 "table": "audit_entries", "id": row.position})
            if entry is not None and row.kind == "token.created":
                p = entry.get("payload", {})
                tokens_created[p.get("token_id")] = (row.position, p)
            elif entry is not None and row.kind == "token.revoked":
                tokens_revoked[entry.get("payload", {}).get("token_id")] = row.position
            if checkpoint is not None and row.position == checkpoint.position:
                at_checkpoint = (row.sha256 == checkpoint.sha256
                                 and canonical.sha256_hex(row.text) == checkpoint.sha256)
            last_position = max(last_position, row.position)
            expected_prev, expected_pos = row.sha256, row.position + 1
            table = ROW_KINDS.get(row.kind)
            if table and entry is not None:
                p = entry.get("payload", {})
                if table == "records":
                    key = p.get("record", {}).get("id")
                elif table == "record_events":
                    key = p.get("event", {}).get("id")
                else:
                    key = p.get("evaluation_id")
                created[(table, key)] = (row.position, p.get("sha256"))
            if entry is not None:
                tender_audit.collect(row.kind, row.position, entry.get("payload"), created,
                                     tender_firsts)

        def check(table: str, row_id: int, actual_sha: str, column_sha: str):
            origin = created.pop((table, row_id), None)
            if origin is None:
                problems.append({"position": None, "problem": "row_unreferenced",
                                 "table": table, "id": row_id})
            elif actual_sha != origin[1] or column_sha != origin[1]:
                problems.append({"position": origin[0], "problem": "row_mismatch",
                                 "table": table, "id": row_id})

        first_record: dict[str, tuple[int, str]] = {}
        for r in uow.records.iter_all():
            check("records", r.id, canonical.digest(record_facts(r)), r.sha256)
            if r.uscc not in first_record or r.audit_position < first_record[r.uscc][0]:
                first_record[r.uscc] = (r.audit_position, r.subject_name)
        tender_audit.merge_subject_firsts(first_record, tender_firsts)
        problems += _subject_problems(uow, first_record)
        problems += _token_problems(uow, tokens_created, tokens_revoked)
        for e in uow.records.iter_all_events():
            check("record_events", e.id, canonical.digest(event_facts(e)), e.sha256)
        for ev in uow.evaluations.iter_all():
            check("evaluations", ev.id, canonical.sha256_hex(ev.document), ev.sha256)
        problems += tender_audit.row_problems(uow, created)
        for (table, row_id), (position, _) in created.items():
            problems.append({"position": position, "problem": "row_missing", "table": table,
                             "id": row_id})
    problems.sort(key=lambda p: (p["position"] is None, p["position"] or 0))
    result = {"ok": not problems, "entries_checked": checked,
              "first_bad": problems[0] if problems else None}
    if checkpoint is not None:
        chain_bad = next((p for p in problems if p["position"] is not None
                          and p["problem"] in ENTRY_PROBLEMS), None)
        if at_checkpoint is None and last_position < checkpoint.position:
            cp_problem = {"position": last_position + 1, "problem": "truncated"}
        elif at_checkpoint is None:  # deleted from the middle of the log
            cp_problem = {"position": checkpoint.position, "problem": "position_gap"}
        elif not at_checkpoint:
            cp_problem = {"position": checkpoint.position, "problem": "hash_mismatch"}
        elif chain_bad is not None:
            cp_problem = {"position": chain_bad["position"], "problem": chain_bad["problem"]}
        else:
            cp_problem = None
        result["checkpoint_ok"] = cp_problem is None
        result["checkpoint_problem"] = cp_problem
    return result
