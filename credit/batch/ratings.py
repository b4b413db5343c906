"""Use cases of batch rating: publish the ratings of a whole population
(信用评价结果公示) and shadow-score it under a new model version before it goes live.

A run scores every subject registered as known at ``known_at`` with the batch engine,
writes the file, and appends one audit entry ``ratings.exported`` naming its
parameters, the knowledge position it used, its row count and the SHA-256 of the
file — not one trace per subject. The file appears under its name only once that entry
is committed.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from credit.domain.dates import format_instant
from credit.domain.model import ScoringModel
from credit.domain.money import fmt
from credit.domain.records import Knowledge
from credit.domain.trace import model_ref
from credit.errors import InvalidInput, RuleViolation
from credit.services.context import ServiceContext
from credit.services.scoring import CLOCK_SKEW, check_known_at, check_sector_rated

from . import export, plots
from .cells import money_numbers, xlsx_row
from .population import Population, load
from .vector import Ratings, money_text, rate


def knowledge(ctx: ServiceContext, known_at: datetime | None = None) -> Knowledge:
    """What a run knows. By default everything on file: the newest audit entry, at its
    own instant (数据截至) — no later entry can share that instant, so the run replays
    exactly. An explicit ``known_at`` is resolved under the append lock, as for a served
    score, so that everything up to it is committed and seen; one not yet past by the
    clock skew the service allows is refused (a later writer's ``at`` could fall at or
    before it)."""
    if known_at is None:
        with ctx.uow(write=False) as uow:
            head = uow.audit.head()
        at = head.at() or ctx.clock()
        return Knowledge(head.position, at)
    check_known_at(ctx, known_at)
    with ctx.uow(write=True) as uow:  # only to hold the lock; writes nothing
        if known_at > uow.audit.next_at() - CLOCK_SKEW:
            # A served score stamps its own entry at such a known_at, so that nothing
            # later can be known at it; a run appends its entry only after rating, by
            # which time a writer whose clock is behind ours (by up to the skew API.md
            # §4 tolerates) could have stamped a record at or before known_at.
            raise RuleViolation(
                f"--known-at {format_instant(known_at)} is not past by the clock skew the "
                f"service allows ({CLOCK_SKEW.total_seconds():.0f} s) yet: a run rates what "
                "was known at an instant already gone (give an earlier one, or none for "
                "everything on file).", error="known_at_in_future")
        return Knowledge(uow.audit.position_known_at(known_at), known_at)


def load_population(ctx: ServiceContext, position: int) -> Population:
    with ctx.uow(write=False) as uow:
        return load(uow.population, position)


def _check_out(out: Path, allowed: tuple[str, ...]) -> str:
    suffix = out.suffix.lower()
    if suffix not in allowed:
        raise InvalidInput(f"{out.name}: the output must end in {', '.join(allowed)}.",
                           errors={"out": [f"must end in {', '.join(allowed)}."]})
    return suffix


def _check_folders(**paths: Path | None) -> None:
    """Each output's folder exists and no two outputs are one file, checked before
    anything is computed or written (a file that then cannot be staged would only fail
    after the whole rating; a plot over the data file would replace it after the run was
    logged)."""
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        if not path.parent.is_dir():
            raise InvalidInput(f"{path}: the folder {path.parent} does not exist.",
                               errors={option: ["no such folder"]})
        same = seen.setdefault(path.resolve(), option)
        if same != option:
            raise InvalidInput(f"{path}: --{option} names the file --{same} writes.",
                               errors={option: [f"is the file of --{same}"]})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _staging(path: Path, option: str) -> Path:
    """The temporary name of one output (its own per option: two never share one)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{option}.partial{path.suffix}")


def _stage(tmp: Path, final: Path, option: str) -> None:
    """Create the staging file: a folder that takes no file (``/proc``, read-only) fails
    here, before a writer starts, and the operator is told the name they gave, not the
    staging name they never chose."""
    try:
        tmp.touch()
    except OSError as exc:
        raise InvalidInput(f"{final}: cannot write a file there ({exc.strerror or exc}).",
                           errors={option: ["cannot be written"]}) from None


def _publish(ctx: ServiceContext, actor: str, out: Path, write: Callable[[Path], None],
             payload: dict, plot: Path | None, draw: Callable[[Path], None] | None) -> dict:
    """Write the file (and plot) under temporary names, append ``ratings.exported`` with
    their hashes, then move them into place: a file under its name is always logged."""
    # (file, its writer, the payload key of its hash, the option that named it)
    files = [(out, write, "sha256", "out")] + (
        [(plot, draw, "plot_sha256", "plot")] if plot else [])
    staged = []
    try:
        for final, writer, key, option in files:
            tmp = _staging(final, option)
            _stage(tmp, final, option)
            staged.append((tmp, final))
            writer(tmp)
            payload[key] = _sha256(tmp)
        payload["file"] = out.name
        if plot:
            payload["plot"] = plot.name
        with ctx.uow(write=True) as uow:
            entry = uow.audit.append("ratings.exported", actor, payload)
            uow.commit()
        for tmp, final in staged:
            os.replace(tmp, final)
        return entry
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def grade_counts(model: ScoringModel, grades) -> dict[str, int]:
    counts = Counter(grades)
    return {g: int(counts.get(g, 0)) for g in model.grades_best_first}


