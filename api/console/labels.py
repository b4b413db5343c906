"""Chinese labels of the console: every code the service speaks (sectors, grades,
measures, statuses, roles, audit kinds, trace rules) as a clerk reads it. Unknown codes
are shown as they are."""

from __future__ import annotations

SECTORS = {"housing": "房屋建筑和市政", "transport": "交通", "water": "水利"}
# The score timeline's lines: one per sector, or the agency's own (PERFORMANCE.md §7).
SERIES = {**SECTORS, "agency": "招标代理机构"}
CATEGORIES = {"market": "招投标市场行为", "site": "施工现场行为", "good": "良好行为",
              "agency": "招标代理机构行为"}  # PERFORMANCE.md §7
TIERS = {"minor": "轻微", "general": "一般", "serious": "严重", None: "—"}
MEASURES = {"blacklist": "列入严重失信名单", "bid_ban": "限制投标（所有行业）",
            "key_supervision": "重点监管"}
# The grade labels of 信用中国-style portals (issue 13), shown wherever a grade appears.
GRADE_LABELS = {"A": "优秀", "B": "良好", "C": "合格", "D": "较差", "E": "失信（联合惩戒）"}
GRADES = {g: f"{g} {label}" for g, label in GRADE_LABELS.items()}
RECORD_STATUS = {"active": "有效", "repaired": "已信用修复", "revoked": "已撤销"}
TRACE_STATUS = {"active": "计分", "superseded": "同项目同类奖项已计更高分，本条不计",
                "not_yet_effective": "尚未生效", "expired": "公示期已满", "repaired": "已修复",
                "revoked": "已撤销", "not_in_model": "本评分模型不计此类记录"}
ROLES = {"regulator": "行业监管部门", "evaluator": "评标系统", "auditor": "审计",
         "admin": "系统管理员", "enterprise": "企业", "platform": "公共资源交易平台",
         "tenderee": "招标人"}
KINDS = {"record.created": "录入记录", "record.revoked": "撤销记录",
         "record.repaired": "信用修复", "token.created": "创建令牌",
         "token.revoked": "吊销令牌", "evaluation.created": "开标信用快照",
         "score.served": "查询评分（留痕）", "ratings.exported": "导出评级",
         "session.ended": "退出控制台登录",
         "application.submitted": "提出修复或异议申请", "application.decided": "处理申请",
         "tender.registered": "登记招标项目（开标）", "warning.raised": "发出标中预警",
         "tender.awarded": "中标", "warning.disposed": "处置预警",
         "performance.submitted": "提交履约评价", "performance.reviewed": "审核履约评价",
         "agency.rated": "评价招标代理机构"}
APPLICATION_KINDS = {"repair": "信用修复申请", "objection": "异议申诉"}
APPLICATION_STATUS = {"pending": "待处理", "accepted": "已同意", "rejected": "不予同意"}
DECISION_ACTIONS = {"accept": "同意", "reject": "不予同意"}
RULES = {"base": "基础分", "contribution": "记录计分", "bonus_cap": "加分封顶",
         "floor": "最低分", "listing": "是否列入严重失信名单", "grade": "信用等级",
         "measure": "联合惩戒措施", "inspection_multiplier": "检查频次系数",
         "bid_points": "评标信用分"}
EVENTS = {"revocation": "撤销", "repair": "信用修复"}
PROBLEMS = {"hash_mismatch": "条目哈希不符", "prev_mismatch": "与前一条目的链接不符",
            "position_gap": "序号不连续", "row_missing": "数据行缺失",
            "row_mismatch": "数据行与其创建条目中的哈希不符",
            "row_unreferenced": "存在没有创建条目的数据行"}


def _lookup(table: dict):
    def label(value):
        return table.get(value, value if value is not None else "—")
    return label


def add_filters(env, tables: dict) -> None:
    """Register each of ``tables`` — a name and its label table (a dict) or its filter
    (a function) — as a Jinja filter of the console. A name already registered is an
    error: two tables under one name used to replace each other silently, by the order
    the blueprints registered, and an application's decision page read "确认accept"
    (the tender pages' disposal table had taken ``action_zh``)."""
    taken = sorted(set(tables) & set(env.filters))
    if taken:
        raise RuntimeError(f"console filters registered twice: {', '.join(taken)}")
    env.filters.update({name: t if callable(t) else _table_filter(t)
                        for name, t in tables.items()})


def _table_filter(table: dict):
    """A label table as a filter that shows an unknown code as it is."""
    return lambda value: table.get(value, value)


def when(instant: str | None) -> str:
    """``2026-05-01T09:30:00.123456+08:00`` as ``2026-05-01 09:30:00`` (CST, as written)."""
    if not instant or len(instant) < 19:
        return instant or "—"
    return f"{instant[:10]} {instant[11:19]}"


FILTERS = {
    "when": when,
    "sector_zh": _lookup(SECTORS),
    "category_zh": _lookup(CATEGORIES),
    "tier_zh": _lookup(TIERS),
    "measure_zh": _lookup(MEASURES),
    "grade_zh": _lookup(GRADES),
    "grade_label": _lookup(GRADE_LABELS),
    "application_kind_zh": _lookup(APPLICATION_KINDS),
    "application_status_zh": _lookup(APPLICATION_STATUS),
    "action_zh": _lookup(DECISION_ACTIONS),
    "status_zh": _lookup(RECORD_STATUS),
    "trace_status_zh": _lookup(TRACE_STATUS),
    "role_zh": _lookup(ROLES),
    "kind_zh": _lookup(KINDS),
    "rule_zh": _lookup(RULES),
    "event_zh": _lookup(EVENTS),
    "problem_zh": _lookup(PROBLEMS),
}
