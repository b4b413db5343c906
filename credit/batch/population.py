"""A population's credit file in columns: every subject, record and event, as the batch
engine reads them.

Dates are whole days since 1970-01-01 (``int64``) so that validity arithmetic is integer
arithmetic; behaviour codes and sectors are categoricals; a document number is kept only
as its rank in code-point order (the tie-breaker of MODEL.md §4 and §8), a project code
only as the id of its trimmed text (``-1`` when absent). Nothing here depends on a
scoring model: the same population is scored under any model version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from credit.domain.model import SECTORS
from credit.domain.records import Record, RecordEvent

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: "No repair": later than any date, so min(original, NO_REPAIR − 1) is the original.
NO_REPAIR = np.int64(1 << 40)
_CHUNK = 100_000


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return d.toordinal() - EPOCH_ORDINAL


def day_date(n: int) -> date:
    return date.fromordinal(int(n) + EPOCH_ORDINAL)


@dataclass(frozen=True)
class Population:
    """Subjects (sorted by USCC), their records and the records' events.

    ``subjects``: ``uscc``, ``name`` (may be null), ``registered_position``.
    ``records``: ``subject`` (row of ``subjects``), ``id``, ``sector``, ``code``,
    ``decided`` and ``valid_until`` (day numbers; ``valid_until`` as entered or computed
    at entry), ``document_rank``, ``audit_position``, ``project`` (``-1``: none).
    ``events``: ``record_id``, ``revocation`` (bool; else a repair), ``audit_position``,
    ``repaired_on`` (day number, :data:`NO_REPAIR` for revocations).
    """

    subjects: pd.DataFrame
    records: pd.DataFrame
    events: pd.DataFrame

    def __len__(self) -> int:
        return len(self.subjects)


class _Records:
    """Record rows, appended in chunks of ``(uscc, id, sector, code, decided,
    valid_until, document_no, audit_position, project_code)`` tuples and kept as compact
    columns (each text turned into a small integer as it arrives)."""

    def __init__(self, subjects: pd.DataFrame):
        self.subject_row = {u: i for i, u in enumerate(subjects["uscc"])}
        self.sector_index = {s: i for i, s in enumerate(SECTORS)}
        self.codes: dict[str, int] = {}
        self.projects: dict[str | None, int] = {None: 0}
        self.parts: dict[str, list] = {k: [] for k in (
            "subject", "id", "sector", "code", "decided", "valid_until", "document_no",
            "audit_position", "project")}

    def add(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        n = len(rows)
        uscc, rid, sector, code, decided, until, doc, pos, project = zip(*rows, strict=True)
        p = self.parts
        try:
            p["subject"].append(np.fromiter(map(self.subject_row.__getitem__, uscc),
                                            np.int64, n))
            p["sector"].append(np.fromiter(map(self.sector_index.__getitem__, sector),
                                           np.int8, n))
        except KeyError as exc:
            raise ValueError(f"a record names an unknown subject or sector: {exc}") from None
        for mapping, values in ((self.codes, code), (self.projects, project)):
            for value in set(values) - mapping.keys():
                mapping[value] = len(mapping)
        p["code"].append(np.fromiter(map(self.codes.__getitem__, code), np.int64, n))
        p["project"].append(np.fromiter(map(self.projects.__getitem__, project), np.int64, n))
        for name, col in (("id", rid), ("decided", decided), ("valid_until", until),
                          ("audit_position", pos)):
            p[name].append(np.fromiter(col, np.int64, n))
        p["document_no"].append(pa.array(doc, pa.string()))

    def frame(self) -> pd.DataFrame:
        p = self.parts

        def ints(name, dtype=np.int64):
            return np.concatenate(p[name]) if p[name] else np.zeros(0, dtype=dtype)

        docs = pa.chunked_array(p["document_no"], pa.string())
        # Dense rank in code-point order (UTF-8 byte order is code-point order).
        rank = pc.rank(docs, sort_keys="ascending", tiebreaker="dense") if len(docs) else []
        # A project code counts trimmed (Python's str.strip, as the engine), empty = none.
        raw_ids = ints("project")
        trimmed: dict[str, int] = {}
        remap = np.full(len(self.projects), -1, dtype=np.int64)
        for text, i in self.projects.items():
            key = text.strip() if text is not None else ""
            if key:
                remap[i] = trimmed.setdefault(key, len(trimmed))
        return pd.DataFrame({
            "subject": ints("subject"),
            "id": ints("id"),
            "sector": pd.Categorical.from_codes(ints("sector", np.int8), categories=SECTORS),
            "code": pd.Categorical.from_codes(ints("code"), categories=list(self.codes)),
            "decided": ints("decided"),
            "valid_until": ints("valid_until"),
            "document_rank": np.asarray(rank, dtype=np.int64) - 1,
            "audit_position": ints("audit_position"),
            "project": remap[raw_ids] if len(raw_ids) else raw_ids,
        })


def _events_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """From ``(record_id, kind, audit_position, repaired_on day number or None)``."""
    rid, kind, pos, repaired = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame({
        "record_id": np.asarray(rid, dtype=np.int64),
        "revocation": np.asarray(kind, dtype=object) == "revocation",
        "audit_position": np.asarray(pos, dtype=np.int64),
        "repaired_on": np.fromiter((int(NO_REPAIR) if r is None else r for r in repaired),
                                   np.int64, len(repaired)),
    })


def _subjects_frame(rows: Iterable[tuple]) -> pd.DataFrame:
    """From ``(uscc, name, registered_position)``, sorted by USCC."""
    rows = sorted(rows, key=lambda r: r[0])
    uscc, name, pos = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame({
        "uscc": pd.Series(uscc, dtype="str"),
        "name": pd.Series(name, dtype=object),
        "registered_position": np.asarray(pos, dtype=np.int64),
    })


def from_domain(records: Iterable[Record], events: Iterable[RecordEvent] = (),
                names: Mapping[str, str] | None = None) -> Population:
    """A population from the engine's own objects (tests and benchmarks). Every USCC of
    ``records`` (and of ``names``) is a subject, registered by its first record."""
    records = list(records)
    first: dict[str, int] = {}
    for r in records:
        first[r.uscc] = min(first.get(r.uscc, r.audit_position), r.audit_position)
    names = dict(names or {})
    subjects = _subjects_frame((u, names.get(u), first.get(u, 0))
                               for u in set(first) | set(names))
    columns = _Records(subjects)
    columns.add([(r.uscc, r.id, r.sector, r.code, day_number(r.decided_on),
                  day_number(r.valid_until), r.document_no, r.audit_position, r.project_code)
                 for r in records])
    events = _events_frame([(e.record_id, e.kind, e.audit_position,
                             day_number(e.repaired_on) if e.repaired_on else None)
                            for e in events])
    return Population(subjects, columns.frame(), events)


class PopulationSource(Protocol):
    """Where :func:`load` reads a population: the store's
    :class:`credit.persistence.population.PopulationRows` (``uow.population``)."""

    def subjects(self, max_position: int) -> Sequence[tuple]: ...

    def records(self, max_position: int, chunk: int) -> Iterable[Sequence[tuple]]: ...

    def events(self, max_position: int) -> Sequence[tuple]: ...


def load(source: PopulationSource, max_position: int) -> Population:
    """Everything the store knew at audit position ``max_position``: the subjects
    registered by then, their records and the events recorded by then.

    Records arrive in chunks and only compact columns are kept: a million records take
    about a hundred megabytes.
    """
    p = int(max_position)
    subjects = _subjects_frame(source.subjects(p))
    columns = _Records(subjects)
    for rows in source.records(p, _CHUNK):
        columns.add(rows)
    events = _events_frame(source.events(p))
    return Population(subjects, columns.frame(), events)
