"""Retake the README screenshots from the real default demo, as a new user would see it.

Starts `mar-insight serve` on the configured database (by default the embedded SQLite demo,
created on first start with today as the as-of date), opens every page in headless Chromium
as management, then the overview, stock and reporting pages as an account manager (picked
in the demo persona box) and in a German browser, and writes full-page PNGs to
docs/screenshots/; last, that account manager's weekly digest (`mar-insight digest --out`) as
a phone shows it.

    .venv/bin/python -m docs.take_screenshots

Test databases are never photographed: the README shows what `make run` shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from bench.load_test import CHROMIUM, CHROMIUM_ARGS
from bench.server import free_port, healthy
from data.db import make_engine
from data.settings import Settings, load_settings
from notify.digest import run_digest
from notify.render import preview_html

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
MAX_HEIGHT = 8000
PHONE_WIDTH = 390  # CSS pixels of a common phone screen
TIMEOUT_MS = 120_000
START_SECONDS = 600  # the first start generates the demo database
APP = '[data-testid="stApp"]'
SIDEBAR = '[data-testid="stSidebar"]'
NAV_LINK = '[data-testid="stSidebarNav"] a'
#: file name, URL path, navigation title; management sees every page.
PAGES = (
    ("overview", "", "Overview"),
    ("partners", "partners", "Partners"),
    ("partner_detail", "partner_detail?partner={partner}", "Partner detail"),
    ("conversions", "conversions", "Conversions"),
    ("stock", "stock", "Keys & stock"),
    ("throughput", "throughput", "Throughput"),
    ("reporting", "reporting", "Reporting"),
    ("compliance", "compliance", "Compliance"),
)
ACCOUNT_MANAGER_PAGES = ("overview", "stock", "reporting", "compliance")
#: Pages photographed again in a German browser (no `?lang=`: the browser's language decides).
GERMAN_PAGES = ("overview", "stock", "reporting")


def _wait(page: Page) -> None:
    page.wait_for_selector(f'{APP}[data-test-connection-state="CONNECTED"]', timeout=TIMEOUT_MS)
    page.wait_for_selector(f'{APP}[data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)
    page.wait_for_function(
        """() => !document.querySelector(
            '[data-stale="true"], [data-testid="stSkeleton"], [data-testid="stStatusWidget"]')""",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # Plotly draws after the script has finished


def _photograph(page: Page, name: str) -> None:
    """A full-page PNG: the app scrolls inside its main element, so stretch the viewport."""
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stSidebarContent'].map(id => {
            const element = document.querySelector(`[data-testid="${id}"]`);
            return element ? element.scrollHeight : 0;
        }))"""
    )
    page.set_viewport_size(
        {"width": VIEWPORT["width"], "height": min(max(int(height), 1000), MAX_HEIGHT)}
    )
    _wait(page)
    page.screenshot(path=TARGET / f"{name}.png", full_page=True, animations="disabled")
    page.set_viewport_size(VIEWPORT)
    print(f"wrote docs/screenshots/{name}.png", file=sys.stderr)


def _largest_partner(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        partner = connection.execute(
            sa.text(
                "SELECT partner_id FROM installations WHERE status = 'success' "
                "GROUP BY partner_id ORDER BY count(*) DESC, partner_id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return int(partner)


def _photograph_digest(browser: Browser, settings: Settings) -> None:
    """The first account manager's digest, its HTML part at a phone's width."""
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            manager = connection.execute(
                sa.text("SELECT min(email) FROM users WHERE role = 'account_manager'")
            ).scalar_one()
        with tempfile.TemporaryDirectory() as out:
            run = run_digest(
                engine, settings, email=manager, everyone=False, as_of=settings.today(),
                out_dir=Path(out), send=False, who="docs.take_screenshots",
            )  # fmt: skip
            message = BytesParser(policy=policy.default).parsebytes(run.written[0].read_bytes())
    finally:
        engine.dispose()
    assert isinstance(message, EmailMessage)
    phone = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
    phone.set_content(preview_html(message))
    phone.wait_for_function("() => [...document.images].every(i => i.complete)")
    phone.screenshot(path=TARGET / "digest.png", full_page=True)
    phone.close()
    print("wrote docs/screenshots/digest.png", file=sys.stderr)


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing; install it with 'make browser'.", file=sys.stderr)
        return 2
    settings = load_settings()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "STREAMLIT_SERVER_HEADLESS": "true",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mar-insight"), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # serve starts Streamlit as its child: stop them together
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                print("mar-insight serve did not start.", file=sys.stderr)
                return 1
            time.sleep(1)
        partner = _largest_partner(settings.database_url)
        TARGET.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(TIMEOUT_MS)
            for name, path, _ in PAGES:
                page = context.new_page()
                page.goto(f"{base}/{path.format(partner=partner)}")
                _wait(page)
                _photograph(page, name)
                page.close()
            page = context.new_page()
            page.goto(base)
            _wait(page)
            persona = page.locator(f'{SIDEBAR} [data-testid="stSelectbox"]').filter(
                has_text="Demo persona"
            )
            persona.click()
            page.locator('[role="option"]').filter(has_text="Account manager:").first.click()
            _wait(page)
            titles = {name: title for name, _, title in PAGES}
            for name in ACCOUNT_MANAGER_PAGES:
                page.locator(NAV_LINK).filter(has_text=titles[name]).first.click()
                _wait(page)
                _photograph(page, f"account_manager_{name}")
            german = browser.new_context(viewport=VIEWPORT, locale="de-DE")
            german.set_default_timeout(TIMEOUT_MS)
            paths = {name: path for name, path, _ in PAGES}
            for name in GERMAN_PAGES:
                page = german.new_page()
                page.goto(f"{base}/{paths[name]}")
                _wait(page)
                _photograph(page, f"de_{name}")
                page.close()
            _photograph_digest(browser, settings)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
