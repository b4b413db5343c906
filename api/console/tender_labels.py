"""Chinese labels of the tender loop's codes for the console (WARNINGS.md); the screens'
own names come from the screen definition. Unknown codes are shown as they are."""

from __future__ import annotations

SEVERITIES = {"high": "高", "medium": "中", "low": "低"}
WARNING_STATUS = {"open": "待处置", "referred": "已移送", "confirmed": "已查实",
                  "dismissed": "已排除"}
# The inbox's status filter: 待处置 is open or referred (a referral still awaits a decision).
STATUS_CHOICES = {"pending": "待处置（含已移送）", "open": "待处置（未移送）",
                  "referred": "已移送", "confirmed": "已查实", "dismissed": "已排除",
                  "all": "全部"}
ACTIONS = {"confirm": "查实", "dismiss": "排除", "refer": "移送公安/纪委"}
METHODS = {"lowest_price": "经评审的最低投标价法", "comprehensive": "综合评估法",
           "benchmark": "评标基准价法"}
PERSON_ROLES = {"project_manager": "项目负责人", "technical_lead": "技术负责人",
                "safety_officer": "安全员"}
BID_STATUS = {"valid": "有效", "rejected": "否决"}
IDENTIFIERS = {"machine_code": "文件制作机器码", "file_id": "文件创建标识码",
               "pricing_lock": "计价软件加密锁号", "mac": "MAC 地址", "cpu": "CPU 序列号",
               "disk": "硬盘序列号", "ip": "IP 地址",
               # evidence keys (WARNINGS.md §4)
               "kind": "类别", "value": "值", "deposit_account_masked": "保证金账号（脱敏）",
               "id_number_masked": "身份证号码（脱敏）", "price": "相同的投标报价",
               "tenders": "相关的招标项目", "evaluation": "履约评价",
               "gap_spread": "相邻报价差的离散度", "cv": "有效报价的变异系数",
               "rd": "最低两价的相对距离", "lowest_price": "最低投标报价",
               "valid_bid": "唯一的有效投标（标序）", "co_bids": "共同投标次数",
               "rotation": "两家各有中标（轮流中标）",
               # the screens' parameters (WARNINGS.md §4), shown beside their warnings
               "regular_tolerance": "规律性差异容差", "cv_max": "变异系数上限",
               "rd_min": "相对距离下限", "regular_min_bids": "最少有效投标数",
               "cv_min_bids": "最少有效投标数", "rd_min_bids": "最少有效投标数",
               "co_bid_window_days": "统计期间（天）", "co_bid_min": "共同投标次数下限",
               # the post-award warning's parameters (PERFORMANCE.md §4.2)
               "stage": "阶段", "triggers": "触发原因",
               "project_manager_on_site": "项目经理未到岗（评价表填写）"}
# An evidence key whose meaning depends on the screen that found it (WARNINGS.md §4):
# PM-ELSEWHERE's tenders are the other contracts its project manager holds, CO-BIDDING's
# the tenders the pair bid in together, this one included.
SCREEN_EVIDENCE = {"PM-ELSEWHERE": {"tenders": "该项目负责人在任的其他中标项目"},
                   "CO-BIDDING": {"tenders": "两家共同投标的招标项目（含本项目）"}}

# Who reads a tender's warnings, as the tender page's note names them to those who may
# not (WARNINGS.md §1): offices, not the roles' short labels (审计 alone is the activity;
# the evaluator role is how the evaluation committee reads them, 标中, through its
# bid-evaluation system). Keyed by the roles of warnings.WARNING_READERS, in this order.
WARNING_READER_NAMES = {"regulator": "本行业监管部门", "evaluator": "评标委员会（经评标系统）",
                        "auditor": "审计部门", "admin": "系统管理员"}
