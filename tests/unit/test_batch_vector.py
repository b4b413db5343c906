"""The batch engine agrees with the single-subject engine, to the cent, for every subject.

Random populations are built to be nasty rather than realistic: dense histories per
subject, many ties (same decision date, same document number, same project code with
stray spaces), month ends and leap days, explicit bans, revocations and repairs that
arrive later (and sometimes twice), several knowledge positions, all three sectors and
both model versions (keqiao-2025@1 and the test-only keqiao-test@1, which has different
bands, factors and bonus cap) — and histories holding codes a model does not know
(``not_in_model``, PERFORMANCE.md §5: keqiao-2025@2's PERF codes and agency codes under
keqiao-2025@1).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit.batch.population import from_domain
from credit.batch.vector import NO_DATE, add_months, date_text, money_text, rate
from credit.domain.dates import CST, default_valid_until, latest_explicit_valid_until
from credit.domain.dates import add_months as add_months_one
from credit.domain.engine import evaluate
from credit.domain.money import fmt
from credit.domain.records import Knowledge, Record, RecordEvent
from scoring_models import default_registry

MODELS = Path(__file__).resolve().parents[1] / "models"
REGISTRY = default_registry(extra_dirs=[MODELS])
ACTIVE = REGISTRY.get("keqiao-2025@1")
V2 = REGISTRY.get("keqiao-2025@2")
SECOND = REGISTRY.get("keqiao-test@1")
AGENCY = REGISTRY.active_of("agency")
#: Every code a record may carry: keqiao-2025@2's (PERF-* included) and the agency
#: codes — so that each model meets records of codes it does not know.
EVERY_CODE = {**V2.catalogue, **AGENCY.catalogue}
SECTORS = ("housing", "transport", "water")
T0 = datetime(2020, 1, 1, tzinfo=CST)

# Dates that stress §2 and §6: month ends, a leap day, year ends, and decisions exactly
# 365 and 366 days apart (the pair rule's window).
SPECIAL_DAYS = [date(2024, 2, 29), date(2024, 1, 31), date(2025, 1, 31), date(2023, 12, 31),
                date(2024, 8, 31), date(2025, 3, 31), date(2024, 12, 31), date(2025, 2, 28),
                date(2024, 1, 1), date(2025, 1, 1), date(2026, 1, 1), date(2026, 1, 2)]
DOCS = ["绍柯建罚〔2025〕1号", "绍柯建罚〔2025〕10号", "绍柯建罚〔2025〕2号", "A-1", "a-1", "Z",
        "柯交罚2025-7", "😀-ticket", "ｆｕｌｌ", "DOC"]
PROJECTS = [None, None, None, "", "   ", "P1", " P1 ", "P2", "P1\u3000", "P3"]


def make_uscc(n: int) -> str:
    from stdnum.cn import uscc as gb32100
    body = f"91330621{n:09d}"
    return body + gb32100.calc_check_digit(body)


def population(rng: random.Random, n_subjects: int, n_records: int,
               start: date = date(2022, 1, 1), span_days: int = 1500, catalogue=None):
    """Records, events and the positions that make a random history, with codes drawn
    from ``catalogue`` (default keqiao-2025@1's)."""
    catalogue = ACTIVE.catalogue if catalogue is None else catalogue
    usccs = [make_uscc(rng.randrange(10**8)) for _ in range(n_subjects)]
    usccs = sorted(set(usccs))
    codes = sorted(catalogue)
    # Listing codes (L1) are sometimes rare, so that the pair rule and bans decide alone.
    listing = rng.choice((0.0, 0.3, 3.0))
    weights = [listing if "blacklist" in catalogue[c].flags else
               6 if c in ("BID-BAN", "SAFE-ACC-LARGER", "AWARD-NATIONAL", "AWARD-PROVINCIAL",
                          "AWARD-CITY") else 3
               for c in codes]
    day_pool = [start + timedelta(days=rng.randrange(span_days)) for _ in range(40)]
    day_pool += SPECIAL_DAYS
    ids = rng.sample(range(1, 10 * n_records + 10), n_records)
    drafts = []
    seen: dict[str, list[date]] = defaultdict(list)
    for i in range(n_records):
        uscc = rng.choice(usccs) if rng.random() < 0.9 else usccs[0]
        code = rng.choices(codes, weights)[0]
        entry = catalogue[code]
        decided = rng.choice(day_pool) if rng.random() < 0.6 else \
            start + timedelta(days=rng.randrange(span_days))
        if seen[uscc] and rng.random() < 0.25:  # the same day, or 364–366 days away
            decided = rng.choice(seen[uscc]) + timedelta(
                days=rng.choice((0, 364, 365, 366, -365, -366)))
        seen[uscc].append(decided)
        if entry.explicit:
            latest = latest_explicit_valid_until(decided, entry.explicit_max_months)
            valid_until = decided + timedelta(days=rng.randrange((latest - decided).days + 1))
        else:
            valid_until = default_valid_until(decided, entry.validity_months)
        drafts.append(dict(
            id=ids[i], uscc=uscc, sector=rng.choice(SECTORS), code=code, decided_on=decided,
            valid_until=valid_until, document_no=rng.choice(DOCS),
            project_code=rng.choice(PROJECTS) if entry.is_good else rng.choice([None, "P1"])))
    # A timeline: each record at its turn, its events some turns later, interleaved.
    timeline = [(i, 0, "record", d, None) for i, d in enumerate(drafts)]
    for i, d in enumerate(drafts):
        roll = rng.random()
        later = i + rng.randrange(0, n_records // 3 + 2)
        if roll < 0.08:
            timeline.append((later, 1, "revocation", d, None))
        if 0.05 < roll < 0.25:
            repaired = d["decided_on"] + timedelta(days=rng.randrange(1, 1200))
            timeline.append((later, 2, "repair", d, repaired))
            if rng.random() < 0.1:  # a second repair: only the first known counts
                timeline.append((later + rng.randrange(3), 3, "repair", d,
                                 repaired + timedelta(days=rng.choice((-30, 30)))))
    timeline.sort(key=lambda x: (x[0], x[1]))
    records: list[Record] = []
    events: list[RecordEvent] = []
    pos = 0
    for _, _, kind, d, repaired in timeline:
        pos += rng.choice((1, 1, 1, 2))  # gaps: positions of other entries (traces, tokens)
        at = T0 + timedelta(seconds=pos)
        if kind == "record":
            records.append(Record(audit_position=pos, recorded_at=at, **d))
        else:
            events.append(RecordEvent(d["id"], kind, pos, at, repaired_on=repaired))
    return usccs, records, events, pos


def engine_view(result) -> dict:
    return {
        "score": fmt(result.score),
        "components": {k: fmt(v) for k, v in result.components.items()},
        "grade": result.grade,
        "eligible_to_bid": result.eligible_to_bid,
        "bid_points": fmt(result.bid_points),
        "inspection_multiplier": fmt(result.inspection_multiplier),
        "measures": [(m.measure, m.until.isoformat() if m.until else None)
                     for m in result.measures],
        "reasons": [(r["record_id"], r["code"], r["sector"], r["contribution"], r["valid_until"])
                    for r in result.reasons if r["kind"] == "record"],
        "measure_reasons": [r["measure"] for r in result.reasons if r["kind"] == "measure"],
    }


def batch_views(ratings) -> dict[str, dict]:
    f = ratings.frame
    text = {k: money_text(f[k]) for k in ("score", "market", "site", "good", "bid_points",
                                           "inspection_multiplier")}
    bl_until = date_text(f["blacklist_until"])
    ban_until = date_text(f["bid_ban_until"])
    reasons = defaultdict(list)
    r = ratings.reasons.sort_values(["subject", "rank"])
    for sub, rid, code, sector, contribution, until in zip(
            r["subject"], r["record_id"], r["code"], r["sector"],
            money_text(r["contribution"]), date_text(r["valid_until"]), strict=True):
        reasons[sub].append((int(rid), code, sector, contribution, until))
    out = {}
    for i, uscc in enumerate(f["uscc"]):
        measures = []
        if f["blacklist"][i]:
            measures.append(("blacklist", bl_until[i]))
        if f["bid_ban"][i]:
            measures.append(("bid_ban", ban_until[i]))
        if f["key_supervision"][i]:
            measures.append(("key_supervision", None))
        out[uscc] = {
            "score": text["score"][i],
            "components": {"market": text["market"][i], "site": text["site"][i],
                           "good": text["good"][i]},
            "grade": f["grade"][i],
            "eligible_to_bid": bool(f["eligible_to_bid"][i]),
            "bid_points": text["bid_points"][i],
            "inspection_multiplier": text["inspection_multiplier"][i],
            "measures": measures,
            "reasons": reasons[i],
            "measure_reasons": [m for m, _ in measures if m != "key_supervision"]
            [: ratings.model.max_reasons],
        }
    return out


def check_agreement(usccs, records, events, queries, models=(ACTIVE, SECOND)) -> int:
    """Every subject, every query: the batch result equals the engine's. Returns the
    number of comparisons."""
    pop = from_domain(records, events)
    grouped_records = defaultdict(list)
    for r in records:
        grouped_records[r.uscc].append(r)
    owner = {r.id: r.uscc for r in records}
    grouped_events = defaultdict(list)
    for e in events:
        grouped_events[owner[e.record_id]].append(e)
    compared = 0
    for model in models:
        for sector, as_of, position in queries:
            ratings = rate(model, pop, sector, as_of, position)
            views = batch_views(ratings)
            assert list(ratings.frame["uscc"]) == sorted(grouped_records)
            row_of = {u: i for i, u in enumerate(ratings.frame["uscc"])}
            knowledge = Knowledge(position, T0 + timedelta(seconds=position))
            for uscc in usccs:
                if uscc not in grouped_records:
                    continue
                want = engine_view(evaluate(model, uscc, grouped_records[uscc],
                                            grouped_events[uscc], sector, as_of, knowledge))
                got = views[uscc]
                # The measures text is what the export writes: check it too.
                row = row_of[uscc]
                assert ratings.frame["measures"][row] == ";".join(
                    f"{m}:{u}" if u else m for m, u in want["measures"])
                assert ratings.frame["reasons"][row] == ";".join(
                    f"{code} {c}" for _, code, _, c, _ in want["reasons"])
                assert got == want, (model.ref, sector, as_of, position, uscc)
                compared += 1
    return compared


def _queries(rng: random.Random, last: int, n: int):
    sectors = list(SECTORS)
    out = []
    for i in range(n):
        as_of = rng.choice(SPECIAL_DAYS + [date(2022, 1, 1) + timedelta(days=rng.randrange(2200))])
        position = rng.choice([last, last, rng.randrange(1, last + 1)])
        out.append((sectors[i % 3], as_of, position))
    return out


def test_large_random_population_agrees_with_engine():
    """Thousands of subjects, tens of thousands of records, every subject compared."""
    rng = random.Random(20260601)
    usccs, records, events, last = population(rng, n_subjects=3000, n_records=30000)
    assert len(usccs) > 2900 and len(events) > 5000
    compared = check_agreement(usccs, records, events, _queries(rng, last, 6))
    assert compared >= 2 * 6 * 2900


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_subjects=st.integers(1, 12),
       density=st.integers(1, 15))
def test_dense_random_histories_agree_with_engine(seed, n_subjects, density):
    """Few subjects with many records each: ties, pairs, supersession and caps collide."""
    rng = random.Random(seed)
    usccs, records, events, last = population(rng, n_subjects, n_subjects * density,
                                              span_days=rng.choice((60, 400, 1500)))
    check_agreement(usccs, records, events, _queries(rng, last, 4))


@settings(max_examples=300, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, 120))
def test_add_months_matches_the_domain(d, n):
    got = add_months(np.array([(d - date(1970, 1, 1)).days]), np.array([n]))[0]
    assert date(1970, 1, 1) + timedelta(days=int(got)) == add_months_one(d, n)


