"""The score timeline as an SVG drawn on the server (no script, no external resource):
one step line per sector, the grade bands of the model behind them, today's date, and
the projected part (records expiring) shaded. Colours come from console.css classes."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from markupsafe import Markup, escape

from api.console.labels import GRADES, SERIES

WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 52, 34, 14, 34


class Wording(NamedTuple):
    """What a chart calls its score, its grades and a point under restriction: an
    enterprise's credit grades (A–E, 限制投标) are not an agency's (A–D, PERFORMANCE.md §7,
    whose restriction is the agency definition's own measure)."""

    title: str
    projection: str
    grades: dict[str, str]
    restricted: str


CREDIT = Wording("信用分走势", "按现有记录到期的推算", GRADES, "限制投标")


def _scale(lo: float, hi: float, out_lo: float, out_hi: float):
    span = (hi - lo) or 1.0
    return lambda v: round(out_lo + (v - lo) * (out_hi - out_lo) / span, 1)


def _score_range(timeline: dict) -> tuple[int, int]:
    """Always shows the A band's lower edge and a little of D; whole multiples of 5."""
    scores = [float(p.score) for pts in timeline["series"].values() for p in pts]
    bands = sorted(float(b["min_score"]) for b in timeline["bands"])
    lo = min(scores + [bands[1] - 5 if len(bands) > 1 else 80.0]) - 5
    hi = max(scores + [bands[-1]]) + 5
    return max(0, int(lo // 5 * 5)), int(-(-hi // 5) * 5)


def timeline_svg(timeline: dict, wording: Wording = CREDIT) -> Markup:
    """``timeline`` as returned by credit.services.console.score_timeline, in the
    words of an enterprise's credit unless ``wording`` says otherwise."""
    start, end, today = timeline["start"], timeline["end"], timeline["today"]
    lo, hi = _score_range(timeline)
    x = _scale(start.toordinal(), end.toordinal(), LEFT, WIDTH - RIGHT)
    y = _scale(lo, hi, HEIGHT - BOTTOM, TOP)
    out = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="tl-title" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="tl-title">{wording.title}：{start} 至 {end}'
           f'（{today} 之后为{wording.projection}）</title>']
    out += _bands(timeline["bands"], lo, hi, y)
    out += _grid(lo, hi, y, start, end, x)
    tx = x(today.toordinal())
    out.append(f'<rect class="future" x="{tx}" y="{TOP}" width="{WIDTH - RIGHT - tx}" '
               f'height="{HEIGHT - BOTTOM - TOP}"/>')
    out.append(f'<line class="today" x1="{tx}" x2="{tx}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
    out.append(f'<text class="today-label" x="{tx + 4}" y="{TOP + 12}">今天 {today}</text>')
    for sector, points in timeline["series"].items():
        out += _series(sector, points, (x, y, end), timeline["listed_grade"], wording)
    out.append("</svg>")
    return Markup("".join(out))


def _bands(bands: list[dict], lo: int, hi: int, y) -> list[str]:
    out, top = [], hi
    for band in bands:
        bottom = max(lo, float(band["min_score"])) if band is not bands[-1] else lo
        if bottom < top:
            out.append(f'<rect class="band band-{escape(band["grade"])}" x="{LEFT}" '
                       f'y="{y(top)}" width="{WIDTH - RIGHT - LEFT}" '
                       f'height="{round(y(bottom) - y(top), 1)}"/>')
            middle = round((y(top) + y(bottom)) / 2 + 4, 1)
            out.append(f'<text class="band-label" x="{WIDTH - RIGHT + 6}" y="{middle}">'
                       f'{escape(band["grade"])}</text>')
        top = min(top, bottom)
    return out


def _grid(lo: int, hi: int, y, start: date, end: date, x) -> list[str]:
    out = []
    step = 5 if hi - lo <= 60 else 10
    for v in range(lo, hi + 1, step):
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v)}" y2="{y(v)}"/>')
        out.append(f'<text class="axis" x="{LEFT - 6}" y="{y(v) + 4}" text-anchor="end">{v}</text>')
    for year in range(start.year, end.year + 1):
        for month in (1, 4, 7, 10):
            d = date(year, month, 1)
            if start <= d <= end:
                cls = "tick-year" if month == 1 else "tick"
                label = f"{year}年" if month == 1 else f"{month}月"
                out.append(f'<line class="{cls}" x1="{x(d.toordinal())}" x2="{x(d.toordinal())}" '
                           f'y1="{TOP}" y2="{HEIGHT - BOTTOM + 4}"/>')
                out.append(f'<text class="axis" x="{x(d.toordinal())}" y="{HEIGHT - BOTTOM + 18}" '
                           f'text-anchor="middle">{label}</text>')
    return out


def _series(sector: str, points, axes, listed_grade: str, wording: Wording) -> list[str]:
    if not points:
        return []
    x, y, end = axes
    path = [f"M{x(points[0].on.toordinal())} {y(float(points[0].score))}"]
    for p in points[1:]:
        path.append(f"H{x(p.on.toordinal())}V{y(float(p.score))}")
    path.append(f"H{x(end.toordinal())}")
    name = SERIES.get(sector, sector)
    out = [f'<path class="line line-{escape(sector)}" data-sector="{escape(sector)}" '
           f'd="{"".join(path)}"><title>{escape(name)}</title></path>']
    previous = None
    for p in points:
        changed = previous is None or (p.score, p.grade) != (previous.score, previous.grade)
        if changed:
            cls = "dot listed" if p.grade == listed_grade else "dot"
            out.append(f'<circle class="{cls} dot-{escape(sector)}" cx="{x(p.on.toordinal())}" '
                       f'cy="{y(float(p.score))}" r="3.5"><title>{escape(name)} {p.on}：'
                       f'{escape(p.score)} 分，{escape(wording.grades.get(p.grade, p.grade))}'
                       f'{"" if p.eligible_to_bid else "，" + escape(wording.restricted)}'
                       '</title></circle>')
        previous = p
    return out


def change_rows(timeline: dict) -> list[dict]:
    """The dates on which any sector's score or grade changes (the chart as a table)."""
    series = timeline["series"]
    sectors = list(series)
    rows, previous = [], None
    for i, p in enumerate(series[sectors[0]]):
        now = {s: series[s][i] for s in sectors}
        key = {s: (v.score, v.grade, v.eligible_to_bid) for s, v in now.items()}
        if key != previous:
            rows.append({"on": p.on, "future": p.on > timeline["today"], "points": now})
        previous = key
    return rows
