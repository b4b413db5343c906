"""The public joint-punishment list in the console (失信联合惩戒名单公示): no sign-in,
rate-limited with the API's list (api/ratelimit.py), logs nothing."""

from __future__ import annotations

from flask import render_template, request

from api.console import bp
from api.console.access import ctx
from api.console.labels import SECTORS
from credit.domain.dates import MAX_DATE, MIN_DATE, parse_date
from credit.services import public_list
from credit.uscc import InvalidUSCC, normalise_uscc


def _query() -> tuple[public_list.PublicQuery, list[str]]:
    """The filters as typed; a bad one is named (in Chinese) and ignored."""
    args, problems = request.args, []
    sector = args.get("sector") or None
    if sector not in (None, *SECTORS):
        problems.append("行业无效，已显示全部行业。")
        sector = None
    as_of = None
    if args.get("as_of"):
        try:
            as_of = parse_date(args["as_of"].strip())
            if not MIN_DATE <= as_of <= MAX_DATE:
                raise ValueError
        except ValueError:
            problems.append("日期格式应为 YYYY-MM-DD（2000-01-01 至 2099-12-31），已按今天显示。")
            as_of = None
    after = None
    if args.get("after"):
        try:
            after = normalise_uscc(args["after"])
        except InvalidUSCC:
            problems.append("翻页位置无效，已从第一页显示。")
    return public_list.PublicQuery(sector=sector, as_of=as_of, limit=50, after=after), problems


@bp.get("/public")
def public_list_page():
    q, problems = _query()
    listing = public_list.punishments(ctx(), q)
    return render_template("console/public.html", listing=listing, q=q, problems=problems,
                           sectors=SECTORS)