def test_subject_without_known_records_is_clean():
    rng = random.Random(1)
    usccs, records, events, last = population(rng, 5, 20)
    pop = from_domain(records, events)
    ratings = rate(ACTIVE, pop, "housing", date(2026, 1, 1), 0)  # nothing known yet
    assert set(ratings.frame["score"]) == {10000}
    assert set(ratings.frame["grade"]) == {"B"}
    assert set(ratings.frame["bid_points"]) == {889}
    assert set(ratings.frame["measures"]) == {""}
    assert (ratings.frame["blacklist_until"] == NO_DATE).all()


def test_codes_outside_the_model_count_nowhere_like_the_engine():
    """PERFORMANCE.md §5: a record of a code the model does not know is not_in_model in
    the engine and counts for nothing in the batch engine — not even a blacklist-like
    serious record beside it changes (it would be a second serious record)."""
    uscc = make_uscc(1)
    recs = [Record(1, uscc, "housing", "NOT-A-CODE", date(2025, 1, 1), date(2025, 12, 31),
                   "D", 1, T0),
            Record(2, uscc, "housing", "PERF-FAIL", date(2025, 2, 1), date(2026, 1, 31),
                   "D", 2, T0),
            Record(3, uscc, "housing", "AGENCY-LEAK", date(2025, 2, 1), date(2028, 1, 31),
                   "D", 3, T0),
            Record(4, uscc, "water", "BID-FRAUD", date(2025, 3, 1), date(2028, 2, 28),
                   "D", 4, T0)]
    knowledge = Knowledge(4, T0)
    result = evaluate(ACTIVE, uscc, recs, [], "housing", date(2025, 6, 1), knowledge)
    assert [st.status for st in result.records] == ["not_in_model"] * 3 + ["active"]
    assert [m.measure for m in result.measures] == []  # one serious record only
    ratings = rate(ACTIVE, from_domain(recs), "housing", date(2025, 6, 1), 4)
    assert list(ratings.frame["score"]) == [9250]  # −15 × 0.5 only
    assert list(ratings.frame["key_supervision"]) == [False]
    assert batch_views(ratings)[uscc] == engine_view(result)
    # Under keqiao-2025@2 PERF-FAIL counts (−8.00 site); the others stay not_in_model.
    result2 = evaluate(V2, uscc, recs, [], "housing", date(2025, 6, 1), knowledge)
    assert [st.status for st in result2.records] == ["not_in_model", "active",
                                                     "not_in_model", "active"]
    assert list(rate(V2, from_domain(recs), "housing", date(2025, 6, 1), 4)
                .frame["score"]) == [8450]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_subjects=st.integers(1, 10),
       density=st.integers(1, 15))
def test_histories_with_codes_outside_the_model_agree_with_engine(seed, n_subjects, density):
    """PERFORMANCE.md §5 property: with not_in_model records present (PERF-* under
    keqiao-2025@1 and keqiao-test@1, agency codes under every model), the batch engine
    still equals the single-subject engine for every subject and query."""
    rng = random.Random(seed)
    usccs, records, events, last = population(rng, n_subjects, n_subjects * density,
                                              span_days=rng.choice((60, 400, 1500)),
                                              catalogue=EVERY_CODE)
    check_agreement(usccs, records, events, _queries(rng, last, 3),
                    models=(ACTIVE, V2, SECOND))


def test_money_text_never_writes_minus_zero():
    assert list(money_text([0, -800, 1, -1, 10000])) == ["0.00", "-8.00", "0.01", "-0.01",
                                                         "100.00"]
    assert Decimal(money_text([12345])[0]) == Decimal("123.45")
