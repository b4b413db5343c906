"""No console page shows a code of the service where a clerk expects Chinese, on both
backends.

An application's decision page once read "确认accept": two label tables were registered
under one filter name and one replaced the other, so the code itself reached the page.
Nothing checked, page by page, that what a person reads is the label and not the code.
Here the demo data (every rule of MODEL.md, tenders with warnings, performance, agency
ratings) is loaded and completed so that every state shows somewhere (records active,
revoked, repaired; applications of both kinds pending, accepted, rejected; warnings
open, referred, confirmed, dismissed; evaluations submitted, returned, approved; an
audit entry of every kind). Then each role signs in and walks every console page it
can reach by following the pages' own links and GET forms (each option of each filter),
plus the review steps of the forms, and the visible text of each page (tags, scripts
and styles stripped; button values, placeholders and titles kept) must hold no code of
the service's vocabulary — built from the label tables' keys, the audit kinds and the
definitions' codes — except where the page shows it *as a code* (a ``mono`` or
``<code>`` element) beside its name, or where ALLOWED below says why.

A second test confirms each form once and reads the page it lands on, with its
success message. Not checked: codes of one letter (a grade is printed beside its label
on purpose), and upper-case codes of a table the vocabulary does not know.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import template_rendered
from sqlalchemy import func, select

from credit.persistence.tables import AuditEntryRow, RecordRow
from credit.services import applications, performance, records, tenders, warnings
from credit.services.context import Actor
from credit.services.tokens import create_token, revoke_token

from .test_console_pages import SECRET_KEY, Browser, last_form

pytestmark = pytest.mark.db

S1 = "91330603MA2D4F6E84"  # the demo's enterprise with a token (浙江柯桥建工集团有限公司)


# ------------------------------------------------------------------ the vocabulary

def _tables() -> dict[str, dict]:
    """Every label table of the console by its name: the keys are the codes."""
    from api import console
    from api.console import (
        agency_views,
        forms,
        labels,
        performance_views,
        tender_labels,
        tender_views,
    )
    out = {f"{m.__name__}.{n}": t for m in (labels, tender_labels)
           for n, t in vars(m).items() if n.isupper() and isinstance(t, dict)}
    # keyed by screen code (shown as a code beside its name): its inner tables are labels
    out.pop(f"{tender_labels.__name__}.SCREEN_EVIDENCE")
    out.update({f"tender_labels.SCREEN_EVIDENCE.{code}": t
                for code, t in tender_labels.SCREEN_EVIDENCE.items()})
    out.update({f"performance_views.{n}": t for n, t in performance_views.LABELS.items()})
    out.update({f"tender_views.{n}": t for n, t in tender_views.LABELS.items()})
    out.update({"console.ERROR_TEXTS": console.ERROR_TEXTS,
                "agency_views.REFUSALS": agency_views.REFUSALS,
                "performance_views._GENERAL": performance_views._GENERAL})
    out.update({f"forms.{n}": t for n, t in vars(forms).items()
                if n.isupper() and isinstance(t, dict)})
    return out


def _definition_codes(ctx) -> dict[str, str]:
    """The definitions' codes and their Chinese names: record codes, screens, the
    post-award warning, performance items, agency rating items."""
    m = ctx.models
    agency, perf = m.active_of("agency"), m.active_of("performance")
    named = [*m.active.catalogue.values(), *agency.catalogue.values(),
             *m.active_of("screens").screens, perf.warning]
    codes = {e.code: e.name for e in named}
    codes.update({k: i.name for k, i in perf.indicators.items()})
    return codes | {k: i.name for k, i in agency.items.items()}


@dataclass(frozen=True)
class Vocabulary:
    """``words``: codes that have a label and are never shown as such — the label keys
    (a code of one letter, such as grade "A", is printed on purpose beside its label
    and is no word of its own) and the audit kinds in the log; ``codes``: the
    definitions' codes by their names, which a page may show as a code (in a ``mono``
    or ``<code>`` element) or beside their name, never instead of it."""
    words: frozenset
    codes: dict


def _evidence_keys(ctx) -> set[str]:
    """The keys of the warnings' evidence and parameters (WARNINGS.md §4), which a
    warning's page lists: each is a code with a label, not a heading of its own."""
    items = warnings.list_warnings(ctx, Actor("审计", "auditor"),
                                   warnings.WarningFilter(limit=100))["items"]
    keys = {k for w in items for k in [*w["evidence"], *w["parameters"]]}
    return keys | {k for w in items for s in w["evidence"].get("shared", []) for k in s}


