"""Golden cases of MODEL.md, kept as data under ``tests/golden/*.toml``.

Every expected number in those files was derived by hand from MODEL.md (never copied
from the engine's output). This harness turns each query of each case into one pytest
parameter.

Case format (TOML)::

    [[case]]
    name = "..."                 # unique within its file
    doc = "..."                  # where in MODEL.md the rule comes from
    uscc = "..."                 # optional, default DEFAULT_USCC
    xfail = "reason"             # optional: a known engine bug (strict xfail)

    [[case.records]]             # one record each
    id = 1
    sector = "housing"
    code = "BID-NOSIGN"
    decided_on = 2026-01-10
    valid_until = 2026-12-31     # explicit codes only (BID-BAN)
    project_code = "P1"          # optional
    document_no = "DOC-1"        # optional, default "DOC-<id>"
    uscc = "..."                 # optional, default the case's uscc
    known = "k1"                 # optional, default "k1"

    [[case.events]]              # revocation / repair
    record = 1
    kind = "repair"              # or "revocation"
    repaired_on = 2026-02-01     # repairs only
    known = "k3"

    [[case.queries]]
    sector = "housing"
    as_of = 2026-06-30
    model = "keqiao-2025@2"      # optional, default keqiao-2025@1 (MODEL.md's model)
    known = "k2"                 # optional, default the last label of the case
    uscc = "..."                 # optional
    clean = true                 # shorthand for the result of a subject with nothing
                                 # active: 100.00, B, eligible, 8.89, 1.00, no measures
    score = "90.00"
    components = { market = "-8.00", site = "-5.00", good = "3.00" }
    grade = "C"
    eligible_to_bid = true
    bid_points = "6.67"
    inspection_multiplier = "1.50"
    measures = [ { measure = "bid_ban", basis = [1], until = 2026-12-31 },
                 { measure = "key_supervision", basis = [] } ]   # no until = null
    reasons = [ { kind = "record", record_id = 1, ... } ]        # exact list
    trace_records = [ { id = 1, status = "active", contribution = "-8.00" } ]
                                 # subset of the keys of each trace record; TOML has no
                                 # null, so the string "null" stands for it here

    [[case.consortia]]           # MODEL.md §7 consortium rule
    members = ["uscc-1", "uscc-2"]
    sector = "housing"
    as_of = 2025-07-01
    score = "95.00"; grade = "C"; eligible_to_bid = true; bid_points = "7.78"

Knowledge labels ``k1 < k2 < …``: the harness gives every record and event of label k
an audit position (records first, then events, each in file order), then one more
position for the instant k itself; "as known at k" is that last position. Every query is
also replayed with only the history known at k (nothing recorded later), and the result
body must be identical (MODEL.md §1: a score is a pure function of its inputs).

Function cases (same files, top level)::

    [[date_function]]
    fn = "add_months"            # or default_valid_until, latest_explicit_valid_until,
    args = [2026-01-31, 1]       #    earliest_repair_on
    expected = 2026-02-28

    [[bid_points]]
    score = "100.00"
    eligible = true
    expected = "8.89"
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from credit.domain import dates
from credit.domain.canonical import dumps
from credit.domain.consortium import combine
from credit.domain.engine import bid_points, effective_valid_until, evaluate
from credit.domain.money import fmt
from credit.domain.records import Knowledge, Record, RecordEvent
from credit.domain.trace import result_body, trace_payload
from scoring_models import default_registry

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
DEFAULT_USCC = "91330603MA2D4F6E84"
T0 = datetime(2030, 6, 1, 9, 0, 0, tzinfo=dates.CST)
LABEL = re.compile(r"^k(\d+)$")

# A subject with nothing active (MODEL.md §5–7): 100.00 → grade B (≥ 100.00), eligible,
# bid points 10 × 40/45 = 8.888… → 8.89, multiplier B = 1.00, no measures, no reasons.
CLEAN = {
    "score": "100.00",
    "components": {"market": "0.00", "site": "0.00", "good": "0.00"},
    "grade": "B",
    "eligible_to_bid": True,
    "bid_points": "8.89",
    "inspection_multiplier": "1.00",
    "measures": [],
    "reasons": [],
}
RESULT_KEYS = ("score", "components", "grade", "eligible_to_bid", "bid_points",
               "inspection_multiplier", "measures", "reasons")

REGISTRY = default_registry()
#: MODEL.md's cases are keqiao-2025@1's; a query may name another model (``model``).
MODEL = REGISTRY.get("keqiao-2025@1")
V2 = REGISTRY.get("keqiao-2025@2")
AGENCY = REGISTRY.active_of("agency")


def _entry(code: str):
    """A code's catalogue entry as the record was entered (its stored ``valid_until``):
    from the newest keqiao-2025 that knows it, else the agency definition."""
    for model in (V2, MODEL):
        if code in model.catalogue:
            return model.catalogue[code]
    return AGENCY.catalogue[code]


def _load() -> list[tuple[str, dict]]:
    files = sorted(GOLDEN.glob("*.toml"))
    assert files, f"no golden files under {GOLDEN}"
    return [(p.stem, tomllib.loads(p.read_text("utf-8"))) for p in files]


DOCS = _load()


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _rank(label: str) -> int:
    m = LABEL.match(label)
    assert m, f"knowledge labels look like k1, k2, …; got {label!r}"
    return int(m[1])


def _instant(position: int) -> datetime:
    return T0 + timedelta(seconds=position)


class History:
    """A case's records and events with audit positions assigned by knowledge label."""

    def __init__(self, case: dict):
        self.case = case
        self.uscc = case.get("uscc", DEFAULT_USCC)
        raw_records = case.get("records", [])
        raw_events = case.get("events", [])
        labels = {"k1"}
        for item in (*raw_records, *raw_events, *case.get("queries", []),
                     *case.get("consortia", [])):
            labels.add(item.get("known", "k1"))
        self.labels = sorted(labels, key=_rank)
        ids = [r["id"] for r in raw_records]
        assert len(ids) == len(set(ids)), "record ids must be unique within a case"

        self.records: list[Record] = []
        self.events: list[RecordEvent] = []
        self.knowledge: dict[str, Knowledge] = {}
        by_id: dict[int, Record] = {}
        pos = 0
        for label in self.labels:
            for r in raw_records:
                if r.get("known", "k1") != label:
                    continue
                pos += 1
                entry = _entry(r["code"])
                if entry.explicit:
                    valid_until = r["valid_until"]
                else:
                    assert "valid_until" not in r, (
                        f"record {r['id']}: only explicit codes carry valid_until")
                    valid_until = dates.default_valid_until(r["decided_on"],
                                                            entry.validity_months)
                rec = Record(
                    id=r["id"], uscc=r.get("uscc", self.uscc), sector=r["sector"],
                    code=r["code"], decided_on=r["decided_on"], valid_until=valid_until,
                    document_no=r.get("document_no", f"DOC-{r['id']}"),
                    audit_position=pos, recorded_at=_instant(pos),
                    project_code=r.get("project_code"),
                )
                by_id[rec.id] = rec
                self.records.append(rec)
            for e in raw_events:
                if e.get("known", "k1") != label:
                    continue
                assert e["record"] in by_id, f"event for unknown/later record {e['record']}"
                assert e["kind"] in ("repair", "revocation")
                pos += 1
                self.events.append(RecordEvent(
                    record_id=e["record"], kind=e["kind"], audit_position=pos,
                    recorded_at=_instant(pos), repaired_on=e.get("repaired_on"),
                    document_no=e.get("document_no", f"EV-{pos}"),
                ))
            pos += 1
            self.knowledge[label] = Knowledge(pos, _instant(pos))
        self.last_label = self.labels[-1]

    def of(self, uscc: str, upto: int | None = None):
        recs = [r for r in self.records if r.uscc == uscc
                and (upto is None or r.audit_position <= upto)]
        ids = {r.id for r in recs}
        evs = [e for e in self.events if e.record_id in ids
               and (upto is None or e.audit_position <= upto)]
        return recs, evs

    def evaluate(self, uscc: str, sector: str, as_of: date, label: str, prefix_only=False,
                 model=MODEL):
        k = self.knowledge[label]
        recs, evs = self.of(uscc, k.position if prefix_only else None)
        return evaluate(model, uscc, recs, evs, sector, as_of, k)


