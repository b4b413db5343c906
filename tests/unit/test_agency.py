"""Tender-agency evaluation (PERFORMANCE.md §7): the shipped definition
keqiao-agency-2025@1, the pure score of credit.domain.agency with its trace, and the
golden cases of tests/golden/agency.toml (derived by hand there)."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from credit.domain import dates
from credit.domain.agency import (
    AgencyRating,
    agency_result_body,
    agency_trace_payload,
    as_traced_before,
    evaluate_agency,
    rating_problems,
    rating_total,
)
from credit.domain.canonical import dumps
from credit.domain.records import Knowledge, Record, RecordEvent
from scoring_models import ModelError, default_registry, load_bytes
from scoring_models.loader import DEFINITIONS

GOLDEN = tomllib.loads((Path(__file__).resolve().parents[1] / "golden" / "agency.toml")
                       .read_text("utf-8"))
PATH = DEFINITIONS / "keqiao-agency-2025@1.toml"
TEXT = PATH.read_text("utf-8")
DEF = default_registry().active_of("agency")
AGENCY = "91330621MA2BX7K3QQ"
T0 = datetime(2030, 6, 1, 9, 0, tzinfo=dates.CST)
LABEL = re.compile(r"^k(\d+)$")
D = Decimal


class History:
    """A case's ratings, records and events with audit positions by knowledge label."""

    def __init__(self, case: dict):
        items = [*case.get("ratings", []), *case.get("records", []), *case.get("events", []),
                 *case.get("queries", [])]
        labels = sorted({i.get("known", "k1") for i in items} | {"k1"},
                        key=lambda k: int(LABEL.match(k)[1]))
        self.ratings, self.records, self.events, self.knowledge = [], [], [], {}
        pos = 0
        for label in labels:
            for r in case.get("ratings", []):
                if r.get("known", "k1") == label:
                    pos += 1
                    values = {k: D(v) for k, v in r.get("items", {}).items()}
                    total = rating_total(values) if values else D(r["total"])
                    self.ratings.append(AgencyRating(r["tender"], AGENCY, r["rated_on"], values,
                                                     total, pos))
            for r in case.get("records", []):
                if r.get("known", "k1") == label:
                    pos += 1
                    entry = DEF.entry(r["code"])
                    until = dates.default_valid_until(r["decided_on"], entry.validity_months
                                                      if entry else 12)
                    self.records.append(Record(
                        r["id"], AGENCY, r.get("sector", "housing"), r["code"], r["decided_on"],
                        until, f"DOC-{r['id']}", pos, T0 + timedelta(seconds=pos)))
            for e in case.get("events", []):
                if e.get("known", "k1") == label:
                    pos += 1
                    self.events.append(RecordEvent(e["record"], e["kind"], pos,
                                                   T0 + timedelta(seconds=pos),
                                                   repaired_on=e.get("repaired_on")))
            pos += 1
            self.knowledge[label] = Knowledge(pos, T0 + timedelta(seconds=pos))
        self.last = labels[-1]

    def evaluate(self, as_of: date, label: str):
        return evaluate_agency(DEF, AGENCY, self.ratings, self.records, self.events, as_of,
                               self.knowledge[label])


def _queries():
    return [pytest.param(case, q, id=f"{case['name']}::q{i + 1}-{q['as_of']}@"
                         f"{q.get('known', 'last')}")
            for case in GOLDEN["agency"] for i, q in enumerate(case["queries"])]


@pytest.mark.parametrize(("case", "query"), _queries())
def test_golden_agency_query(case, query):
    hist = History(case)
    label = query.get("known", hist.last)
    result = hist.evaluate(query["as_of"], label)
    body = agency_result_body(result)
    want = {k: query[k] for k in ("score", "grade", "restricted", "components",
                                  "ratings_used")}
    want["until"] = query["until"].isoformat() if "until" in query else None
    assert {k: body[k] for k in want} == want
    statuses = {st.record.id: st.status for st in result.records}
    for s in query.get("statuses", []):
        assert statuses[s["id"]] == s["status"], s
    # A pure function: the same inputs give the same trace, byte for byte.
    again = hist.evaluate(query["as_of"], label)
    assert dumps(agency_trace_payload(again)) == dumps(agency_trace_payload(result))


# ---- the shipped definition encodes §7 -------------------------------------------------


