"""Read models of the console's tender pages (WARNINGS.md §8): the tender with its bids
side by side and the values two or more bids share marked, the warnings of the tender,
and the audit entries of each disposal. None of them writes anything.

Shared personal values are found by their keyed hashes here, inside the service, and
the page receives only a label per shared value (A, B, …) next to the mask: two people
whose masks happen to coincide are not marked, and no hash reaches a page.
"""

from __future__ import annotations

from string import ascii_uppercase

from .agencies import SCORE_READERS as AGENCY_READERS
from .context import Actor, ServiceContext
from .tender_inputs import DOCUMENT_KINDS
from .tenders import TENDER_READERS, check_sector, load_resources, one, require_role, tender_row
from .warnings import WARNING_READERS
from .warnings import resources as warning_resources

UPLOAD_KINDS = ("mac", "cpu", "disk", "ip")


def _label(i: int) -> str:
    """A, B, …, Z, AA, AB, …"""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = ascii_uppercase[r] + out
    return out


def _occurrences(children: dict, excluded: set) -> list[tuple[tuple, str, int]]:
    """(what is compared, where it is shown, bid n) for every value a bid carries that
    could be shared: document identifiers by kind, off-site upload identifiers by kind,
    the deposit account's and each person's keyed hash, and valid bids' prices."""
    out = []
    for d in children["bid_documents"]:
        for kind in DOCUMENT_KINDS:
            value = getattr(d, kind)
            if value is not None and (kind, value) not in excluded:
                out.append(((kind, value), f"{d.n}.documents.{d.idx}.{kind}", d.n))
    for u in children["bid_uploads"]:
        for kind in UPLOAD_KINDS:
            value = getattr(u, kind)
            if value is not None and not u.onsite and (kind, value) not in excluded:
                out.append(((kind, value), f"{u.n}.uploads.{u.idx}.{kind}", u.n))
    for b in children["bids"]:
        if b.deposit_hash:
            out.append((("deposit", b.deposit_hash), f"{b.n}.deposit", b.n))
        if b.status == "valid":
            out.append((("price", b.price), f"{b.n}.price", b.n))
    for p in children["bid_personnel"]:
        out.append((("person", p.id_hash), f"{p.n}.personnel.{p.idx}", p.n))
    return out


def shared_marks(children: dict) -> dict[str, str]:
    """``{where: label}`` for every value found in two or more different bids (an
    excluded value or an upload from the trading centre's own terminal never counts)."""
    excluded = {(x.kind, x.value) for x in children["tender_exclusions"]}
    occurrences = _occurrences(children, excluded)
    bids_of: dict[tuple, set[int]] = {}
    for key, _, n in occurrences:
        bids_of.setdefault(key, set()).add(n)
    labels: dict[tuple, str] = {}
    marks = {}
    for key, where, _ in occurrences:
        if len(bids_of[key]) >= 2:
            if key not in labels:
                labels[key] = _label(len(labels))
            marks[where] = labels[key]
    return marks


def tender_page(ctx: ServiceContext, actor: Actor, code: str) -> dict:
    """The tender resource, the marks of its shared values and its warnings, and which
    of the pages it points to the actor may open (``links``). A reader of tenders who
    may not read warnings — the trading platform (WARNINGS.md §1) — gets what its API
    resource gives it: the bids as sent and the warnings' ids (``warnings`` None, no
    marks). Which bids share a value, keyed hashes included, is what the screens found:
    it is for the regulators, the evaluation committee and the audit (WARNINGS.md §8)."""
    require_role(actor, TENDER_READERS, "read tenders")
    may_read_warnings = actor.role in WARNING_READERS
    with ctx.uow(write=False) as uow:
        row = tender_row(uow, code)
        check_sector(actor, row.sector)
        tender = load_resources(uow, [row])[0]
        children = one(uow.tenders.children([row.id]), row.id)
        warnings = warning_resources(uow, uow.warnings.of_tenders([row.id]).get(
            row.id, [])) if may_read_warnings else None
    marks = shared_marks(children) if may_read_warnings else {}
    return {"tender": tender, "marks": marks, "warnings": warnings,
            "links": {"agency": actor.role in AGENCY_READERS}}


def disposal_entries(ctx: ServiceContext, actor: Actor, warning: dict
                     ) -> dict[int, list[dict]]:
    """For auditors and admins (the audit log's readers): per disposal, its
    ``warning.disposed`` entry and the ``record.created`` entries of its records."""
    require_role(actor, ("auditor", "admin"), "read the audit log")
    out = {}
    with ctx.uow(write=False) as uow:
        for d in warning["disposals"]:
            positions = [d["audit_position"]] + [
                r.audit_position for r in (uow.records.get(i) for i in d["records"]) if r]
            out[d["id"]] = [e for e in (uow.audit_queries.get(p) for p in positions) if e]
    return out
