"""Load test: K concurrent browser sessions against the real `streamlit run` server.

Starts the dashboard on a free localhost port with the given database, opens one headless
Chromium with K browser contexts (one per simulated viewer, driven by asyncio), and has each
session visit every page in turn for R rounds.  A page load counts from `goto` until the
script has finished (Streamlit's status widget gone, an h1 visible); a load that times out
or shows an exception box is an error.  Prints p50/p90/p99/max per page and overall, and the
number of errors; the exit status is 1 when there was any error.

    .venv/bin/python -m bench.load_test --url postgresql+psycopg2://postgres@127.0.0.1/mar_load \
        --sessions 20 --rounds 3

Only 127.0.0.1 is contacted: the server listens there, the database must be local, and the
browser aborts every request to another host.  The whole run stops after --max-minutes.
Needs Debian's chromium at /usr/bin/chromium (never `playwright install`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import Browser, Page, Route, ViewportSize, async_playwright
from sqlalchemy.engine import make_url

from bench.server import HOST, serve, tracebacks

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {None, "", HOST, "localhost", "::1"}
DEFAULT_AS_OF = "2026-11-25"
#: (name, URL path): the overview is the app's root URL.
PAGES = (
    ("overview", ""),
    ("partners", "partners"),
    ("conversions", "conversions"),
    ("stock", "stock"),
    ("throughput", "throughput"),
    ("reporting", "reporting"),
)
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
EXCEPTION = '[data-testid="stException"]'
FINISHED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]');
}"""


@dataclasses.dataclass
class Results:
    """Page-load seconds per page, and (page, message) per failed page load."""

    seconds: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: {name: [] for name, _ in PAGES}
    )
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unfinished: int = 0  # page loads not started because the time limit was reached


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of values <= it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def table(results: Results) -> str:
    """The per-page and overall figures, as a Markdown table."""
    lines = [
        "| page | loads | errors | p50 s | p90 s | p99 s | max s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    failed = [page for page, _ in results.errors]
    rows = [(name, results.seconds[name], failed.count(name)) for name, _ in PAGES]
    everything = [s for values in results.seconds.values() for s in values]
    rows.append(("all", everything, len(results.errors)))
    for name, values, errors in rows:
        figures = (
            [f"{percentile(values, q):.2f}" for q in (0.5, 0.9, 0.99)] + [f"{max(values):.2f}"]
            if values
            else ["-"] * 4
        )
        lines.append(f"| {name} | {len(values)} | {errors} | {' | '.join(figures)} |")
    return "\n".join(lines)


async def _only_localhost(route: Route) -> None:
    if urllib.parse.urlsplit(route.request.url).hostname == HOST:
        await route.continue_()
    else:
        await route.abort()


async def _load(page: Page, url: str, timeout_ms: float) -> None:
    """Open `url` and wait until the script run has finished with an h1 on the page."""
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    await page.locator(f"h1, {EXCEPTION}").first.wait_for(state="visible", timeout=timeout_ms)
    await page.wait_for_function(FINISHED, timeout=timeout_ms)
    exceptions = page.locator(EXCEPTION)
    if await exceptions.count():
        text = " ".join(await exceptions.all_inner_texts())
        raise RuntimeError(f"exception box: {' '.join(text.split())[:200]}")


async def _session(
    number: int,
    browser: Browser,
    base: str,
    rounds: int,
    deadline: float,
    page_timeout_ms: float,
    results: Results,
) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        await context.route("**/*", _only_localhost)
        page = await context.new_page()
        for _ in range(rounds):
            for name, path in PAGES:
                if time.monotonic() > deadline:
                    results.unfinished += 1
                    continue
                started = time.perf_counter()
                try:
                    await _load(page, f"{base}/{path}", page_timeout_ms)
                except Exception as exc:  # every failure is recorded, none stops the run
                    message = " ".join(str(exc).split())[:300]
                    results.errors.append((name, f"session {number}: {message}"))
                else:
                    results.seconds[name].append(time.perf_counter() - started)
    finally:
        await context.close()


async def drive(
    base: str, sessions: int, rounds: int, max_seconds: float, page_timeout_ms: float
) -> Results:
    """K sessions in one browser, all at once; stops starting page loads at the deadline."""
    results = Results()
    deadline = time.monotonic() + max_seconds
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            runs = [
                _session(n, browser, base, rounds, deadline, page_timeout_ms, results)
                for n in range(1, sessions + 1)
            ]
            # A page load already under way may take up to one page timeout past the deadline.
            await asyncio.wait_for(
                asyncio.gather(*runs), timeout=max_seconds + page_timeout_ms / 1000 + 60
            )
        finally:
            await browser.close()
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.load_test", description=__doc__)
    parser.add_argument("--url", required=True, help="database URL (SQLite or local PostgreSQL)")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browser sessions")
    parser.add_argument("--rounds", type=int, default=3, help="visits of every page per session")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="MAR_AS_OF for the server")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument(
        "--max-minutes", type=float, default=10, help="stop starting page loads after this"
    )
    parser.add_argument(
        "--page-timeout", type=float, default=120, help="seconds one page load may take"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load test and print its table; 0 when every page load succeeded."""
    args = _parser().parse_args(argv)
    database = make_url(args.url)
    if database.get_backend_name() != "sqlite" and database.host not in LOCAL_HOSTS:
        print(f"The database must be on {HOST}; {database.host} was given.", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing; install it with 'make browser'.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mar-load-") as scratch:
        log = Path(scratch) / "streamlit.log"
        started = time.perf_counter()
        env = {"MAR_DATABASE_URL": args.url, "MAR_AS_OF": args.as_of}
        with serve(log, port=args.port, env=env) as server:
            idle_cpu = server.cpu_seconds()
            results = asyncio.run(
                drive(
                    server.base,
                    args.sessions,
                    args.rounds,
                    args.max_minutes * 60,
                    args.page_timeout * 1000,
                )
            )
            busy_cpu = server.cpu_seconds()
        wall = time.perf_counter() - started
        errors_logged, first_traceback = tracebacks(log)
    url = database.render_as_string(hide_password=True)
    print(
        f"{args.sessions} sessions x {args.rounds} rounds x {len(PAGES)} pages on {url}, "
        f"as of {args.as_of}: {wall:.0f} s in all"
    )
    print(table(results))
    if idle_cpu is not None and busy_cpu is not None:
        loads = sum(len(values) for values in results.seconds.values()) + len(results.errors)
        print(
            f"Server CPU during the run: {busy_cpu - idle_cpu:.0f} s"
            f" ({(busy_cpu - idle_cpu) / max(loads, 1):.2f} s per page load);"
            f" machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
    for page, message in results.errors[:10]:
        print(f"  error on {page}: {message}")
    if results.unfinished:
        print(f"Not started (time limit reached): {results.unfinished} page loads")
    print(f"Server tracebacks: {errors_logged}")
    if first_traceback:
        print(f"End of the first one:\n{first_traceback}")
    errors = len(results.errors) + errors_logged
    print(f"Errors: {errors}")
    return 1 if errors or results.unfinished else 0


if __name__ == "__main__":
    raise SystemExit(main())
