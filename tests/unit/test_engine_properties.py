"""Properties of the scoring engine over random record histories (hypothesis).

(a) Bitemporal replay: the score as known at a past position is unchanged by anything
    recorded later (MODEL.md §1: a pure function of subject, sector, as_of, known_at).
(b) Monotonicity: adding a bad-conduct record never raises the score, never improves the
    grade, never restores eligibility, never lowers bid points or the multiplier.
(c) Every trace reproduces its score from its own steps (API.md §6), and every trace
    record that is not active contributes "0.00".
(d) Rebasing: the trace of one history as known at one head, rebased to any later head
    that knows nothing more, is exactly the trace computed there (services/result_memo.py
    serves the rebased one).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit.domain import dates
from credit.domain.canonical import dumps
from credit.domain.engine import evaluate
from credit.domain.money import fmt
from credit.domain.records import Knowledge, Record, RecordEvent
from credit.domain.trace import rebased, result_body, trace_payload
from scoring_models import default_registry

MODEL = default_registry().active
USCC = "91330603MA2D4F6E84"
T0 = datetime(2030, 6, 1, 9, 0, 0, tzinfo=dates.CST)
D_MIN, D_MAX = date(2020, 1, 1), date(2030, 12, 31)
CODES = sorted(MODEL.catalogue)
BAD_CODES = [c for c in CODES if not MODEL.catalogue[c].is_good]
GOOD_CODES = [c for c in CODES if MODEL.catalogue[c].is_good]
SERIOUS_CODES = [c for c in CODES if MODEL.catalogue[c].tier == "serious"]
# Each history draws its codes from one theme, so that the interesting states (the pair
# rule, the blacklist, de-duplication, the bonus cap, the floor) are actually reached.
THEMES = {
    "any": CODES,
    "mixed": CODES + ["SAFE-ACC-LARGER"] * 4 + ["BID-BAN"] * 2 + GOOD_CODES * 2,
    "good": GOOD_CODES * 4 + ["AWARD-NATIONAL"] * 4 + BAD_CODES,
    "serious": SERIOUS_CODES + ["SAFE-ACC-LARGER"] * 6 + GOOD_CODES,
    "bad": BAD_CODES,
}
GRADE_RANK = {g: i for i, g in enumerate(MODEL.grades_best_first)}
TWO_DECIMALS = re.compile(r"^-?\d+\.\d\d$")

PROFILE = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def _instant(position: int) -> datetime:
    return T0 + timedelta(seconds=position)


def _knowledge(position: int) -> Knowledge:
    return Knowledge(position, _instant(position))


def _original_valid_until(rec: Record) -> date:
    entry = MODEL.catalogue[rec.code]
    if entry.explicit:
        return rec.valid_until
    return dates.default_valid_until(rec.decided_on, entry.validity_months)


@st.composite
def make_record(draw, record_id: int, position: int, code: str, sector: str, decided: date,
                project: str | None) -> Record:
    """A record as the service would accept it: default validity computed, an explicit
    ``valid_until`` within decided_on … add_months(decided_on, 36) − 1 day."""
    entry = MODEL.catalogue[code]
    if entry.explicit:
        latest = dates.latest_explicit_valid_until(decided, entry.explicit_max_months)
        valid_until = decided + timedelta(days=draw(st.integers(0, (latest - decided).days)))
    else:
        valid_until = dates.default_valid_until(decided, entry.validity_months)
    return Record(
        id=record_id, uscc=USCC, sector=sector, code=code,
        decided_on=decided, valid_until=valid_until,
        document_no=draw(st.sampled_from(["A-1", "A-10", "A-2", "b", "Z"])),
        audit_position=position, recorded_at=_instant(position),
        project_code=project if entry.is_good else None,
    )


@st.composite
def new_record(draw, record_id: int, position: int, codes=CODES, previous=(),
               window: tuple[date, date] = (D_MIN, D_MAX)) -> Record:
    """A record, often modelled on an earlier one (same sector and project, a nearby
    decision) so that records overlap."""
    modelled = previous and draw(st.sampled_from([True, True, False]))
    template = draw(st.sampled_from(previous)) if modelled else None
    code = draw(st.sampled_from(codes))
    if template is not None:
        decided = template.decided_on + timedelta(days=draw(st.integers(-300, 300)))
        decided = min(max(decided, D_MIN), D_MAX)
        sector = draw(st.sampled_from((template.sector,) * 4 + MODEL.sectors))
    else:
        decided = draw(st.one_of(st.dates(*window), st.dates(*window), st.dates(D_MIN, D_MAX)))
        sector = draw(st.sampled_from(("housing", "housing", *MODEL.sectors)))
    choices = [None, "", "   ", "P1", "P1", "P2"]
    if template is not None and MODEL.catalogue[template.code].is_good:
        choices += [template.project_code] * 12
    project = draw(st.sampled_from(choices))
    return draw(make_record(record_id, position, code, sector, decided, project))


@st.composite
def new_event(draw, records: list[Record], events: list[RecordEvent], position: int):
    """A revocation or a repair that the service would accept (MODEL.md §2, API.md §3):
    no event on a revoked record, at most one repair, a repair only for repairable codes
    and with max(decided_on + 1 day, add_months(decided_on, m)) ≤ R ≤ valid_until."""
    rec = draw(st.sampled_from(records))
    mine = [e for e in events if e.record_id == rec.id]
    if any(e.kind == "revocation" for e in mine):
        return None
    options = ["revocation"]
    entry = MODEL.catalogue[rec.code]
    original = _original_valid_until(rec)
    earliest = None
    if entry.repairable and not any(e.kind == "repair" for e in mine):
        earliest = dates.earliest_repair_on(rec.decided_on, entry.repair_min_months)
        if earliest <= original:
            options += ["repair", "repair"]
    kind = draw(st.sampled_from(options))
    repaired_on = None
    if kind == "repair":
        repaired_on = earliest + timedelta(days=draw(st.integers(0, (original - earliest).days)))
    return RecordEvent(record_id=rec.id, kind=kind, audit_position=position,
                       recorded_at=_instant(position), repaired_on=repaired_on)


@st.composite
def histories(draw, records=(), events=(), start=0, max_ops=12):
    """Append up to ``max_ops`` writes (records and events) with strictly increasing audit
    positions after ``start`` (gaps stand for other subjects' entries)."""
    records, events = list(records), list(events)
    pos = start
    codes = THEMES[draw(st.sampled_from(sorted(THEMES)))]
    # Most decisions fall in one two-year window so that records are in force together.
    first = draw(st.dates(D_MIN, date(2029, 1, 1)))
    window = (first, first + timedelta(days=2 * 365))
    next_id = max((r.id for r in records), default=0) + 1
    for _ in range(draw(st.integers(0, max_ops) | st.integers(max_ops // 2, max_ops))):
        pos += draw(st.integers(1, 3))
        op = draw(st.integers(0, 5))
        if records and op <= 1:
            ev = draw(new_event(records, events, pos))
            if ev is not None:
                events.append(ev)
            continue
        if op in (2, 3):
            # A burst of related records in one sector: several awards for one project
            # (de-duplication, the bonus cap) or a run of bad conduct (pairs, the floor).
            sector = draw(st.sampled_from(("housing", *MODEL.sectors)))
            project = draw(st.sampled_from(["P1", "P2", None, None]))
            burst_codes = (GOOD_CODES + ["AWARD-NATIONAL"] * 3 if op == 2
                           else BAD_CODES + SERIOUS_CODES + ["SAFE-ACC-LARGER"] * 3)
            decided = draw(st.dates(*window))
            for _ in range(draw(st.integers(2, 8))):
                code = draw(st.sampled_from(burst_codes))
                on = min(decided + timedelta(days=draw(st.integers(0, 60))), D_MAX)
                own = draw(st.sampled_from([project, project, None, f"Q{next_id}"]))
                records.append(draw(make_record(next_id, pos, code, sector, on, own)))
                next_id += 1
                pos += 1
            continue
        records.append(draw(new_record(next_id, pos, codes=codes, previous=tuple(records),
                                       window=window)))
        next_id += 1
    return records, events, pos


def as_of_dates(records, events=()):
    """Mostly dates shortly after some record's decision or repair, so records are often
    in force (or just repaired) on it; sometimes any date."""
    def after(days_from, days_to):
        return lambda d: st.integers(days_from, days_to).map(lambda n: d + timedelta(days=n))

    options = [st.dates(D_MIN, D_MAX)]
    decisions = sorted({r.decided_on for r in records})
    if decisions:
        near = st.sampled_from(decisions).flatmap(after(0, 120))
        options += [near, near, near, st.sampled_from(decisions).flatmap(after(-30, 1200))]
    repairs = sorted({e.repaired_on for e in events if e.kind == "repair"})
    if repairs:
        options.append(st.sampled_from(repairs).flatmap(after(-5, 200)))
    return st.one_of(options)


def _score(records, events, sector, as_of, k):
    return evaluate(MODEL, USCC, records, events, sector, as_of, k)


# ------------------------------------------------------------------------------ (a)
@PROFILE
@given(data=st.data())
def test_score_as_known_at_a_past_position_ignores_later_writes(data):
    records, events, pos = data.draw(histories(), label="history")
    k = _knowledge(data.draw(st.integers(0, pos + 2), label="known position"))
    sector = data.draw(st.sampled_from(MODEL.sectors), label="sector")
    as_of = data.draw(as_of_dates(records, events), label="as_of")

    # Only what was written up to k ...
    known_records = [r for r in records if r.audit_position <= k.position]
    known_events = [e for e in events if e.audit_position <= k.position]
    before = _score(known_records, known_events, sector, as_of, k)

    # ... versus the whole history plus more writes (new records, repairs and
    # revocations of old records) appended after the end.
    more_records, more_events, _ = data.draw(
        histories(records, events, start=max(pos, k.position)), label="later writes")
    after = _score(more_records, more_events, sector, as_of, k)

    assert dumps(result_body(after, None)) == dumps(result_body(before, None))
    assert dumps(trace_payload(after, None)) == dumps(trace_payload(before, None))


# ------------------------------------------------------------------------------ (d)
@PROFILE
@given(data=st.data())
def test_a_payload_rebased_to_a_later_head_is_the_one_computed_there(data):
    records, events, pos = data.draw(histories(), label="history")
    first = data.draw(st.integers(pos, pos + 50), label="first head")
    later = data.draw(st.integers(first, first + 10_000), label="later head")
    sector = data.draw(st.sampled_from(MODEL.sectors), label="sector")
    as_of = data.draw(as_of_dates(records, events), label="as_of")
    name = data.draw(st.sampled_from([None, "绍兴某建设有限公司"]), label="name")

    remembered = trace_payload(_score(records, events, sector, as_of, _knowledge(first)), name)
    before = dumps(remembered)
    served = rebased(remembered, _knowledge(later))
    fresh = trace_payload(_score(records, events, sector, as_of, _knowledge(later)), name)

    assert dumps(served) == dumps(fresh)
    served["token_id"] = 7  # what the service does to the copy next
    served["result"]["trace_id"] = 8
    assert dumps(remembered) == before, "the remembered payload is never edited"


# ------------------------------------------------------------------------------ (b)
@PROFILE
@given(data=st.data())
def test_adding_bad_conduct_never_helps(data):
    records, events, pos = data.draw(histories(), label="history")
    bad = data.draw(new_record(max((r.id for r in records), default=0) + 1, pos + 1,
                               codes=BAD_CODES, previous=tuple(records)),
                    label="bad record")
    k = _knowledge(pos + 1)
    sector = data.draw(st.sampled_from(MODEL.sectors), label="sector")
    as_of = data.draw(as_of_dates([*records, bad], events), label="as_of")

    old = _score(records, events, sector, as_of, k)
    new = _score([*records, bad], events, sector, as_of, k)

    assert new.score <= old.score
    assert GRADE_RANK[new.grade] >= GRADE_RANK[old.grade]
    assert new.eligible_to_bid <= old.eligible_to_bid
    assert new.bid_points <= old.bid_points
    assert new.inspection_multiplier >= old.inspection_multiplier
    old_kinds = {m.measure for m in old.measures}
    assert old_kinds <= {m.measure for m in new.measures}


# ------------------------------------------------------------------------------ (c)
@settings(PROFILE, max_examples=200)
@given(data=st.data())
def test_trace_steps_reproduce_the_score(data):
    records, events, pos = data.draw(histories(max_ops=16), label="history")
    k = _knowledge(data.draw(st.integers(0, pos + 1), label="known position"))
    sector = data.draw(st.sampled_from(MODEL.sectors), label="sector")
    as_of = data.draw(as_of_dates(records, events), label="as_of")

    trace = trace_payload(_score(records, events, sector, as_of, k), None)
    steps = trace["steps"]

    def one(rule):
        found = [s for s in steps if s["rule"] == rule]
        assert len(found) == 1, f"exactly one {rule!r} step"
        return found[0]

    base = Decimal(one("base")["value"])
    cap = Decimal(one("bonus_cap")["parameters"]["bonus_cap"])
    floor = Decimal(one("floor")["parameters"]["floor"])
    contributions = [s for s in steps if s["rule"] == "contribution"]
    values = [Decimal(s["value"]) for s in contributions]
    positive = sum((v for v in values if v > 0), Decimal("0.00"))
    negative = sum((v for v in values if v < 0), Decimal("0.00"))
    bonus = min(positive, cap)
    expected = max(floor, base + bonus + negative)

    result = trace["result"]
    assert result["score"] == fmt(expected)
    by_category = {"market": Decimal("0.00"), "site": Decimal("0.00")}
    for s in contributions:
        if s["category"] in by_category:
            by_category[s["category"]] += Decimal(s["value"])
    assert result["components"] == {"market": fmt(by_category["market"]),
                                    "site": fmt(by_category["site"]), "good": fmt(bonus)}

    # The contribution steps are exactly the active trace records, with equal values;
    # every other status contributes "0.00".
    rows = trace["records"]
    assert {s["record_id"]: s["value"] for s in contributions} == {
        r["id"]: r["contribution"] for r in rows if r["status"] == "active"}
    assert len(contributions) == sum(r["status"] == "active" for r in rows)
    for r in rows:
        assert r["status"] in ("active", "not_yet_effective", "expired", "repaired",
                               "superseded", "revoked")
        if r["status"] != "active":
            assert r["contribution"] == "0.00", r
        assert TWO_DECIMALS.match(r["contribution"]) and r["contribution"] != "-0.00"

    for key in ("score", "bid_points", "inspection_multiplier"):
        assert TWO_DECIMALS.match(result[key]) and result[key] != "-0.00", key
    for key, value in result["components"].items():
        assert TWO_DECIMALS.match(value) and value != "-0.00", key