def _params():
    out = []
    for stem, doc in DOCS:
        names = [c["name"] for c in doc.get("case", [])]
        assert len(names) == len(set(names)), f"{stem}: duplicate case names"
        for case in doc.get("case", []):
            marks = []
            if case.get("xfail"):
                marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
            for i, q in enumerate(case.get("queries", [])):
                qid = f"{stem}::{case['name']}::q{i + 1}-{q['sector']}-{q['as_of']}" \
                      f"@{q.get('known', 'last')}" + (f"-{q['model']}" if "model" in q else "")
                out.append(pytest.param(case, q, id=qid, marks=marks))
    return out


def _consortium_params():
    out = []
    for stem, doc in DOCS:
        for case in doc.get("case", []):
            for i, c in enumerate(case.get("consortia", [])):
                out.append(pytest.param(case, c, id=f"{stem}::{case['name']}::c{i + 1}"))
    return out


def _expected(q: dict) -> dict:
    exp = dict(CLEAN) if q.get("clean") else {}
    for key in RESULT_KEYS:
        if key in q:
            exp[key] = q[key]
    missing = [k for k in RESULT_KEYS if k not in exp]
    assert not missing, f"golden query lacks {missing} (every query states the full result)"
    exp = _jsonable(exp)
    for m in exp["measures"]:
        m.setdefault("until", None)
    for r in exp["reasons"]:
        if r.get("kind") == "measure":
            r.setdefault("until", None)
    return exp


