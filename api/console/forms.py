"""HTML forms ↔ the use cases' request bodies, and the use cases' refusals as inline
Chinese messages.

The rules are not repeated here: a form becomes exactly the JSON body the API would
receive (blank fields left out), the same use case validates it, and its errors — keyed
by the same field names — are shown next to the fields. Only the wording is translated;
a message without a translation is shown as the service wrote it.
"""

from __future__ import annotations

import re
import secrets

from credit.errors import CreditError

RECORD_FIELDS = ("uscc", "subject_name", "sector", "code", "decided_on", "document_no",
                 "issued_by", "valid_until", "project_code", "project_name", "occurred_on",
                 "note")
REVOCATION_FIELDS = ("document_no", "reason")
REPAIR_FIELDS = ("repaired_on", "document_no", "reason")
APPLICATION_FIELDS = ("kind", "reason", "requested_repair_on")
DECISION_FIELDS = ("action", "reason", "document_no")
REVIEW_FIELDS = ("action", "reason", "reviewed_on")


#: Refusals that only repeat what a record form's notice of the record's state says
#: (revoked, repaired, not repairable, an application pending): such a form's page
#: shows its notice, not the refusal again; any other refusal above it.
STATE_REFUSALS = frozenset({"already_revoked", "already_repaired", "not_repairable",
                            "application_pending"})


def body_from(form, fields: tuple[str, ...]) -> dict:
    """The JSON body of a form: each listed field that is not blank, as typed."""
    return {f: form[f] for f in fields if (form.get(f) or "").strip()}


def new_form_key() -> str:
    """An Idempotency-Key for one rendering of a form (a double submit creates once)."""
    return secrets.token_urlsafe(24)


_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def posted_form_key(form) -> str:
    """The posted form's key, or a fresh one when none (or a malformed one) was sent:
    a form opened before keys were rendered still works, it is just not deduplicated."""
    key = form.get("form_key", "")
    return key if _FORM_KEY.match(key) else new_form_key()


_USCC_PART = {
    "positions 1–8": "第 1–8 位须为数字 0-9",
    "positions 9–17": "第 9–17 位须为数字或字母（不含 I、O、S、V、Z）",
    "position 18": "第 18 位（校验码）须为数字或字母（不含 I、O、S、V、Z）",
}


_THINGS = {"record": "记录", "trace": "评分留痕", "evaluation": "开标信用快照",
           "audit entry": "审计条目", "application": "申请", "page": "页", "cursor": "页"}


def _char(shown: str) -> str:
    """A character as credit.uscc shows it (``'x'``, ``a space``, ``U+3000``)."""
    return "空格" if shown == "a space" else shown


def _uscc_rule(text: str) -> str:
    for key, zh in _USCC_PART.items():
        if text.startswith(key):
            return zh
    return text


