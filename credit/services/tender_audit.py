"""``audit verify`` for the tender loop (API.md §6, WARNINGS.md): the rows of every
tender, award, warning and disposal re-hashed against the digests their creating entry
carries (credit.services.tender_rows), and the subjects a registration registered.

Kept apart from credit.services.audit so that its chain walk only calls three small
functions: :func:`collect` per entry, :func:`merge_subject_firsts` before the subjects
are checked, and :func:`row_problems` before rows no entry created are reported.
Problems use the chain walk's vocabulary; ``id`` is the group the digest covers: the
tender's id for a registration's tables and an award, the warning's id for a warning
and the bids it names, the disposal's id for a disposal.
"""

from __future__ import annotations

from itertools import groupby
from typing import Callable

from credit.domain import canonical

from .tender_rows import REGISTRATION_TABLES, row_facts

EMPTY = canonical.digest([])

# entry kind → (the group its digests cover, the tables it creates rows in)
_ENTRIES: dict[str, tuple[Callable[[dict], object], tuple[str, ...]]] = {
    "tender.registered": (lambda p: p.get("tender_id"), REGISTRATION_TABLES),
    "warning.raised": (lambda p: (p.get("warning") or {}).get("id"),
                       ("warnings", "warning_bids")),
    "tender.awarded": (lambda p: (p.get("award") or {}).get("tender_id"), ("awards",)),
    "warning.disposed": (lambda p: (p.get("disposal") or {}).get("id"),
                         ("warning_disposals",)),
}
# table → the group a row belongs to
_GROUP: dict[str, Callable] = {
    "tenders": lambda r: r.id, "warnings": lambda r: r.id,
    "warning_disposals": lambda r: r.id, "warning_bids": lambda r: r.warning_id,
    **{t: (lambda r: r.tender_id) for t in REGISTRATION_TABLES if t != "tenders"},
    "awards": lambda r: r.tender_id,
}


def collect(kind: str, position: int, payload: dict, created: dict,
            subject_firsts: dict[str, tuple[int, str]]) -> None:
    """Note the digests an entry of the tender loop carries, as
    ``created[(table, group)] = (position, sha256)``, and the parties a registration
    registered as subjects (first position and name of each)."""
    spec = _ENTRIES.get(kind)
    if spec is None or not isinstance(payload, dict):
        return
    key, tables = spec
    digests = payload.get("rows") if isinstance(payload.get("rows"), dict) else {}
    group = key(payload)
    for table in tables:
        created[(table, group)] = (position, digests.get(table))
    if kind == "tender.registered":
        for bid in payload.get("bids") or []:
            for uscc, name in [(bid.get("bidder"), bid.get("bidder_name"))] + \
                    [(m.get("uscc"), m.get("name")) for m in bid.get("consortium") or []]:
                subject_firsts.setdefault(uscc, (position, name))


def merge_subject_firsts(first_record: dict[str, tuple[int, str]],
                         subject_firsts: dict[str, tuple[int, str]]) -> None:
    """A subject is registered by its first record or its first tender, whichever came
    first in the log (same name, same position)."""
    for uscc, first in subject_firsts.items():
        if uscc not in first_record or first[0] < first_record[uscc][0]:
            first_record[uscc] = first


def _groups(rows, group_of):
    """(group, facts of its rows) in key order. Every table's primary key starts with
    its group, so a group's rows are contiguous: one group in memory at a time."""
    for group, items in groupby(rows, key=group_of):
        yield group, [row_facts(r) for r in items]


def row_problems(uow, created: dict) -> list[dict]:
    """Re-hash every row of the tender loop's tables group by group; pops what it
    checked from ``created`` (what stays there is reported missing by the caller)."""
    problems = []
    for table, group_of in _GROUP.items():
        for group, facts in _groups(uow.tenders.iter_rows(table), group_of):
            origin = created.pop((table, group), None)
            if origin is None:
                problems.append({"position": None, "problem": "row_unreferenced",
                                 "table": table, "id": group})
            elif canonical.digest(facts) != origin[1]:
                problems.append({"position": origin[0], "problem": "row_mismatch",
                                 "table": table, "id": group})
    for key in [k for k, (_, sha) in created.items() if k[0] in _GROUP and sha == EMPTY]:
        del created[key]  # an entry that created no rows in this table (no documents…)
    return problems
