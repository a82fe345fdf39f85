"""End to end: the real `streamlit run` server on a demo database, driven in headless Chromium.

Every page is opened, checked for exception boxes, charts and tables, and photographed to
test-artifacts/screenshots/ (the README's screenshots come from the real default demo, by
`python -m docs.take_screenshots`, never from this test database);
deep links with filters, page switches, bad parameters and a CSV download are exercised as a
viewer would.

Needs Debian's chromium (`make browser`); without it the module is skipped, or fails under
`CI=true`.  Run alone with `.venv/bin/pytest -m browser`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from bench.load_test import CHROMIUM, CHROMIUM_ARGS
from bench.server import free_port, healthy
from data import schema
from data.db import make_engine
from data.demo import generate_demo
from data.settings import load_settings
from notify.digest import run_digest
from notify.render import preview_html
from queries.exports import build_report, to_csv
from queries.filters import Filters

# One server and one browser per process: under `--dist loadgroup` the module stays on one worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 25)
VIEWPORT = {"width": 1440, "height": 1000}
PHONE_WIDTH = 390  # CSS pixels of a common phone screen
MAX_SCREENSHOT_HEIGHT = 8000
SERVER_START_SECONDS = 60
TIMEOUT_MS = 30_000
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

APP = '[data-testid="stApp"]'
EXCEPTION = '[data-testid="stException"]'
ALERT = '[data-testid="stAlert"]'
CHART = '.js-plotly-plot, [data-testid="stPlotlyChart"]'
TABLE = '[data-testid="stDataFrame"]'
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
NAV_LINK = '[data-testid="stSidebarNav"] a'
DIALOG = '[data-testid="stDialog"], [role="dialog"]'
NAV_TITLES = [
    "Overview",
    "Partners",
    "Partner detail",
    "Conversions",
    "Keys & stock",
    "Throughput",
    "Reporting",
    "Compliance",
]
DEEP_LINK = "partners?from=2026-01-01&to=2026-06-30&segment=education"


@dataclasses.dataclass
class Server:
    """The running `streamlit run` process and its combined stdout/stderr log."""

    url: str
    log: Path

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def tracebacks_since(self, offset: int) -> str:
        """The log written since `offset` when it holds a traceback, else an empty string."""
        text = self.log.read_bytes()[offset:].decode("utf-8", errors="replace")
        return text if "Traceback" in text else ""


@dataclasses.dataclass
class FirstVisit:
    """What the very first session of a fresh server saw on a deep link."""

    nav_titles: list[str]
    exceptions: list[str]
    title: str
    tracebacks: str


@dataclasses.dataclass
class App:
    server: Server
    browser: Browser
    partner_id: int
    first_visit: FirstVisit


def _busiest_partner(url: str) -> int:
    """The former RRP that owes licence reports with the most successful installations in
    the default (last 365 days) range, so its detail page has charts and tables to show."""
    since = dt.datetime.combine(AS_OF - dt.timedelta(days=364), dt.time())
    installs = schema.installations
    query = (
        sa.select(installs.c.partner_id)
        .where(
            installs.c.status == "success",
            installs.c.installed_at >= since,
            installs.c.partner_id.in_(sa.select(schema.conversions.c.partner_id)),
            installs.c.partner_id.in_(sa.select(schema.licence_reports.c.partner_id)),
        )
        .group_by(installs.c.partner_id)
        .order_by(sa.func.count().desc(), installs.c.partner_id)
        .limit(1)
    )
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.sqlite'}"
    engine = make_engine(url)
    try:
        generate_demo(engine, installations=20_000, seed=42, as_of=AS_OF, progress=lambda *_: None)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def server(demo_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`streamlit run streamlit_app.py` on a free localhost port, stopped at teardown."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
    ]
    env = {**os.environ, "MAR_DATABASE_URL": demo_database, "MAR_AS_OF": AS_OF.isoformat()}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    running = Server(url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not healthy(running.url):
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.poll() is not None else "did not answer in time"
                pytest.fail(f"streamlit {state}; its output:\n{log.read_text(errors='replace')}")
            time.sleep(0.25)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install it with 'make browser'."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app(browser: Browser, server: Server, demo_database: str) -> App:
    """The served app, after recording what a deep link shows as the first visit of a fresh
    server and then opening the root page once."""
    first_visit = _first_visit(browser, server)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        _open(page, server.url)
        expect(page.locator("h1").first).to_have_text("Overview", timeout=TIMEOUT_MS)
    finally:
        context.close()
    return App(server, browser, _busiest_partner(demo_database), first_visit)


def _first_visit(browser: Browser, server: Server) -> FirstVisit:
    offset = server.log_offset()
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/{DEEP_LINK}", timeout=TIMEOUT_MS)
        _wait_for_run(page)
        page.locator(f"h1, {EXCEPTION}").first.wait_for(timeout=TIMEOUT_MS)
        return FirstVisit(
            nav_titles=_nav_titles(page),
            exceptions=page.locator(EXCEPTION).all_inner_texts(),
            title=" ".join(page.locator("h1").all_inner_texts()),
            tracebacks=server.tracebacks_since(offset),
        )
    finally:
        context.close()


@pytest.fixture(scope="module")
def context(app: App) -> Iterator[BrowserContext]:
    """One browser context for the module, so the app's scripts are fetched once; every
    test opens its own tab, which is its own Streamlit session."""
    shared = app.browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    shared.set_default_timeout(TIMEOUT_MS)
    yield shared
    shared.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    tab.close()


def _wait_for_run(page: Page, *, network: bool = True) -> None:
    """Wait until the app is connected, its script has finished and nothing is stale or
    still loading (and, with `network`, until no request has been open for 0.5 s)."""
    page.wait_for_selector(f'{APP}[data-test-connection-state="CONNECTED"]', timeout=TIMEOUT_MS)
    page.wait_for_selector(f'{APP}[data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)
    page.wait_for_function(
        """() => !document.querySelector(
            '[data-stale="true"], [data-testid="stSkeleton"], [data-testid="stStatusWidget"]')""",
        timeout=TIMEOUT_MS,
    )
    if network:
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)


def _open(page: Page, url: str) -> None:
    page.goto(url, timeout=TIMEOUT_MS)
    _wait_for_run(page)


def _assert_no_error(page: Page, server: Server, offset: int) -> None:
    exceptions = page.locator(EXCEPTION)
    assert exceptions.count() == 0, f"exception box: {exceptions.all_inner_texts()}"
    dialogs = page.locator(DIALOG)
    assert dialogs.count() == 0, f"unexpected dialog: {dialogs.all_inner_texts()}"
    tracebacks = server.tracebacks_since(offset)
    assert not tracebacks, f"the server logged a traceback:\n{tracebacks}"


def _screenshot(page: Page, name: str) -> None:
    """A full-page screenshot: the app scrolls inside its main element, so the viewport is
    stretched to the content's height first."""
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stSidebarContent'].map(id => {
            const element = document.querySelector(`[data-testid="${id}"]`);
            return element ? element.scrollHeight : 0;
        }))"""
    )
    tall = min(max(int(height), VIEWPORT["height"]), MAX_SCREENSHOT_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": tall})
    try:
        _wait_for_run(page, network=False)
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done)))")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=target, full_page=True, animations="disabled", caret="hide")
    finally:
        page.set_viewport_size(VIEWPORT)


def _nav_titles(page: Page) -> list[str]:
    """The navigation labels, without the icon names Material icons render as text."""
    return [text.split("\n")[-1].strip() for text in page.locator(NAV_LINK).all_inner_texts()]


def _sidebar_dates(page: Page) -> list[str]:
    inputs = page.locator(f'{SIDEBAR} [data-testid="stDateInput"] input')
    return [inputs.nth(i).input_value() for i in range(inputs.count())]


# name, URL path, page title
PAGES = [
    ("overview", "", "Overview"),
    ("partners", "partners", "Partners"),
    ("partner_detail", "partner_detail?partner={partner}", "Partner detail"),
    ("conversions", "conversions", "RRP → TPR conversions"),
    ("stock", "stock", "Keys & stock"),
    ("throughput", "throughput", "Installation throughput"),
    ("reporting", "reporting", "Licence reporting"),
    ("compliance", "compliance", "Licence compliance"),
]


@pytest.mark.parametrize(("name", "path", "title"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_charts_and_tables(
    app: App, page: Page, name: str, path: str, title: str
) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/{path.format(partner=app.partner_id)}")
    expect(page.locator("h1").first).to_have_text(title)
    expect(page.locator(CHART).first).to_be_visible()
    expect(page.locator(TABLE).first).to_be_visible()
    expect(page.locator(NAV_LINK).filter(has_text="Reporting")).to_be_visible()
    assert set(NAV_TITLES) <= set(_nav_titles(page))
    _wait_for_run(page, network=False)
    _assert_no_error(page, app.server, offset)
    _screenshot(page, name)


@pytest.mark.parametrize(("name", "path", "title"), PAGES, ids=[p[0] for p in PAGES])
def test_no_table_offers_a_download_outside_the_audited_button(
    app: App, page: Page, name: str, path: str, title: str
) -> None:
    # Issue 14: the table toolbar's "Download as CSV" never reached the audit log.
    _open(page, f"{app.server.url}/{path.format(partner=app.partner_id)}")
    expect(page.locator("h1").first).to_have_text(title)
    tables = page.locator(TABLE)
    expect(tables.first).to_be_visible()
    for index in range(tables.count()):
        if not tables.nth(index).is_visible():  # in a tab not shown
            continue
        tables.nth(index).hover()
        # The toolbar is there (its search button shows), only without a download.
        expect(page.get_by_role("button", name="Search").first).to_be_visible()
        expect(page.get_by_role("button", name="Download as CSV")).to_have_count(0)


def test_overview_is_reached_at_its_own_name_too(app: App, page: Page) -> None:
    # Issue 11: /overview gave "Page not found" (the overview lives at /).
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/overview")
    expect(page.locator("h1").first).to_have_text("Overview")
    expect(page.get_by_text("Page not found")).to_have_count(0)
    _assert_no_error(page, app.server, offset)


def test_partner_detail_without_a_partner_offers_a_chooser(app: App, page: Page) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/partner_detail")
    main = page.locator(MAIN)
    expect(main.locator('[data-testid="stSelectbox"]').filter(has_text="Partner")).to_be_visible()
    expect(main.locator(ALERT).filter(has_text="Choose one partner")).to_be_visible()
    _assert_no_error(page, app.server, offset)


def _switch_to_throughput(page: Page) -> None:
    page.locator(NAV_LINK).filter(has_text="Throughput").click()
    page.wait_for_url(re.compile(r"/throughput(\?|$)"), timeout=TIMEOUT_MS)
    expect(page.locator("h1").first).to_have_text("Installation throughput")
    _wait_for_run(page)


def _query(page: Page) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)


def test_deep_link_fills_the_sidebar(app: App, page: Page) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/{DEEP_LINK}")
    expect(page.locator("h1").first).to_have_text("Partners")
    assert _sidebar_dates(page) == ["2026-01-01", "2026-06-30"]
    segment = page.locator(f'{SIDEBAR} [data-testid="stMultiSelect"]').filter(has_text="Segment")
    expect(segment).to_contain_text("Education")
    expect(page.locator(TABLE).first).to_be_visible()
    captions = page.locator(f'{MAIN} [data-testid="stCaptionContainer"]')
    expect(captions.filter(has_text="from 2026-01-01 to 2026-06-30")).to_be_visible()
    _assert_no_error(page, app.server, offset)


def test_sidebar_filters_survive_a_page_switch(app: App, page: Page) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/partners")
    period = page.locator(f'{SIDEBAR} [data-testid="stSelectbox"]').filter(has_text="Period")
    period.click()
    page.get_by_role("option", name="Last 30 days").click()
    page.wait_for_url(re.compile(r"/partners\?.*\bfrom=2026-10-27\b"), timeout=TIMEOUT_MS)
    _wait_for_run(page)
    _switch_to_throughput(page)
    expect(page).to_have_url(re.compile(r"/throughput\?.*\bfrom=2026-10-27\b"))
    assert _query(page)["to"] == ["2026-11-25"]
    assert _sidebar_dates(page) == ["2026-10-27", "2026-11-25"]
    _assert_no_error(page, app.server, offset)


def test_deep_link_filters_survive_a_page_switch(app: App, page: Page) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/{DEEP_LINK}")
    expect(page.locator("h1").first).to_have_text("Partners")
    _switch_to_throughput(page)
    expect(page).to_have_url(re.compile(r"/throughput\?.*\bfrom=2026-01-01\b"), timeout=2_000)
    query = _query(page)
    assert query["to"] == ["2026-06-30"]
    assert query["segment"] == ["education"]
    assert _sidebar_dates(page) == ["2026-01-01", "2026-06-30"]
    _assert_no_error(page, app.server, offset)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=not-a-date", r"parameter 'from'.*not-a-date.*not a date"),
        ("partner=999999", r"no partner with id 999999"),
        ("segment=schools", r"parameter 'segment'.*schools"),
    ],
    ids=["bad-date", "unknown-partner", "bad-segment"],
)
def test_bad_parameter_shows_one_clear_sentence(
    app: App, page: Page, query: str, message: str
) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/partners?{query}")
    alert = page.locator(ALERT).filter(has_text=re.compile(message, re.IGNORECASE))
    expect(alert).to_be_visible()
    expect(page.get_by_role("button", name="Reset filters")).to_be_visible()
    _assert_no_error(page, app.server, offset)


def _audit_rows_after(url: str, last: int) -> list[tuple[str, int, str]]:
    """Report, rows and filters of the audit rows after id `last`."""
    log = schema.audit_log
    query = sa.select(log.c.report, log.c.row_count, log.c.filters).where(log.c.id > last)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(query.order_by(log.c.id))
            return [(str(report), int(rows), str(filters)) for report, rows, filters in found]
    finally:
        engine.dispose()


def _last_audit_id(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            last = connection.execute(sa.select(sa.func.max(schema.audit_log.c.id))).scalar()
            return int(last or 0)
    finally:
        engine.dispose()


def test_download_partner_volumes_csv(app: App, page: Page, demo_database: str) -> None:
    offset = app.server.log_offset()
    last = _last_audit_id(demo_database)
    _open(page, f"{app.server.url}/partners?from=2026-01-01&to=2026-06-30")
    expect(page.locator(TABLE).first).to_be_visible()
    button = page.locator('[data-testid="stDownloadButton"]').filter(has_text="Download CSV")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        button.first.locator("button").click()
    download = info.value
    name = download.suggested_filename
    target = ARTIFACTS / "downloads" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    download.save_as(target)
    assert "partner-volumes" in name
    assert "2026-01-01" in name and "2026-06-30" in name
    assert name.endswith(".csv")
    body = target.read_text(encoding="utf-8")
    assert body.startswith("partner_id,partner_name,installations,keys_allocated")
    assert len(body.splitlines()) > 1
    [(report, rows, filters)] = _audit_rows_after(demo_database, last)
    assert (report, rows) == ("partner-volumes", len(body.splitlines()) - 1)
    assert json.loads(filters)["from"] == ["2026-01-01"]
    _assert_no_error(page, app.server, offset)


def test_a_compliance_download_has_the_bytes_of_the_export(
    app: App, page: Page, demo_database: str
) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/compliance?from=2026-01-01&to=2026-06-30")
    # A keyed element carries its key as a class; the key pipeline's table is always shown.
    button = page.locator(".st-key-download-key-pipeline button")
    expect(button).to_be_visible()
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        button.click()
    target = ARTIFACTS / "downloads" / info.value.suggested_filename
    target.parent.mkdir(parents=True, exist_ok=True)
    info.value.save_as(target)
    filters = Filters.from_params({"from": "2026-01-01", "to": "2026-06-30"}, as_of=AS_OF)
    engine = make_engine(demo_database)
    try:
        with engine.connect() as connection:
            expected = to_csv(build_report(connection, "key-pipeline", filters))
    finally:
        engine.dispose()
    assert "key-pipeline" in info.value.suggested_filename
    assert target.read_bytes() == expected
    _assert_no_error(page, app.server, offset)


def _download_rows(page: Page) -> int:
    """The row count the page's first "Download CSV (N rows)" button announces."""
    label = page.locator('[data-testid="stDownloadButton"]').first.inner_text()
    found = re.search(r"\(([\d,]+) rows?\)", label)
    assert found, f"no row count in {label!r}"
    return int(found.group(1).replace(",", ""))


