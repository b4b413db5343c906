"""Shared pieces of the browser tests: a real headless Chromium (Debian's ``chromium``
and ``chromedriver``, driven by Selenium) against ``credit serve`` with the demo data;
viewports of a desktop (1366×900) and a phone (390×844); axe-core (vendored under
tests/e2e/vendor/axe-core, injected through WebDriver, never from a CDN) and the
"no page wider than the viewport" check on every page; full-page screenshots saved as
test artefacts under tests/output/screenshots/.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.live_server import LiveServer

# Debian's packages by default; the variables point elsewhere (or nowhere, to see the skip).
CHROMIUM = os.environ.get("CREDIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CREDIT_TEST_CHROMEDRIVER") or shutil.which("chromedriver") \
    or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                  "--lang=zh-CN")
DESKTOP = (1366, 900)
PHONE = (390, 844)
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}

ENTERPRISE_USCC = "91330603MA2D4F6E84"  # 浙江柯桥建工集团有限公司, the demo enterprise token
LISTED_USCC = "91330603MA2E1T2U10"  # 浙江兰亭古建筑工程有限公司: a major accident (housing)
# The browser tests sign in far more often than a person: the limits are raised for them
# (the limits themselves are tested in one process, tests/e2e/test_public_list.py).
RELAXED_LIMITS = {"CREDIT_RATE_LIMIT_SIGNIN": "10000 per minute",
                  "CREDIT_RATE_LIMIT_PUBLIC": "10000 per minute"}


def missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (make deps installs Debian's chromium)"
    if not os.path.exists(CHROMEDRIVER):
        return "chromedriver is not installed (make deps installs chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed in this environment (the test extra)"
    return None


def require_browser() -> None:
    """Skip without Chromium, chromedriver or selenium (visibly); in CI (CI=true) fail
    instead, so CI never goes green with the browser tests skipped."""
    problem = missing()
    if problem is not None:
        unavailable(problem)


def today_cst() -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=8)).date().isoformat()


def days_ago(n: int) -> str:
    return (datetime.fromisoformat(today_cst()) - timedelta(days=n)).date().isoformat()


# ------------------------------------------------------------------ the server

class Server:
    def __init__(self, url: str, tokens: dict, log: Path, backend: str):
        self.url, self.tokens, self.log, self.backend = url, tokens, log, backend

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def api(self, path: str, role: str = "auditor"):
        import requests
        resp = requests.get(self.url + path, timeout=10,
                            headers={"Authorization": f"Bearer {self.tokens[role]}"})
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: dict, role: str, status: int = 201):
        import requests
        resp = requests.post(self.url + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert resp.status_code == status, resp.text
        return resp.json()

    def entries(self) -> int:
        """Number of audit entries (the auditor's chain walk; appends nothing)."""
        return self.api("/api/v1/audit/verify")["entries_checked"]


def serve_demo(database_url: str, workdir: Path):
    """``credit demo-data`` then ``credit serve --workers 2`` on a free port; a context
    manager yielding a :class:`Server`."""
    from contextlib import contextmanager

    @contextmanager
    def running():
        bindir = Path(sys.executable).parent
        secret = "e2e-console-secret-" + os.urandom(8).hex()
        # An identity key (kept in the workdir, where LiveServer finds it again), so that
        # the demo data holds its tenders, warnings and performance evaluations too.
        identity_key = Path(workdir) / "identity-key"
        if not identity_key.exists():
            identity_key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
        env = dict(os.environ, CREDIT_DATABASE_URL=database_url, CREDIT_SECRET_KEY=secret,
                   CREDIT_IDENTITY_KEY=str(identity_key))
        demo = subprocess.run([str(bindir / "credit"), "demo-data"], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=120)
        assert demo.returncode == 0, demo.stderr
        tokens = {}
        for line in (workdir / "var" / "demo-tokens.txt").read_text(
                encoding="utf-8").splitlines():
            role, name, token = line.split("\t")
            tokens.setdefault(role, token)
            tokens[name] = token
        backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        live = LiveServer(database_url, workdir,
                          env={"CREDIT_SECRET_KEY": secret, **RELAXED_LIMITS})
        try:
            live.start(timeout=30)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        try:
            yield Server(live.base, tokens, live.log_path, backend)
        finally:
            live.stop()

    return running()


def module_database(request, tmp_path_factory):
    """A migrated database of its own for a module-scoped server (``request.param`` is
    the backend), created like tests/conftest.py's ``database_url`` and dropped after."""
    from contextlib import contextmanager

    from tests import conftest

    @contextmanager
    def database():
        if request.param == "sqlite":
            template = request.getfixturevalue("_sqlite_template")
            path = tmp_path_factory.mktemp("browser-db") / "credit.db"
            shutil.copyfile(template, path)
            conftest.BACKENDS_RAN.add("sqlite")
            yield f"sqlite:///{path}"
            return
        template = request.getfixturevalue("_pg_template")
        name = f"credit_b_{uuid.uuid4().hex[:12]}"
        eng = conftest._pg_admin_engine()
        with eng.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        conftest.BACKENDS_RAN.add("postgresql")
        try:
            yield conftest._pg_url(name)
        finally:
            with eng.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            eng.dispose()

    return database()


# ------------------------------------------------------------------ the browser

def demo_server(request, tmp_path_factory):
    """For a module-scoped ``server`` fixture parametrized by backend: a database of its
    own (:func:`module_database`) with the demo data, served by ``credit serve``."""
    from contextlib import ExitStack, contextmanager

    @contextmanager
    def running():
        with ExitStack() as stack:
            url = stack.enter_context(module_database(request, tmp_path_factory))
            yield stack.enter_context(serve_demo(url, tmp_path_factory.mktemp("console")))

    return running()


def shared_chromium(tmp_path_factory):
    """One Chromium for a whole module (starting one costs seconds); a context manager.
    Each test takes it through :func:`fresh`."""
    from contextlib import contextmanager

    @contextmanager
    def running():
        driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield driver
        finally:
            driver.quit()

    return running()


def fresh(driver):
    """The shared browser as a new one would be: a blank page, no cookie (no console
    session of an earlier test, on any port of this host), screen media and no device
    emulation left over."""
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return driver


# ------------------------------------------------------------------ the fixtures
# The browser modules import these four by name (pytest finds fixtures in a module's
# namespace), so that each module still gets one server per backend and one Chromium of
# its own, declared once.

@pytest.fixture(autouse=True, scope="module")
def browser_installed():
    """Skip without Chromium (visibly); in CI (CI=true) fail instead."""
    require_browser()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """``credit demo-data`` then ``credit serve --workers 2`` on a free port: one per
    backend for the whole module."""
    with demo_server(request, tmp_path_factory) as s:
        yield s


@pytest.fixture(scope="module")
def chromium_driver(tmp_path_factory):
    with shared_chromium(tmp_path_factory) as driver:
        yield driver


@pytest.fixture
def browser(chromium_driver):
    """The module's Chromium, signed out and reset for this test."""
    return fresh(chromium_driver)


def chromium(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver


@functools.cache
def axe_source() -> str:
    """The vendored axe-core, read once per process (it is injected into every page)."""
    return AXE.read_text(encoding="utf-8")


# A sentence of English (three words or more): no page a person sees may carry one.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,']+[A-Za-z]{2,}){2,}")
ALLOWED_LATIN = ("Ed25519", "SHA-256", "sha256", "GB 32100-2015", "YYYY-MM-DD", "CSRF")


class Console:
    """The pages as a person uses them: open, sign in, fill, click, look — and on every
    page it looks at, the checks every page must pass (:meth:`check`)."""

    def __init__(self, driver, server: Server, test: str, viewport: str = "desktop"):
        self.d, self.s, self.test = driver, server, test
        self.shots = 0
        self.viewport = viewport
        self.resize(viewport)

    # viewport
    def resize(self, viewport: str) -> None:
        """The layout viewport of a desktop or a phone, exactly (device metrics
        emulation; ``mobile`` makes the page's viewport meta tag count, as on a phone)."""
        self.viewport = viewport
        width, height = VIEWPORTS[viewport]
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": viewport == "phone"})

    @property
    def width(self) -> int:
        return VIEWPORTS[self.viewport][0]

    # navigation
    def open(self, path: str) -> None:
        self.d.get(self.s.url + path)

    def css(self, selector: str):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def wait_for(self, selector: str, timeout: float = 15):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.d, timeout).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, selector)))
        except Exception:
            self.screenshot("FAILED-" + selector.strip("#.")[:30])
            raise AssertionError(f"{selector} did not appear on {self.d.current_url}:\n"
                                 f"{self.text()[:1500]}\n--- server log ---\n"
                                 f"{self.s.log_tail()}") from None

    def click_and_wait(self, selector: str, then: str):
        """Click what navigates (a link, a submit button) and wait for the new page to
        show ``then`` — never the old page's element of the same name."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.css("html")
        el = self.css(selector)
        # A mark on the old document's window: a new document has none. Staleness of the
        # old <html> alone was seen to stay false for a minute after the new page showed
        # (a screenshot of the new page, taken at the timeout), so either signal counts.
        self.d.execute_script("window.__creditOldPage = true;"
                              "arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()

        def navigated(driver) -> bool:
            if ec.staleness_of(old)(driver):
                return True
            return driver.execute_script("return window.__creditOldPage !== true;")

        try:
            # Generous: CI runs this beside the PostgreSQL suites on two shared cores,
            # where a page has been seen to take over 15 s (waiting is not timing).
            # A check that meets the navigation half-way (its script's context destroyed,
            # or a load outlasting chromedriver's 30 s page-load timeout, seen under load
            # with the new page already on screen) raises from chromedriver: that is
            # "not yet", and the next check sees the new page.
            WebDriverWait(self.d, 90, ignored_exceptions=(WebDriverException,)).until(navigated)
        except Exception as exc:
            self.screenshot("FAILED-click-" + selector.strip("#.")[:30])
            raise AssertionError(f"clicking {selector} on {self.d.current_url} did not load "
                                 f"a new page ({exc!r})\n--- server log ---\n"
                                 f"{self.s.log_tail()}") from None
        return self.wait_for(then)

    def text(self) -> str:
        return self.css("body").text

    def js(self, script: str, *args):
        return self.d.execute_script(script, *args)

    def set_value(self, element_id: str, value: str) -> None:
        """Date inputs take their value in the browser's locale when typed; setting it
        is what a date picker does."""
        self.js("document.getElementById(arguments[0]).value = arguments[1];",
                element_id, value)

    def type(self, element_id: str, value: str) -> None:
        el = self.css(f"#{element_id}")
        el.clear()
        el.send_keys(value)

    # people
    def sign_in(self, who: str) -> None:
        self.open("/")
        self.wait_for("#token").send_keys(self.s.tokens[who])
        self.click_and_wait("#signin", "#signout")

    def sign_out(self) -> None:
        self.click_and_wait("#signout", "#token")

    # what every page must pass
    def overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0 is right)."""
        return int(self.js("return document.documentElement.scrollWidth - "
                           "document.documentElement.clientWidth;"))

    def axe(self) -> list[dict]:
        """axe-core's serious and critical violations on the current page."""
        if not self.js("return typeof window.axe === 'object';"):
            self.js(axe_source())
        found = self.d.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then(
              r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ': '
                                                 + (n.failureSummary || ''))}))),
              e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """)
        return [v for v in found if v["impact"] in ("serious", "critical")]

    def english(self) -> list[str]:
        text = self.text()
        for allowed in ALLOWED_LATIN:
            text = text.replace(allowed, "")
        return ENGLISH.findall(text)

    def check(self, name: str) -> None:
        """The page fits the viewport, has no serious or critical axe violation and no
        English sentence; a screenshot is saved either way."""
        self.screenshot(name)
        where = f"{name} at {self.viewport} ({self.d.current_url})"
        assert self.overflow() <= 0, f"{where} is {self.overflow()} px wider than the screen"
        violations = self.axe()
        assert violations == [], f"{where}: axe found {violations}"
        assert self.english() == [], f"{where} shows English: {self.english()}"

    def screenshot(self, name: str) -> Path:
        """A full-page screenshot under tests/output/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60]
        path = SCREENSHOTS / (f"{self.s.backend}-{self.test}-{self.viewport}-"
                              f"{self.shots:02d}-{safe}.png")
        size = self.js("return [document.documentElement.scrollWidth, "
                       "document.documentElement.scrollHeight];")
        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": int(size[0]), "height": min(int(size[1]), 8000),
                     "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
