"""A random but valid population entered through the services (create, revoke, repair),
for the batch suites, and the single-subject answers to compare the batch with."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from stdnum.cn import uscc as gb32100

from credit.domain.dates import earliest_repair_on, latest_explicit_valid_until
from credit.errors import CreditError
from credit.services.context import Actor
from credit.services.records import create_record, repair_record, revoke_record
from credit.services.scoring import ScoreQuery, score

REGULATORS = {s: Actor(f"柯桥区{s}监管", "regulator", token_id=i + 1, sectors=frozenset([s]))
              for i, s in enumerate(("housing", "transport", "water"))}
EVALUATOR = Actor("评标系统", "evaluator", token_id=9)
OPERATOR = "operator:test"


def make_uscc(n: int, prefix: str = "91330621") -> str:
    body = f"{prefix}{n:09d}"
    return body + gb32100.calc_check_digit(body)


def build_population(ctx, clock, *, seed: int = 7, subjects: int = 30, records: int = 160,
                     days: int = 1400) -> list[str]:
    """Enter ``records`` decisions for ``subjects`` enterprises, then revoke and repair
    some of them, advancing the clock a second per write. Returns the USCCs."""
    rng = random.Random(seed)
    model = ctx.models.active
    codes = sorted(c for c, e in model.catalogue.items() if e.enterable)  # no PERF-*
    usccs = [make_uscc(rng.randrange(10**8)) for _ in range(subjects)]
    today = ctx.today()
    created = []
    for i in range(records):
        uscc = rng.choice(usccs)
        sector = rng.choice(("housing", "housing", "transport", "water"))
        code = rng.choice(codes)
        entry = model.catalogue[code]
        decided = today - timedelta(days=rng.randrange(days))
        body = {"uscc": uscc, "subject_name": f"柯桥测试建设有限公司{uscc[-4:]}",
                "sector": sector, "code": code, "decided_on": decided.isoformat(),
                "document_no": f"柯{sector[0]}罚〔{decided.year}〕{i}号",
                "issued_by": REGULATORS[sector].name}
        if entry.is_good and rng.random() < 0.6:
            body["project_code"] = rng.choice(("KQ-P1", "KQ-P2", "KQ-P3"))
        if entry.explicit:
            latest = latest_explicit_valid_until(decided, entry.explicit_max_months)
            body["valid_until"] = (decided + timedelta(
                days=rng.randrange((latest - decided).days + 1))).isoformat()
        outcome = create_record(ctx, REGULATORS[sector], body)
        created.append((json.loads(outcome.body), entry))
        clock.advance(seconds=1)
    for rec, entry in created:
        roll = rng.random()
        actor = REGULATORS[rec["sector"]]
        if roll < 0.06:
            revoke_record(ctx, actor, rec["id"], {"document_no": "撤", "reason": "复议撤销"})
        elif roll < 0.2 and entry.repairable:
            decided = date.fromisoformat(rec["decided_on"])
            lo = earliest_repair_on(decided, entry.repair_min_months)
            hi = min(date.fromisoformat(rec["original_valid_until"]), today)
            if lo <= hi:
                on = lo + timedelta(days=rng.randrange((hi - lo).days + 1))
                try:
                    repair_record(ctx, actor, rec["id"], {"repaired_on": on.isoformat(),
                                                          "document_no": "修", "reason": "整改"})
                except CreditError:
                    pass
        clock.advance(seconds=1)
    return sorted({rec["uscc"] for rec, _ in created})


def single_subject_rows(ctx, usccs, sector: str, as_of: date, known_at) -> dict[str, dict]:
    """The served score of each subject (the single-subject engine, traced), reduced to
    the columns of the ratings table."""
    out = {}
    for uscc in usccs:
        body = score(ctx, EVALUATOR, ScoreQuery(uscc, sector, as_of, known_at=known_at))
        out[uscc] = {
            "uscc": uscc, "name": body["name"], "score": body["score"],
            "grade": body["grade"],
            "eligible_to_bid": "true" if body["eligible_to_bid"] else "false",
            "bid_points": body["bid_points"],
            "inspection_multiplier": body["inspection_multiplier"],
            "measures": ";".join(f"{m['measure']}:{m['until']}" if m["until"] else m["measure"]
                                 for m in body["measures"]),
            "reasons": ";".join(f"{r['code']} {r['contribution']}" for r in body["reasons"]
                                if r["kind"] == "record"),
        }
    return out