_TRANSLATIONS: list[tuple[re.Pattern, object]] = [(re.compile(p), t) for p, t in [
    (r"^Missing data for required field\.$", "此项必填。"),
    # tokens.check_issuer: a regulator token named before token create refused long names
    (r"^This token's name has (\d+) characters", r"本账号名称有 \1 个字符，超过记录“发布机关”"
     r"的上限（100 个字符），不能生成记录；请管理员另建名称较短的监管账号令牌。"),
    (r"^Unknown field\.$", "表单含有未知字段。"),
    (r"^Field may not be null\.$", "此项必填。"),
    (r"^Not a valid string\.$", "应为文字。"),
    (r"^must not be empty\.$", "不能为空。"),
    (r"^must have at most (\d+) characters\.$", r"最多 \1 个字。"),
    (r"^must have at least (\d+) characters\.$", r"至少 \1 个字。"),
    (r"^only a repair application names a repair date\.$", "只有信用修复申请需要填写修复日期。"),
    (r"^There is no (record|trace|evaluation|audit entry|application|page|cursor) '?([^']*?)'?\.$",
     lambda m: f"没有编号为 {m[2]} 的{_THINGS.get(m[1], '内容')}。"),
    (r"^No record was ever entered for (\S+)\.$", r"\1 从未被录入任何信用记录。"),
    (r"^There is no model (\S+)\.$", r"没有评分模型 \1。"),
    (r"^must be a date( string)? YYYY-MM-DD\.$", "日期格式应为 YYYY-MM-DD。"),
    (r"^must lie between 2000-01-01 and 2099-12-31\.$", "日期须在 2000-01-01 至 2099-12-31 之间。"),
    (r"^Must be one of: (.*)\.$", "取值无效，请从列表中选择。"),
    (r"^Length must be between (\d+) and (\d+)\.$", r"长度须为 \1–\2 个字符。"),
    # marshmallow's Range (a record number: 1 … 2**63 − 1, the upper bound no clerk needs)
    (r"^Must be greater than or equal to (-?\d+) and less than or equal to (-?\d+)\.$",
     lambda m: f"不能小于 {m[1]}。" if int(m[2]) >= 2**63 - 1
     else f"须在 {m[1]} 至 {m[2]} 之间。"),
    (r"^must not be after decided_on\.$", "违法行为发生日期不能晚于决定日期。"),
    (r"^must not contain (U\+0000|an unpaired surrogate)\.$", "含有不允许的字符。"),
    (r"^The USCC is empty", "请填写统一社会信用代码（18 位）。"),
    (r"^The USCC has (\d+) characters?, but 18 are expected; character (\d+) is (.+?), "
     r"which never belongs", lambda m: f"统一社会信用代码应为 18 位，现为 {m[1]} 位；"
                                      f"第 {m[2]} 位是{_char(m[3])}，代码中不能有这个字符"
                                      "（不能有空格或分隔符，字母不含 I、O、S、V、Z）。"),
    (r"^The USCC has (\d+) characters?, but 18 are expected\.$",
     r"统一社会信用代码应为 18 位，现为 \1 位。"),
    (r"^Character (\d+) of the USCC is (.+?), which is not allowed there: (.*)\.$",
     lambda m: f"统一社会信用代码第 {m[1]} 位是{_char(m[2])}，该位置不允许：{_uscc_rule(m[3])}。"),
    (r"^The check character \(position 18\) of the USCC is '(.)', but '(.)' is expected",
     r"统一社会信用代码校验码（第 18 位）为“\1”，按 GB 32100-2015 应为“\2”，请核对代码。"),
    (r"^Unknown behaviour code '(.*)'; valid codes", r"目录中没有行为代码“\1”，请从目录中选择。"),
    (r"^(\S+) is never entered by hand: only the approval of a performance evaluation",
     r"行为代码“\1”只在履约评价审核通过时自动生成，不能手工录入。"),
    (r"^The decision date (\S+) lies in the future \(today is (\S+) in China Standard Time\)",
     r"决定日期 \1 晚于今天（北京时间 \2）。"),
    (r"^The repair date (\S+) lies in the future \(today is (\S+) in China Standard Time\)",
     r"修复日期 \1 晚于今天（北京时间 \2）。"),
    (r"^(\S+) takes its validity from the decision: valid_until is required\.$",
     r"\1 的有效期由决定书确定，请填写有效期截止日。"),
    (r"^(\S+) has a default validity of (\d+) months: valid_until must not be sent\.$",
     r"\1 按目录公示 \2 个月，自动计算截止日，请勿填写有效期截止日。"),
    (r"^valid_until must lie between (\S+) and (\S+) \((\d+) months\)\.$",
     r"有效期截止日须在 \1 至 \2 之间（最长 \3 个月）。"),
    # the disposal (WARNINGS.md §6) and the performance evaluation (PERFORMANCE.md §3)
    (r"^must be (\d+)–(\d+) characters long \((\d+) sent\)\.$",
     r"长度须为 \1–\2 个字（现为 \3 个字）。"),
    (r"^Not a valid integer\.$", "应为整数。"),
    (r"^confirm names at least one bid of the warning\.$", "查实时须至少选择一个投标。"),
    (r"^must not name a bid twice\.$", "同一投标只能选择一次。"),
    (r"^bid\(s\) \[(.*)\] are not named by warning (\d+)",
     r"第 \1 标不在预警 #\2 所列的投标中。"),
    (r"^is required to confirm \(or send covered_by\)\.$",
     "查实时必填（或改为填写已有记录编号）。"),
    (r"^is only for action confirm \(not (\w+)\)\.$", "只有查实时才填写此项。"),
    (r"^(.*) may not confirm a (\S+) warning; allowed: (.*)\.$",
     r"行为代码“\1”不能用于查实该类预警，可选：\3。"),
    (r"^must not lie in the future \(today is (\S+) in China Standard Time\)\.$",
     r"不能晚于今天（北京时间 \1）。"),
    (r"^must not be before (\S+), the date the tender was opened\.$", r"不能早于开标日期 \1。"),
    (r"^must not be before (\S+), the date of the award", r"不能早于定标日期 \1。"),
    (r"^must not be before (\S+), the evaluation's (completed_on|period_end)\.$",
     r"不能早于该评价的截止日期 \1。"),
    (r"^there is no record (\d+)\.$", r"没有编号为 \1 的记录。"),
    (r"^record (\d+) is revoked: it punishes nothing\.$",
     r"记录 #\1 已被撤销，不能作为已有处罚记录。"),
    (r"^must not name a record twice \((.*) named more than once\)\.$",
     lambda m: f"同一记录只能填写一次（重复的记录：{m[1].replace(', ', '、')}）。"),
    (r"^record (\d+) is not a record of a party of a named bid",
     r"记录 #\1 不是所选投标当事人在本项目的记录。"),
    (r"^is required for a final evaluation\.$", "竣工评价须填写竣工日期。"),
    (r"^is required for a periodic evaluation\.$", "阶段评价须填写评价期截止日。"),
    (r"^(Points )?must be a string with exactly two decimals",
     "须为两位小数（如 6.00），不能有多余的前导零。"),
    (r'^(Points )?must not be "-0\.00"', "零应写作 0.00（不能写 -0.00）。"),
    (r"^Points of (\S+) must be more than 0\.00 and at most (\S+); (.*) is not\.$",
     r"扣分须大于 0.00 且不超过 \2（该项满分），\3 不在此范围内。"),
]]
# ``bids.2`` (the third value of a field sent several times): shown at the field itself.
_INDEXED = re.compile(r"^(\w+)\.\d+$")