@dataclass
class Export:
    """What ``rate-all`` wrote and logged."""

    path: Path
    rows: int
    sha256: str
    knowledge: Knowledge
    model: ScoringModel
    grades: dict[str, int]
    entry: dict
    plot: Path | None = None

    def text(self) -> str:
        grades = " · ".join(f"{g} {n:,}" for g, n in self.grades.items())
        return (f"{self.rows:,} subjects rated with {self.model.ref} as known at "
                f"{format_instant(self.knowledge.known_at)} (audit position "
                f"{self.knowledge.position}) → {self.path}\n  grades: {grades}\n"
                f"  sha256 {self.sha256}, logged as audit entry {self.entry['position']}"
                + (f"\n  plot → {self.plot}" if self.plot else ""))


def rate_all(ctx: ServiceContext, actor: str, *, sector: str, as_of: date, out: str | Path,
             known_at: datetime | None = None, model: str | None = None,
             plot: str | Path | None = None) -> Export:
    """Rate every subject registered as known at ``known_at`` and write the table to
    ``out`` (``.csv``, ``.xlsx`` or ``.parquet``), sorted by USCC."""
    scoring = ctx.model(model)
    out, plot = Path(out), Path(plot) if plot else None
    suffix = _check_out(out, export.FORMATS)
    _check_folders(out=out, plot=plot)
    check_sector_rated(scoring, sector)
    k = knowledge(ctx, known_at)
    ratings = rate(scoring, load_population(ctx, k.position), sector, as_of, k.position)
    table = export.ratings_table(ratings, k.known_at)
    grades = grade_counts(scoring, table["grade"])
    payload = {
        "command": "rate-all", "sector": sector, "as_of": as_of.isoformat(),
        "known_at": format_instant(k.known_at), "knowledge_position": k.position,
        "model": model_ref(scoring), "rows": len(table), "grades": grades,
        "format": suffix.lstrip("."),
    }
    title = (f"{scoring.ref} · {sector} · as of {as_of.isoformat()} · "
             f"{len(table):,} enterprises")
    entry = _publish(ctx, actor, out, lambda p: export.WRITERS[suffix](table, p), payload,
                     plot, lambda p: plots.grade_distribution(
                         p, list(grades), list(grades.values()), title))
    return Export(out, len(table), payload["sha256"], k, scoring, grades, entry, plot)


# ---- model impact analysis ----------------------------------------------------------

CHANGED_COLUMNS = (
    ("uscc", "统一社会信用代码"), ("name", "企业名称"),
    ("score_from", "原信用分"), ("score_to", "新信用分"), ("delta", "分数变化"),
    ("grade_from", "原信用等级"), ("grade_to", "新信用等级"),
    ("eligible_from", "原可否投标"), ("eligible_to", "新可否投标"),
    ("bid_points_from", "原信用得分"), ("bid_points_to", "新信用得分"),
    ("measures_from", "原惩戒措施"), ("measures_to", "新惩戒措施"),
)
PRINTED_CHANGES = 50