def test_period_switch_regroups_throughput(app: App, page: Page) -> None:
    offset = app.server.log_offset()
    _open(page, f"{app.server.url}/throughput?grain=day")
    expect(page.locator(".js-plotly-plot .gtitle").first).to_have_text("Installations per day")
    days = _download_rows(page)
    page.get_by_role("radio", name="Month", exact=True).click()
    expect(page.locator(".js-plotly-plot .gtitle").first).to_have_text("Installations per month")
    _wait_for_run(page)
    assert "grain=month" in page.url
    months = _download_rows(page)
    _assert_no_error(page, app.server, offset)
    assert days > 300, f"{days} days in a 365-day range"
    assert months <= 13, f"{months} rows for months in a 365-day range"


def test_deep_link_as_the_first_visit_of_a_fresh_server(app: App) -> None:
    visit = app.first_visit
    assert not visit.exceptions, f"exception box: {visit.exceptions}"
    assert not visit.tracebacks, f"the server logged a traceback:\n{visit.tracebacks}"
    assert set(NAV_TITLES) <= set(visit.nav_titles)
    assert visit.title == "Partners"


def test_the_digest_reads_on_a_phone(browser: Browser, demo_database: str, tmp_path: Path) -> None:
    """An account manager's weekly digest of the demo data (`mar-insight digest --out`), its
    HTML part opened at a phone's width with the chart inlined as the mail client would:
    nothing is wider than the screen."""
    engine = make_engine(demo_database)
    try:
        with engine.connect() as conn:
            manager = (
                conn.execute(
                    sa.select(schema.users.c.email)
                    .where(schema.users.c.role == "account_manager")
                    .order_by(schema.users.c.email)
                )
                .scalars()
                .first()
            )
        settings = load_settings(dashboard_url="https://insight.example-mar.com")
        run = run_digest(
            engine, settings, email=manager, everyone=False, as_of=AS_OF, out_dir=tmp_path,
            send=False, who="test",
        )  # fmt: skip
    finally:
        engine.dispose()
    message = BytesParser(policy=policy.default).parsebytes(run.written[0].read_bytes())
    assert isinstance(message, EmailMessage)
    phone = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
    try:
        phone.set_content(preview_html(message))
        phone.wait_for_function("() => [...document.images].every(i => i.complete)")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=SCREENSHOTS / "digest.png", full_page=True)
    finally:
        phone.close()


def test_a_german_browser_reads_the_dashboard_in_german(app: App) -> None:
    """`st.context.locale` comes from the browser, which AppTest cannot fake: a de-DE
    browser without `?lang=` gets German titles, navigation and grouping."""
    context = app.browser.new_context(viewport=VIEWPORT, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        offset = app.server.log_offset()
        _open(page, app.server.url)
        expect(page.locator("h1").first).to_have_text("Übersicht")
        assert "Schlüssel & Bestand" in _nav_titles(page)
        installations = page.locator('[data-testid="stMetricValue"]').first.inner_text()
        assert "," not in installations  # German groups thousands with a point
        _assert_no_error(page, app.server, offset)
        for name, path in (("overview", ""), ("stock", "stock"), ("reporting", "reporting")):
            _open(page, f"{app.server.url}/{path}")
            _screenshot(page, f"de_{name}")
    finally:
        context.close()


def test_the_language_switch_writes_lang_into_the_url(app: App, page: Page) -> None:
    _open(page, app.server.url)

    page.locator(f'{SIDEBAR} [data-testid="stButtonGroup"]').get_by_text("Français").click()
    _wait_for_run(page)

    assert "lang=fr" in page.url
    expect(page.locator("h1").first).to_have_text("Vue d'ensemble")
