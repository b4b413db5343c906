"""Screens 12–13 of WARNINGS.md §4: this tender against the tenders registered before it.

They read only the snapshot (what was committed up to the registration's
``knowledge_position``), so a replay from the audit log recomputes them exactly; the
tender being registered is never part of its own snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from ..tenders import Bid, PriorTender, ScreenWarning, Snapshot, Tender
from .definition import ScreenDefinition


def pm_elsewhere(definition: ScreenDefinition, tender: Tender,
                 snapshot: Snapshot) -> list[ScreenWarning]:
    """Screen 12 PM-ELSEWHERE (建市〔2014〕118号: a project manager may not serve two
    projects at once): a valid bid names as ``project_manager`` a person who is a project
    manager of the winning bid of another tender whose contract runs on the date of this
    opening (``awarded_on`` ≤ date(``opened_at``) ≤ its end, both inclusive). One
    warning per such bid; evidence ``tenders``: every such tender's code, sorted."""
    warnings = []
    for bid in sorted(tender.bids, key=lambda b: b.n):
        if not bid.valid or not bid.project_managers:
            continue
        codes = sorted(t.code for t in snapshot.tenders
                       if t.code != tender.code and _manages(bid, t, tender))
        if codes:
            warnings.append(definition.warning("PM-ELSEWHERE", (bid.n,), {"tenders": codes}))
    return warnings


def _manages(bid: Bid, other: PriorTender, tender: Tender) -> bool:
    """Whether a project manager of ``bid`` is one of ``other``'s awarded contract on
    the date of ``tender``'s opening."""
    award = other.award
    return (award is not None and award.awarded_on <= tender.opened_on <= award.end
            and not bid.project_managers.isdisjoint(award.project_managers))


def co_bidding(definition: ScreenDefinition, tender: Tender,
               snapshot: Snapshot) -> list[ScreenWarning]:
    """Screen 13 CO-BIDDING (OECD bid-rotation checklist): for each pair of bidders of
    this tender (the ``bidder`` of any two bids, valid or rejected; consortium members
    never count), c = the tenders opened in [date − ``co_bid_window_days``, date], this
    one included, where both were a ``bidder``. c ≥ ``co_bid_min`` raises a warning;
    evidence ``tenders`` (sorted codes), ``co_bids`` = c and ``rotation``: each of the
    two won at least one of those tenders (awards known in the snapshot)."""
    together = _tenders_by_bidder(tender, snapshot, definition.co_bid_window_days)
    bids = sorted(tender.bids, key=lambda b: b.n)
    names = ("co_bid_window_days", "co_bid_min")
    warnings = []
    for i, first in enumerate(bids):
        for second in bids[i + 1:]:
            shared = [together[first.bidder.uscc][code]
                      for code in together[first.bidder.uscc].keys()
                      & together[second.bidder.uscc].keys()]
            if len(shared) + 1 < definition.co_bid_min:
                continue
            evidence = {"tenders": sorted([tender.code, *(t.code for t in shared)]),
                        "co_bids": len(shared) + 1,
                        "rotation": _won(first, shared) and _won(second, shared)}
            warnings.append(definition.warning("CO-BIDDING", (first.n, second.n),
                                               evidence, names))
    return warnings


def _tenders_by_bidder(tender: Tender, snapshot: Snapshot,
                       window_days: int) -> dict[str, dict[str, PriorTender]]:
    """For each bidder of ``tender``, the earlier tenders (by code) opened inside the
    window ending on the date of its opening in which it was a ``bidder``."""
    start, end = tender.opened_on - timedelta(days=window_days), tender.opened_on
    ours = {b.bidder.uscc for b in tender.bids}
    found: dict[str, dict[str, PriorTender]] = defaultdict(dict)
    for other in snapshot.tenders:
        if other.code == tender.code or not start <= other.opened_on <= end:
            continue
        for uscc in ours & other.bidders:
            found[uscc][other.code] = other
    return found


def _won(bid: Bid, tenders: list[PriorTender]) -> bool:
    """Whether the bid's bidder won at least one of ``tenders``."""
    return any(t.award is not None and t.award.winner == bid.bidder.uscc for t in tenders)


SCREENS = (pm_elsewhere, co_bidding)
