"""Demo data of post-award performance (PERFORMANCE.md §2–§4, §6), loaded with the demo
tenders: the awarded village road (KQ-DEMO-2026-001) has an approved periodic
evaluation whose project manager was not on site — so the transport regulator's inbox
holds an open PM-ABSENT warning — and a second evaluation awaiting review; a water
project finished last month (KQ-DEMO-2025-004) is a completed contract whose final
evaluation, rated excellent and approved, gave its winner PERF-EXCELLENT and a
performance index."""

from __future__ import annotations

import json
from datetime import timedelta

from .context import Actor, ServiceContext
from .performance import review_evaluation, submit_evaluation

TENDEREE = {"uscc": "11330621002587465Y", "name": "绍兴市柯桥区某镇人民政府"}
COMPLETED = "KQ-DEMO-2025-004"


def _regulator(sector: str, name: str) -> Actor:
    return Actor(name, "regulator", sectors=frozenset([sector]))


def _completed_tender(ctx: ServiceContext, enterprises: dict) -> dict:
    day = (ctx.today() - timedelta(days=420)).isoformat()
    e = list(enterprises)
    bid = {"status": "valid", "submitted_at": f"{day}T08:40:00+08:00"}
    return {"code": COMPLETED, "name": "柯桥区平水江堤防加固工程", "sector": "water",
            "tenderee": TENDEREE, "agency": None, "method": "comprehensive",
            "ceiling_price": "3900000.00", "opened_at": f"{day}T09:30:00+08:00",
            "village": False,
            "bids": [{**bid, "bidder": e[2], "bidder_name": enterprises[e[2]],
                      "price": "3710000.00"},
                     {**bid, "bidder": e[10], "bidder_name": enterprises[e[10]],
                      "price": "3790000.00"}]}


def load_demo_performance(ctx: ServiceContext, enterprises: dict, platform: Actor,
                          regulators: dict) -> str:
    """Once, after the demo tenders (KQ-DEMO-2026-001 awarded 50 days ago)."""
    from .tenders import award_tender, register_tender
    with ctx.uow(write=False) as uow:
        if uow.tenders.by_code(COMPLETED) is not None:
            return ""
    today = ctx.today()
    day = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
    tenderee = Actor(TENDEREE["name"], "tenderee", uscc=TENDEREE["uscc"])
    transport = _regulator("transport", regulators["transport"])
    first = submit_evaluation(ctx, tenderee, "KQ-DEMO-2026-001", {
        "kind": "periodic", "period_end": day(20), "project_manager_on_site": False,
        "deductions": [{"item": "PM-ABSENT", "points": "8.00",
                        "note": "投标承诺的项目经理连续两周未到岗"},
                       {"item": "SCHEDULE", "points": "4.00", "note": "路基施工滞后 12 天"}]})
    review_evaluation(ctx, transport, _id(first), {
        "action": "approve", "reason": "经现场核查，项目经理确未到岗", "reviewed_on": day(15)})
    submit_evaluation(ctx, tenderee, "KQ-DEMO-2026-001", {
        "kind": "periodic", "period_end": day(2), "project_manager_on_site": True,
        "deductions": [{"item": "COOPERATION", "points": "2.00",
                        "note": "隐蔽工程影像资料不全"}]})
    body = _completed_tender(ctx, enterprises)
    register_tender(ctx, platform, body)
    award_tender(ctx, platform, COMPLETED, {
        "winner": body["bids"][0]["bidder"], "awarded_on": day(410),
        "contract_price": body["bids"][0]["price"], "completion_due": day(40)})
    final = submit_evaluation(ctx, tenderee, COMPLETED, {
        "kind": "final", "completed_on": day(35), "project_manager_on_site": True,
        "deductions": [{"item": "VARIATION", "points": "2.00", "note": "两项变更签证滞后"},
                       {"item": "COOPERATION", "points": "1.50", "note": "竣工资料移交延迟"}]})
    review_evaluation(ctx, _regulator("water", regulators["water"]), _id(final), {
        "action": "approve", "reason": "竣工验收合格，履约评价属实", "reviewed_on": day(20)})
    return ("; performance: an approved evaluation with a PM-ABSENT warning, one awaiting "
            f"review, and {COMPLETED} completed (PERF-EXCELLENT)")


def _id(outcome) -> int:
    return json.loads(outcome.body)["id"]
