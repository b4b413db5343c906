"""Importing penalty and award decisions from a regulator's spreadsheet.

Every row goes through exactly the API's path for ``POST /records``:
:func:`~credit.services.records.validate_record`, then
:func:`~credit.services.records.insert_record` inside a write unit of work, which refuses
duplicates, registers new subjects, hashes the record and appends ``record.created``.
The operator named by ``--entered-by`` is the actor; ``--sector`` applies to every row.

Rows are committed in batches, one transaction each: a crash leaves whole rows or
nothing, and the append lock is released between batches so that scores served
meanwhile are not starved. A decision already on file — same (USCC, code, document
number), same content — counts as *already present*, so importing a file again adds
nothing. Rejected rows go to ``<input>.rejects.csv`` with every reason.
"""

from __future__ import annotations

import csv
import heapq
import multiprocessing
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Empty
from typing import Callable, Iterable, Iterator

from credit.errors import Conflict, CreditError, InvalidInput
from credit.services.context import Actor, ServiceContext
from credit.services.records import insert_record, validate_record
from credit.services.rejects_lists import check_writable

from . import sheets
from .cells import neutral
from .sheets import SheetProblem

#: Rows per transaction: about a quarter of a second of holding the append lock.
DEFAULT_BATCH = 1000
#: Pause after each transaction on SQLite: the append queue wakes its waiters when a
#: batch ends, but this process, asking again at once, could win the lock back before
#: them every time (flock is not first-come, first-served; PostgreSQL's lock queue is).
SQLITE_PAUSE = 0.1
#: Files from this size on are read and validated in a second process (see import_file).
PARALLEL_BYTES = 256 * 1024
REJECT_COLUMNS = ("row", "field", "error", "message")
# Fields whose rule also reads other fields (API.md §3): probed together.
_DEPENDS = {"valid_until": ("code", "decided_on"), "occurred_on": ("decided_on",)}
_COMPARED = ("subject_name", "sector", "code", "decided_on", "document_no", "issued_by",
             "project_code", "project_name", "occurred_on", "note")


@dataclass
class ImportSummary:
    """What an import did, for the one-screen report."""

    path: Path
    sector: str
    entered_by: str
    sheet: str = ""
    header_row: int = 0
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    already_revoked: int = 0
    rejected_rows: int = 0
    blank: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    first_id: int | None = None
    last_id: int | None = None
    batches: int = 0
    rejects_path: Path | None = None
    #: Why the rejects list could not be written after rows were committed (checked
    #: before the first row, so only what changed during the import).
    rejects_error: str | None = None
    seconds: float = 0.0
    #: The last row of the last committed batch (every row up to it is on file or
    #: rejected); with ``stopped``, the problem of the file found after it.
    committed_through: int = 0
    stopped: str | None = None

    def text(self) -> str:
        ids = f"  (record ids {self.first_id}–{self.last_id})" if self.imported else ""
        lines = [
            f"Import of {self.path.name} (sheet {self.sheet!r}, header on row "
            f"{self.header_row}) into sector {self.sector} as {self.entered_by}",
            f"  rows read        {self.rows:>9,}",
            f"  new records      {self.imported:>9,}{ids}",
            f"  already present  {self.already_present:>9,}  (on file before: nothing added)",
        ]
        if self.already_revoked:
            lines.append(f"  revoked on file  {self.already_revoked:>9,}  (the same decision "
                         "was revoked: not entered again; POST /records enters it anew)")
        lines.append(f"  rejected         {self.rejected_rows:>9,}"
                     + (f"  → {self.rejects_path}" if self.rejects_path else ""))
        if self.rejects_error:
            lines.append(f"  the rejects list could not be written ({self.rejects_error}); "
                         "import the file again to list them")
        if self.errors:
            lines.append("      reasons: "
                         + " · ".join(f"{k} {v:,}" for k, v in self.errors.most_common()))
        if self.blank or self.skipped:
            lines.append(f"  skipped          {self.blank + len(self.skipped):>9,}  (blank "
                         f"{self.blank:,}, titles/notes/repeated headers {len(self.skipped):,})")
        if self.ignored_columns:
            lines.append("  ignored columns: " + ", ".join(self.ignored_columns))
        lines.append(f"  {self.batches} transaction(s), {self.seconds:.1f} s")
        if self.stopped:
            lines.append(f"Stopped: {self.stopped} Rows up to row {self.committed_through} "
                         "were committed (counted above); nothing after it was imported. "
                         "Import the file again, mended if the problem was in it: what "
                         "is on file counts as already present.")
        elif self.imported == 0 and (self.already_present or self.already_revoked):
            lines.append("Nothing new: every valid row of this file was already on file.")
        return "\n".join(lines)