@dataclass
class Comparison:
    """Shadow scoring of one population under two model versions."""

    before: Ratings
    after: Ratings
    knowledge: Knowledge
    subjects: pd.DataFrame      # one row per subject, both results (money in cents)
    migration: pd.DataFrame     # subjects by grade before (rows) and after (columns)
    distribution: pd.DataFrame  # score change (cents) → subjects
    changed: pd.DataFrame       # the subjects whose grade or eligibility changes
    grades: list[str]           # both models' grades, best first
    path: Path | None = None
    entry: dict | None = None
    plot: Path | None = None

    def stats(self) -> dict[str, str | int]:
        delta = self.subjects["delta"].to_numpy()
        n = len(delta)
        mean = (Decimal(int(delta.sum())) / n / 100).quantize(Decimal("0.01"), ROUND_HALF_UP) \
            if n else Decimal(0)
        return {
            "subjects": n,
            "increased": int((delta > 0).sum()),
            "unchanged": int((delta == 0).sum()),
            "decreased": int((delta < 0).sum()),
            "min": money_text([delta.min()])[0] if n else "0.00",
            "max": money_text([delta.max()])[0] if n else "0.00",
            "mean": fmt(mean),
            "grade_changed": int((self.subjects["grade_from"] != self.subjects["grade_to"]).sum()),
            "lose_eligibility": int((self.subjects["eligible_from"]
                                     & ~self.subjects["eligible_to"]).sum()),
            "gain_eligibility": int((~self.subjects["eligible_from"]
                                     & self.subjects["eligible_to"]).sum()),
        }

    def text(self) -> str:
        a, b = self.before.model.ref, self.after.model.ref
        s = self.stats()
        lines = [
            f"Model comparison {a} → {b}: sector {self.before.sector}, as of "
            f"{self.before.as_of.isoformat()}, known at "
            f"{format_instant(self.knowledge.known_at)} (audit position "
            f"{self.knowledge.position}), {s['subjects']:,} subjects",
            "",
            f"Grade migration (rows: {a}, columns: {b}):",
            self.migration.to_string(),
            "",
            f"Score change ({b} − {a}): {s['increased']:,} up, {s['unchanged']:,} unchanged, "
            f"{s['decreased']:,} down; min {s['min']}, max {s['max']}, mean {s['mean']}",
        ]
        moved = self.distribution[self.distribution.index != 0]
        if len(moved):
            pairs = zip(money_text(moved.index), moved["subjects"], strict=True)
            lines.append("  " + " · ".join(f"{t}: {n:,}" for t, n in pairs))
        lines += [
            f"Eligibility: {s['lose_eligibility']:,} lose it, {s['gain_eligibility']:,} gain it; "
            f"grade changes for {s['grade_changed']:,}.",
            "",
            f"{len(self.changed):,} enterprises change grade or eligibility"
            + (":" if len(self.changed) else "."),
        ]
        shown = _changed_lines(self.changed.head(PRINTED_CHANGES))
        if len(shown):
            lines.append(shown.to_string(index=False))
        if len(self.changed) > PRINTED_CHANGES:
            lines.append(f"… and {len(self.changed) - PRINTED_CHANGES:,} more"
                         + (f" in {self.path}" if self.path else ""))
        if self.path:
            lines.append(f"Written to {self.path} (audit entry {self.entry['position']})"
                         + (f"; plot {self.plot}" if self.plot else ""))
        return "\n".join(lines)


def _changed_text(changed: pd.DataFrame) -> pd.DataFrame:
    out = changed.copy()
    for col in ("score_from", "score_to", "delta", "bid_points_from", "bid_points_to"):
        out[col] = money_text(changed[col]).to_numpy()
    for col in ("eligible_from", "eligible_to"):
        out[col] = np.where(changed[col].to_numpy(), "是", "否")
    return out


def _changed_lines(changed: pd.DataFrame) -> pd.DataFrame:
    """The changed enterprises as a narrow table for the terminal."""
    t = _changed_text(changed)
    return pd.DataFrame({
        "uscc": t["uscc"], "name": t["name"],
        "score": t["score_from"] + " → " + t["score_to"],
        "grade": t["grade_from"] + " → " + t["grade_to"],
        "可否投标": t["eligible_from"] + " → " + t["eligible_to"],
    })


def compare(before: Ratings, after: Ratings, k: Knowledge) -> Comparison:
    """Grade migration, score changes and the enterprises that change grade or
    eligibility, between two ratings of the same population."""
    fa, fb = before.frame, after.frame
    subjects = pd.DataFrame({
        "uscc": fa["uscc"].to_numpy(dtype=object), "name": fa["name"].to_numpy(dtype=object),
        "score_from": fa["score"].to_numpy(), "score_to": fb["score"].to_numpy(),
        "delta": fb["score"].to_numpy() - fa["score"].to_numpy(),
        "grade_from": fa["grade"].to_numpy(dtype=object),
        "grade_to": fb["grade"].to_numpy(dtype=object),
        "eligible_from": fa["eligible_to_bid"].to_numpy(),
        "eligible_to": fb["eligible_to_bid"].to_numpy(),
        "bid_points_from": fa["bid_points"].to_numpy(),
        "bid_points_to": fb["bid_points"].to_numpy(),
        "measures_from": fa["measures"].to_numpy(dtype=object),
        "measures_to": fb["measures"].to_numpy(dtype=object),
    })
    grades = list(before.model.grades_best_first)
    grades += [g for g in after.model.grades_best_first if g not in grades]
    migration = pd.crosstab(pd.Categorical(subjects["grade_from"], categories=grades),
                            pd.Categorical(subjects["grade_to"], categories=grades),
                            dropna=False)
    migration.index.name, migration.columns.name = before.model.ref, after.model.ref
    migration.index, migration.columns = list(grades), list(grades)
    migration["total"] = migration.sum(axis=1)
    migration.loc["total"] = migration.sum(axis=0)
    distribution = subjects["delta"].value_counts().sort_index().to_frame("subjects")
    distribution.index.name = "delta"
    changed = subjects[(subjects["grade_from"] != subjects["grade_to"])
                       | (subjects["eligible_from"] != subjects["eligible_to"])]
    return Comparison(before, after, k, subjects, migration, distribution,
                      changed.reset_index(drop=True), grades)