@pytest.mark.parametrize(("case", "query"), _params())
def test_golden_query(case, query):
    hist = History(case)
    uscc = query.get("uscc", hist.uscc)
    label = query.get("known", hist.last_label)
    model = REGISTRY.get(query.get("model", MODEL.ref))
    result = hist.evaluate(uscc, query["sector"], query["as_of"], label, model=model)
    assert result.model is model
    body = result_body(result, None)
    got = {k: body[k] for k in RESULT_KEYS}
    assert got == _expected(query)

    if "trace_records" in query:
        trace = trace_payload(result, None)
        rows = {row["id"]: row for row in trace["records"]}
        for want in _jsonable(query["trace_records"]):
            want = {k: (None if v == "null" else v) for k, v in want.items()}
            assert want["id"] in rows, f"record {want['id']} missing from the trace"
            row = rows[want["id"]]
            assert {k: row[k] for k in want} == want, f"trace record {want['id']}"

    # Replay: nothing recorded after k changes the score as known at k.
    replay = hist.evaluate(uscc, query["sector"], query["as_of"], label, prefix_only=True,
                           model=model)
    assert dumps(result_body(replay, None)) == dumps(body)
    assert dumps(trace_payload(replay, None)) == dumps(trace_payload(result, None))


@pytest.mark.parametrize(("case", "consortium"), _consortium_params())
def test_golden_consortium(case, consortium):
    hist = History(case)
    label = consortium.get("known", hist.last_label)
    members = [hist.evaluate(u, consortium["sector"], consortium["as_of"], label)
               for u in consortium["members"]]
    got = combine(MODEL, members)
    assert {
        "score": fmt(got.score),
        "grade": got.grade,
        "eligible_to_bid": got.eligible_to_bid,
        "bid_points": fmt(got.bid_points),
    } == {k: consortium[k] for k in ("score", "grade", "eligible_to_bid", "bid_points")}


DATE_FUNCTIONS = {
    "add_months": dates.add_months,
    "default_valid_until": dates.default_valid_until,
    "latest_explicit_valid_until": dates.latest_explicit_valid_until,
    "earliest_repair_on": dates.earliest_repair_on,
    "effective_valid_until": effective_valid_until,
}


def _function_params(table: str):
    out = []
    for stem, doc in DOCS:
        for i, c in enumerate(doc.get(table, [])):
            label = c.get("fn", "") + str(c.get("args", c.get("score", "")))
            out.append(pytest.param(c, id=f"{stem}::{table}{i + 1}::{label}"))
    return out


@pytest.mark.parametrize("case", _function_params("date_function"))
def test_golden_date_function(case):
    assert DATE_FUNCTIONS[case["fn"]](*case["args"]) == case["expected"]


@pytest.mark.parametrize("case", _function_params("bid_points"))
def test_golden_bid_points(case):
    got = bid_points(MODEL, Decimal(case["score"]), case["eligible"])
    assert fmt(got) == case["expected"]


def test_every_catalogue_code_has_a_golden_case():
    used = {r["code"] for _, doc in DOCS for c in doc.get("case", [])
            for r in c.get("records", [])}
    every = set(MODEL.catalogue) | set(V2.catalogue)
    assert every <= used, sorted(every - used)


def test_every_v2_code_is_scored_by_both_versions_in_a_golden_case():
    """PERFORMANCE.md §5: each new code of keqiao-2025@2 appears in a case queried under
    version 1 (not_in_model) and under version 2 (counted)."""
    for code in set(V2.catalogue) - set(MODEL.catalogue):
        models = {q.get("model", MODEL.ref) for _, doc in DOCS for c in doc.get("case", [])
                  if any(r["code"] == code for r in c.get("records", []))
                  for q in c.get("queries", [])}
        assert {MODEL.ref, V2.ref} <= models, code


def test_every_trace_status_appears_in_a_golden_case():
    seen = {row["status"] for _, doc in DOCS for c in doc.get("case", [])
            for q in c.get("queries", []) for row in q.get("trace_records", [])
            if "status" in row}
    assert {"active", "not_yet_effective", "expired", "repaired", "superseded",
            "revoked", "not_in_model"} <= seen