def vocabulary(ctx) -> Vocabulary:
    words = {k for t in _tables().values() for k in t if isinstance(k, str) and len(k) > 1}
    with ctx.uow(write=False) as uow:
        words |= set(uow.session.scalars(select(AuditEntryRow.kind).distinct()))
    words |= _evidence_keys(ctx) - {"bids", "shared"}  # structure, never shown as text
    return Vocabulary(frozenset(words), _definition_codes(ctx))


# ------------------------------------------------------------------ what a person sees

CODE_TAGS = {"code", "pre", "samp", "kbd"}
SKIP_TAGS = {"script", "style"}
VOID = {"input", "img", "br", "hr", "meta", "link", "source", "wbr", "area", "col"}
SHOWN_ATTRS = ("title", "placeholder", "aria-label", "alt")
SHOWN_INPUTS = {"submit", "button", "reset", "text", "search", "date", "number", None}


@dataclass
class Piece:
    """A run of visible text; ``where`` names the innermost element with an id or
    class (for the message and the allow-list); ``as_code``: shown as a code."""
    text: str
    as_code: bool
    where: str


class VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, str]] = []
        self.pieces: list[Piece] = []

    def _where(self, tag, a) -> str:
        mark = f"#{a['id']}" if a.get("id") else \
            "." + ".".join(a["class"].split()) if a.get("class") else ""
        return f"{tag}{mark}" if mark else (self.stack[-1][2] if self.stack else tag)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        as_code = tag in CODE_TAGS or "mono" in a.get("class", "").split() or \
            bool(self.stack and self.stack[-1][1])
        where = self._where(tag, a)
        for name in SHOWN_ATTRS:
            if a.get(name):
                self.pieces.append(Piece(a[name], False, f"{where}[{name}]"))
        if tag == "input" and a.get("type") in SHOWN_INPUTS and a.get("value"):
            self.pieces.append(Piece(a["value"], False, f"{where}[value]"))
        if tag not in VOID:
            self.stack.append((tag, as_code, where))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if not data.strip() or any(t in SKIP_TAGS for t, _, _ in self.stack):
            return
        as_code, where = (self.stack[-1][1], self.stack[-1][2]) if self.stack else (False, "")
        self.pieces.append(Piece(data, as_code, where))


def visible(html: str) -> list[Piece]:
    p = VisibleText()
    p.feed(html)
    p.close()
    return p.pieces


TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")
# An English word: a lower-case run of three or more letters (the codes of other systems
# — IP, MAC, CPU, PDF, USCC — are upper case and printed on purpose).
ENGLISH = re.compile(r"(?<![A-Za-z0-9_.\-])[a-z]{3,}(?![A-Za-z0-9_\-]|\.[A-Za-z])")


