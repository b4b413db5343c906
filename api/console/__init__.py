"""The web console (issue: auditors, regulators and enterprises): server-rendered
Chinese pages on the same Flask app, outside the OpenAPI document.

Every page calls credit.services use cases only. Signing in takes an API token; the
session cookie, signed with CREDIT_SECRET_KEY, carries the token's id (never the
secret) and a per-session CSRF token that every POST form must echo. Roles and sectors
follow API.md §2 because the same use cases decide them.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from api.console.forms import STATE_REFUSALS
from api.console.labels import FILTERS, add_filters
from api.console.summaries import entry_summary

bp = Blueprint("console", __name__)

ERROR_TITLES = {
    400: "请求无效", 401: "请先登录", 403: "无权访问", 404: "页面或资源不存在",
    405: "不支持该请求方式", 409: "与现有数据冲突", 413: "提交的内容过大",
    422: "不符合业务规则", 429: "请求过于频繁", 500: "服务器内部错误",
    503: "服务暂不可用",
}
ERROR_TEXTS = {
    "csrf_failed": "表单已过期或来源无法确认（CSRF 校验未通过），未保存任何内容。"
                   "请返回上一页刷新后重新提交。",
    "sector_forbidden": "本账号无权查看或变更其他行业的内容"
                        "（信用记录、招标项目、预警、履约评价）。",
    "forbidden": "当前账号无权打开此页面或查看此内容（角色或所属企业不符）。",
    "not_found": "没有找到该页面或资源。",
    "invalid_uscc": "统一社会信用代码无效。",
    "method_not_allowed": "该页面不支持这种请求方式。",
    "payload_too_large": "提交的内容超过允许的大小，未保存任何内容。",
    "secret_key_missing": "控制台未配置 CREDIT_SECRET_KEY，无法建立登录会话。",
    "database_unavailable": "数据库暂时无法连接，请稍后再试。",
    "integrity_failure": "存储的数据在写入后被改动，与其哈希不符，因此不予显示。"
                         "请审计人员运行 credit audit verify 定位被改动的条目。",
    "internal_error": "服务器处理请求时出错，已记入日志。请稍后再试；如果是提交表单，"
                      "请先查看是否已经保存，再决定是否重新提交。",
    "rate_limited": "来自本机地址的请求过多，已暂时拒绝。请稍候再试（等待时间见下）。",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_console_path(path: str) -> bool:
    """Everything outside /api is the console's (its errors are HTML pages)."""
    return not (path == "/api" or path.startswith("/api/"))


def error_page(status: int, message: str, error: str | None = None,
               headers: dict | None = None):
    """An error as an HTML page (console paths); never raises."""
    from api.console.forms import zh_or_none
    title = ERROR_TITLES.get(status, "出错了")
    text = ERROR_TEXTS.get(error or "", "")
    detail = zh_or_none(message)  # every page a person sees is Chinese
    if detail == text:
        detail = None
    try:
        body = render_template("console/error.html", status=status, title=title, text=text,
                               detail=detail)
    except Exception:  # a broken template must not hide the original error
        from markupsafe import escape
        body = f"<!doctype html><meta charset=utf-8><h1>{status} {title}</h1>" \
               f"<p>{escape(text)}</p>"
    out = {"Content-Type": "text/html; charset=utf-8", **SECURITY_HEADERS}
    out.update(headers or {})
    return body, status, out


@bp.record_once
def _setup(state) -> None:
    app = state.app
    add_filters(app.jinja_env, FILTERS)
    app.jinja_env.globals["entry_summary"] = entry_summary
    app.jinja_env.globals["state_refusals"] = STATE_REFUSALS
    # The cookie is sent on top-level navigation only (CSRF defence in depth) and is
    # unreadable from scripts; it lasts for the browser session (see access.py).
    # Flask's defaults are replaced; a value the app's config set explicitly is kept.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_NAME") == "session":
        app.config["SESSION_COOKIE_NAME"] = "credit_console"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Behind TLS the cookie must never travel in clear (CREDIT_SECURE_COOKIES).
    if app.extensions["credit_settings"].secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True


from api.console import (  # noqa: E402,F401  (routes register on bp)
    access,
    agency_views,
    applications,
    performance_views,
    public,
    reports,
    tender_views,
    views,
)
