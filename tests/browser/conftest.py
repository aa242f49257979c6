"""Browser tests: Debian's Chromium driven by Playwright, against `beffroi serve` running as a real process.

Fixtures
- `chromium` (session): the system browser (`BEFFROI_CHROMIUM`, else /usr/bin/chromium), never a download. Absent:
  the tests skip with the apt-get line, or fail where a browser is promised (`.ci/run` sets BEFFROI_REQUIRE_BROWSER).
- `served`: a `Served` (`.url(path)`, `.base_url`, `.token`, `.log`): `beffroi serve --port <free>` in a tmp folder,
  on a fresh SQLite database, every `BEFFROI_*` variable of the caller left out.
- `page`: a fresh context and page per test. Every request whose host is not loopback is aborted and recorded in
  `page.offsite` (asserted empty after the test); console errors and uncaught page errors go to `page.console`;
  `problems(page)` returns them with the CSP violations the page saw (a test asserts `problems(page) == []`).

Helpers: `screenshot(page, name)` writes docs/screenshots/<name>.png; `axe_violations(page)` runs axe-core for
WCAG 2.1 A/AA and returns [{"id", "impact", "target"}].
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ..helpers import output_of, spawn, stop_all
from ..test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
BIN = Path(sys.executable).parent / "beffroi"
INSTALL = "apt-get install -y --no-install-recommends chromium fonts-liberation fonts-dejavu-core"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Headless, as root in CI (no sandbox), and nothing of Chromium's own traffic (updates, sync, safe browsing, field
# trials): with these flags it talks to no one but the pages it is sent to. The resolver rule is a second lock: a
# host name other than localhost never resolves, whatever a page or Chromium itself asks for.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--disable-default-apps", "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Recorded in the page before any of its own scripts run: what the CSP refused (Chromium also logs most of these
# to the console, but not all, e.g. a refused inline style attribute in some versions).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
    `CSP ${e.effectiveDirective} refused ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


def chromium_path() -> str | None:
    path = os.environ.get("BEFFROI_CHROMIUM", "/usr/bin/chromium")
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


@pytest.fixture(scope="package")
def chromium():
    """The system Chromium, launched once for the browser tests with the flags above.

    Package scope, not session: Playwright's sync API runs an event loop in this thread while it is started, so
    it must stop when the browser tests end (a later `asyncio.run()` in another test would find a running loop).
    """
    path = chromium_path()
    if path is None:
        message = (f"browser tests need Chromium at {os.environ.get('BEFFROI_CHROMIUM', '/usr/bin/chromium')} "
                   f"(install it with `{INSTALL}`, or point BEFFROI_CHROMIUM at one)")
        if os.environ.get("BEFFROI_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=ARGS)
        yield browser
        browser.close()


@dataclass
class Served:
    """A running `beffroi serve`: its address, the admin token it printed on first start, its output."""
    base_url: str
    token: str
    folder: Path
    process: subprocess.Popen = field(repr=False)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def log(self) -> str:
        return output_of(self.process)


def wait_until_serving(proc: subprocess.Popen, base_url: str, limit: float = 30.0) -> None:
    """Return once /api/health answers 200 (the socket is bound before the banner is printed); fail at once with
    the output if the process exits first."""
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=1, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"beffroi serve exited with {proc.returncode}:\n{output_of(proc)}")
            try:
                if client.get(base_url + "/api/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # a poll interval between checks of the event, not a wait for it
    raise AssertionError(f"beffroi serve did not answer in {limit:.0f} s:\n{output_of(proc)}")


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    """`beffroi serve` on a free port in tmp_path: its own SQLite database, data and (empty) recipes folder."""
    yield from serve(tmp_path)


def serve(tmp_path: Path, **settings: str) -> Iterator[Served]:
    """What `served` yields, with more settings (`BEFFROI_ALLOWED_NETWORKS="127.0.0.0/8"`) for a fixture of its own."""
    (tmp_path / "recipes").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEFFROI_")}
    env.update(BEFFROI_DATABASE_URL=f"sqlite:///{tmp_path / 'beffroi.db'}", BEFFROI_DATA_DIR=str(tmp_path / "data"),
               BEFFROI_RECIPES_DIR=str(tmp_path / "recipes"), **settings)
    port = free_port()
    proc = spawn([str(BIN), "serve", "--port", str(port)], tmp_path / "serve.log", cwd=tmp_path, env=env)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, base_url)
        token = re.search(r"^\s+(bfr_\S+)\s*$", output_of(proc), re.MULTILINE)
        assert token, f"no admin token printed:\n{output_of(proc)}"
        yield Served(base_url, token.group(1), tmp_path, proc)
    finally:
        stop_all([proc])


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return parts.scheme in ("data", "blob", "about")  # never on the network
    return parts.hostname in LOOPBACK


@pytest.fixture
def page(chromium):
    """A new context (no shared cookies or storage) and page. `page.offsite`: the non-loopback requests, aborted;
    `page.console`: console errors and page errors; `problems(page)` adds the CSP violations."""
    context = chromium.new_context(service_workers="block", viewport={"width": 1280, "height": 900},
                                   locale="en-GB", timezone_id="Europe/Brussels")
    offsite: list[str] = []
    console: list[str] = []

    def guard(route):
        if is_loopback(route.request.url):
            route.continue_()
        else:
            offsite.append(f"{route.request.method} {route.request.url}")
            route.abort("blockedbyclient")

    def guard_socket(ws):
        if is_loopback(ws.url):
            ws.connect_to_server()
        else:
            offsite.append(f"WebSocket {ws.url}")
            ws.close()

    context.route("**/*", guard)
    context.route_web_socket(re.compile(".*"), guard_socket)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on("console", lambda msg: console.append(f"console.{msg.type}: {msg.text} ({msg.location.get('url')})")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
    page.offsite = offsite
    page.console = console
    yield page
    context.close()
    assert offsite == [], f"requests left loopback (aborted): {offsite}"


def problems(page) -> list[str]:
    """Console errors, uncaught exceptions and CSP violations seen on the page so far (all frames' consoles)."""
    return [*page.console, *page.evaluate("window.__cspViolations || []")]


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Write docs/screenshots/<name>.png (the folder is git-ignored: the tests rewrite it on every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def axe_violations(page, tags: list[str] = WCAG_21_AA) -> list[dict]:
    """axe-core's violations of the WCAG 2.1 A/AA rules on the page as it is now: [{"id", "impact", "target"}],
    one entry per rule and element (`target`: axe's CSS selector of the element)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": tags}, "resultTypes": ["violations"]})
    return [{"id": rule["id"], "impact": node.get("impact") or rule["impact"], "target": node["target"]}
            for rule in results.response["violations"] for node in rule["nodes"]]