def _changed_cells(changed: pd.DataFrame) -> pd.DataFrame:
    """The changed enterprises as .xlsx cells: money as numbers, 是/否, texts as they
    are (neutralised when written)."""
    out = changed.copy()
    for col in ("score_from", "score_to", "delta", "bid_points_from", "bid_points_to"):
        out[col] = money_numbers(changed[col])
    for col in ("eligible_from", "eligible_to"):
        out[col] = np.where(changed[col].to_numpy(), "是", "否")
    return out[[k for k, _ in CHANGED_COLUMNS]]


def _comparison_sheets(c: Comparison) -> dict[str, list[list]]:
    """The four sheets of the comparison workbook, as rows of cell values (money as
    Decimal numbers, texts not yet neutralised)."""
    a, b = c.before.model, c.after.model
    s = c.stats()
    overview = [
        ("原模型", a.ref), ("新模型", b.ref), ("行业", c.before.sector),
        ("评价日期", c.before.as_of.isoformat()),
        ("数据截至", format_instant(c.knowledge.known_at)),
        ("审计位置", c.knowledge.position), ("企业数", s["subjects"]),
        ("分数上升", s["increased"]), ("分数不变", s["unchanged"]), ("分数下降", s["decreased"]),
        ("最大降幅", Decimal(s["min"])), ("最大升幅", Decimal(s["max"])),
        ("平均变化", Decimal(s["mean"])),
        ("等级变化企业数", s["grade_changed"]), ("失去投标资格", s["lose_eligibility"]),
        ("恢复投标资格", s["gain_eligibility"]),
    ]
    migration = c.migration.rename(index={"total": "合计"}, columns={"total": "合计"})
    corner = f"原等级（{a.ref}）＼新等级（{b.ref}）"
    changes = zip(money_numbers(c.distribution.index), c.distribution["subjects"], strict=True)
    return {
        "概要": [["项目", "值"], *map(list, overview)],
        "等级迁移": [[corner, *migration.columns]]
        + [[grade, *counts] for grade, counts in zip(
            migration.index, migration.to_numpy().tolist(), strict=True)],
        "分数变化分布": [["分数变化", "企业数"], *map(list, changes)],
        "等级或资格变化企业": [[zh for _, zh in CHANGED_COLUMNS]]
        + [list(r) for r in _changed_cells(c.changed).itertuples(index=False, name=None)],
    }


def _write_comparison(c: Comparison, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for name, rows in _comparison_sheets(c).items():
        ws = wb.create_sheet(name)
        for values in rows:
            ws.append(xlsx_row(ws, values))
    wb.save(path)


def compare_models(ctx: ServiceContext, actor: str, *, before: str, after: str, sector: str,
                   as_of: date, out: str | Path | None = None,
                   known_at: datetime | None = None,
                   plot: str | Path | None = None) -> Comparison:
    """Shadow-score the population under ``before`` and ``after`` (``id@version``) as
    known at the same instant; with ``out``, write the comparison to ``.xlsx`` and log
    it like any export of ratings."""
    m1, m2 = ctx.model(before), ctx.model(after)
    out, plot = (Path(out) if out else None), (Path(plot) if plot else None)
    if out:
        _check_out(out, (".xlsx",))
    _check_folders(out=out, plot=plot)
    check_sector_rated(m1, sector)
    check_sector_rated(m2, sector)
    k = knowledge(ctx, known_at)
    population = load_population(ctx, k.position)
    c = compare(rate(m1, population, sector, as_of, k.position),
                rate(m2, population, sector, as_of, k.position), k)
    if out is None:
        return c
    s = c.stats()
    payload = {
        "command": "compare-models", "sector": sector, "as_of": as_of.isoformat(),
        "known_at": format_instant(k.known_at), "knowledge_position": k.position,
        "model": model_ref(m1), "compared_with": model_ref(m2), "rows": s["subjects"],
        "changed": len(c.changed), "format": "xlsx",
    }
    before_counts = c.migration.loc[c.grades, "total"].tolist()
    after_counts = c.migration.loc["total", c.grades].tolist()
    title = (f"{m1.ref} → {m2.ref} · {sector} · as of {as_of.isoformat()} · "
             f"{s['subjects']:,} enterprises")
    c.entry = _publish(ctx, actor, out, lambda p: _write_comparison(c, p), payload, plot,
                       lambda p: plots.comparison(p, c.grades, before_counts,
                                                  after_counts, c.subjects["delta"].to_numpy(),
                                                  (m1.ref, m2.ref), title))
    c.path, c.plot = out, plot
    return c
