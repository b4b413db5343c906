"""The batch engine: MODEL.md §2–8 for every subject of a population at once.

Column by column over the whole record table, never subject by subject. Money is held
as whole cents in ``int64`` (the model loader guarantees that every quantity and every
points × factor product is exact to the cent), dates as day numbers, so every step is
exact integer arithmetic; only bid points (§7) are rounded, half-up, from an exact
integer fraction. The single-subject engine :func:`credit.domain.engine.evaluate` is the
normative implementation; this one must agree with it to the cent for every subject
(``tests/unit/test_batch_vector.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from credit.domain.model import SECTORS, ScoringModel
from credit.domain.money import fmt

from .population import NO_REPAIR, Population, day_date, day_number

MARKET, SITE, GOOD = 0, 1, 2
_CATEGORY = {"market": MARKET, "site": SITE, "good": GOOD}
#: "No such date" in per-subject maxima (earlier than any real day number).
NO_DATE = np.int64(-(1 << 40))


def cents(value: Decimal) -> int:
    """Whole cents of an amount exact to the cent."""
    c = value * 100
    if c != c.to_integral_value():
        raise ValueError(f"{value} is not exact to the cent")
    return int(c)


def money_text(values) -> pd.Series:
    """Cents as the spec writes money (``"92.50"``, ``"-8.00"``, never ``"-0.00"``),
    formatted once per distinct value with :func:`credit.domain.money.fmt`."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.int64))
    labels = np.array([fmt(Decimal(int(u)).scaleb(-2)) for u in uniques], dtype=object)
    return pd.Series(labels[codes] if len(codes) else [], dtype=object)


def date_text(days) -> pd.Series:
    """Day numbers as ``YYYY-MM-DD``; :data:`NO_DATE` (or NA) as null."""
    days = pd.array(days, dtype="Int64")
    codes, uniques = pd.factorize(days, use_na_sentinel=True)
    labels = [None if u == NO_DATE else day_date(u).isoformat() for u in uniques]
    labels = np.array(labels + [None], dtype=object)
    return pd.Series(labels[codes], dtype=object)


def add_months(days: np.ndarray, months: np.ndarray) -> np.ndarray:
    """MODEL.md §2 ``add_months`` on day numbers: same day of month ``months`` later,
    clamped to the last day of the target month."""
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    day0 = (d - month.astype("datetime64[D]")).astype(np.int64)  # 0-based day of month
    target = month.astype(np.int64) + months
    start = target.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    following = (target + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return start + np.minimum(day0, following - start - 1)


@dataclass(frozen=True)
class _Codes:
    """The model's numbers for each behaviour code of a population (by category code)."""

    category: np.ndarray
    good: np.ndarray
    serious: np.ndarray
    explicit: np.ndarray
    months: np.ndarray
    points: np.ndarray
    same: np.ndarray      # contribution in the record's own sector, cents
    other: np.ndarray     # contribution in another sector, cents
    blacklist: np.ndarray
    bid_ban: np.ndarray
    pair: np.ndarray
    family: np.ndarray
    code_rank: np.ndarray  # order of the code text (reasons tie-break)
    names: tuple[str, ...]


def _codes(model: ScoringModel, names: list[str]) -> _Codes:
    """Per code of the population, what the model says of it (a code the model does not
    know gets zeros here and is masked by :func:`_in_model`)."""
    families: dict[str | None, int] = {None: -1}
    cols: dict[str, list] = {k: [] for k in _Codes.__dataclass_fields__ if k not in
                             ("code_rank", "names")}
    for name in names:
        e = model.catalogue.get(name)
        if e is None:  # not in the model's catalogue: masked by _in_model, never read
            for k in cols:
                cols[k].append(0)
            continue
        same, other = model.sector_factors["good" if e.is_good else e.tier]
        cols["category"].append(_CATEGORY[e.category])
        cols["good"].append(e.is_good)
        cols["serious"].append(e.tier == "serious")
        cols["explicit"].append(e.explicit)
        cols["months"].append(e.validity_months or 0)
        cols["points"].append(cents(e.points))
        cols["same"].append(cents(e.points * same))
        cols["other"].append(cents(e.points * other))
        cols["blacklist"].append("blacklist" in e.flags)
        cols["bid_ban"].append("bid_ban" in e.flags)
        cols["pair"].append("pair_rule" in e.flags)
        cols["family"].append(families.setdefault(e.family, len(families) - 1))
    dtypes = {"good": bool, "serious": bool, "explicit": bool, "blacklist": bool,
              "bid_ban": bool, "pair": bool}
    arrays = {k: np.asarray(v, dtype=dtypes.get(k, np.int64)) for k, v in cols.items()}
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.asarray(names, dtype=object), kind="stable")] = np.arange(len(names))
    return _Codes(**arrays, code_rank=rank, names=tuple(names))