class ImportStopped(Exception):
    """A problem of the file as a whole (a cell past Excel's limits, broken XML) found
    after some of its rows were committed: the import stops there, and ``summary`` says
    what is on file (:attr:`ImportSummary.committed_through`)."""

    def __init__(self, summary: ImportSummary):
        super().__init__(summary.stopped)
        self.summary = summary


class _Prefetched:
    """The write unit of work of one batch, as :func:`insert_record` uses it, with its
    look-ups answered from what the batch fetched up front (one query per 500 USCCs
    instead of three per row).

    Only look-ups are shortcut, never rules: the real ``live_duplicate`` still decides
    every key the store already holds, and a key the store has never held cannot be a
    duplicate unless this batch added it. Record ids come from the real repository once,
    then count up (the append lock keeps every other writer out). Rows are flushed
    together at commit instead of one by one.
    """

    def __init__(self, uow, rows: list[dict]):
        self.audit = uow.audit
        usccs = sorted({d["uscc"] for d in rows})
        subjects = dict.fromkeys(usccs)
        subjects.update(uow.subjects.of_many(usccs))
        self.records = _Records(uow, uow.records.keys_of_subjects(usccs))
        self.subjects = _Subjects(uow, subjects)


class _Records:
    def __init__(self, uow, on_file: set[tuple[str, str, str]]):
        self._uow = uow
        self._on_file = on_file
        self._added: dict[tuple[str, str, str], object] = {}
        # What the store answered, per key: asked once per batch (revoked_alike, then
        # insert_record), with the append lock keeping every other writer out.
        self._live: dict[tuple[str, str, str], object] = {}
        self._next_id: int | None = None

    def live_duplicate(self, uscc: str, code: str, document_no: str):
        key = (uscc, code, document_no)
        if key in self._added:
            return self._added[key]
        if key not in self._on_file:
            return None
        if key not in self._live:
            self._live[key] = self._uow.records.live_duplicate(uscc, code, document_no)
        return self._live[key]

    def revoked_alike(self, data: dict, differences: Callable[[object], list]) -> bool:
        """Whether this decision is on file only as revoked records, one of them with the
        same content (``differences`` of it empty): importing the file again must not
        bring an overturned decision back. A decision that differs from every revoked
        one (the corrected decision, entered anew) is not."""
        key = (data["uscc"], data["code"], data["document_no"])
        if key not in self._on_file or self.live_duplicate(*key) is not None:
            return False
        return any(not differences(r) for r in self._uow.records.revoked_with_key(*key))

    def next_id(self) -> int:
        if self._next_id is None:
            self._next_id = self._uow.records.next_id()
        self._next_id += 1
        return self._next_id - 1

    def add(self, row):
        self._uow.records.add_unflushed(row)
        self._added[(row.uscc, row.code, row.document_no)] = row
        return row

    def get(self, record_id: int):
        return self._uow.records.get(record_id)


class _Subjects:
    def __init__(self, uow, known: dict):
        self._uow = uow
        self._known = known

    def get(self, uscc: str):
        if uscc in self._known:
            return self._known[uscc]
        return self._uow.subjects.get(uscc)

    def add(self, uscc: str, name: str, position: int):
        self._known[uscc] = self._uow.subjects.add(uscc, name, position)
        return self._known[uscc]


def _valid_template(ctx: ServiceContext, sector: str) -> dict:
    """A row the API accepts, to probe one field at a time."""
    code = next(e.code for e in ctx.models.active.catalogue.values() if not e.explicit)
    return {"uscc": "91330603MA2D4F6E84", "subject_name": "-", "sector": sector,
            "code": code, "decided_on": "2000-01-01", "document_no": "-", "issued_by": "-"}


def _field_code(ctx: ServiceContext, raw: dict, field_name: str) -> str:
    """The specific error code (``invalid_uscc``, ``unknown_code``, …) of one field of a
    row that failed on several: the API's validation of that field alone (with the
    fields its rule reads) in an otherwise valid row."""
    probe = _valid_template(ctx, raw["sector"])
    for f in (field_name, *_DEPENDS.get(field_name, ())):
        if f in raw:
            probe[f] = raw[f]
        else:
            probe.pop(f, None)
    try:
        validate_record(ctx, probe)
    except InvalidInput as exc:
        if set(exc.errors) == {field_name}:
            return exc.error
    return "validation_error"


