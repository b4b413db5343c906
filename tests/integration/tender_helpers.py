"""Helpers of the tender-loop suites: a service context with an identity key, the actors
of WARNINGS.md §1, and the use cases asserting success."""

from __future__ import annotations

import json

from credit.services import tenders, warnings
from credit.services.context import Actor

PLATFORM = Actor("柯桥区公共资源交易中心", "platform", token_id=21)
TRANSPORT = Actor("柯桥区交通运输局", "regulator", token_id=22,
                  sectors=frozenset(["transport"]))
HOUSING = Actor("柯桥区住房和城乡建设局", "regulator", token_id=23,
                sectors=frozenset(["housing"]))
EVALUATOR = Actor("评标系统", "evaluator", token_id=24)
AUDITOR = Actor("审计员", "auditor", token_id=25)
ENTERPRISE = Actor("某企业", "enterprise", token_id=26, uscc="91330603MA2D4F6E84")


def register(ctx, body, actor=PLATFORM, **kw) -> dict:
    outcome = tenders.register_tender(ctx, actor, body, **kw)
    assert outcome.status == 201
    return json.loads(outcome.body)


def award(ctx, code, body, actor=PLATFORM) -> dict:
    outcome = tenders.award_tender(ctx, actor, code, body)
    assert outcome.status == 200
    return json.loads(outcome.body)


def dispose(ctx, warning_id, body, actor=TRANSPORT) -> dict:
    outcome = warnings.dispose(ctx, actor, warning_id, body)
    assert outcome.status == 200
    return json.loads(outcome.body)


def warnings_of(ctx, code, actor=AUDITOR) -> list[dict]:
    return list(reversed(warnings.list_warnings(
        ctx, actor, warnings.WarningFilter(tender=code))["items"]))


def codes(items: list[dict]) -> list[tuple]:
    return [(w["code"], tuple(b["n"] for b in w["bids"])) for w in items]
