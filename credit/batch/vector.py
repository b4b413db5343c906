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


def _codes(model: ScoringModel, names: list[str], used: np.ndarray) -> _Codes:
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


def rate(model: ScoringModel, population: Population, sector: str, as_of: date,
         position: int) -> Ratings:
    """Score every subject of ``population`` in ``sector`` on ``as_of`` as known at
    audit position ``position`` (every record and event with a position ≤ it)."""
    if sector not in model.sectors:
        raise ValueError(f"unknown sector {sector!r}")
    n_subjects = len(population.subjects)
    rec = population.records
    known = rec["audit_position"].to_numpy() <= position
    rows = np.flatnonzero(known)
    subject = rec["subject"].to_numpy()[rows]
    rid = rec["id"].to_numpy()[rows]
    rsector = rec["sector"].cat.codes.to_numpy().astype(np.int64)[rows]
    code = rec["code"].cat.codes.to_numpy().astype(np.int64)[rows]
    decided = rec["decided"].to_numpy()[rows]
    stored_until = rec["valid_until"].to_numpy()[rows]
    doc = rec["document_rank"].to_numpy()[rows]
    pos = rec["audit_position"].to_numpy()[rows]
    project = rec["project"].to_numpy()[rows]
    t = day_number(as_of)

    c = _codes(model, list(rec["code"].cat.categories), np.unique(code))

    # §2: revocations and the first repair known at `position`.
    ev = population.events
    ev = ev[ev["audit_position"].to_numpy() <= position]
    index = pd.Index(rid)
    revoked = np.zeros(len(rows), dtype=bool)
    revoked_at = index.get_indexer(ev.loc[ev["revocation"], "record_id"].to_numpy())
    revoked[revoked_at[revoked_at >= 0]] = True
    repairs = ev[~ev["revocation"]].sort_values("audit_position", kind="stable")
    repairs = repairs.drop_duplicates("record_id", keep="first")
    repaired_on = np.full(len(rows), NO_REPAIR, dtype=np.int64)
    at = index.get_indexer(repairs["record_id"].to_numpy())
    repaired_on[at[at >= 0]] = repairs["repaired_on"].to_numpy()[at >= 0]

    # §2: validity from the scoring model (explicit codes keep the regulator's date).
    explicit = c.explicit[code]
    original = np.where(explicit, stored_until,
                        add_months(decided, np.where(explicit, 0, c.months[code])) - 1)
    effective = np.minimum(original, repaired_on - 1)
    counts = ~revoked & (decided <= t) & (t <= effective)
    counts &= _in_model(model, c.names)[code]  # PERFORMANCE.md §5: not_in_model

    # §4: among good records of one sector, project and family only the best counts.
    cand = np.flatnonzero(counts & c.good[code] & (project >= 0))
    superseded = np.zeros(len(rows), dtype=bool)
    if len(cand):
        order = np.lexsort((pos[cand], doc[cand], decided[cand], -c.points[code[cand]],
                            c.family[code[cand]], project[cand], rsector[cand], subject[cand]))
        ranked = cand[order]
        key = np.stack([subject[ranked], rsector[ranked], project[ranked],
                        c.family[code[ranked]]])
        first = np.ones(len(ranked), dtype=bool)
        first[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
        superseded[ranked[~first]] = True
    active = counts & ~superseded

    # §3, §5: contributions, bonus cap, floor; components per site.
    same_sector = rsector == SECTORS.index(sector)
    contribution = np.where(active, np.where(same_sector, c.same[code], c.other[code]), 0)
    category = c.category[code]
    positive = _group_sum(subject, np.maximum(contribution, 0), n_subjects)
    deduction = _group_sum(subject, np.minimum(contribution, 0), n_subjects)
    market = _group_sum(subject, np.where(category == MARKET, contribution, 0), n_subjects)
    site = _group_sum(subject, np.where(category == SITE, contribution, 0), n_subjects)
    bonus = np.minimum(positive, cents(model.bonus_cap))
    score = np.maximum(cents(model.floor), cents(model.base) + bonus + deduction)

    # §6: listing (L1 flag, L2 pair rule), bid ban, key supervision — every sector.
    l1 = counts & c.blacklist[code]
    l1_until = _group_max(subject[l1], effective[l1], n_subjects)
    pair_until = _pair_until(subject, decided, effective, counts & c.pair[code],
                             model.pair_window_days, n_subjects)
    listed = (l1_until != NO_DATE) | (pair_until != NO_DATE)
    blacklist_until = np.where(listed, np.maximum(l1_until, pair_until), NO_DATE)
    bans = counts & c.bid_ban[code]
    ban_until = _group_max(subject[bans], effective[bans], n_subjects)
    bid_ban = listed | (ban_until != NO_DATE)
    bid_ban_until = np.where(bid_ban, np.maximum(blacklist_until, ban_until), NO_DATE)
    serious = np.bincount(subject[counts & c.serious[code]], minlength=n_subjects)

    grades = np.array([b.grade for b in model.bands] + [model.listed_grade], dtype=object)
    band = np.full(n_subjects, len(model.bands) - 1, dtype=np.int64)
    for i in range(len(model.bands) - 1, -1, -1):
        band = np.where(score >= cents(model.bands[i].min_score), i, band)
    grade_index = np.where(listed, len(model.bands), band)
    grade = grades[grade_index]
    key_grades = np.array([g in model.key_supervision_grades for g in grades])
    many_serious = serious >= model.key_supervision_min_serious
    key = key_grades[grade_index] | many_serious
    by_grade = np.array([cents(model.multipliers[g]) for g in grades], dtype=np.int64)
    multiplier = by_grade[grade_index]
    multiplier = np.where(key, np.maximum(multiplier, cents(model.key_supervision_min_multiplier)),
                          multiplier)
    eligible = ~bid_ban

    # §7: credit_weight × clamp((score − floor)/(full − floor), 0, 1), half-up to cents.
    floor_c, full_c = cents(model.bid_floor), cents(model.bid_full)
    span = full_c - floor_c
    num = cents(model.credit_weight) * (np.clip(score, floor_c, full_c) - floor_c)
    bid_points = np.where(eligible, (2 * num + span) // (2 * span), 0)

    # §8: measure reasons first, then harmful records, at most max_reasons in all.
    measure_reasons = listed.astype(np.int64) + bid_ban.astype(np.int64)
    slots = np.maximum(model.max_reasons - measure_reasons, 0)
    harm = np.flatnonzero(active & (contribution < 0))
    order = np.lexsort((pos[harm], c.code_rank[code[harm]], doc[harm], -decided[harm],
                        contribution[harm], subject[harm]))
    harm = harm[order]
    rank = _rank_within(subject[harm])
    keep = rank < slots[subject[harm]]
    harm, rank = harm[keep], rank[keep]
    reasons = pd.DataFrame({
        "subject": subject[harm],
        "rank": rank,
        "record_id": rid[harm],
        "code": pd.Categorical.from_codes(code[harm], categories=list(c.names)),
        "sector": pd.Categorical.from_codes(rsector[harm], categories=list(SECTORS)),
        "contribution": contribution[harm],
        "valid_until": effective[harm],
    })

    subjects = population.subjects
    frame = pd.DataFrame({
        "uscc": subjects["uscc"].to_numpy(),
        "name": subjects["name"].to_numpy(),
        "score": score,
        "market": market,
        "site": site,
        "good": bonus,
        "grade": grade,
        "eligible_to_bid": eligible,
        "bid_points": bid_points,
        "inspection_multiplier": multiplier,
        "blacklist": listed,
        "blacklist_until": blacklist_until,
        "bid_ban": bid_ban,
        "bid_ban_until": bid_ban_until,
        "key_supervision": key,
        "measures": _measures_text(listed, blacklist_until, bid_ban, bid_ban_until, key),
        "reasons": _reasons_text(reasons, c, 2 * code[harm] + ~same_sector[harm],
                                 n_subjects, model.max_reasons),
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