def reject_reasons(ctx: ServiceContext, raw: dict, exc: InvalidInput) -> list[tuple]:
    """(field, error, message) for every problem the API's validation found."""
    out = []
    for field_name, messages in exc.errors.items():
        code = exc.error if len(exc.errors) == 1 else _field_code(ctx, raw, field_name)
        out.extend((field_name, code, m) for m in messages)
    return out


def _differences(row, data: dict, explicit: bool) -> list[str]:
    fields = _COMPARED + (("valid_until",) if explicit else ())
    return [f for f in fields if getattr(row, f) != data.get(f)]


def _validate_row(ctx: ServiceContext, number: int, values: dict, sector: str,
                  names: set) -> tuple[int, dict | None, list[tuple]]:
    """One row through the API's validation: ``(row, data or None, problems)``."""
    refused = {f: v for f, v in values.items() if isinstance(v, sheets.CellRefused)}
    raw = {f: v for f, v in values.items() if f not in refused}
    given = raw.pop("sector", None)
    raw["sector"] = sector
    problems = [(f, "validation_error", v.message) for f, v in refused.items()]
    if given is not None and given.strip() not in names:
        problems.append(("sector", "validation_error",
                         f"This file is imported for sector {sector!r} (--sector); the row "
                         f"says {given!r}."))
    try:
        data = validate_record(ctx, raw)
    except InvalidInput as exc:
        # A refused cell's field is named once, by why it was refused (not "missing").
        return number, None, problems + [r for r in reject_reasons(ctx, raw, exc)
                                          if r[0] not in refused]
    return number, (None if problems else data), problems


def _validated(ctx: ServiceContext, sheet: sheets.Sheet, sector: str, chunk: int):
    """The sheet's rows, validated as they are read, in chunks of ``chunk``."""
    names = {sector, ctx.models.active.names.get(sector)}
    part = []
    for number, values in sheet.rows:
        part.append(_validate_row(ctx, number, values, sector, names))
        if len(part) >= chunk:
            yield part
            part = []
    if part:
        yield part


def _read_here(ctx, path: Path, sector: str, chunk: int, limits: sheets.Limits):
    sheet = sheets.read(path, limits)
    return sheet, _validated(ctx, sheet, sector, chunk)


def _read_beside(ctx, path: Path, sector: str, chunk: int, limits: sheets.Limits):
    """Read and validate in a forked process while this one inserts: the two halves
    of an import take about as long each, and the machine has two cores."""
    reader = _Reader(ctx, path, sector, chunk, limits)
    try:
        _, sheet = reader.receive()
    except BaseException:
        reader.process.terminate()
        raise
    return sheet, reader.chunks(sheet)


