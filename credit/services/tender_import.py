"""``credit tenders import FILE`` (WARNINGS.md §8): tenders from the trading platform's
JSON Lines export, one tender object of §2 per line, each registered exactly as
``POST /tenders`` registers it (same validation, screens and audit entries), one
transaction per tender, in file order — so a tender's cross-tender screens see the
tenders of the lines before it.

A line whose tender is already registered with the same content counts as *already
present* (importing a file again adds nothing); rejected lines go to
``<FILE>.rejects.csv`` (line, tender code, field, error, message), as ``credit import``
reports its rejected rows.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from credit.domain.json_text import parse_json
from credit.errors import Conflict, CreditError, Unavailable
from credit.spreadsheet_cells import neutral

from .context import Actor, ServiceContext
from .identity import identity_key
from .rejects_lists import check_writable
from .tender_inputs import validate_tender
from .tenders import register_tender, screen_definition, tender_row

REJECT_COLUMNS = ("line", "code", "field", "error", "message")
#: The longest line read: one tender, as one ``POST /tenders`` body (API.md §1: 413 over
#: 1 MiB).
MAX_LINE = 1024 * 1024
#: One read: a line of MAX_LINE bytes with a byte-order mark and CRLF around it.
_READ = MAX_LINE + len(codecs.BOM_UTF8) + len(b"\r\n")


@dataclass
class TenderImportSummary:
    path: Path
    screens: str
    lines: int = 0
    blank: int = 0
    registered: int = 0
    warnings: int = 0
    already_present: int = 0
    rejected: int = 0
    errors: Counter = field(default_factory=Counter)
    rejects_path: Path | None = None
    seconds: float = 0.0
    #: With ``stopped`` (a failure of the database, or of stored data): the line it
    #: stopped at; every line before it is registered, already present or rejected.
    stopped_at: int = 0
    stopped: str | None = None
    #: Whether importing the file again finishes it (the database was unreachable or
    #: busy), rather than failing at the same line.
    retry: bool = False
    #: Why the rejects list could not be written (the reasons are then lost).
    rejects_error: str | None = None

    def text(self) -> str:
        lines = [
            f"Import of tenders from {self.path.name} with {self.screens}",
            f"  lines read        {self.lines:>8,}" + (f"  ({self.blank:,} blank)"
                                                     if self.blank else ""),
            f"  registered        {self.registered:>8,}  ({self.warnings:,} warning(s) raised)",
            f"  already present   {self.already_present:>8,}  (same tender on file: nothing "
            "added)",
            f"  rejected          {self.rejected:>8,}"
            + (f"  → {self.rejects_path}" if self.rejects_path else ""),
        ]
        if self.errors:
            lines.append("      reasons: " + " · ".join(f"{k} {v:,}"
                                                      for k, v in self.errors.most_common()))
        if self.rejects_error:
            lines.append(f"  the rejects list could not be written: {self.rejects_error}")
        lines.append(f"  {self.seconds:.1f} s")
        if self.stopped:
            lines.append(self._stop_text())
        return "\n".join(lines)

    def _stop_text(self) -> str:
        text = (f"Stopped at line {self.stopped_at}: {self.stopped.rstrip('.')}. The lines "
                "before it are counted above (each tender is its own transaction); the "
                f"tender of line {self.stopped_at} may be on file (a failure during its "
                "COMMIT leaves that unknown), none after it is.")
        if self.retry:
            return text + (" Import the file again to finish: what is on file counts as "
                           "already present.")
        return text + " Find the cause (`credit audit verify`) before importing again."


class TenderImportStopped(Exception):
    """The database failed (unreachable, busy, lost) after some lines were done: the
    import stops, its rejects so far written, and ``summary`` says where."""

    def __init__(self, summary: TenderImportSummary):
        super().__init__(summary.stopped)
        self.summary = summary


def _done(summary: TenderImportSummary) -> bool:
    """Whether any line was done (registered, already present or rejected): blank lines
    do nothing, so a failure after them still imported nothing (exit 2, not 3)."""
    return bool(summary.registered or summary.already_present or summary.rejected)


def _already_present(ctx: ServiceContext, raw) -> bool:
    """Whether the tender of ``raw`` is on file with exactly this content (normalised
    input equal to its registration entry's)."""
    doc = validate_tender(raw, identity_key(ctx), ctx.clock())
    with ctx.uow(write=False) as uow:
        row = tender_row(uow, doc["code"])
        payload = uow.audit_queries.get(row.audit_position)["payload"]
    return all(payload.get(k) == v for k, v in doc.items())


def _reject(rejects: list, number: int, code, exc: CreditError) -> None:
    """One row per problem; the code and the field path are the sender's text, written
    so that a spreadsheet shows them and never runs them (as ``credit import`` does)."""
    problems = exc.errors or {"_body": [exc.message]}
    for path, messages in problems.items():
        for message in messages:
            rejects.append((number, neutral(code or ""), neutral(path), exc.error,
                            neutral(message)))


def _lines(fh) -> Iterator[tuple[int, str | None, tuple[str, str] | None]]:
    """Each line's number and text, read one at a time, split at LF only (JSON text may
    hold U+2028 or a lone CR inside a string, which ``str.splitlines`` would split at);
    a line that cannot be a tender comes with its refusal instead: over :data:`MAX_LINE`
    bytes (skipped unread, as ``POST /tenders`` refuses such a body with 413), or not
    UTF-8."""
    number = 0
    while raw := fh.readline(_READ):
        number += 1
        cut = len(raw) == _READ and not raw.endswith(b"\n")
        rest = raw
        while cut and rest and not rest.endswith(b"\n"):
            rest = fh.readline(_READ)  # the rest of the line, never held whole
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if cut or len(raw.rstrip(b"\r\n")) > MAX_LINE:
            yield number, None, ("payload_too_large", "the line is longer than 1 MiB.")
            continue
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n"), None
        except UnicodeDecodeError as exc:
            yield number, None, ("malformed_json", f"not UTF-8: {exc}")


def _refuse(rejects: list, number: int, error: str, message: str, summary) -> None:
    rejects.append((number, "", "_body", error, message))
    summary.rejected += 1
    summary.errors[error] += 1


def _one(ctx, actor, ref, number: int, text: str, summary, rejects) -> None:
    try:
        # Parsed as POST /tenders parses its body (api.http.read_json), by the same
        # function: no NaN or Infinity, no key twice in one object, and nesting too deep
        # for the parser is no tender.
        raw = parse_json(text)
    except (ValueError, RecursionError) as exc:
        _refuse(rejects, number, "malformed_json", f"not JSON: {exc}", summary)
        return
    code = raw.get("code") if isinstance(raw, dict) else None
    try:
        body = json.loads(register_tender(ctx, actor, raw, screens_ref=ref).body)
        summary.registered += 1
        summary.warnings += len(body["warnings"])
    except Conflict as exc:
        if exc.error == "duplicate_tender" and _already_present(ctx, raw):
            summary.already_present += 1
            return
        _reject(rejects, number, code, exc)
        summary.rejected += 1
        summary.errors[exc.error] += 1
    except CreditError as exc:
        if exc.status >= 500:
            raise
        _reject(rejects, number, code, exc)
        summary.rejected += 1
        summary.errors[exc.error] += 1


def import_tenders(ctx: ServiceContext, operator: str, path: str | Path,
                   screens_ref: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> TenderImportSummary:
    """Register every tender of a JSON Lines file. Raises NotFound for an unknown
    screen definition, IdentityKeyMissing and RejectsNotWritable before reading
    anything; TenderImportStopped when the database fails after a line was done (a
    failure at the first line is raised as it is: nothing was imported)."""
    started = time.monotonic()
    path = Path(path)
    definition = screen_definition(ctx, screens_ref)
    identity_key(ctx)
    rejects_path = rejects_path_of(path)
    check_writable(rejects_path)
    actor = Actor(operator, "operator")
    summary = TenderImportSummary(path=path, screens=definition.ref)
    rejects: list[tuple] = []
    total = path.stat().st_size
    with open(path, "rb") as fh:
        seekable = fh.seekable()  # a pipe (<(zcat …)) has no position to report
        for number, text, refusal in _lines(fh):
            if refusal is not None:
                _refuse(rejects, number, *refusal, summary)
            elif text.strip():
                try:
                    _one(ctx, actor, definition.ref, number, text, summary, rejects)
                except CreditError as exc:  # a failure of the service's (_one: ≥ 500)
                    if not _done(summary):  # no line done: nothing was imported
                        raise
                    summary.stopped, summary.stopped_at = exc.message, number
                    summary.retry = isinstance(exc, Unavailable)
                    _finish(summary, rejects, rejects_path, started)
                    raise TenderImportStopped(summary) from exc
            else:
                summary.blank += 1
            summary.lines += 1
            if progress and seekable:
                progress(fh.tell(), total)
    return _finish(summary, rejects, rejects_path, started)


def _write_rejects(rejects: list, rejects_path: Path) -> None:
    if rejects:
        # A rejected line may hold text with no UTF-8 form (JSON's "\ud800", which is
        # why it was rejected): written as that escape, never the end of the import.
        with open(rejects_path, "w", newline="", encoding="utf-8-sig",
                  errors="backslashreplace") as fh:
            w = csv.writer(fh)
            w.writerow(REJECT_COLUMNS)
            w.writerows(rejects)
    elif rejects_path.exists():
        rejects_path.unlink()  # a stale list from an earlier run of this file


def rejects_path_of(path: Path) -> Path:
    """``<FILE>.rejects.csv`` beside a regular file (beside the file itself for
    ``/dev/stdin`` or ``/dev/fd/N`` standing for one). A pipe (``<(zcat …)``: bash names
    the first one ``/dev/fd/63`` every time) gets a list of its own in the working
    directory, named by the run (``tenders-20260601T093000-4711.rejects.csv``), so that
    no run replaces or removes another input's list."""
    if path.is_file():
        real = path.resolve()
        return Path(f"{real if str(path).startswith(('/dev/', '/proc/')) else path}"
                    ".rejects.csv")
    stem = f"tenders-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    candidate, n = Path.cwd() / f"{stem}.rejects.csv", 1
    while candidate.exists():  # another run of this process in the same second
        n += 1
        candidate = Path.cwd() / f"{stem}-{n}.rejects.csv"
    return candidate


def _finish(summary: TenderImportSummary, rejects: list, rejects_path: Path,
            started: float) -> TenderImportSummary:
    """Write the rejects list (or remove a stale one) and time the run."""
    try:
        _write_rejects(rejects, rejects_path)
    except OSError as exc:  # after lines were registered: said, not the end of the run
        summary.rejects_error = f"{rejects_path}: {exc.strerror or exc}"
    else:
        summary.rejects_path = rejects_path if rejects else None
    summary.seconds = time.monotonic() - started
    return summary
