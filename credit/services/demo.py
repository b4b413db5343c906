"""A small, realistic Keqiao data set for newcomers and the console: a dozen
enterprises across the three sectors, penalties and awards that exercise every rule
of MODEL.md (pair rule, blacklist, bid ban, bonus cap, superseded awards, repair,
revocation), demo tokens, one evaluation with a consortium and, with the identity key,
three tenders with planted collusion signals (WARNINGS.md). Loaded once."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from credit.errors import Conflict

from .context import Actor, ServiceContext
from .records import create_record, repair_record, revoke_record
from .scoring import create_evaluation
from .tokens import create_token

ENTERPRISES = {
    "91330603MA2D4F6E84": "浙江柯桥建工集团有限公司",
    "91330621MA2881111K": "绍兴鉴湖路桥工程有限公司",
    "913306031460111110": "柯桥水利水电建设有限公司",
    "91330603MA2BC1D21D": "浙江轻纺城市政工程有限公司",
    "913306037045081117": "绍兴安澜建筑安装有限公司",
    "91330603MA29K3L41N": "柯桥钱清建设发展有限公司",
    "91330603MA2D7P8Q15": "浙江杨汛桥交通建设有限公司",
    "91330621MA2J15R61H": "绍兴滨海园林绿化有限公司",
    "913306031460701117": "柯桥华舍建筑工程有限公司",
    "91330603MA2E1T2U10": "浙江兰亭古建筑工程有限公司",
    "91330603MA2G3W411K": "绍兴平水水利工程有限公司",
    "91330621MA2H5Y6K14": "浙江齐贤钢结构有限公司",
}

PLATFORM = "柯桥区公共资源交易中心"
TENDEREE = {"uscc": "11330621002587465Y", "name": "绍兴市柯桥区某镇人民政府"}
AGENCY = {"uscc": "91330621MA2BX7K3QQ", "name": "某招标代理有限公司"}

REGULATORS = {
    "housing": "柯桥区住房和城乡建设局",
    "transport": "柯桥区交通运输局",
    "water": "柯桥区水利局",
}

# (uscc, sector, code, days before today, extra fields)
DEMO_RECORDS = [
    # 两场联动 in one file: a market penalty, a site accident elsewhere, superseded awards.
    ("91330603MA2D4F6E84", "housing", "BID-NOSIGN", 170, {}),
    ("91330603MA2D4F6E84", "transport", "SAFE-ACC-GENERAL", 300, {}),
    ("91330603MA2D4F6E84", "transport", "SITE-PM-ABSENT", 60, {}),
    ("91330603MA2D4F6E84", "housing", "AWARD-PROVINCIAL", 580, {"project_code": "KQ-P1"}),
    ("91330603MA2D4F6E84", "housing", "AWARD-CITY", 520, {"project_code": "KQ-P1"}),
    # 转包: blacklisted until repaired.
    ("91330621MA2881111K", "transport", "SUB-TRANSFER", 420, {}),
    # A legal bid ban plus a serious record in another sector.
    ("913306031460111110", "transport", "BID-BAN", 30, {"valid_until_days": 330}),
    ("913306031460111110", "water", "BID-FRAUD", 200, {}),
    # Two larger accidents within 365 days: listed by the pair rule.
    ("91330603MA2BC1D21D", "housing", "SAFE-ACC-LARGER", 400, {}),
    ("91330603MA2BC1D21D", "water", "SAFE-ACC-LARGER", 100, {}),
    # Many awards: the bonus is capped at +15.
    ("913306037045081117", "housing", "AWARD-NATIONAL", 200, {"project_code": "KQ-A1"}),
    ("913306037045081117", "housing", "AWARD-NATIONAL", 150, {"project_code": "KQ-A2"}),
    ("913306037045081117", "housing", "AWARD-NATIONAL", 100, {"project_code": "KQ-A3"}),
    ("913306037045081117", "housing", "SITE-STANDARD-PROVINCIAL", 90, {"project_code": "KQ-A3"}),
    ("913306037045081117", "housing", "COMMEND-EMERGENCY", 50, {}),
    # Wage arrears and the wage blacklist (zero points, still listed).
    ("91330603MA29K3L41N", "housing", "WAGE-ARREARS", 90, {}),
    ("91330603MA29K3L41N", "housing", "WAGE-BLACKLIST", 80, {}),
    # A collusion penalty overturned on review (revoked below).
    ("91330603MA2D7P8Q15", "transport", "BID-COLLUDE", 250, {}),
    ("91330603MA2D7P8Q15", "transport", "SITE-STANDARD-CITY", 120, {"project_code": "YX-7"}),
    # 挂靠, later repaired.
    ("91330621MA2J15R61H", "housing", "QUAL-LEND", 500, {}),
    # A clean firm with an emergency commendation.
    ("913306031460701117", "water", "COMMEND-EMERGENCY", 40, {}),
    # A major accident: listed.
    ("91330603MA2E1T2U10", "housing", "SAFE-ACC-MAJOR", 150, {}),
    # Several site penalties: grade D and key supervision.
    ("91330603MA2G3W411K", "water", "SITE-QUALITY", 60, {}),
    ("91330603MA2G3W411K", "water", "SITE-RECTIFY-REFUSE", 45, {}),
    ("91330603MA2G3W411K", "water", "SUB-ILLEGAL", 30, {}),
    ("91330603MA2G3W411K", "water", "SITE-STAFF-MISMATCH", 20, {}),
    # Market misconduct of the general tier.
    ("91330621MA2H5Y6K14", "housing", "FALSE-INFO", 70, {}),
    ("91330621MA2H5Y6K14", "housing", "BID-ABANDON", 40, {}),
    ("91330621MA2H5Y6K14", "transport", "BID-COMPLAINT", 35, {}),
    ("91330621MA2H5Y6K14", "transport", "ADMIN-CRITICISM", 10, {}),
    ("91330621MA2H5Y6K14", "transport", "ADMIN-PENALTY", 15, {}),
    ("91330621MA2H5Y6K14", "housing", "SAFE-CONCEAL", 25, {}),
    ("91330621MA2H5Y6K14", "housing", "BID-BRIBE", 400, {}),
]

DEMO_TOKENS = [
    ("regulator", "柯桥区住房和城乡建设局", ["housing"], None),
    ("regulator", "柯桥区交通运输局", ["transport"], None),
    ("regulator", "柯桥区水利局", ["water"], None),
    ("evaluator", "柯桥区公共资源交易中心评标系统", [], None),
    ("auditor", "柯桥区审计局", [], None),
    ("admin", "系统管理员", [], None),
    ("enterprise", "浙江柯桥建工集团有限公司", [], "91330603MA2D4F6E84"),
    ("platform", PLATFORM, [], None),
    # a tenderee (招标人, PERFORMANCE.md §1): the demo tenders' township government
    ("tenderee", TENDEREE["name"], [], TENDEREE["uscc"]),
]


def load_demo(ctx: ServiceContext, token_file: str | os.PathLike,
              operator: str = "demo-data") -> str:
    """Load the demo set unless it is already there; write the demo tokens (mode 0600),
    created by ``operator`` (the CLI's: ``operator:$USER`` or CREDIT_OPERATOR)."""
    token_file = Path(token_file)
    with ctx.uow(write=False) as uow:
        present = uow.subjects.get("91330603MA2D4F6E84") is not None
        # its last step's (each step is a transaction of its own): an interrupted load
        complete = uow.subjects.get(AGENCY["uscc"]) is not None
    if present and not complete:
        raise Conflict("The demo data was loaded only in part (an earlier load was "
                       "interrupted) and cannot be finished: load it into a new database "
                       "(remove the SQLite file, or name another CREDIT_DATABASE_URL).",
                       error="demo_data_incomplete")
    if present and token_file.exists():
        return (f"demo data already loaded; tokens in {token_file}"
                + _tightened(token_file) + load_demo_tenders(ctx))
    token_ids = _demo_tokens(ctx, token_file, operator)
    if present:
        return (f"demo data already loaded; new demo tokens in {token_file}"
                + load_demo_tenders(ctx))
    ids = _demo_records(ctx, token_ids)
    _demo_changes(ctx, token_ids, ids)
    _demo_evaluation(ctx, token_ids)
    _demo_agency_record(ctx, token_ids)
    return (f"loaded {len(ENTERPRISES)} enterprises, {len(DEMO_RECORDS)} records, one "
            f"revocation, one repair, one evaluation and one agency record; tokens in "
            f"{token_file}"
            + load_demo_tenders(ctx))


def _tightened(token_file: Path) -> str:
    """An existing tokens file that others may read (copied, or its mode changed since it
    was written) is set back to 0600: it holds live secrets. Says so when it did."""
    mode = token_file.stat().st_mode & 0o777
    if not mode & 0o077:
        return ""
    token_file.chmod(0o600)
    return f" (its mode was {mode:o}, now 600)"


def _demo_tokens(ctx: ServiceContext, token_file: Path, operator: str) -> dict[str, int]:
    """Create the demo tokens and write them to ``token_file`` (mode 0600); their ids
    by name. The file is opened before any token is created, so one that cannot be
    written (a directory in the way, no permission: OSError) leaves no token behind
    whose secret nobody has; a file this call created is removed if it fails."""
    token_file.parent.mkdir(parents=True, exist_ok=True)
    existed = token_file.exists()
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also an older file, whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            lines = []
            token_ids = {}
            for role, name, sectors, uscc in DEMO_TOKENS:
                token_id, secret = create_token(ctx, operator, role=role, name=name,
                                                sectors=sectors, uscc=uscc)
                token_ids[name] = token_id
                lines.append(f"{role}\t{name}\t{secret}")
            f.truncate(0)
            f.write("\n".join(lines) + "\n")
    except BaseException:
        if not existed:
            token_file.unlink(missing_ok=True)
        raise
    return token_ids


def _regulator(sector: str, token_ids: dict[str, int]) -> Actor:
    return Actor(REGULATORS[sector], "regulator", token_id=token_ids[REGULATORS[sector]],
                 sectors=frozenset([sector]))


def _demo_records(ctx: ServiceContext, token_ids: dict[str, int]) -> dict:
    """Enter DEMO_RECORDS, each by its sector's regulator; record ids by (uscc, code)."""
    today = ctx.today()
    ids = {}
    for n, (uscc, sector, code, days, extra) in enumerate(DEMO_RECORDS, start=1):
        decided = today - timedelta(days=days)
        body = {
            "uscc": uscc, "subject_name": ENTERPRISES[uscc], "sector": sector, "code": code,
            "decided_on": decided.isoformat(),
            "document_no": f"绍柯{sector[:1].upper()}罚〔{decided.year}〕{100 + n}号",
            "issued_by": REGULATORS[sector],
        }
        if "project_code" in extra:
            body["project_code"] = extra["project_code"]
            body["project_name"] = f"柯桥区项目 {extra['project_code']}"
        if "valid_until_days" in extra:
            body["valid_until"] = (decided + timedelta(days=extra["valid_until_days"])).isoformat()
        outcome = create_record(ctx, _regulator(sector, token_ids), body)
        ids[(uscc, code)] = json.loads(outcome.body)["id"]
    return ids


def _demo_changes(ctx: ServiceContext, token_ids: dict[str, int], ids: dict) -> None:
    """One revocation (transport) and one credit repair (housing)."""
    revoke_record(ctx, _regulator("transport", token_ids),
                  ids[("91330603MA2D7P8Q15", "BID-COLLUDE")],
                  {"document_no": "绍柯交复〔2026〕3号", "reason": "行政复议撤销原处罚决定"})
    repair_record(ctx, _regulator("housing", token_ids),
                  ids[("91330621MA2J15R61H", "QUAL-LEND")],
                  {"repaired_on": (ctx.today() - timedelta(days=10)).isoformat(),
                   "document_no": "绍柯建修〔2026〕8号", "reason": "已完成整改并通过信用修复审核"})


def _demo_evaluation(ctx: ServiceContext, token_ids: dict[str, int]) -> None:
    """The demo evaluation belongs to the demo evaluator token, which may then read it."""
    evaluator = Actor("柯桥区公共资源交易中心评标系统", "evaluator",
                      token_id=token_ids["柯桥区公共资源交易中心评标系统"])
    create_evaluation(ctx, evaluator, {
        "tender": {"code": "KQ-2026-0012", "name": "柯桥区鉴湖路提升改造工程"},
        "sector": "housing", "as_of": ctx.today().isoformat(),
        "bidders": [{"uscc": "91330603MA2D4F6E84"},
                    {"consortium": ["913306037045081117", "91330603MA2BC1D21D"]},
                    {"uscc": "91330621MA2H5Y6K14"},
                    {"uscc": "913306031460111110"}],
    })


# ---------------------------------------------------------------- tenders (WARNINGS.md)

DEMO_PMS = ("330621198203150015", "33062119790921002X", "330602198811300014")


def _demo_bid(uscc: str, price: str, *, pm: str | None = None, **extra) -> dict:
    body = {"bidder": uscc, "bidder_name": ENTERPRISES[uscc], "price": price,
            "status": "valid", "submitted_at": extra.pop("submitted_at")}
    if pm:
        body["personnel"] = [{"role": "project_manager", "id_number": pm}]
    body.update(extra)
    return body


def _opening(ctx: ServiceContext, days_ago: int) -> tuple[str, str]:
    day = (ctx.today() - timedelta(days=days_ago)).isoformat()
    return f"{day}T09:30:00+08:00", f"{day}T08:50:00+08:00"


def demo_tenders(ctx: ServiceContext) -> list[dict]:
    """Three tenders: one awarded two months ago (its project manager's contract still
    runs), then a transport tender where two bids were prepared on one machine and
    uploaded from one address while a bid names that project manager (SAME-PREPARER,
    SAME-IP, PM-ELSEWHERE), and a housing tender with one deposit account and one price
    for two bids (SAME-DEPOSIT, IDENTICAL-PRICE)."""
    tenderee = {"uscc": "11330621002587465Y", "name": "绍兴市柯桥区某镇人民政府"}
    a_open, a_sub = _opening(ctx, 60)
    b_open, b_sub = _opening(ctx, 10)
    c_open, c_sub = _opening(ctx, 5)
    e = list(ENTERPRISES)
    return [
        {"code": "KQ-DEMO-2026-001", "name": "柯桥区钱清镇村道提升工程", "sector": "transport",
         "tenderee": tenderee, "agency": None, "method": "lowest_price",
         "ceiling_price": "2860000.00", "opened_at": a_open, "village": True,
         "bids": [_demo_bid(e[6], "2705000.00", pm=DEMO_PMS[0], submitted_at=a_sub),
                  _demo_bid(e[1], "2748000.00", pm=DEMO_PMS[1], submitted_at=a_sub),
                  _demo_bid(e[5], "2810000.00", submitted_at=a_sub)]},
        {"code": "KQ-DEMO-2026-002", "name": "柯桥区鉴湖路桥梁维修加固工程",
         "sector": "transport", "tenderee": tenderee,
         "agency": {"uscc": "91330621MA2BX7K3QQ", "name": "某招标代理有限公司"},
         "method": "lowest_price", "ceiling_price": "1280000.00", "opened_at": b_open,
         "exclusions": [{"kind": "machine_code", "value": "8F3A-22C1"}],
         "bids": [_demo_bid(e[6], "1196000.00", pm=DEMO_PMS[0], submitted_at=b_sub),
                  _demo_bid(e[1], "1201000.00", submitted_at=b_sub,
                            documents=[{"machine_code": "7A1C-90EE", "file_id": "F-88A1"}],
                            uploads=[{"ip": "115.220.4.17"}]),
                  _demo_bid(e[5], "1233000.00", submitted_at=b_sub,
                            documents=[{"machine_code": "7a1c90ee"}],
                            uploads=[{"ip": "115.220.4.17"}]),
                  _demo_bid(e[11], "1250000.00", submitted_at=b_sub,
                            documents=[{"machine_code": "8F3A22C1"}])]},
        {"code": "KQ-DEMO-2026-003", "name": "柯桥区华舍街道安置房配套工程",
         "sector": "housing", "tenderee": tenderee, "agency": None,
         "method": "comprehensive", "ceiling_price": "5600000.00", "opened_at": c_open,
         "bids": [_demo_bid(e[0], "5320000.00", submitted_at=c_sub,
                            deposit_account="6222 0212 0400 1234 567"),
                  _demo_bid(e[8], "5320000.00", submitted_at=c_sub,
                            deposit_account="6222-0212-0400-1234-567"),
                  _demo_bid(e[9], "5410000.00", pm=DEMO_PMS[2], submitted_at=c_sub)]},
    ]


def load_demo_tenders(ctx: ServiceContext) -> str:
    """Register the demo tenders once (award the first, refer one warning), when the
    identity key is configured; otherwise say why they were skipped."""
    from .identity import IdentityKeyMissing, identity_key
    from .tenders import award_tender, register_tender
    from .warnings import WarningFilter, dispose, list_warnings
    try:
        identity_key(ctx)
    except IdentityKeyMissing as exc:  # not set, or set but unusable: say which
        return f"; demo tenders skipped: {exc.message}"
    with ctx.uow(write=False) as uow:
        if uow.tenders.by_code("KQ-DEMO-2026-001") is not None:
            return "; demo tenders already registered"
    platform = Actor(PLATFORM, "platform")
    first, *rest = demo_tenders(ctx)
    register_tender(ctx, platform, first)
    award_tender(ctx, platform, first["code"], {
        "winner": first["bids"][0]["bidder"],
        "awarded_on": (ctx.today() - timedelta(days=50)).isoformat(),
        "contract_price": first["bids"][0]["price"],
        "completion_due": (ctx.today() + timedelta(days=300)).isoformat()})
    for body in rest:
        register_tender(ctx, platform, body)
    transport = Actor(REGULATORS["transport"], "regulator", sectors=frozenset(["transport"]))
    same_ip = list_warnings(ctx, transport, WarningFilter(code="SAME-IP", limit=1))["items"]
    if same_ip:
        dispose(ctx, transport, same_ip[0]["id"], {
            "action": "refer", "reason": "两家投标人同一 IP 上传，移送公安机关核查"})
    with ctx.uow(write=False) as uow:
        count = len(uow.warnings.page(limit=1000))
    from .demo_performance import load_demo_performance
    return (f"; 3 demo tenders with {count} warnings (see 待处置预警)"
            + load_demo_performance(ctx, ENTERPRISES, platform, REGULATORS)
            + load_demo_agency(ctx))


def _agency_tender(ctx: ServiceContext, code: str, name: str, days_ago: int,
                   bidders: list[tuple[str, str]]) -> dict:
    opened, submitted = _opening(ctx, days_ago)
    return {"code": code, "name": name, "sector": "transport", "tenderee": TENDEREE,
            "agency": AGENCY, "method": "lowest_price", "ceiling_price": "980000.00",
            "opened_at": opened, "village": True,
            "bids": [_demo_bid(u, p, submitted_at=submitted) for u, p in bidders]}


def load_demo_agency(ctx: ServiceContext) -> str:
    """PERFORMANCE.md §7: two earlier tenders by the demo agency, awarded and rated by
    their tenderee (with its conduct record of :func:`_demo_agency_record`, the agency
    page shows ratings, a record and a score; two ratings: A is still the default 80)."""
    from .agencies import rate_agency
    from .tenders import award_tender, register_tender
    platform = Actor(PLATFORM, "platform")
    tenderee = Actor(TENDEREE["name"], "tenderee", uscc=TENDEREE["uscc"])
    e = list(ENTERPRISES)
    ratings = [("KQ-DEMO-2025-011", "柯桥区漓渚镇农村饮用水管网改造工程", 300,
                [(e[2], "905000.00"), (e[10], "931000.00"), (e[4], "948000.00")],
                {"documents": "27.00", "procedure": "28.50", "service": "17.00",
                 "archive": "18.00"}, "文件编制规范，答疑及时"),
               ("KQ-DEMO-2025-012", "柯桥区平水镇村道养护工程", 200,
                [(e[3], "868000.00"), (e[7], "902000.00"), (e[9], "940000.00")],
                {"documents": "24.00", "procedure": "26.00", "service": "15.50",
                 "archive": "12.00"}, "开标资料归档不完整")]
    for code, name, days_ago, bidders, items, note in ratings:
        body = _agency_tender(ctx, code, name, days_ago, bidders)
        register_tender(ctx, platform, body)
        awarded = ctx.today() - timedelta(days=days_ago - 10)
        award_tender(ctx, platform, code, {
            "winner": bidders[0][0], "awarded_on": awarded.isoformat(),
            "contract_price": bidders[0][1],
            "completion_due": (awarded + timedelta(days=180)).isoformat()})
        rate_agency(ctx, tenderee, code, {
            "rated_on": (awarded + timedelta(days=20)).isoformat(), "items": items,
            "note": note})
    return f"; the agency {AGENCY['name']} rated twice"


def _demo_agency_record(ctx: ServiceContext, token_ids: dict[str, int]) -> None:
    """PERFORMANCE.md §7: a conduct record of the demo agency (an ordinary record)."""
    create_record(ctx, _regulator("transport", token_ids), {
        "uscc": AGENCY["uscc"], "subject_name": AGENCY["name"], "sector": "transport",
        "code": "AGENCY-ARCHIVE", "document_no": "柯交罚〔2026〕7号",
        "decided_on": (ctx.today() - timedelta(days=30)).isoformat(),
        "issued_by": REGULATORS["transport"], "project_code": "KQ-DEMO-2025-012"})