def test_definition_numbers_of_section_7():
    assert [(i.item, i.name, i.max_points) for i in DEF.items.values()] == [
        ("documents", "招标文件编制质量", D(30)), ("procedure", "程序规范", D(30)),
        ("service", "服务响应", D(20)), ("archive", "资料归档", D(20))]
    assert (DEF.min_ratings, DEF.default_rating, DEF.window_days) == (3, D(80), 365)
    assert (DEF.service_weight, DEF.conduct_weight) == (D("0.60"), D("0.40"))
    assert (DEF.conduct_base, DEF.conduct_floor, DEF.service_places) == (D(100), D(0), 4)
    assert [(b.grade, b.min_score) for b in DEF.bands] == [
        ("A", D(90)), ("B", D(80)), ("C", D(70)), ("D", D(0))]
    assert (DEF.restricted_grade, DEF.restricted_measure) == ("D", "限制承接政府投资项目代理业务")


def test_conduct_catalogue_of_section_7():
    rows = [(e.code, e.points, e.tier, e.validity_months, e.repair_min_months,
             sorted(e.flags), e.basis, e.category, e.enterable)
            for e in DEF.catalogue.values()]
    assert rows == [
        ("AGENCY-LEAK", D(-20), "serious", 36, 12, ["restrict"], "招标投标法第50条", "agency",
         True),
        ("AGENCY-COLLUDE", D(-20), "serious", 36, 12, ["restrict"], "招标投标法第50条", "agency",
         True),
        ("AGENCY-RESTRICT", D(-10), "general", 12, 3, [], "实施条例第32条", "agency", True),
        ("AGENCY-SPLIT", D(-10), "general", 12, 3, [], "招标投标法第4条", "agency", True),
        ("AGENCY-FEE", D(-5), "general", 12, 3, [], "", "agency", True),
        ("AGENCY-ARCHIVE", D(-2), "minor", 6, 0, [], "", "agency", True),
    ]
    assert DEF.entry("AGENCY-LEAK").name == "泄露应当保密的与招标投标活动有关的情况和资料"
    assert DEF.entry("BID-NOSIGN") is None


# ---- the rating form -------------------------------------------------------------------


def test_rating_problems():
    ok = {"documents": "27.00", "procedure": "30.00", "service": "16.50", "archive": "18.00"}
    assert rating_problems(DEF, ok) == []
    assert rating_total({k: D(v) for k, v in ok.items()}) == D("91.50")
    assert rating_problems(DEF, {**ok, "documents": "0.00"}) == []  # 0 is allowed
    bad = {**ok, "procedure": "30.01", "service": "16.5", "archive": 18, "speed": "1.00"}
    del bad["documents"]
    problems = {p.field: p for p in rating_problems(DEF, bad)}
    assert set(problems) == {"items.speed", "items.documents", "items.procedure",
                             "items.service", "items.archive"}
    assert "30.00" in problems["items.procedure"].message
    assert dict(problems["items.procedure"].extra) == {"maximum": "30.00"}
    assert all(p.error is None for p in problems.values())  # validation_error
    assert [p.field for p in rating_problems(DEF, ["27.00"])] == ["items"]
    # Written as the spec writes decimals, only past the 15 digits the service keeps:
    # out of the item's range, not "must have two decimals".
    (huge,) = rating_problems(DEF, {**ok, "procedure": "1000000000000000.00"})
    assert dict(huge.extra) == {"maximum": "30.00"} and "between 0.00 and 30.00" in \
        huge.message


# ---- the trace ---------------------------------------------------------------------------


def test_trace_lists_every_rating_and_record_and_each_step():
    case = next(c for c in GOLDEN["agency"] if c["name"].startswith("restrict forces D"))
    hist = History(case)
    result = hist.evaluate(date(2026, 6, 30), "k2")
    trace = agency_trace_payload(result)
    assert set(trace) == {"uscc", "as_of", "known_at", "knowledge_position", "model",
                          "ratings", "records", "service", "conduct", "weights", "steps",
                          "result"}
    assert trace["model"] == {"id": "keqiao-agency-2025", "version": 1, "sha256": DEF.sha256}
    assert [(r["tender"], r["total"], r["used"]) for r in trace["ratings"]] == [
        ("KQ2026-021", "95.00", True), ("KQ2026-022", "96.00", True),
        ("KQ2026-023", "97.00", True)]
    assert [(r["id"], r["status"], r["valid_until"], r["contribution"], r["flags"])
            for r in trace["records"]] == [
        (1, "active", "2026-08-31", "-20.00", ["restrict"]),
        (2, "active", "2026-09-30", "-2.00", [])]
    assert (trace["service"], trace["conduct"]) == ("96", "78.00")
    assert trace["weights"] == {"service": "0.60", "conduct": "0.40"}
    assert [s["rule"] for s in trace["steps"]] == [
        "service", "conduct_record", "conduct_record", "conduct", "score", "restriction",
        "grade"]
    score = trace["steps"][4]
    assert score["inputs"] == {"service": "96", "conduct": "78.00", "exact": "88.8"}
    assert score["value"] == "88.80"
    assert trace["steps"][5]["basis"] == [1] and trace["steps"][5]["until"] == "2026-08-31"
    assert trace["result"] == agency_result_body(result)
    assert trace["result"]["until"] == "2026-08-31"