# Refusals that are not about one field's shape: (field or None, message template).
_CODES = {
    "duplicate_record": ("document_no", "该企业已有同一行为代码、同一文号的有效记录"
                                        "（记录 #{record_id}），未重复录入。"),
    "sector_forbidden": ("sector", "本账号无权录入或变更该行业的记录。"),
    "forbidden": (None, "当前账号无权执行此操作。"),
    # the signed-in token revoked while the form was being saved (tokens.write_as)
    "unauthenticated": (None, "登录所用的令牌已被吊销或已过期，本次提交未保存；请重新登录。"),
    "already_revoked": (None, "该记录已被撤销，不能再撤销或修复。"),
    "already_repaired": (None, "该记录已完成信用修复，不能再次修复。"),
    "not_repairable": (None, "该行为代码不适用信用修复。"),
    "repair_too_early": ("repaired_on", "修复日期过早：最早可于 {earliest_repair_on} 修复。"),
    "repair_after_expiry": ("repaired_on", "该记录的公示期于 {latest_repair_on} 届满，"
                                           "修复日期不得晚于该日。"),
    # the form is shown again with a fresh key (key_after): sending it again is a new write
    "idempotency_key_reused": (None, "此表单已用不同内容提交过（先前的内容已保存），"
                                     "本次内容未保存；如确需另行提交，请核对后再次提交。"),
    "not_found": (None, "记录不存在。"),
    "application_pending": (None, "该记录已有一项待处理的申请（#{application_id}），"
                                  "处理完毕前不能再提出申请。"),
    "already_decided": (None, "该申请已经处理，不能再次处理。"),
    "already_disposed": (None, "该预警已经处置，不能再次处置。"),
    "already_referred": (None, "该预警已经移送，不能再次移送；可以查实或排除。"),
}


KEY_REUSED = _CODES["idempotency_key_reused"][1]


def key_after(exc: CreditError, key: str | None) -> str | None:
    """The form key a refused form is shown again with: the same one, so that sending it
    again is still the one write, except when that key has been spent on other content
    (``idempotency_key_reused``: the form's earlier content was saved). Then None, and
    the form gets a fresh key: sending it again, as the message invites, is a new write
    and is not refused once more."""
    return None if exc.error == "idempotency_key_reused" else key


def zh(message: str) -> str:
    """The Chinese wording of a service message (the message itself when there is
    none: see :func:`zh_or_none` for pages that must not show English)."""
    for pattern, replacement in _TRANSLATIONS:
        m = pattern.search(message)
        if m:
            return replacement(m) if callable(replacement) else m.expand(replacement)
    return message


_CJK = re.compile(r"[\u4e00-\u9fff]")


def zh_or_none(message: str | None) -> str | None:
    """The Chinese wording of a message, or None when it has none (never English)."""
    text = zh(message or "")
    return text if _CJK.search(text) else None


def form_errors(exc: CreditError, rename: dict[str, str] | None = None,
                shown: tuple[str, ...] | None = None
                ) -> tuple[dict[str, list[str]], list[str]]:
    """(messages per field, messages for the whole form) of a refused use case;
    ``rename``: the form's own name of a field the use case names otherwise (the
    application's ``requested_repair_on`` is the repair's ``repaired_on``); ``shown``: the
    fields the form has, when a refusal may name one it has not (a decision refused for
    its repair date), whose messages then go with the whole form's."""
    fields: dict[str, list[str]] = {}
    for name, msgs in exc.errors.items():
        listed = fields.setdefault(_INDEXED.sub(r"\1", name), [])
        # ``bids.0`` and ``bids.1`` alike "应为整数。": the field shows it once
        listed.extend(t for t in dict.fromkeys(zh(m) for m in msgs) if t not in listed)
    general = fields.pop("_body", [])
    if exc.error in _CODES:
        field, template = _CODES[exc.error]
        try:
            text = template.format(**exc.extra)
        except (KeyError, IndexError):
            text = template
        # A refusal of one action to a token that keeps its other rights says why.
        text = (zh_or_none(exc.message) if exc.error == "forbidden" else None) or text
        if field and field not in fields:
            fields[field] = [text]
        elif not field:
            general.append(text)
    elif not fields:
        general.append(zh(exc.message))
    for name, own in (rename or {}).items():
        if name in fields:
            fields.setdefault(own, []).extend(fields.pop(name))
    for name in [f for f in fields if shown is not None and f not in shown]:
        general.extend(fields.pop(name))  # no such field on this form: shown for all of it
    return fields, general
