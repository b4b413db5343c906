"""Server-side render time of every console page on the demo data (issue: web console —
"every page renders in under 200 ms server time").

Loads ``credit demo-data``'s set into a fresh database (SQLite by default), signs in
with each demo token through Flask's test client and times each page with
``time.perf_counter`` around the request (routing, services, database, Jinja; no
network). Each page is requested once to warm up (template compilation), then N times;
median, p95 and max are reported in milliseconds. Pages that serve scores (the
enterprise page: three traced scores) grow the log while the bench runs; the audit page
verifies the whole chain on every view, so it is measured last, on the biggest log.

    python bench/console_render.py [-n 30] [--database-url URL]... [--append]

Without ``--database-url`` a fresh SQLite file is used (also ``--database-url sqlite``);
each URL given (an empty database; it is migrated) adds a table, e.g.
``--database-url sqlite --database-url postgresql://postgres@127.0.0.1/console_bench``.

``--append`` writes the markdown section into bench/README.md (replacing this bench's
previous section, leaving the others).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENTERPRISE = "91330603MA2D4F6E84"
LISTED = "91330603MA2BC1D21D"
BUDGET_MS = 200.0


def build(database_url: str | None, workdir: Path):
    from api import create_app
    from credit.persistence.database import upgrade
    from credit.services.bootstrap import build_context
    from credit.services.demo import load_demo
    url = f"sqlite:///{workdir / 'bench-console.db'}" if database_url in (None, "sqlite") \
        else database_url
    upgrade(url)
    ctx = build_context(url)
    load_demo(ctx, workdir / "demo-tokens.txt")
    tokens = {}
    for line in (workdir / "demo-tokens.txt").read_text(encoding="utf-8").splitlines():
        role, name, secret = line.split("\t")
        tokens.setdefault(role, secret)
        tokens[name] = secret
    app = create_app({"CREDIT_CONTEXT": ctx, "SECRET_KEY": os.urandom(16).hex()})
    return app, ctx, tokens, url


class Client:
    def __init__(self, app, secret: str | None):
        self.c = app.test_client()
        self.csrf = None
        page = self.c.get("/").get_data(as_text=True)
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        if secret:
            resp = self.c.post("/signin", data={"token": secret, "csrf_token": self.csrf})
            assert resp.status_code == 302, resp.status_code
            page = self.c.get("/audit").get_data(as_text=True)  # any page: a fresh token
            m = re.search(r'name="csrf_token" value="([^"]+)"', page)
            self.csrf = m.group(1) if m else self.csrf

    def request(self, method: str, path: str, data: dict | None):
        if method == "GET":
            return self.c.get(path)
        return self.c.post(path, data={**(data or {}), "csrf_token": self.csrf})


def pages(tokens: dict) -> list[tuple[str, str, str, str, dict | None, int]]:
    """(label, who, method, path, form, expected status)."""
    housing = "柯桥区住房和城乡建设局"
    bad = {"uscc": ENTERPRISE[:17] + "0", "subject_name": "x", "sector": "housing",
           "code": "BID-NOSIGN", "decided_on": "2099-01-01", "document_no": "x",
           "issued_by": "x"}
    return [
        ("sign-in page", None, "GET", "/", None, 200),
        ("enterprise page (3 traced scores + timeline)", "enterprise", "GET",
         f"/subjects/{ENTERPRISE}", None, 200),
        ("enterprise page, listed subject", "evaluator", "GET", f"/subjects/{LISTED}", None,
         200),
        ("who pulled my score", "enterprise", "GET", f"/subjects/{ENTERPRISE}/inquiries",
         None, 200),
        ("home: search + recent records", housing, "GET", "/?q=柯桥", None, 200),
        ("decision form", housing, "GET", "/records/new", None, 200),
        ("decision form, refused (writes nothing)", housing, "POST", "/records/new", bad, 400),
        ("record page", housing, "GET", "/records/1", None, 200),
        ("revocation form", housing, "GET", "/records/1/revocation", None, 200),
        ("revocation confirmation step", housing, "POST", "/records/1/revocation",
         {"step": "review", "document_no": "x", "reason": "y"}, 200),
        ("repair form", housing, "GET", "/records/1/repair", None, 200),
        ("evaluation list", "auditor", "GET", "/evaluations", None, 200),
        ("evaluation page (4 bidders)", "auditor", "GET", "/evaluations/1", None, 200),
        ("trace page", "auditor", "GET", "/traces/{trace}", None, 200),
        ("trace verification (replay)", "auditor", "POST", "/traces/{trace}/verify", None, 200),
        ("audit entry page", "auditor", "GET", "/audit/entries/8", None, 200),
        ("audit page, filtered", "auditor", "GET",
         f"/audit?kind=score.served&uscc={ENTERPRISE}", None, 200),
        ("audit page (whole-chain verification)", "auditor", "GET", "/audit", None, 200),
    ]


def run(n: int, database_url: str | None) -> tuple[list[dict], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        app, ctx, tokens, url = build(database_url, Path(tmp))
        from credit.services.audit import list_entries
        trace = list_entries(ctx, kind="score.served", limit=1)["items"][0]["position"]
        clients: dict = {}
        rows = []
        for label, who, method, path, form, status in pages(tokens):
            client = clients.get(who) or clients.setdefault(
                who, Client(app, tokens[who] if who else None))
            path = path.format(trace=trace)
            resp = client.request(method, path, form)
            assert resp.status_code == status, (label, resp.status_code,
                                                resp.get_data(as_text=True)[:500])
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                resp = client.request(method, path, form)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == status, label
            times.sort()
            rows.append({"label": label, "path": f"{method} {path}",
                         "median": statistics.median(times),
                         "p95": times[max(0, int(round(0.95 * n)) - 1)], "max": times[-1]})
        with ctx.uow(write=False) as uow:
            entries = uow.audit.head().position
        info = {"backend": url.split(":", 1)[0], "entries": entries, "n": n}
        ctx.uow.engine.dispose()
    return rows, info


def markdown(runs: list[tuple[list[dict], dict]]) -> str:
    worst = max(r["max"] for rows, _ in runs for r in rows)
    first = runs[0][1]
    lines = [
        f"## Console render time (bench/console_render.py, {date.today().isoformat()})",
        "",
        f"Server-side time per page through Flask's test client on the demo data "
        f"(`credit demo-data`), {first['n']} requests per page after one warm-up; Python "
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.1f} at the end (other work on the machine inflates "
        f"the tails). Every enterprise page view appends three traces, so the log grows "
        f"while the bench runs. Budget: {BUDGET_MS:.0f} ms per page.",
    ]
    for rows, info in runs:
        lines += ["", f"**{info['backend']}** (log of {info['entries']} entries at the end)",
                  "", "| page | request | median ms | p95 ms | max ms |",
                  "|---|---|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['label']} | `{r['path']}` | {r['median']:.1f} | "
                         f"{r['p95']:.1f} | {r['max']:.1f} |")
    verdict = "within" if worst < BUDGET_MS else "OVER"
    lines += ["", f"Slowest single request: {worst:.1f} ms — {verdict} the "
              f"{BUDGET_MS:.0f} ms budget.", ""]
    return "\n".join(lines)


SECTION = "## Console render time"


def write_section(readme: Path, text: str) -> None:
    """Replace this bench's own section of bench/README.md (other benches keep theirs),
    or append it."""
    existing = readme.read_text(encoding="utf-8") if readme.exists() else \
        "# Benchmarks\n\nFigures only; nothing here is asserted in tests.\n"
    start = existing.find(SECTION)
    if start < 0:
        readme.write_text(existing.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    end = existing.find("\n## ", start + len(SECTION))
    rest = existing[end + 1:] if end >= 0 else ""
    readme.write_text(existing[:start] + text.rstrip("\n") + "\n" + ("\n" + rest if rest else ""),
                      encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--database-url", action="append", default=None,
                        help="an empty database; repeat for several backends")
    parser.add_argument("--append", action="store_true",
                        help="write the section into bench/README.md")
    args = parser.parse_args()
    runs = [run(args.n, url) for url in (args.database_url or [None])]
    text = markdown(runs)
    print(text)
    if args.append:
        write_section(ROOT / "bench" / "README.md", text)
    return 0 if max(r["max"] for rows, _ in runs for r in rows) < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
