"""Agency ratings under the integrity rules (PERFORMANCE.md §7), on SQLite and
PostgreSQL: a rating row is hashed in its ``agency.rated`` entry, so ``audit verify``
locates an edited, deleted or forged row; an edited rating also makes an agency trace
that used it fail its replay; the append-only triggers refuse changes; an agency trace
served under the rule before issue 10 still replays with the knowledge it records."""

from __future__ import annotations

import json

import pytest

from credit.services import agencies, scoring
from credit.services.audit import verify_chain, verify_trace
from credit.services.context import Actor
from tests.tender_data import AGENCY, TENDEREE, award_body, tender_body

from .helpers import entry, tamper
from .tender_helpers import AUDITOR, award, register

pytestmark = pytest.mark.db

RATER = Actor("柯桥区某镇人民政府", "tenderee", token_id=31, uscc=TENDEREE)
BODY = {"rated_on": "2026-05-25", "items": {"documents": "27.00", "procedure": "30.00",
                                            "service": "16.50", "archive": "18.00"}}


def _rated(ctx, code: str = "KQ-2026-0031") -> dict:
    register(ctx, tender_body(code))
    award(ctx, code, award_body())
    return json.loads(agencies.rate_agency(ctx, RATER, code, BODY).body)


def test_an_edited_deleted_or_forged_rating_is_located(tctx):
    _rated(tctx)
    assert verify_chain(tctx)["ok"]
    assert tamper(tctx, "agency_ratings",
                  "UPDATE agency_ratings SET total = '100.00'") == 1
    bad = verify_chain(tctx)["first_bad"]
    assert (bad["problem"], bad["table"]) == ("row_mismatch", "agency_ratings")
    tamper(tctx, "agency_ratings", "DELETE FROM agency_ratings")
    bad = verify_chain(tctx)["first_bad"]
    assert (bad["problem"], bad["table"]) == ("row_missing", "agency_ratings")


def test_a_forged_rating_is_unreferenced(tctx):
    _rated(tctx)
    tamper(tctx, "agency_ratings",
           "INSERT INTO agency_ratings (tender_id, tender_code, agency_uscc, agency_name, "
           "tenderee_uscc, definition, rated_on, items, total, note, rated_by, rated_at, "
           "audit_position, sha256) SELECT 999, 'KQ-FORGED', agency_uscc, agency_name, "
           "tenderee_uscc, definition, rated_on, items, '100.00', note, rated_by, rated_at, "
           "999999, sha256 FROM agency_ratings")
    problems = verify_chain(tctx)
    assert not problems["ok"]
    assert problems["first_bad"]["problem"] == "row_unreferenced"
    assert problems["first_bad"]["table"] == "agency_ratings"


def test_an_agency_trace_replays_and_an_edited_rating_breaks_the_replay(tctx):
    for code in ("KQ-2026-0031", "KQ-2026-0041", "KQ-2026-0042"):
        _rated(tctx, code)
    served = agencies.agency_score(tctx, AUDITOR, agencies.AgencyScoreQuery(AGENCY))
    assert (served["score"], served["ratings_used"]) == ("94.90", 3)  # 0.6·91.5 + 40
    assert verify_trace(tctx, served["trace_id"])["ok"]
    tamper(tctx, "agency_ratings", "UPDATE agency_ratings SET total = '50.00' "
           "WHERE tender_code = 'KQ-2026-0041'")
    v = verify_trace(tctx, served["trace_id"])
    assert (v["hash_ok"], v["chain_ok"], v["replay_ok"]) == (True, True, False)
    assert "ratings.1.total" in v["differences"]


def test_an_agency_trace_served_under_the_old_rule_still_replays(tctx, clock):
    """API.md §4: "a trace served under an earlier rule records its own knowledge and
    replays with it" — an agency score served before it followed the committed-head
    rule knew its own trace's position and instant (what serving under the lock with
    the default known_at still gives)."""
    _rated(tctx)
    clock.advance(minutes=1)
    q = agencies.AgencyScoreQuery(AGENCY)
    old = scoring.serve_under_lock(tctx, AUDITOR, None, AGENCY,
                                   agencies.agency_computation(tctx, q))
    trace = entry(tctx, old["trace_id"])
    assert trace["payload"]["knowledge_position"] == old["trace_id"]
    assert trace["payload"]["known_at"] == trace["at"] == old["known_at"]
    assert verify_trace(tctx, old["trace_id"])["ok"] is True
    # and one under the committed-head rule next to it: it knows the old trace
    new = agencies.agency_score(tctx, AUDITOR, q)
    payload = entry(tctx, new["trace_id"])["payload"]
    assert (payload["knowledge_position"], new["known_at"]) == (old["trace_id"], trace["at"])
    assert verify_trace(tctx, new["trace_id"])["ok"] is True


@pytest.mark.parametrize("edit", ["items = 'not json'", "rated_on = 'not-a-date'",
                                  "total = 'abc'"])
def test_a_rating_that_no_longer_reads_fails_the_replay_not_the_request(tctx, edit):
    """A stored rating edited into what its column cannot give back: the agency trace's
    verification reports that its inputs no longer replay it (a review: a 500)."""
    if tctx.uow.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's dynamic typing")
    _rated(tctx)
    served = agencies.agency_score(tctx, AUDITOR, agencies.AgencyScoreQuery(AGENCY))
    tamper(tctx, "agency_ratings", f"UPDATE agency_ratings SET {edit}")
    one = verify_trace(tctx, served["trace_id"])
    assert (one["hash_ok"], one["replay_ok"], one["differences"]) == (True, False, ["records"])