def test_the_sum_of_the_totals_is_traced_with_two_decimals():
    """PERFORMANCE.md §7 / API.md §1: the service step's ``sum`` adds up two-decimal
    totals, so it is a two-decimal quantity like them ("288.00", "262.50"); it was
    written as its shortest exact text ("288", "262.5"), unlike every served figure."""
    case = next(c for c in GOLDEN["agency"] if c["name"].startswith("restrict forces D"))
    service = agency_trace_payload(History(case).evaluate(date(2026, 6, 30), "k2"))["steps"][0]
    assert service["inputs"]["totals"] == ["95.00", "96.00", "97.00"]
    assert service["inputs"]["sum"] == "288.00" and service["value"] == "96"
    ratings = [AgencyRating(f"T{i}", AGENCY, date(2026, 1, i), {}, D(t), i)
               for i, t in enumerate(("90.50", "85.00", "87.00"), start=1)]
    result = evaluate_agency(DEF, AGENCY, ratings, [], [], date(2026, 6, 30),
                             Knowledge(3, T0))
    assert result.steps[0]["inputs"]["sum"] == "262.50"
    assert evaluate_agency(DEF, AGENCY, [], [], [], date(2026, 6, 30), Knowledge(0, T0)) \
        .steps[0]["inputs"]["sum"] == "0.00"


@pytest.mark.parametrize("old, replayed_as", [("262.5", "262.5"), ("0", "0"),
                                              ("262.50", "262.50"), ("262.6", "262.5")])
def test_a_trace_served_with_the_old_sum_replays_in_its_own_spelling(old, replayed_as):
    """Traces served before wrote the sum as "262.5": their replay spells it so, and so
    compares values — an altered sum ("262.6") still differs."""
    ratings = [AgencyRating(f"T{i}", AGENCY, date(2026, 1, i), {}, D(t), i)
               for i, t in enumerate(("90.50", "85.00", "87.00"), start=1)]
    if old == "0":
        ratings = []
    replayed = agency_trace_payload(evaluate_agency(
        DEF, AGENCY, ratings, [], [], date(2026, 6, 30), Knowledge(3, T0)))
    stored = copy.deepcopy(replayed)
    stored["steps"][0]["inputs"]["sum"] = old
    again = as_traced_before(replayed, stored)
    assert again["steps"][0]["inputs"]["sum"] == replayed_as
    assert (again == stored) == (old == replayed_as)


def test_a_mean_that_does_not_terminate_is_traced_exactly():
    ratings = [AgencyRating(f"T{i}", AGENCY, date(2026, 1, i), {}, D(t), i)
               for i, t in enumerate(("90.00", "85.00", "81.00"), start=1)]
    result = evaluate_agency(DEF, AGENCY, ratings, [], [], date(2026, 6, 30),
                             Knowledge(3, T0))
    # A = 256/3 = 85.3333…; S = 0.6 × 256/3 + 40 = 51.2 + 40 = 91.20.
    assert result.steps[0]["value"] == "256/3"
    assert result.components() == {"service": "85.3333", "conduct": "100.00"}
    assert f"{result.score:f}" == "91.20"


# ---- the loader refuses what cannot be used ----------------------------------------------


@pytest.mark.parametrize("old, new, names", [
    ("service = 0.60", "service = 0.70", "agency.weights"),
    ('restricted_grade = "D"', 'restricted_grade = "E"', "agency.restricted_grade"),
    ('{ grade = "C", min_score = 70.00 }', '{ grade = "C", min_score = 85.00 }',
     "grades.bands[2].min_score"),
    ('flags = ["restrict"]', 'flags = ["blacklist"]', "catalogue.0.flags"),
    ("points = -2.00", "points = 2.00", "catalogue.5.points"),
    ("points = -5.00", "points = -5.005", "catalogue[4] (AGENCY-FEE).points"),
    ('code = "AGENCY-FEE"', 'code = "AGENCY-SPLIT"', "duplicate code"),
    ('item = "archive"', 'item = "service"', "duplicate item"),
    ("max = 20.00", "max = 0.00", "items.2.max"),
    ("min_ratings = 3", "min_ratings = 0", "agency.min_ratings"),
    ('tier = "minor"', 'tier = "slight"', "catalogue.5.tier"),
    ("window_days = 365", "window_days = 365\nwindow_months = 12", "agency.window_months"),
])
def test_unusable_definitions_are_refused(old, new, names):
    assert old in TEXT, old
    with pytest.raises(ModelError) as info:
        load_bytes(TEXT.replace(old, new, 1).encode(), source="bad.toml")
    assert str(info.value).startswith("bad.toml: ") and names in str(info.value)