def _read_and_send(queue, ctx, path: Path, sector: str, chunk: int,
                   limits: sheets.Limits) -> None:
    """In the forked reader: the sheet (its rows follow in parts of ``chunk``
    validated rows), then its blank and skipped counts; a problem with the file or a
    failure as a message instead."""
    try:
        sheet = sheets.read(path, limits)
        queue.put(("sheet", replace(sheet, rows=())))
        for part in _validated(ctx, sheet, sector, chunk):
            queue.put(("rows", part))
        queue.put(("end", (sheet.blank, sheet.skipped)))
    except SheetProblem as exc:
        queue.put(("problem", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        queue.close()
        queue.join_thread()


class _Reader:
    """The forked reading process and what the importing one receives from it."""

    def __init__(self, ctx, path: Path, sector: str, chunk: int, limits: sheets.Limits):
        mp = multiprocessing.get_context("fork")
        self.path = path
        self.queue = mp.Queue(maxsize=8)
        # Forked, so nothing is pickled: the child gets ctx as it is.
        self.process = mp.Process(target=_read_and_send, name="credit-import-reader",
                                  args=(self.queue, ctx, path, sector, chunk, limits),
                                  daemon=True)
        self.process.start()

    def receive(self) -> tuple[str, object]:
        """The next message; the reader's problem or failure raised here, and its
        unexpected end noticed within a second."""
        while True:
            try:
                kind, value = self.queue.get(timeout=1.0)
            except Empty:
                if self.process.exitcode is not None:
                    raise RuntimeError("the reading process ended unexpectedly "
                                       f"(exit code {self.process.exitcode})") from None
                continue
            if kind == "problem":
                raise SheetProblem(value)
            if kind == "failed":
                raise RuntimeError(f"reading {self.path.name} failed: {value}")
            return kind, value

    def chunks(self, sheet):
        """The validated rows in parts; at the end the sheet's blank and skipped counts
        are set on ``sheet``, and the reader is waited for (or stopped)."""
        try:
            while True:
                kind, value = self.receive()
                if kind == "end":
                    sheet.blank, sheet.skipped = value
                    return
                yield value
        finally:
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.terminate()


def write_rejects(path: Path, rejects: Iterable[tuple]) -> None:
    """``<input>.rejects.csv`` from ``(row, field, error, message)`` in row order: one
    line per problem; text cells neutralised against formula injection (:mod:`.cells`),
    as the operator opens it in Excel."""
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(REJECT_COLUMNS)
        w.writerows([neutral(v) for v in r] for r in rejects)


class _Rejects:
    """The problems of rejected rows, kept in two temporary files — those found while
    reading and those found while inserting, each in row order — and merged by row at
    the end: memory stays flat however many rows a file gets rejected."""

    STREAMS = ("read", "insert")

    def __init__(self) -> None:
        self.files = {s: tempfile.TemporaryFile("w+", newline="", encoding="utf-8")
                      for s in self.STREAMS}
        self.writers = {s: csv.writer(f) for s, f in self.files.items()}
        self.last: dict[str, int | None] = dict.fromkeys(self.STREAMS)
        self.rows = 0
        self.problems = 0

    def add(self, stream: str, number: int, field_name: str, error: str,
            message: str) -> None:
        self.writers[stream].writerow((number, field_name, error, message))
        self.problems += 1
        if self.last[stream] != number:  # a row's problems come together
            self.rows += 1
            self.last[stream] = number

    def _read(self, stream: str) -> Iterator[tuple]:
        fh = self.files[stream]
        fh.seek(0)
        return ((int(r[0]), *r[1:]) for r in csv.reader(fh))

    def write(self, path: Path) -> None:
        write_rejects(path, heapq.merge(*map(self._read, self.STREAMS),
                                        key=lambda r: r[0]))

    def save_beside(self, path: Path) -> Path | None:
        """``<input>.rejects.csv`` when a row was rejected (its path); otherwise None,
        and a stale list from an earlier run of the same file is removed."""
        rejects_path = rejects_path_of(path)
        if self.problems:
            self.write(rejects_path)
            return rejects_path
        rejects_path.unlink(missing_ok=True)
        return None

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def import_file(ctx: ServiceContext, path: str | Path, *, sector: str, entered_by: str,
                batch_size: int = DEFAULT_BATCH,
                progress: Callable[[int, int], None] | None = None,
                pause: float | None = None, parallel: bool | None = None,
                limits: sheets.Limits = sheets.DEFAULT_LIMITS) -> ImportSummary:
    """Import every row of ``path`` (``.csv``/``.xlsx``) as a record of ``sector``
    entered by the operator ``entered_by``. ``progress`` is called with the rows done and
    the rows in all after each batch. Raises :class:`sheets.SheetProblem` when the file as a
    whole cannot be read (nothing is imported then), also when it is over ``limits``
    (its uncompressed size, its number of rows: checked before any row is imported);
    :class:`ImportStopped` when such a problem is found only after a batch was committed
    (a streamed .xlsx: a cell past Excel's limits, broken XML further down).

    Rows are read, validated and inserted as they come. ``parallel`` (default: for files
    of :data:`PARALLEL_BYTES` or more, when this process runs a single thread and can
    fork) reads and validates in a second process while this one inserts; the outcome is
    the same either way.
    """
    started = time.perf_counter()
    path = Path(path)
    actor = Actor(name=entered_by, role="operator")
    if parallel is None:
        parallel = (path.is_file() and path.stat().st_size >= PARALLEL_BYTES
                    and threading.active_count() == 1)
    parallel = parallel and "fork" in multiprocessing.get_all_start_methods()
    reader = _read_beside if parallel else _read_here
    sheet, chunks = reader(ctx, path, sector, batch_size, limits)
    summary = ImportSummary(path, sector, entered_by, sheet.name, sheet.header_row,
                            ignored_columns=sheet.ignored_columns)
    check_writable(rejects_path_of(path))  # before any row: the reasons must not be lost
    rejects = _Rejects()
    try:
        return _import(ctx, path, sheet, chunks, summary, rejects, actor, batch_size,
                       progress, pause, started)
    finally:
        rejects.close()


def _import(ctx: ServiceContext, path: Path, sheet, chunks, summary: ImportSummary,
            rejects: _Rejects, actor: Actor, batch_size: int, progress, pause,
            started: float) -> ImportSummary:
    """Insert the validated rows in batches; write the rejects list."""
    if pause is None:
        pause = SQLITE_PAUSE if ctx.uow.engine.dialect.name == "sqlite" else 0.0
    batches = _Batches(ctx, summary, rejects, actor, pause)
    done = 0
    batch: list[tuple[int, dict]] = []
    try:
        for part in chunks:
            for number, data, problems in part:
                done += 1
                for field_name, error, message in problems:
                    batches.reject(number, field_name, error, message)
                if data is not None:
                    batch.append((number, data))
                if len(batch) >= batch_size:
                    batches.insert(batch)
                    batch = []
                    if progress:
                        progress(done, max(done, sheet.expected_rows))
        if batch:
            batches.insert(batch)
    except (SheetProblem, CreditError) as exc:
        # A problem of the file, or the database failing a batch: after a committed
        # batch the import stops there and says what is on file; before, it is the
        # whole file's failure (nothing was imported).
        if not summary.batches:
            raise
        summary.stopped = str(exc)
        raise ImportStopped(_finished(summary, sheet, rejects, path, done, started)) \
            from None
    if progress:
        progress(done, done)
    return _finished(summary, sheet, rejects, path, done, started)


def rejects_path_of(path: Path) -> Path:
    """``<input>.rejects.csv``, beside the imported file."""
    return Path(f"{path}.rejects.csv")


def _finished(summary: ImportSummary, sheet, rejects: _Rejects, path: Path, done: int,
              started: float) -> ImportSummary:
    summary.rows, summary.blank, summary.skipped = done, sheet.blank, sheet.skipped
    summary.rejected_rows = rejects.rows
    try:
        summary.rejects_path = rejects.save_beside(path)
    except OSError as exc:  # after rows were committed: said in the summary, not exit 2
        summary.rejects_error = f"{rejects_path_of(path)}: {exc.strerror or exc}"
    summary.seconds = time.perf_counter() - started
    return summary


class _Batches:
    """Inserts validated rows, one unit of work per batch, counting them in the summary;
    a row already on file is counted as present, or rejected if it differs."""

    def __init__(self, ctx: ServiceContext, summary: ImportSummary, rejects: _Rejects,
                 actor: Actor, pause: float):
        self.ctx, self.summary, self.rejects = ctx, summary, rejects
        self.actor, self.pause = actor, pause
        self.entry_of = ctx.models.record_entry  # an agency code too (PERFORMANCE.md §7)
        #: The rejections a batch made while inserting, listed once it is committed: a
        #: batch rolled back made none (its rows are not on file, nor said to differ).
        self._held: list[tuple] = []

    def reject(self, number: int, field_name: str, error: str, message: str,
               stream: str = "read") -> None:
        if stream == "insert":
            self._held.append((stream, number, field_name, error, message))
            return
        self.rejects.add(stream, number, field_name, error, message)
        self.summary.errors[error] += 1

    def insert(self, batch: list[tuple[int, dict]]) -> None:
        """One transaction for the batch, then a pause as long as it held the lock (at
        most ``pause``: SQLITE_PAUSE says why)."""
        held = time.perf_counter()
        s = self.summary
        counted = (s.imported, s.already_present, s.already_revoked, s.first_id, s.last_id)
        self._held = []
        try:
            with self.ctx.uow(write=True) as uow:
                store = _Prefetched(uow, [d for _, d in batch])
                for number, data in batch:
                    self._insert_row(uow, store, number, data)
                uow.commit()
        except BaseException:  # rolled back: none of the batch's rows is on file
            (s.imported, s.already_present, s.already_revoked, s.first_id,
             s.last_id) = counted
            raise
        for stream, number, field_name, error, message in self._held:
            self.rejects.add(stream, number, field_name, error, message)
            s.errors[error] += 1
        self.summary.batches += 1
        self.summary.committed_through = batch[-1][0]
        if self.pause:
            time.sleep(min(self.pause, time.perf_counter() - held))

    def _insert_row(self, uow, store: _Prefetched, number: int, data: dict) -> None:
        summary = self.summary
        explicit = self.entry_of(data["code"]).explicit
        if store.records.revoked_alike(data, lambda r: _differences(r, data, explicit)):
            summary.already_revoked += 1
            return
        try:
            row, _ = insert_record(self.ctx, store, self.actor, data)
        except Conflict as exc:
            if exc.error != "duplicate_record":
                raise
            existing = uow.records.get(exc.extra["record_id"])
            diff = _differences(existing, data, explicit)
            if diff:
                self.reject(number, "document_no", "duplicate_record",
                            f"{exc.message} It differs in {', '.join(diff)}: a record "
                            "is never changed; revoke it and enter the decision anew.",
                            stream="insert")
            else:
                summary.already_present += 1
            return
        summary.imported += 1
        summary.first_id = summary.first_id or row.id
        summary.last_id = row.id
