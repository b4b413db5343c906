"""Screens 1–5 of WARNINGS.md §4: bids that share an identifier (条例第40条(一)(二)(三)(六)).

Each screen follows the same three steps: the normalised values each bid carries (an
excluded value, or an upload from the trading centre's own terminal, carries none) →
links between bids that carry an equal value → one warning per connected component of
two or more bids. Every bid counts, valid or rejected: a rejected bid may still be a
cover bid.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Hashable, Iterable, Iterator

from ..tenders import DOCUMENT_KINDS, Bid, ScreenWarning, Tender
from .definition import ScreenDefinition

ValuesOf = Callable[[Bid], Iterable[Hashable]]
EntryOf = Callable[[Any, list[int]], dict]


def same_preparer(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 1 SAME-PREPARER (条例第40条(一), bid files prepared by the same hand): bids
    linked by an equal ``machine_code``, ``file_id`` or ``pricing_lock`` of the same kind,
    not excluded. Evidence ``shared``: ``{kind, value, bids}`` by kind, then value."""

    def values(bid: Bid) -> Iterator[tuple[str, str]]:
        for document in bid.documents:
            for kind in DOCUMENT_KINDS:
                value = getattr(document, kind)
                if value is not None and not tender.excluded(kind, value):
                    yield kind, value

    return _components_screen(definition, "SAME-PREPARER", tender, values,
                              lambda key, bids: {"kind": key[0], "value": key[1], "bids": bids})


def same_uploader(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 2 SAME-UPLOADER (条例第40条(二), uploaded from the same computer): bids
    linked by an upload of each, neither on-site, with ``mac``, ``cpu`` and ``disk`` all
    present, equal and none excluded. Evidence ``shared``: ``{mac, cpu, disk, bids}``."""

    def values(bid: Bid) -> Iterator[tuple[str, str, str]]:
        for upload in bid.uploads:
            machine = (upload.mac, upload.cpu, upload.disk)
            if upload.onsite or None in machine:
                continue
            if not any(tender.excluded(kind, value)
                       for kind, value in zip(("mac", "cpu", "disk"), machine, strict=True)):
                yield machine

    return _components_screen(
        definition, "SAME-UPLOADER", tender, values,
        lambda key, bids: {"mac": key[0], "cpu": key[1], "disk": key[2], "bids": bids})


def same_ip(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 3 SAME-IP (条例第40条(二)): bids linked by an upload of each, neither
    on-site, from the same ``ip``, not excluded. Evidence ``shared``: ``{ip, bids}``."""

    def values(bid: Bid) -> Iterator[str]:
        for upload in bid.uploads:
            if not upload.onsite and upload.ip is not None \
                    and not tender.excluded("ip", upload.ip):
                yield upload.ip

    return _components_screen(definition, "SAME-IP", tender, values,
                              lambda key, bids: {"ip": key, "bids": bids})


def same_deposit(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 4 SAME-DEPOSIT (条例第40条(六), deposits paid from the same account): bids
    linked by an equal ``deposit_account`` (compared by keyed hash). Evidence ``shared``:
    ``{deposit_account_masked, bids}``; the account itself never appears."""

    def values(bid: Bid) -> Iterator[tuple[str, str | None]]:
        if bid.deposit_hash is not None:
            yield bid.deposit_hash, bid.deposit_masked

    return _components_screen(definition, "SAME-DEPOSIT", tender, values,
                              lambda key, bids: {"deposit_account_masked": key[1],
                                                 "bids": bids})


def same_personnel(definition: ScreenDefinition, tender: Tender) -> list[ScreenWarning]:
    """Screen 5 SAME-PERSONNEL (条例第40条(三), the same person in the management team of
    different bidders): bids linked by naming the same person (``id_number``, compared by
    keyed hash, in any role). Evidence ``shared``: ``{id_number_masked, bids}``."""

    def values(bid: Bid) -> Iterator[tuple[str, str]]:
        for person in bid.personnel:
            yield person.id_hash, person.id_masked

    return _components_screen(definition, "SAME-PERSONNEL", tender, values,
                              lambda key, bids: {"id_number_masked": key[1], "bids": bids})


def _components_screen(definition: ScreenDefinition, code: str, tender: Tender,
                       values_of: ValuesOf, entry_of: EntryOf) -> list[ScreenWarning]:
    """One warning per connected component of ≥ 2 bids of the graph linking bids that
    carry an equal value (WARNINGS.md §4, "Component"). The evidence lists every value
    shared inside the component with the bids carrying it, sorted by the entries'
    values in the order their keys are written."""
    carriers: dict[Hashable, set[int]] = defaultdict(set)
    for bid in tender.bids:
        for value in values_of(bid):
            carriers[value].add(bid.n)
    shared = {value: sorted(bids) for value, bids in carriers.items() if len(bids) >= 2}
    warnings = []
    for bids, values in connected_components(shared):
        entries = sorted((entry_of(value, shared[value]) for value in values),
                         key=lambda entry: tuple(entry.values()))
        warnings.append(definition.warning(code, bids, {"shared": entries}))
    return warnings


def connected_components(shared: dict[Hashable, list[int]]
                         ) -> list[tuple[tuple[int, ...], list[Hashable]]]:
    """The components of the graph whose nodes are bid positions and in which every
    value links all the bids that carry it: each as (its positions ascending, the values
    inside it), ordered by positions. Bids that share nothing form no component."""
    parent: dict[int, int] = {}

    def root(n: int) -> int:
        while parent.setdefault(n, n) != n:
            parent[n] = parent[parent[n]]  # path halving keeps the trees flat
            n = parent[n]
        return n

    for bids in shared.values():
        for other in bids[1:]:
            parent[root(other)] = root(bids[0])
    members: dict[int, set[int]] = defaultdict(set)
    values: dict[int, list[Hashable]] = defaultdict(list)
    for value, bids in shared.items():
        top = root(bids[0])
        members[top].update(bids)
        values[top].append(value)
    return sorted(((tuple(sorted(members[top])), values[top]) for top in members),
                  key=lambda component: component[0])


SCREENS = (same_preparer, same_uploader, same_ip, same_deposit, same_personnel)