JSON = re.compile(r'[{\[]\s*"[a-z_]+"\s*:')
# A Python value written into the page: a label table's .get() that found nothing
# ("已None"), a flag formatted as it is ("True").
PYTHON = re.compile(r"(?<![A-Za-z0-9_])(?:None|True|False)(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class Leak:
    page: str      # the endpoint
    token: str
    where: str
    context: str


def leaks_of(endpoint: str, html: str, v: Vocabulary) -> list[Leak]:
    """The label codes a page shows anywhere, the definitions' codes and English words
    it shows as text (not as a code), Python's None, True and False anywhere, except
    those ALLOWED."""
    out = []
    for piece in visible(html):
        text = unescape(piece.text)
        tokens = {t.rstrip(".-_") for t in TOKEN.findall(text)}
        found = tokens & v.words
        if not piece.as_code:
            found |= {t for t in tokens & set(v.codes) if v.codes[t] not in text}
            found |= set(ENGLISH.findall(text))
        found |= set(PYTHON.findall(text))
        if JSON.search(text):  # a payload or a step shown as data, not as words
            found.add("{JSON}")
        for token in sorted(found):
            if not allowed(endpoint, token, piece):
                i = max(text.find(token), 0)
                out.append(Leak(endpoint, token, piece.where,
                                " ".join(text[max(0, i - 30):i + len(token) + 30].split())))
    return out


# Codes and words a page shows on purpose, each with its reason:
# (endpoint or "*", token or "*", where the piece is — a prefix of Piece.where — or "*").
ALLOWED = [
    # The canonical text of an entry is the exact bytes its SHA-256 is taken of; an
    # auditor recomputes the hash from it, so it is shown verbatim, codes and all.
    ("*", "*", "pre.canonical"),  # an audit entry's page
    ("*", "*", "pre#canonical"),  # a trace's page
    # min and max are the formulas' mathematical notation (as in the rules, MODEL.md §6),
    # written as such in the steps of a trace and on the rules page.
    ("console.trace", "min", "li.step.step-bonus_cap"),
    ("console.trace", "max", "li.step.step-floor"),
    ("console.trace", "max", "li.step.step-conduct"),
    ("console.model_page", "max", "section#rules"),
]


def allowed(endpoint: str, token: str, piece: Piece) -> bool:
    return any(e in ("*", endpoint) and t in ("*", token)
               and (w == "*" or piece.where.startswith(w)) for e, t, w in ALLOWED)


# ------------------------------------------------------------------ every state

@pytest.fixture
def app(tctx):
    from api import create_app
    # a dozen sign-ins and a walk of the public list in a few seconds are not an attack
    tctx.settings = tctx.settings.with_(rate_limit_signin="1000 per minute",
                                        rate_limit_public="1000 per minute")
    return create_app({"CREDIT_CONTEXT": tctx, "SECRET_KEY": SECRET_KEY, "TESTING": True})


def _demo(tctx) -> dict[str, str]:
    """The demo data and its tokens' secrets, by who holds them."""
    from credit.services.demo import REGULATORS, load_demo
    token_file = Path(tempfile.mkdtemp()) / "tokens.txt"
    load_demo(tctx, token_file)
    lines = [line.split("\t") for line in token_file.read_text("utf-8").splitlines()]
    by_name, by_role = {n: s for _, n, s in lines}, {r: s for r, _, s in lines}
    return {**{r: by_role[r] for r in ("evaluator", "auditor", "admin", "enterprise",
                                       "platform", "tenderee")},
            **{sector: by_name[name] for sector, name in REGULATORS.items()}}


def _actor(tctx, secret) -> Actor:
    from credit.services.tokens import authenticate
    return authenticate(tctx, secret)


def _applications(tctx, s) -> None:
    """Both kinds pending, accepted and rejected, on records of their own; one more
    record to revoke or repair on the review pages."""
    housing, firm = _actor(tctx, s["housing"]), _actor(tctx, s["enterprise"])
    decided = (tctx.today() - timedelta(days=200)).isoformat()
    plan = [("repair", None), ("objection", None), ("repair", "accept"),
            ("repair", "reject"), ("objection", "accept"), ("objection", "reject"),
            (None, None)]
    for n, (kind, action) in enumerate(plan, start=1):
        created = records.create_record(tctx, housing, {
            "uscc": S1, "subject_name": "浙江柯桥建工集团有限公司", "sector": "housing",
            "code": "BID-NOSIGN", "decided_on": decided, "issued_by": housing.name,
            "document_no": f"绍柯建罚〔2025〕{900 + n}号"})
        rid = json.loads(created.body)["id"]
        if kind is None:
            continue
        body = {"kind": kind, "reason": "已按要求整改完毕并提交证明材料"}
        if kind == "repair":
            body["requested_repair_on"] = (tctx.today() - timedelta(days=5)).isoformat()
        app = applications.submit(tctx, firm, rid, body)
        if action:
            applications.decide(tctx, housing, app["id"], {
                "action": action, "reason": "经审查，材料属实" if action == "accept"
                else "理由不充分，不予同意", "document_no": f"绍柯建复〔2026〕{n}号"})


def _warnings(tctx, s) -> None:
    """Beside the demo's open and referred warnings: one confirmed, one dismissed."""
    auditor = _actor(tctx, s["auditor"])
    items = warnings.list_warnings(tctx, auditor, warnings.WarningFilter(
        status=("open",), limit=100))["items"]
    transport = next(w for w in items if w["sector"] == "transport")
    housing = next(w for w in items if w["sector"] == "housing")
    warnings.dispose(tctx, _actor(tctx, s["transport"]), transport["id"], {
        "action": "confirm", "reason": "经调查，投标文件由同一单位编制",
        "bids": [b["n"] for b in transport["bids"]],
        "code": warnings.allowed_codes(tctx, transport)[0],
        "decided_on": tctx.today().isoformat(), "document_no": "柯交执〔2026〕88号"})
    warnings.dispose(tctx, _actor(tctx, s["housing"]), housing["id"], {
        "action": "dismiss", "reason": "经核实，报价相同系巧合"})


def _performance(tctx, s) -> None:
    """The demo's evaluation awaiting review is returned; the tenderee submits anew."""
    regulator = _actor(tctx, s["transport"])
    waiting = performance.list_evaluations(tctx, regulator, performance.PerformanceFilter(
        status="submitted", limit=10))["items"][0]
    performance.review_evaluation(tctx, regulator, waiting["id"], {
        "action": "return", "reason": "扣分依据不足，请补充影像资料",
        "reviewed_on": tctx.today().isoformat()})
    performance.submit_evaluation(tctx, _actor(tctx, s["tenderee"]), waiting["tender"], {
        "kind": "periodic", "period_end": (tctx.today() - timedelta(days=1)).isoformat(),
        "project_manager_on_site": True,
        "deductions": [{"item": "COOPERATION", "points": "2.00", "note": "影像资料已补充"}]})


def _tenders(tctx) -> None:
    """The demo's tender with an agency awarded, so its rating is due (the form)."""
    from credit.services.demo import ENTERPRISES, PLATFORM
    from credit.services.tenders import award_tender
    award_tender(tctx, Actor(PLATFORM, "platform"), "KQ-DEMO-2026-002", {
        "winner": list(ENTERPRISES)[6], "awarded_on": tctx.today().isoformat(),
        "contract_price": "1196000.00",
        "completion_due": (tctx.today() + timedelta(days=200)).isoformat()})


def _operations(tctx, app, tmp_path) -> None:
    """The audit kinds no page writes: a token revoked, ratings exported, a sign-out."""
    from credit.batch.ratings import rate_all
    token_id, secret = create_token(tctx, "运维", role="auditor", name="临时审计账号")
    Browser(app).sign_in(secret).post("/signout")
    revoke_token(tctx, "运维", token_id)
    rate_all(tctx, "运维", sector="housing", as_of=tctx.today(), out=tmp_path / "评级.csv")


@pytest.fixture
def world(tctx, app, tmp_path) -> dict[str, str]:
    from credit.services.demo import AGENCY
    s = _demo(tctx)
    s["agency"] = create_token(tctx, "运维", role="enterprise", name=AGENCY["name"],
                               uscc=AGENCY["uscc"])[1]
    _applications(tctx, s)
    _warnings(tctx, s)
    _performance(tctx, s)
    _tenders(tctx)
    _operations(tctx, app, tmp_path)
    return s


# ------------------------------------------------------------------ the walk

class _Links(HTMLParser):
    """The page's links and its GET forms (action, fields with their default value,
    and each select's options)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and a.get("method", "get").lower() == "get":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "choices": {}})
        elif tag == "form":
            self.forms.append(None)
        elif not self.forms or self.forms[-1] is None:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "checkbox",
                                                                         "radio"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
            self.forms[-1]["choices"][self._select] = []
        elif tag == "option" and self._select:
            self.forms[-1]["choices"][self._select].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def targets(page_url: str, html: str) -> list[str]:
    """Where a person can go from the page with GET: its links, and each of its GET
    forms sent with one select set to each of its options (one filter at a time)."""
    p = _Links()
    p.feed(html)
    out = list(p.links)
    for f in filter(None, p.forms):
        action = f["action"] or urlsplit(page_url).path
        base = {k: v for k, v in f["fields"].items() if v}
        for name, options in f["choices"].items():
            out += [f"{action}?{urlencode({**base, name: o})}" for o in options]
    return out


def _local(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") \
            or parts.path.startswith(("/api", "/static")):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


PER_SHAPE = 60  # pages of one endpoint with the same query keys (ids, pages, filters)


@dataclass
class Walk:
    """One role's walk: the pages it reached, by endpoint, and what they show."""
    app: object
    vocab: Vocabulary
    role: str
    leaks: list = field(default_factory=list)
    endpoints: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    flashes: list = field(default_factory=list)  # (form, choice) whose success page was read

    def endpoint(self, url: str, method: str = "GET") -> str:
        parts = urlsplit(url)
        try:
            return self.app.url_map.bind("localhost").match(parts.path, method)[0]
        except Exception:  # noqa: BLE001 - a link to nowhere is reported as its path
            return parts.path

    def check(self, url: str, resp, method: str = "GET") -> None:
        endpoint = self.endpoint(url, method)
        self.endpoints[endpoint] += 1
        if resp.status_code >= 400:
            self.errors.append((self.role, endpoint, resp.status_code))
        if resp.mimetype == "text/html":
            self.leaks += [(self.role, url, leak) for leak in
                           leaks_of(endpoint, resp.get_data(as_text=True), self.vocab)]

    def run(self, b: Browser, seeds: list[str]) -> None:
        queue, shapes = list(seeds), Counter()
        while queue:
            url = _local(queue.pop(0))
            if url is None or url in self.seen:
                continue
            self.seen.add(url)
            shape = (self.endpoint(url), tuple(sorted(k for k, _ in parse_qsl(
                urlsplit(url).query, keep_blank_values=True))))
            shapes[shape] += 1
            if shapes[shape] > PER_SHAPE:
                continue
            resp = b.get(url)
            if resp.status_code in (301, 302, 303):
                queue.append(resp.headers["Location"])
                continue
            self.check(url, resp)
            if resp.mimetype == "text/html":
                queue += targets(url, resp.get_data(as_text=True))


ROLES = ["housing", "transport", "water", "auditor", "admin", "evaluator", "enterprise",
         "agency", "platform", "tenderee"]


def _first_of_each_kind(tctx) -> list[str]:
    """An entry page of every audit kind in the log (the audit page lists the newest
    fifty; a walk capped per endpoint would not reach every kind by paging)."""
    with tctx.uow(write=False) as uow:
        rows = uow.session.execute(select(AuditEntryRow.kind, func.min(
            AuditEntryRow.position)).group_by(AuditEntryRow.kind)).all()
    return [f"/audit/entries/{pos}" for _, pos in rows]


def must_see(tctx, world) -> set[str]:
    """Every state's page: each record, application, warning, evaluation, tender and
    an entry of every audit kind."""
    auditor = _actor(tctx, world["auditor"])
    with tctx.uow(write=False) as uow:
        ids = list(uow.session.scalars(select(RecordRow.id)))
    urls = {f"/records/{i}" for i in ids}
    urls |= {f"/applications/{a['id']}" for a in applications.list_applications(
        tctx, auditor, applications.ApplicationFilter(limit=100))["items"]}
    urls |= {f"/warnings/{w['id']}" for w in warnings.list_warnings(
        tctx, auditor, warnings.WarningFilter(limit=100))["items"]}
    urls |= {f"/performance/{e['id']}" for e in performance.list_evaluations(
        tctx, auditor, performance.PerformanceFilter(limit=100))["items"]}
    urls |= {f"/tenders/{t['code']}" for t in tenders.list_tenders(
        tctx, auditor, tenders.TenderFilter(limit=100))["items"]}
    return urls | set(_first_of_each_kind(tctx))


def walk_all(app, tctx, world) -> list[Walk]:
    vocab = vocabulary(tctx)
    anonymous = Walk(app, vocab, "signed-out")
    anonymous.run(Browser(app), ["/", "/public"])
    walks = [anonymous]
    for role in ROLES:
        walk = Walk(app, vocab, role)
        seeds = ["/", "/model"] + (_first_of_each_kind(tctx) if role == "auditor" else [])
        walk.run(Browser(app).sign_in(world[role]), seeds)
        walks.append(walk)
    return walks


def _record_steps(tctx, day) -> list[tuple[str, str, dict]]:
    """A new record, and the revocation and the repair of the spare record."""
    with tctx.uow(write=False) as uow:
        spare = max(uow.session.scalars(select(RecordRow.id).where(RecordRow.uscc == S1)))
    record = {"uscc": S1, "subject_name": "浙江柯桥建工集团有限公司", "sector": "housing",
              "code": "BID-NOSIGN", "decided_on": day(3),
              "document_no": "绍柯建罚〔2026〕77号", "issued_by": "柯桥区住房和城乡建设局"}
    return [("housing", "/records/new", record),
            ("housing", f"/records/{spare}/revocation",
             {"document_no": "绍柯建撤〔2026〕9号", "reason": "行政复议撤销原处罚决定"}),
            ("housing", f"/records/{spare}/repair",
             {"repaired_on": day(1), "document_no": "绍柯建修〔2026〕9号",
              "reason": "已完成整改"})]


def _decision_steps(tctx, auditor) -> list[tuple[str, str, dict]]:
    """Accepting and rejecting each pending application (a repair, an objection)."""
    apps = applications.list_applications(tctx, auditor, applications.ApplicationFilter(
        status="pending", limit=10))["items"]
    accept = {"action": "accept", "reason": "经审查，材料属实",
              "document_no": "绍柯建复〔2026〕20号"}
    reject = {"action": "reject", "reason": "理由不充分"}
    return [("housing", f"/applications/{a['id']}", d) for a in apps for d in (accept, reject)]


def _tender_steps(tctx, auditor, day) -> list[tuple[str, str, dict]]:
    """Each disposal of an open warning, each review of the evaluation awaiting it, and
    the tenderee's evaluation and agency rating of the tender awarded today."""
    w = warnings.list_warnings(tctx, auditor, warnings.WarningFilter(
        status=("open",), sector="transport", limit=1))["items"][0]
    waiting = performance.list_evaluations(tctx, auditor, performance.PerformanceFilter(
        status="submitted", limit=1))["items"][0]
    confirm = {"bids": [str(b["n"]) for b in w["bids"]], "decided_on": day(0),
               "code": warnings.allowed_codes(tctx, w)[0], "document_no": "柯交执〔2026〕99号"}
    steps = [("transport", f"/warnings/{w['id']}/disposal",
              {"action": a, "reason": "经调查核实", **(confirm if a == "confirm" else {})})
             for a in ("confirm", "dismiss", "refer")]
    steps += [("transport", f"/performance/{waiting['id']}/review",
               {"action": a, "reason": "经现场核查属实", "reviewed_on": day(0)})
              for a in ("approve", "return")]
    return steps + [
        ("tenderee", "/tenders/KQ-DEMO-2026-002/performance/new",
         {"kind": "periodic", "period_end": day(0), "pm_on_site": "no",
          "points-PM-ABSENT": "5.00", "note-PM-ABSENT": "项目经理未到岗"}),
        ("tenderee", "/tenders/KQ-DEMO-2026-002/agency-rating",
         {"rated_on": day(0), "documents": "27.00", "procedure": "28.00",
          "service": "17.00", "archive": "18.00", "note": "服务规范"})]


def review_steps(tctx, world) -> list[tuple[str, str, dict]]:
    """(who, form, what is typed) of each form's review step — where a decision is
    read back before it is confirmed (the page that once read "确认accept")."""
    day = lambda n: (tctx.today() - timedelta(days=n)).isoformat()  # noqa: E731
    auditor = _actor(tctx, world["auditor"])
    return (_record_steps(tctx, day) + _decision_steps(tctx, auditor)
            + _tender_steps(tctx, auditor, day))


def review_all(app, tctx, world) -> Walk:
    """Each form's review step, read as the walk reads a page; it must be the review
    (200), not a refusal, so that the confirmation pages are read too."""
    walk = Walk(app, vocabulary(tctx), "reviews")
    browsers = {}
    for who, path, typed in review_steps(tctx, world):
        b = browsers.get(who) or browsers.setdefault(who, Browser(app).sign_in(world[who]))
        opened = path.removesuffix("/review")  # the review form is on the evaluation's page
        form = last_form(b.get(opened).get_data(as_text=True))
        resp = b.post(path, {**form, **typed, "step": "review"})
        assert resp.status_code == 200, (path, typed, unescape(resp.get_data(as_text=True))[:3000])
        walk.check(path, resp, "POST")
    return walk


# The choice a form with several confirms (the others' success messages say less): the
# disposal that creates records, the review that approves. The applications go one each way.
CONFIRMED = {"/warnings/": "confirm", "/performance/": "approve"}


def confirm_steps(steps: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """One confirmation per form, since what it decides is decided once: a disposal
    confirmed (its message counts the records it created), a review approved, the first
    pending application accepted and the second rejected; the spare record repaired
    before it is revoked (a revoked record cannot be repaired, a repaired one can still
    be revoked)."""
    by_path: dict[str, list] = {}
    for step in steps:
        by_path.setdefault(step[1], []).append(step)
    chosen, applications_seen = [], 0
    for path, choices in by_path.items():
        if path.startswith("/applications/"):
            want = ("accept", "reject")[applications_seen % 2]
            applications_seen += 1
        else:
            want = next((a for prefix, a in CONFIRMED.items() if path.startswith(prefix)), None)
        chosen.append(next(c for c in choices if want in (None, c[2].get("action"))))
    return sorted(chosen, key=lambda step: step[1].endswith("/revocation"))


def _objection_step(tctx, world) -> tuple[str, str, dict]:
    """The enterprise's objection to its first record without an application (a form
    with no review step: it is sent once)."""
    taken = {a["record_id"] for a in applications.list_applications(
        tctx, _actor(tctx, world["auditor"]), applications.ApplicationFilter(limit=100))["items"]}
    with tctx.uow(write=False) as uow:
        ids = uow.session.scalars(select(RecordRow.id).where(RecordRow.uscc == S1)
                                  .order_by(RecordRow.id))
        free = next(i for i in ids if i not in taken)
    return ("enterprise", f"/records/{free}/apply/objection",
            {"reason": "处罚所依据的事实有误，已提交证明材料"})


def other_choices(tctx, world) -> list[tuple[str, str, dict]]:
    """The choices :func:`confirm_steps` leaves at their review step, each confirmed on
    a case of its own once that round is done: the open transport warning still left
    dismissed, the open housing warning referred, and the evaluation the tenderee has
    just submitted returned (the walk's flashes then name every disposal and review)."""
    auditor, day = _actor(tctx, world["auditor"]), tctx.today().isoformat()
    open_ = {s: warnings.list_warnings(tctx, auditor, warnings.WarningFilter(
        status=("open",), sector=s, limit=1))["items"][0] for s in ("transport", "housing")}
    submitted = performance.list_evaluations(tctx, auditor, performance.PerformanceFilter(
        status="submitted", limit=1))["items"][0]
    return [("transport", f"/warnings/{open_['transport']['id']}/disposal",
             {"action": "dismiss", "reason": "经调查核实，系巧合"}),
            ("housing", f"/warnings/{open_['housing']['id']}/disposal",
             {"action": "refer", "reason": "涉嫌串通投标，移送公安机关"}),
            (submitted["sector"], f"/performance/{submitted['id']}/review",
             {"action": "return", "reason": "评价依据不足，请补充材料", "reviewed_on": day})]


def confirms_all(app, tctx, world) -> Walk:
    """Each form confirmed, and the page it lands on read with its success message
    (the flash): the wording a clerk reads once the decision is written."""
    walk = Walk(app, vocabulary(tctx), "confirmations")
    browsers: dict = {}
    for steps in (lambda: confirm_steps(review_steps(tctx, world)) + [
            _objection_step(tctx, world)], lambda: other_choices(tctx, world)):
        confirm_each(app, world, walk, browsers, steps())
    return walk


def confirm_each(app, world, walk: Walk, browsers: dict,
                 steps: list[tuple[str, str, dict]]) -> None:
    """Open each form, confirm it with what is typed, and read the page it lands on."""
    for who, path, typed in steps:
        b = browsers.get(who) or browsers.setdefault(who, Browser(app).sign_in(world[who]))
        form = last_form(b.get(path.removesuffix("/review")).get_data(as_text=True))
        resp = b.post(path, {**form, **typed, "step": "confirm"})
        assert resp.status_code == 302, (path, typed, unescape(resp.get_data(as_text=True))[:3000])
        landed = resp.headers["Location"]
        page = b.get(landed)
        assert 'class="flash flash-ok"' in page.get_data(as_text=True), (path, landed)
        walk.check(landed, page)
        walk.flashes.append((path, typed.get("action")))


def refusals_all(app, tctx, world) -> Walk:
    """The error page as a person meets it: a page the role may not open (403) and one
    that does not exist (404). No walked page links to either."""
    walk = Walk(app, vocabulary(tctx), "refusals")
    for who, url, status in (("enterprise", "/warnings", 403),
                             ("auditor", "/records/999999", 404)):
        resp = Browser(app).sign_in(world[who]).get(url)
        assert resp.status_code == status, (who, url, resp.status_code)
        walk.check(url, resp)
    return walk


def report(walks: list[Walk]) -> list[str]:
    """One line per leak (endpoint, code, element), with how often and where first."""
    first, count = {}, Counter()
    for w in walks:
        for role, url, leak in w.leaks:
            key = (leak.page, leak.token, leak.where)
            count[key] += 1
            first.setdefault(key, f"{role} {url}: …{leak.context}…")
    return [f"{p}: {t!r} in {w} ({count[p, t, w]}×, e.g. {first[p, t, w]})"
            for p, t, w in sorted(first)]


TEMPLATES = Path(__file__).parents[2] / "api" / "templates" / "console"
# Pages the walk does not read, and why.
NOT_WALKED = {
    # the page after a trace's verify button (a POST that re-verifies): the same
    # template as the trace (trace.html), with the verification's result added
    "console.trace_verify",
    # the buttons that verify the chain: the audit page again (audit.html)
    "console.audit_verify",
    "console.signin", "console.signout",  # the sign-in page is read; these are posts
    # redirects only: to an evaluation by its number, to a tender by its code
    "console.evaluation_open",
}
# Templates no state of the walk's world shows, and where they are read instead.
TEMPLATES_NOT_WALKED = {
    # a trace whose stored text no longer hashes: the world's chain is intact;
    # tests/integration/test_verify_edits.py reads the page with this walk's check
    "console/trace_edited.html",
}

# Links a page shows a role that may not follow them (403): none. (The tender page
# linked the trading platform to its warnings and its agency, which it may not read.)
REFUSED_LINKS: set = set()


def test_no_page_shows_a_raw_code(app, tctx, world):
    rendered: set[str] = set()

    def record(sender, template, context, **extra):
        rendered.add(template.name)

    with template_rendered.connected_to(record, app):
        walks = walk_all(app, tctx, world) + [review_all(app, tctx, world)]
        refusals = refusals_all(app, tctx, world)
    leaks = report(walks + [refusals])
    assert leaks == [], "\n".join(leaks)
    # The walk read every page it must read: each page of the console (by endpoint and
    # by template), each state's page, and none of them failed.
    pages = {f"console/{p.name}" for p in TEMPLATES.glob("*.html")
             if not p.name.startswith("_") and p.name != "base.html"}  # extended by all
    assert pages - rendered - TEMPLATES_NOT_WALKED == set()
    reached = {e for w in walks for e in w.endpoints}
    console = {r.endpoint for r in app.url_map.iter_rules()
               if r.endpoint.startswith("console.")}
    assert console - reached - NOT_WALKED == set()
    assert must_see(tctx, world) - {u for w in walks for u in w.seen} == set()
    assert {e for w in walks for e in w.errors} == REFUSED_LINKS


def test_the_check_tells_a_code_shown_as_a_code_from_one_shown_for_its_name():
    """What the walk flags, on pages of a few lines (no database needed)."""
    v = Vocabulary(frozenset({"accept", "referred", "record.created"}),
                   {"BID-COLLUDE": "串通投标", "PM-ABSENT": "项目经理未按投标承诺到岗履职"})

    def tokens(html: str) -> list[str]:
        return [leak.token for leak in leaks_of("console.x", html, v)]

    assert tokens('<button type="submit">确认accept</button>') == ["accept"]
    assert tokens('<input type="submit" value="确认accept">') == ["accept"]
    assert tokens('<td><span class="mono">referred</span></td>') == ["referred"]
    assert tokens("<td>record.created</td>") == ["record.created"]
    assert tokens('<td><span class="mono">BID-COLLUDE</span> 串通投标</td>') == []
    assert tokens("<option>BID-COLLUDE 串通投标（-8.00 分）</option>") == []
    assert tokens("<td>PM-ABSENT</td>") == ["PM-ABSENT"]
    assert tokens('<p title="pending review">待审核</p>') == ["pending", "review"]
    assert tokens('<span class="mono small">{"action": "approve"}</span>') == ["{JSON}"]
    assert tokens("<script>var accept = 1;</script><p>已同意</p>") == []
    assert tokens('<pre class="canonical">{"kind": "record.created"}</pre>') == []
    assert tokens('<div class="flash">履约评价 #3 已None，并写入审计日志。</div>') == ["None"]
    assert tokens('<td><span class="mono">True</span></td>') == ["True"]


def test_no_success_message_shows_a_raw_code(app, tctx, world):
    """The walk above reads forms up to their review step, which writes nothing. Here
    each form is confirmed once, and the page it lands on, with its success message,
    is read the same way."""
    walk = confirms_all(app, tctx, world)
    leaks = report([walk])
    assert leaks == [], "\n".join(leaks)
    forms = Counter((re.sub(r"/\d+(?=/|$)", "/<id>", path), action)
                    for path, action in walk.flashes)
    assert forms == Counter({
        ("/records/new", None): 1, ("/records/<id>/revocation", None): 1,
        ("/records/<id>/repair", None): 1, ("/records/<id>/apply/objection", None): 1,
        ("/applications/<id>", "accept"): 1, ("/applications/<id>", "reject"): 1,
        ("/warnings/<id>/disposal", "confirm"): 1, ("/warnings/<id>/disposal", "dismiss"): 1,
        ("/warnings/<id>/disposal", "refer"): 1, ("/performance/<id>/review", "approve"): 1,
        ("/performance/<id>/review", "return"): 1,
        ("/tenders/KQ-DEMO-2026-002/performance/new", None): 1,
        ("/tenders/KQ-DEMO-2026-002/agency-rating", None): 1}), forms


def test_a_tender_of_another_sector_is_not_refused_as_a_record_form(world, app):
    """The one text for every ``sector_forbidden`` said "record form" of a tender,
    warning or performance page (a review of the console)."""
    auditor = Browser(app).sign_in(world["auditor"])
    listed = unescape(auditor.get("/tenders").get_data(as_text=True))
    codes = set(re.findall(r'href="/tenders/([^"/?]+)"', listed))
    housing = Browser(app).sign_in(world["housing"])
    refused = [unescape(r.get_data(as_text=True)) for r in
               (housing.get(f"/tenders/{c}") for c in sorted(codes)) if r.status_code == 403]
    assert refused, "the demo data has a tender of another sector"
    assert all("记录表单" not in page and "其他行业的内容" in page for page in refused)
