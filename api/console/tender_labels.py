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
               "tenders": "同一人员任职的其他招标项目", "evaluation": "履约评价",
               # the post-award warning's parameters (PERFORMANCE.md §4.2)
               "stage": "阶段", "triggers": "触发原因",
               "project_manager_on_site": "项目经理未到岗（评价表填写）"}