def _group_max(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, NO_DATE, dtype=np.int64)
    np.maximum.at(out, groups, values)
    return out


def _group_sum(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, groups, values)
    return out


def _rank_within(groups_sorted: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of an already sorted array."""
    n = len(groups_sorted)
    idx = np.arange(n)
    starts = np.ones(n, dtype=bool)
    starts[1:] = groups_sorted[1:] != groups_sorted[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


@dataclass(frozen=True)
class Ratings:
    """The result of MODEL.md §5–8 for every subject of a population.

    ``frame``: one row per subject (same order as ``Population.subjects``): ``uscc``,
    ``name``, ``score``, ``market``, ``site``, ``good``, ``bid_points`` and
    ``inspection_multiplier`` in cents; ``grade``; ``eligible_to_bid``; ``blacklist``,
    ``bid_ban``, ``key_supervision`` with ``blacklist_until`` / ``bid_ban_until`` (day
    numbers, :data:`NO_DATE` when absent); ``measures`` and ``reasons`` as text.
    ``reasons``: the record reasons of §8, one row each (``subject``, ``rank``,
    ``record_id``, ``code``, ``sector``, ``contribution``, ``valid_until``), after the
    measure reasons that precede them.
    """

    model: ScoringModel
    sector: str
    as_of: date
    position: int
    frame: pd.DataFrame
    reasons: pd.DataFrame


@dataclass(frozen=True)
class _Known:
    """The records known at the rated position, one array element per record."""

    subject: np.ndarray       # row of Population.subjects
    rid: np.ndarray
    sector: np.ndarray        # index into SECTORS
    code: np.ndarray          # category code of Population.records["code"]
    decided: np.ndarray       # day numbers
    stored_until: np.ndarray  # valid_until as entered or computed at entry
    doc: np.ndarray           # document_no rank
    pos: np.ndarray           # audit position
    project: np.ndarray       # trimmed project code id, -1: none


@dataclass(frozen=True)
class _Measures:
    """MODEL.md §6 per subject: listing, bid ban (with their ends, NO_DATE when absent)
    and the number of serious records that count."""

    listed: np.ndarray
    blacklist_until: np.ndarray
    bid_ban: np.ndarray
    bid_ban_until: np.ndarray
    serious: np.ndarray


def _known_records(population: Population, position: int) -> _Known:
    """The records with an audit position ≤ ``position``."""
    rec = population.records
    rows = np.flatnonzero(rec["audit_position"].to_numpy() <= position)
    return _Known(
        subject=rec["subject"].to_numpy()[rows],
        rid=rec["id"].to_numpy()[rows],
        sector=rec["sector"].cat.codes.to_numpy().astype(np.int64)[rows],
        code=rec["code"].cat.codes.to_numpy().astype(np.int64)[rows],
        decided=rec["decided"].to_numpy()[rows],
        stored_until=rec["valid_until"].to_numpy()[rows],
        doc=rec["document_rank"].to_numpy()[rows],
        pos=rec["audit_position"].to_numpy()[rows],
        project=rec["project"].to_numpy()[rows],
    )


def _events_known(population: Population, k: _Known, position: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """§2: per record, whether a revocation is known at ``position``, and the date of
    the first repair known then (:data:`NO_REPAIR` when none)."""
    ev = population.events
    ev = ev[ev["audit_position"].to_numpy() <= position]
    index = pd.Index(k.rid)
    revoked = np.zeros(len(k.rid), dtype=bool)
    revoked_at = index.get_indexer(ev.loc[ev["revocation"], "record_id"].to_numpy())
    revoked[revoked_at[revoked_at >= 0]] = True
    repairs = ev[~ev["revocation"]].sort_values("audit_position", kind="stable")
    repairs = repairs.drop_duplicates("record_id", keep="first")
    repaired_on = np.full(len(k.rid), NO_REPAIR, dtype=np.int64)
    at = index.get_indexer(repairs["record_id"].to_numpy())
    repaired_on[at[at >= 0]] = repairs["repaired_on"].to_numpy()[at >= 0]
    return revoked, repaired_on


def _validity(c: _Codes, k: _Known, repaired_on: np.ndarray) -> np.ndarray:
    """§2: the effective last day of each record — the scoring model's default
    validity (explicit codes keep the regulator's date), ended the day before a
    repair."""
    explicit = c.explicit[k.code]
    original = np.where(explicit, k.stored_until,
                        add_months(k.decided, np.where(explicit, 0, c.months[k.code])) - 1)
    return np.minimum(original, repaired_on - 1)


def _superseded(c: _Codes, k: _Known, counts: np.ndarray) -> np.ndarray:
    """§4: among the good records of one subject, sector, project and family that
    count, only the best counts (points, then earlier decision, document, position)."""
    cand = np.flatnonzero(counts & c.good[k.code] & (k.project >= 0))
    superseded = np.zeros(len(k.rid), dtype=bool)
    if len(cand):
        code = k.code[cand]
        order = np.lexsort((k.pos[cand], k.doc[cand], k.decided[cand], -c.points[code],
                            c.family[code], k.project[cand], k.sector[cand], k.subject[cand]))
        ranked = cand[order]
        key = np.stack([k.subject[ranked], k.sector[ranked], k.project[ranked],
                        c.family[k.code[ranked]]])
        first = np.ones(len(ranked), dtype=bool)
        first[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
        superseded[ranked[~first]] = True
    return superseded


def _contributions(model: ScoringModel, c: _Codes, k: _Known, active: np.ndarray,
                   sector: str, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """§3, §5: each record's contribution (cents; 0 unless active) and per subject the
    components, the capped bonus and the score (bonus cap, floor)."""
    same_sector = k.sector == SECTORS.index(sector)
    contribution = np.where(active, np.where(same_sector, c.same[k.code], c.other[k.code]), 0)
    category = c.category[k.code]
    positive = _group_sum(k.subject, np.maximum(contribution, 0), n)
    deduction = _group_sum(k.subject, np.minimum(contribution, 0), n)
    bonus = np.minimum(positive, cents(model.bonus_cap))
    return contribution, {
        "score": np.maximum(cents(model.floor), cents(model.base) + bonus + deduction),
        "market": _group_sum(k.subject, np.where(category == MARKET, contribution, 0), n),
        "site": _group_sum(k.subject, np.where(category == SITE, contribution, 0), n),
        "good": bonus,
    }


def _measures(model: ScoringModel, c: _Codes, k: _Known, counts: np.ndarray,
              effective: np.ndarray, n: int) -> _Measures:
    """§6: listing (L1 flag, L2 pair rule) and bid ban in every sector, with their
    ends; serious records that count, for key supervision."""
    l1 = counts & c.blacklist[k.code]
    l1_until = _group_max(k.subject[l1], effective[l1], n)
    pair_until = _pair_until(k.subject, k.decided, effective, counts & c.pair[k.code],
                             model.pair_window_days, n)
    listed = (l1_until != NO_DATE) | (pair_until != NO_DATE)
    blacklist_until = np.where(listed, np.maximum(l1_until, pair_until), NO_DATE)
    bans = counts & c.bid_ban[k.code]
    ban_until = _group_max(k.subject[bans], effective[bans], n)
    bid_ban = listed | (ban_until != NO_DATE)
    bid_ban_until = np.where(bid_ban, np.maximum(blacklist_until, ban_until), NO_DATE)
    serious = np.bincount(k.subject[counts & c.serious[k.code]], minlength=n)
    return _Measures(listed, blacklist_until, bid_ban, bid_ban_until, serious)


def _grading(model: ScoringModel, score: np.ndarray, m: _Measures
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """§6: grade (the listed grade when blacklisted), key supervision and the
    inspection multiplier (cents) per subject."""
    grades = np.array([b.grade for b in model.bands] + [model.listed_grade], dtype=object)
    band = np.full(len(score), len(model.bands) - 1, dtype=np.int64)
    for i in range(len(model.bands) - 1, -1, -1):
        band = np.where(score >= cents(model.bands[i].min_score), i, band)
    grade_index = np.where(m.listed, len(model.bands), band)
    key_grades = np.array([g in model.key_supervision_grades for g in grades])
    key = key_grades[grade_index] | (m.serious >= model.key_supervision_min_serious)
    by_grade = np.array([cents(model.multipliers[g]) for g in grades], dtype=np.int64)
    multiplier = np.where(key, np.maximum(by_grade[grade_index],
                                          cents(model.key_supervision_min_multiplier)),
                          by_grade[grade_index])
    return grades[grade_index], key, multiplier


def _bid_points(model: ScoringModel, score: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """§7: credit_weight × clamp((score − floor)/(full − floor), 0, 1), rounded half-up
    to cents once, from the exact integer fraction; 0 when not eligible."""
    floor_c, full_c = cents(model.bid_floor), cents(model.bid_full)
    span = full_c - floor_c
    num = cents(model.credit_weight) * (np.clip(score, floor_c, full_c) - floor_c)
    return np.where(eligible, (2 * num + span) // (2 * span), 0)


def _record_reasons(model: ScoringModel, c: _Codes, k: _Known, active: np.ndarray,
                    contribution: np.ndarray, effective: np.ndarray, m: _Measures
                    ) -> tuple[pd.DataFrame, np.ndarray]:
    """§8: the harmful records that are reasons, after the measure reasons, at most
    ``max_reasons`` in all per subject; with the row of each reason's record."""
    measure_reasons = m.listed.astype(np.int64) + m.bid_ban.astype(np.int64)
    slots = np.maximum(model.max_reasons - measure_reasons, 0)
    harm = np.flatnonzero(active & (contribution < 0))
    order = np.lexsort((k.pos[harm], c.code_rank[k.code[harm]], k.doc[harm],
                        -k.decided[harm], contribution[harm], k.subject[harm]))
    harm = harm[order]
    rank = _rank_within(k.subject[harm])
    keep = rank < slots[k.subject[harm]]
    harm, rank = harm[keep], rank[keep]
    reasons = pd.DataFrame({
        "subject": k.subject[harm],
        "rank": rank,
        "record_id": k.rid[harm],
        "code": pd.Categorical.from_codes(k.code[harm], categories=list(c.names)),
        "sector": pd.Categorical.from_codes(k.sector[harm], categories=list(SECTORS)),
        "contribution": contribution[harm],
        "valid_until": effective[harm],
    })
    return reasons, harm


def rate(model: ScoringModel, population: Population, sector: str, as_of: date,
         position: int) -> Ratings:
    """Score every subject of ``population`` in ``sector`` on ``as_of`` as known at
    audit position ``position`` (every record and event with a position ≤ it)."""
    if sector not in model.sectors:
        raise ValueError(f"unknown sector {sector!r}")
    n = len(population.subjects)
    k = _known_records(population, position)
    c = _codes(model, list(population.records["code"].cat.categories))
    t = day_number(as_of)
    revoked, repaired_on = _events_known(population, k, position)
    effective = _validity(c, k, repaired_on)
    counts = ~revoked & (k.decided <= t) & (t <= effective)
    counts &= _in_model(model, c.names)[k.code]  # PERFORMANCE.md §5: not_in_model
    active = counts & ~_superseded(c, k, counts)
    contribution, parts = _contributions(model, c, k, active, sector, n)
    m = _measures(model, c, k, counts, effective, n)
    grade, key, multiplier = _grading(model, parts["score"], m)
    eligible = ~m.bid_ban
    reasons, harm = _record_reasons(model, c, k, active, contribution, effective, m)
    other_sector = k.sector[harm] != SECTORS.index(sector)
    frame = pd.DataFrame({
        "uscc": population.subjects["uscc"].to_numpy(),
        "name": population.subjects["name"].to_numpy(),
        **parts,
        "grade": grade,
        "eligible_to_bid": eligible,
        "bid_points": _bid_points(model, parts["score"], eligible),
        "inspection_multiplier": multiplier,
        "blacklist": m.listed,
        "blacklist_until": m.blacklist_until,
        "bid_ban": m.bid_ban,
        "bid_ban_until": m.bid_ban_until,
        "key_supervision": key,
        "measures": _measures_text(m.listed, m.blacklist_until, m.bid_ban, m.bid_ban_until,
                                   key),
        "reasons": _reasons_text(reasons, c, 2 * k.code[harm] + other_sector, n,
                                 model.max_reasons),
    })
    return Ratings(model, sector, as_of, position, frame, reasons)


def _in_model(model: ScoringModel, names) -> np.ndarray:
    """PERFORMANCE.md §5 (``not_in_model``): per code of the population, whether the model
    knows it. A record of a code it does not know never counts: no contribution, no
    listing, no ban, no serious record, no reason, no de-duplication — as in the engine."""
    return np.fromiter((name in model.catalogue for name in names), dtype=bool,
                       count=len(names))


def _pair_until(subject, decided, effective, paired, window, n_subjects) -> np.ndarray:
    """MODEL.md §6 L2: for each subject the latest, over pairs of pair-rule records
    decided at most ``window`` days apart, of the earlier of the pair's effective ends."""
    idx = np.flatnonzero(paired)
    if len(idx) < 2:
        return np.full(n_subjects, NO_DATE, dtype=np.int64)
    one = pd.DataFrame({"s": subject[idx], "i": idx, "d": decided[idx], "e": effective[idx]})
    both = one.merge(one, on="s", suffixes=("a", "b"))
    both = both[(both["ia"] < both["ib"]) & ((both["da"] - both["db"]).abs() <= window)]
    return _group_max(both["s"].to_numpy(), np.minimum(both["ea"], both["eb"]).to_numpy(),
                      n_subjects)


def _distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an integer matrix, and for each row the index of its
    distinct row: hashed (each row packed into one integer) rather than sorted."""
    n, width = matrix.shape
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for j in range(width):
        codes, uniques = pd.factorize(matrix[:, j])
        if radix * (len(uniques) + 1) >= 1 << 62:  # too wide to pack: sort instead
            distinct, inverse = np.unique(matrix, axis=0, return_inverse=True)
            return distinct, inverse.reshape(-1)
        key += codes * radix
        radix *= len(uniques) + 1
    inverse, distinct = pd.factorize(key)
    first = np.empty(len(distinct), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n)[::-1]
    return matrix[first], inverse


def _measures_text(listed, blacklist_until, bid_ban, bid_ban_until, key) -> np.ndarray:
    """``blacklist:2027-12-31;bid_ban:2027-12-31;key_supervision``, built once per
    distinct combination."""
    combos = np.stack([listed, blacklist_until, bid_ban, bid_ban_until, key],
                      axis=1).astype(np.int64)
    if not len(combos):
        return np.array([], dtype=object)
    uniques, inverse = _distinct_rows(combos)
    texts = []
    for is_listed, bl, is_banned, bu, is_key in uniques:
        parts = []
        if is_listed:
            parts.append(f"blacklist:{day_date(bl).isoformat()}")
        if is_banned:
            parts.append(f"bid_ban:{day_date(bu).isoformat()}")
        if is_key:
            parts.append("key_supervision")
        texts.append(";".join(parts))
    return np.array(texts, dtype=object)[inverse]


def _reasons_text(reasons: pd.DataFrame, c: _Codes, label: np.ndarray, n_subjects: int,
                  max_reasons: int) -> np.ndarray:
    """``CODE contribution`` pairs joined by ``;``, built once per distinct list.
    ``label`` is ``2 × code + (0 same sector, 1 other sector)`` of each reason."""
    if not n_subjects:
        return np.array([], dtype=object)
    labels = [f"{name} {fmt(Decimal(int(v)).scaleb(-2))}"
              for name, same, other in zip(c.names, c.same, c.other, strict=True)
              for v in (same, other)]
    grid = np.full((n_subjects, max(max_reasons, 1)), -1, dtype=np.int64)
    grid[reasons["subject"].to_numpy(), reasons["rank"].to_numpy()] = label
    uniques, inverse = _distinct_rows(grid)
    texts = [";".join(labels[i] for i in row if i >= 0) for row in uniques]
    return np.array(texts, dtype=object)[inverse]
